"""Writes a synthetic BF16 safetensors checkpoint of about SIZE_GB gigabytes (weight-like
values: normal(0, 0.02) rounded to BF16), streaming, so making it needs little memory."""
import json, struct, sys
import numpy as np

dst, size_gb = sys.argv[1], float(sys.argv[2])
rows, cols = 4096, 4096                      # 32 MiB per tensor
per = rows * cols * 2
count = max(1, int(size_gb * (1 << 30) // per))
header, offset = {"__metadata__": {"format": "pt", "note": "synthetic bench checkpoint"}}, 0
for i in range(count):
    header[f"layers.{i}.weight"] = {"dtype": "BF16", "shape": [rows, cols], "data_offsets": [offset, offset + per]}
    offset += per
text = json.dumps(header, separators=(",", ":")).encode()
text += b" " * (-len(text) % 8)
rng = np.random.default_rng(0)
with open(dst, "wb") as f:
    f.write(struct.pack("<Q", len(text)) + text)
    for i in range(count):
        w = (rng.standard_normal(rows * cols, dtype=np.float32) * 0.02).view(np.uint32).astype(np.uint64)
        f.write(((w + 0x7FFF + ((w >> 16) & 1)) >> 16).astype("<u2").tobytes())
