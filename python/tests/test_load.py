"""load_file and safe_open against the bytes of the safetensors fixtures they were converted from."""
import os

import numpy as np
import pytest

import latte
from conftest import FIXTURES, read_safetensors

ALL_DTYPES = "fixtures/readers/all_dtypes.safetensors"


def raw(arr):
    return np.ascontiguousarray(arr).view(np.uint8).tobytes() if arr.size else b""


@pytest.mark.parametrize("source", [ALL_DTYPES, "fixtures/readers/small.safetensors",
                                    "fixtures/readers/no_metadata.safetensors", "fixtures/models/tiny/model.safetensors"])
def test_load_file_is_bit_exact(converted, source):
    path = converted(source)
    expected, _ = read_safetensors(os.path.join(FIXTURES, "..", source))
    got = latte.load_file(path, framework="np")
    assert list(got) == list(expected) or sorted(got) == sorted(expected)
    for name, (dtype, shape, data) in expected.items():
        assert got[name].shape == shape, name
        assert raw(got[name]) == data, name


def test_every_dtype_maps_to_numpy(converted):
    got = latte.load_file(converted(ALL_DTYPES), framework="np")
    import ml_dtypes
    assert got["bf16"].dtype == ml_dtypes.bfloat16
    assert got["f8_e4m3"].dtype == ml_dtypes.float8_e4m3fn
    assert got["f8_e5m2"].dtype == ml_dtypes.float8_e5m2
    assert got["c64"].dtype == np.complex64
    assert got["bool"].dtype == np.bool_
    assert got["u64"].dtype == np.uint64


def test_empty_and_scalar_tensors(converted):
    with latte.safe_open(converted(ALL_DTYPES), framework="np") as f:
        assert f.get_tensor("empty_f32").shape == (0, 3)
        assert f.get_tensor("empty_bf16").shape == (2, 0)
        assert f.get_tensor("empty_i8").shape == (0,)
        s = f.get_tensor("scalar_i64")
        assert s.shape == () and s.dtype == np.int64


def test_metadata_and_keys(converted):
    path = converted(ALL_DTYPES)
    expected, meta = read_safetensors(os.path.join(FIXTURES, "readers", "all_dtypes.safetensors"))
    with latte.safe_open(path, framework="np") as f:
        assert f.metadata() == meta
        assert sorted(f.keys()) == sorted(expected)
        assert f.tensor_info("bf16")["dtype"] == "BF16"


def test_unknown_tensor_names_it(converted):
    with latte.safe_open(converted(ALL_DTYPES), framework="np") as f:
        with pytest.raises(latte.LatteError, match="nope"):
            f.get_tensor("nope")


def test_bad_framework_and_device(converted):
    with pytest.raises(latte.LatteError):
        latte.safe_open(converted(ALL_DTYPES), framework="tf")
    with pytest.raises(latte.LatteError):
        latte.safe_open(converted(ALL_DTYPES), framework="np", device="cuda")


def test_missing_file():
    with pytest.raises(latte.LatteError, match="/no/such.latte"):
        latte.load_file("/no/such.latte", framework="np")


def test_works_from_any_directory(converted, tmp_path, monkeypatch):
    path = converted("fixtures/readers/small.safetensors")
    monkeypatch.chdir(tmp_path)
    assert latte.load_file(path, framework="np")
