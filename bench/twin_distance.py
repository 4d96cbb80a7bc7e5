#!/usr/bin/env python3
"""How far a LaTtE-Flow replica is from its twins, read from a safetensors file's bytes
(numpy only, no torch): for each layer l, the relative distance
||gen.layers.{l}.* - model.layers.{l}.*|| / ||model.layers.{l}.*|| over every replica tensor
that has a twin of the same dtype and shape (computed in float64), and the share of elements
whose stored bits are unchanged.

    python bench/twin_distance.py FILE.safetensors [--json]

Prints one line per layer and a total line "all ... distance D unchanged U"; with --json, one
object {"layers": {l: distance}, "distance": D, "unchanged": U, "elements": N}.
"""
import argparse
import json
import os
import re
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import st_file  # noqa: E402

# The float dtypes a replica can be stored in, as (numpy view of the bits, decoder to float64).
BITS = {"BF16": "<u2", "F16": "<u2", "F32": "<u4", "F64": "<u8"}


def values(dtype, buf):
    """The elements of `buf` as float64."""
    if dtype == "BF16":
        return (np.frombuffer(buf, dtype="<u2").astype(np.uint32) << 16).view("<f4").astype(np.float64)
    return np.frombuffer(buf, dtype={"F16": "<f2", "F32": "<f4", "F64": "<f8"}[dtype]).astype(np.float64)


def distances(path):
    """{"layers": {l: distance}, "distance", "unchanged", "elements"} of the file at `path`."""
    tensors, _ = st_file.read(path)
    by_name = {name: (dtype, shape, buf) for name, dtype, shape, buf in tensors}
    diff2, norm2, same, count = {}, {}, 0, 0
    for name, (dtype, shape, buf) in by_name.items():
        m = re.match(r"gen\.layers\.(\d+)\.(.*)$", name)
        twin = by_name.get(f"model.layers.{m.group(1)}.{m.group(2)}") if m else None
        if twin is None or twin[0] != dtype or twin[1] != shape or dtype not in BITS:
            continue
        l = int(m.group(1))
        g, c = values(dtype, buf), values(dtype, twin[2])
        diff2[l] = diff2.get(l, 0.0) + float(np.sum((g - c) ** 2))
        norm2[l] = norm2.get(l, 0.0) + float(np.sum(c ** 2))
        same += int(np.count_nonzero(np.frombuffer(buf, BITS[dtype]) == np.frombuffer(twin[2], BITS[dtype])))
        count += g.size
    if not count:
        raise SystemExit(f"error: {path}: no replica tensor has a twin")
    layers = {l: (diff2[l] / norm2[l]) ** 0.5 if norm2[l] else 0.0 for l in sorted(diff2)}
    total = (sum(diff2.values()) / sum(norm2.values())) ** 0.5 if sum(norm2.values()) else 0.0
    return {"layers": layers, "distance": total, "unchanged": same / count, "elements": count}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("file")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    d = distances(a.file)
    if a.json:
        print(json.dumps(d))
        return
    for l, v in d["layers"].items():
        print(f"layer {l:<3} distance {v:.3e}")
    print(f"all       distance {d['distance']:.3e} unchanged {d['unchanged']:.4f} ({d['elements']} elements)")


if __name__ == "__main__":
    main()
