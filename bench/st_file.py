"""Whole-file safetensors reading and writing for the benchmark's small converters
(make_bf16.py, make_int8.py): a file in memory, tensors in data order, written back the
way latte's writer lays them out (compact JSON, `__metadata__` first, spaces to 8 bytes)."""
import json
import struct


def read(path):
    """(tensors, metadata): [(name, dtype, shape, bytes)] in data-offset order, and the
    `__metadata__` dict or None."""
    raw = open(path, "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    data = raw[8 + n:]
    meta = header.pop("__metadata__", None)
    tensors = []
    for name, info in sorted(header.items(), key=lambda kv: kv[1]["data_offsets"][0]):
        b, e = info["data_offsets"]
        tensors.append((name, info["dtype"], info["shape"], data[b:e]))
    return tensors, meta


def write(path, tensors, meta=None):
    """Writes [(name, dtype, shape, bytes)] packed in that order, with `meta` if any."""
    header, offset = {}, 0
    if meta is not None:
        header["__metadata__"] = meta
    for name, dtype, shape, buf in tensors:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(buf)]}
        offset += len(buf)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text)
        for _, _, _, buf in tensors:
            f.write(buf)
