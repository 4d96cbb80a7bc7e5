"""Expert groups of the converted tiny LaTtE-Flow model: groups(), group_of(t), get_group(k)."""
import numpy as np
import pytest

import latte

TINY = "fixtures/models/tiny"


def test_groups_list_plan(converted):
    with latte.safe_open(converted(TINY), framework="np") as f:
        groups = f.groups()
        assert [g["index"] for g in groups] == list(range(len(groups)))
        assert len(groups) >= 2
        assert groups[0]["timesteps"][0] == 0.0 and groups[-1]["timesteps"][1] == 1.0
        assert all(g["layers"] for g in groups)


def test_group_of_follows_boundaries(converted):
    with latte.safe_open(converted(TINY), framework="np") as f:
        groups = f.groups()
        assert f.group_of(0.0) == 0
        assert f.group_of(1.0) == groups[-1]["index"]
        start = groups[1]["timesteps"][0]
        assert f.group_of(start) == 1  # a boundary belongs to the later group
        assert f.group_of(np.nextafter(start, 0)) == 0
        with pytest.raises(latte.LatteError):
            f.group_of(1.5)


def test_get_group_is_that_sections_tensors(converted):
    path = converted(TINY)
    everything = latte.load_file(path, framework="np")
    with latte.safe_open(path, framework="np") as f:
        for g in f.groups():
            got = f.get_group(g["index"])
            assert len(got) == g["tensors"] > 0
            for name, arr in got.items():
                assert f.tensor_info(name)["group"] == g["index"]
                assert arr.tobytes() == everything[name].tobytes()
        with pytest.raises(latte.LatteError, match="group"):
            f.get_group(99)


def test_file_without_groups(converted):
    with latte.safe_open(converted("fixtures/readers/small.safetensors"), framework="np") as f:
        assert f.groups() == []
        with pytest.raises(latte.LatteError):
            f.group_of(0.5)
