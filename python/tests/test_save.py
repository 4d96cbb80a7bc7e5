"""save_file -> latte verify -> load_file, for every numpy dtype, metadata and a LaTtE-Flow config."""
import json
import os

import ml_dtypes
import numpy as np
import pytest

import latte
from conftest import FIXTURES, run_latte


def every_dtype():
    rng = np.random.default_rng(3)
    out = {}
    for t in [np.bool_, np.uint8, np.int8, np.int16, np.uint16, np.int32, np.uint32, np.int64, np.uint64,
              np.float16, np.float32, np.float64, np.complex64, np.complex128,
              ml_dtypes.bfloat16, ml_dtypes.float8_e4m3fn, ml_dtypes.float8_e5m2]:
        bits = rng.integers(0, 256, size=(3, 5, np.dtype(t).itemsize), dtype=np.uint8)
        out[np.dtype(t).name] = bits.view(t).reshape(3, 5)
    out["scalar"] = np.array(2.5, dtype=np.float32)
    out["empty"] = np.zeros((0, 4), dtype=np.int16)
    out["strided"] = np.arange(40, dtype=np.int64).reshape(5, 8)[:, ::2]
    out["big_endian"] = np.arange(6, dtype=">i4")
    return out


def test_round_trip_every_dtype(tmp_path):
    tensors = every_dtype()
    path = tmp_path / "all.latte"
    latte.save_file(tensors, path, metadata={"format": "np", "note": "é"})
    run_latte("verify", path)
    got = latte.load_file(path, framework="np")
    assert set(got) == set(tensors)
    for name, arr in tensors.items():
        assert got[name].shape == arr.shape, name
        assert got[name].tobytes() == arr.astype(arr.dtype.newbyteorder("<")).tobytes(), name
    with latte.safe_open(path, framework="np") as f:
        assert f.metadata() == {"format": "np", "note": "é"}


def test_round_trip_with_config_makes_groups(tmp_path):
    tiny = os.path.join(FIXTURES, "models", "tiny")
    source = latte.load_file(tiny_latte(tmp_path, tiny), framework="np")
    with open(os.path.join(tiny, "config.json")) as f:
        config = json.load(f)
    path = tmp_path / "resaved.latte"
    latte.save_file(source, path, config=config)
    run_latte("verify", path)
    with latte.safe_open(path, framework="np") as f:
        assert len(f.groups()) == config.get("num_timestep_groups", 1)
        for name in f.keys():
            assert f.get_tensor(name).tobytes() == source[name].tobytes()


def tiny_latte(tmp_path, tiny):
    out = tmp_path / "tiny.latte"
    run_latte("convert", tiny, "-o", out)
    return out


def test_bad_input_is_refused(tmp_path):
    with pytest.raises(latte.LatteError, match="tensor 'x'"):
        latte.save_file({"x": [1, 2, 3]}, tmp_path / "x.latte")
    with pytest.raises(latte.LatteError, match="missing"):
        latte.save_file({"a": np.zeros(2)}, tmp_path / "missing" / "y.latte")
    with pytest.raises(latte.LatteError):
        latte.save_file({"a": np.zeros(2)}, tmp_path / "z.latte", metadata={"k": 1})
