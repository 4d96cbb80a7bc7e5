#!/usr/bin/env python3
"""Writes a base checkpoint for `latte convert --base` (issue 13): the tensors of a safetensors
file whose names start with PREFIX (default `model.`, a LaTtE-Flow model's frozen VLM), renamed
to start with RENAME instead (default `model.language_model.`, as Qwen2-VL in transformers
names its decoder: latte matches base tensors by content, not by name). Streamed a tensor at a
time (1 MiB reads), so memory stays small whatever the size.

    python bench/make_base.py SRC OUT [--prefix model.] [--rename model.language_model.]
"""
import argparse
import json
import struct

ap = argparse.ArgumentParser()
ap.add_argument("src"); ap.add_argument("out")
ap.add_argument("--prefix", default="model.")
ap.add_argument("--rename", default="model.language_model.")
a = ap.parse_args()

f = open(a.src, "rb")
n = struct.unpack("<Q", f.read(8))[0]
header = json.loads(f.read(n))
start = 8 + n
header.pop("__metadata__", None)
names = sorted((k for k in header if k.startswith(a.prefix)), key=lambda k: header[k]["data_offsets"][0])
plan, offset = {}, 0
for k in names:
    b, e = header[k]["data_offsets"]
    plan[a.rename + k[len(a.prefix):]] = {"dtype": header[k]["dtype"], "shape": header[k]["shape"], "data_offsets": [offset, offset + e - b]}
    offset += e - b
text = json.dumps(plan, separators=(",", ":")).encode()
text += b" " * (-len(text) % 8)
with open(a.out, "wb") as out:
    out.write(struct.pack("<Q", len(text)) + text)
    for k in names:
        b, e = header[k]["data_offsets"]
        f.seek(start + b)
        left = e - b
        while left:
            buf = f.read(min(left, 1 << 20))
            out.write(buf)
            left -= len(buf)
