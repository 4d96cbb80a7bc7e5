"""Writes an int8 copy of a safetensors file: every F32 matrix quantized per row (symmetric,
round to nearest) to an I8 tensor `NAME` plus an F32 tensor `NAME.scale`; other tensors as is.
The non-float benchmark of issue 13: what an int8-quantized checkpoint costs against zstd -3."""
import json, struct, sys
import numpy as np

src, dst = sys.argv[1], sys.argv[2]
raw = open(src, "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
header = json.loads(raw[8:8 + n])
data = raw[8 + n:]
meta = header.pop("__metadata__", None)
out_header, chunks, offset = {}, [], 0


def put(name, dtype, shape, buf):
    global offset
    out_header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(buf)]}
    chunks.append(buf)
    offset += len(buf)


for name, info in sorted(header.items(), key=lambda kv: kv[1]["data_offsets"][0]):
    b, e = info["data_offsets"]
    buf = data[b:e]
    if info["dtype"] == "F32" and len(info["shape"]) == 2:
        w = np.frombuffer(buf, dtype="<f4").reshape(info["shape"])
        scale = np.maximum(np.abs(w).max(axis=1), 1e-12) / 127.0
        q = np.clip(np.rint(w / scale[:, None]), -127, 127).astype(np.int8)
        put(name, "I8", info["shape"], q.tobytes())
        put(name + ".scale", "F32", [info["shape"][0]], scale.astype("<f4").tobytes())
    else:
        put(name, info["dtype"], info["shape"], buf)
if meta is not None:
    out_header = {"__metadata__": meta, **out_header}
text = json.dumps(out_header, separators=(",", ":")).encode()
text += b" " * (-len(text) % 8)
with open(dst, "wb") as f:
    f.write(struct.pack("<Q", len(text)) + text)
    for c in chunks:
        f.write(c)
