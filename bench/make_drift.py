"""Writes a LaTtE-Flow drift model from a BF16 checkpoint of LaTtE-Flow names (e.g. the 2B-shape
model of bench/make_model.py): for each chosen layer, the context tensors `model.layers.{l}.X`
as they are, and the replica `gen.layers.{l}.X` = BF16(twin + r * rms(twin) * N(0, 1)), i.e. the
context plus a relative drift r (replica tensors without a twin are copied). One tensor in
memory at a time; only the chosen layers, at full width, so the files stay a few hundred MB.

    python bench/make_drift.py SRC OUT --drift 1e-3 [--layers 0,1] [--seed 0]
"""
import argparse, json, struct
import numpy as np

ap = argparse.ArgumentParser()
ap.add_argument("src"); ap.add_argument("out")
ap.add_argument("--drift", type=float, required=True)
ap.add_argument("--layers", default="0,1")
ap.add_argument("--seed", type=int, default=0)
a = ap.parse_args()
layers = [int(x) for x in a.layers.split(",")]
rng = np.random.default_rng(a.seed)

f = open(a.src, "rb")
n = struct.unpack("<Q", f.read(8))[0]
header = json.loads(f.read(n))
base = 8 + n
header.pop("__metadata__", None)


def read(name):
    b, e = header[name]["data_offsets"]
    f.seek(base + b)
    return f.read(e - b)


def to_bf16(x):
    u = x.astype("<f4").view("<u4").astype(np.uint64)
    return ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype("<u2").tobytes()


def from_bf16(b):
    return (np.frombuffer(b, dtype="<u2").astype(np.uint32) << 16).view("<f4")


names = [k for k in header if any(k.startswith(f"{p}.layers.{l}.") for p in ("model", "gen") for l in layers)]
names.sort(key=lambda k: header[k]["data_offsets"][0])
plan, offset = {}, 0
for k in names:
    size = header[k]["data_offsets"][1] - header[k]["data_offsets"][0]
    plan[k] = {"dtype": header[k]["dtype"], "shape": header[k]["shape"], "data_offsets": [offset, offset + size]}
    offset += size
text = json.dumps(plan, separators=(",", ":")).encode()
text += b" " * (-len(text) % 8)
with open(a.out, "wb") as out:
    out.write(struct.pack("<Q", len(text)) + text)
    for k in names:
        twin = "model." + k[len("gen."):] if k.startswith("gen.") else None
        if twin in header and header[twin]["shape"] == header[k]["shape"] and header[k]["dtype"] == "BF16":
            w = from_bf16(read(twin))
            rms = float(np.sqrt(np.mean(w.astype(np.float64) ** 2))) or 1.0
            out.write(to_bf16(w + np.float32(a.drift * rms) * rng.standard_normal(w.shape[0], dtype=np.float32)))
        else:
            out.write(read(k))
