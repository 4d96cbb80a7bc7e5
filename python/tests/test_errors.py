"""Damaged and hostile files raise LatteError (never crash the interpreter), naming the tensor."""
import json
import os

import numpy as np
import pytest

import latte
from conftest import FIXTURES


HOSTILE = os.path.join(FIXTURES, "hostile", "latte")
CASES = json.load(open(os.path.join(HOSTILE, "cases.json")))["cases"]


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_hostile_files(case):
    """What the CLI refuses (cases.json: exit 1 and its message), load_file refuses with the same words."""
    path = os.path.join(HOSTILE, case["file"])
    if case["exit"] == 0:
        assert latte.load_file(path, framework="np")
        return
    with pytest.raises(latte.LatteError) as e:
        latte.load_file(path, framework="np")
    assert str(e.value).startswith(path + ": ")
    assert case["stderr"] in str(e.value)


def test_flipped_data_byte_names_the_tensor(tmp_path):
    path = tmp_path / "one.latte"
    w = np.random.default_rng(1).standard_normal(1 << 18).astype(np.float32)
    latte.save_file({"w": w}, path)
    data = bytearray(path.read_bytes())
    data[len(data) // 3] ^= 0x40
    bad = tmp_path / "bad.latte"
    bad.write_bytes(bytes(data))
    with pytest.raises(latte.LatteError, match=r"bad\.latte: tensor 'w'"):
        latte.load_file(bad, framework="np")


@pytest.mark.parametrize("cut", [0, 7, 100])
def test_truncated_file(tmp_path, cut):
    path = tmp_path / "one.latte"
    latte.save_file({"w": np.arange(1000, dtype=np.int32)}, path)
    short = tmp_path / "short.latte"
    short.write_bytes(path.read_bytes()[:cut])
    with pytest.raises(latte.LatteError, match="short.latte"):
        latte.safe_open(short, framework="np")


def test_bf16_without_ml_dtypes_names_the_tensor(converted, monkeypatch):
    from latte import _dtypes
    monkeypatch.setattr(_dtypes, "ml_dtypes", None)
    with pytest.raises(latte.LatteError, match="tensor 'bf16'.*ml_dtypes"):
        with latte.safe_open(converted("fixtures/readers/all_dtypes.safetensors"), framework="np") as f:
            f.get_tensor("bf16")


def test_closed_file_raises(converted):
    f = latte.safe_open(converted("fixtures/readers/small.safetensors"), framework="np")
    name = f.keys()[0]
    f.close()
    with pytest.raises(latte.LatteError, match="closed"):
        f.get_tensor(name)


def test_more_than_the_available_memory_is_refused_before_allocating(tmp_path, monkeypatch):
    """A valid file may still describe more bytes than fit (2^15 raw bytes per stored byte):
    the read is refused, naming the file and both sizes, before any array is made."""
    path = tmp_path / "zeros.latte"
    latte.save_file({"z": np.zeros(1 << 20, dtype=np.float32)}, path)
    assert path.stat().st_size < 64 << 10
    import latte._file as impl
    monkeypatch.setattr(impl, "_available_memory", lambda: 1 << 20)
    with pytest.raises(latte.LatteError, match=r"zeros\.latte: these tensors need 4\.0 MiB of memory, more than the 1\.0 MiB available"):
        latte.load_file(path, framework="np")
    monkeypatch.setattr(impl, "_available_memory", lambda: 8 << 20)
    assert latte.load_file(path, framework="np")["z"].nbytes == 4 << 20
