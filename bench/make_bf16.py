"""Writes a BF16 copy of a safetensors file: F32 tensors rounded to nearest even, others as is."""
import json, struct, sys
import numpy as np

src, dst = sys.argv[1], sys.argv[2]
raw = open(src, "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
header = json.loads(raw[8:8 + n])
data = raw[8 + n:]
meta = header.pop("__metadata__", None)
out_header, chunks, offset = {}, [], 0
for name, info in sorted(header.items(), key=lambda kv: kv[1]["data_offsets"][0]):
    b, e = info["data_offsets"]
    buf = data[b:e]
    dtype = info["dtype"]
    if dtype == "F32":
        f = np.frombuffer(buf, dtype="<u4").astype(np.uint64)
        buf = ((f + 0x7FFF + ((f >> 16) & 1)) >> 16).astype("<u2").tobytes()
        dtype = "BF16"
    out_header[name] = {"dtype": dtype, "shape": info["shape"], "data_offsets": [offset, offset + len(buf)]}
    chunks.append(buf)
    offset += len(buf)
if meta is not None:
    out_header = {"__metadata__": meta, **out_header}
text = json.dumps(out_header, separators=(",", ":")).encode()
text += b" " * (-len(text) % 8)
with open(dst, "wb") as f:
    f.write(struct.pack("<Q", len(text)) + text)
    for c in chunks:
        f.write(c)
