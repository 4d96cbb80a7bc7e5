"""A .latte file converted against a base checkpoint (`latte convert --base`), read with
`base=`: bit-exact; without it, listing works and reading a reference names the base."""
import json
import os
import struct

import numpy as np
import pytest

import latte
from conftest import FIXTURES, read_safetensors, run_latte

MODEL = os.path.join(FIXTURES, "models", "k2", "model.safetensors")


def raw(arr):
    return np.ascontiguousarray(arr).view(np.uint8).tobytes() if arr.size else b""


def write_safetensors(path, tensors):
    """{name: (dtype, shape, bytes)} packed in order."""
    header, offset = {}, 0
    for name, (dtype, shape, data) in tensors.items():
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text)
        for _, _, data in tensors.values():
            f.write(data)


@pytest.fixture(scope="module")
def based(tmp_path_factory):
    """(latte path, base path): k2 converted against a base of its model.* tensors, renamed vlm.*."""
    d = tmp_path_factory.mktemp("base")
    tensors, _ = read_safetensors(MODEL)
    base = d / "base.safetensors"
    write_safetensors(base, {"vlm." + k[len("model."):]: v for k, v in tensors.items() if k.startswith("model.")})
    out = d / "m.latte"
    run_latte("convert", os.path.dirname(MODEL), "--base", base, "-o", out)
    return str(out), str(base)


def test_load_file_through_the_base_is_bit_exact(based):
    path, base = based
    expected, _ = read_safetensors(MODEL)
    got = latte.load_file(path, framework="np", base=base)
    assert sorted(got) == sorted(expected)
    for name, (_, shape, data) in expected.items():
        assert got[name].shape == shape, name
        assert raw(got[name]) == data, name


def test_without_the_base_references_name_it(based):
    path, _ = based
    with latte.safe_open(path, framework="np") as f:
        assert "model.norm.weight" in f.keys()
        # A tensor stored in the file reads without the base.
        assert f.get_tensor("gen.layers.0.mlp.up_proj.weight").size > 0
        with pytest.raises(latte.LatteError, match=r"tensor 'model\.norm\.weight' is stored in the base; "
                           r"pass base= to safe_open or load_file \(the base is "):
            f.get_tensor("model.norm.weight")
    with pytest.raises(latte.LatteError, match="is stored in the base; pass base= to safe_open or load_file"):
        latte.load_file(path, framework="np")


def test_a_wrong_base_names_both_hashes(based, tmp_path):
    path, base = based
    tensors, _ = read_safetensors(base)
    dtype, shape, data = tensors["vlm.norm.weight"]
    tensors["vlm.norm.weight"] = (dtype, shape, bytes([data[0] ^ 1]) + data[1:])
    wrong = tmp_path / "wrong.safetensors"
    write_safetensors(wrong, tensors)
    with latte.safe_open(path, framework="np", base=wrong) as f:
        with pytest.raises(latte.LatteError, match=r"differs: xxh64 expected [0-9a-f]{16}, found [0-9a-f]{16}"):
            f.get_tensor("model.norm.weight")
