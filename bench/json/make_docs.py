#!/usr/bin/env python3
"""Writes the documents that measure.sh parses (stdlib only, deterministic), into DIR:
  manifest-20mb.json, manifest-90mb.json   shaped like a .latte manifest: tensor objects of ~10
                                           keys with shape and chunk arrays, chunks of 4-6 keys
  header-20k.json                          a safetensors header of 20,000 tensors (bench/inspect_bench.py)
  header-1m-empty.json                     a safetensors header of 10^6 empty tensors (~75 MB)
"""
import json, os, random, sys

out = sys.argv[1] if len(sys.argv) > 1 else "."
os.makedirs(out, exist_ok=True)
rng = random.Random(10)


def manifest(target):
    tensors, size, i = [], 0, 0
    while size < target:
        shape = [rng.choice([64, 128, 256, 1024]) for _ in range(rng.choice([1, 2, 2, 3]))]
        chunks = []
        for k in range(rng.choice([1, 1, 2, 3])):
            c = {"offset": 64 + i * 4096 + k * 1024, "length": rng.randrange(1, 1 << 20), "raw": 1 << 20, "codec": rng.choice(["zstd", "raw", "planes"])}
            if c["codec"] == "planes":
                c["width"] = 2
                c["planes"] = [{"codec": "rans32", "length": rng.randrange(1, 1 << 19)}, {"codec": "zstd", "length": rng.randrange(1, 1 << 19)}]
            chunks.append(c)
        t = {"name": f"model.layers.{i // 7}.mlp.experts.{i % 7}.weight", "dtype": "BF16", "shape": shape,
             "nbytes": 2, "section": i % 5, "xxh64": f"{rng.getrandbits(64):016x}", "role": "expert",
             "group": i % 4, "layer": i // 7, "chunks": chunks}
        size += len(json.dumps(t, separators=(",", ":"))) + 1
        tensors.append(t)
        i += 1
    return {"format": "latte", "version": {"major": 1, "minor": 0}, "features": {"required": [], "optional": []},
            "checksum": "xxh64", "chunk_size": 1 << 20, "alignment": 64, "metadata": {"format": "pt"},
            "sections": [{"name": f"s{k}", "kind": "group", "group": k, "offset": 64, "length": 1} for k in range(5)],
            "tensors": tensors}


def header(n, shape, nbytes):
    h, off = {"__metadata__": {"format": "pt"}}, 0
    for i in range(n):
        h[f"model.layers.{i}.mlp.weight"] = {"dtype": "BF16", "shape": shape, "data_offsets": [off, off + nbytes]}
        off += nbytes
    return h


def write(name, doc):
    with open(os.path.join(out, name), "w") as f:
        json.dump(doc, f, separators=(",", ":"))


write("manifest-20mb.json", manifest(20_000_000))
write("manifest-90mb.json", manifest(90_000_000))
write("header-20k.json", header(20_000, [16, 16], 512))
write("header-1m-empty.json", header(1_000_000, [0], 0))
