"""Writes a BF16 copy of a safetensors file: F32 tensors rounded to nearest even, others as is."""
import sys
import numpy as np
import st_file

src, dst = sys.argv[1], sys.argv[2]
tensors, meta = st_file.read(src)
out = []
for name, dtype, shape, buf in tensors:
    if dtype == "F32":
        f = np.frombuffer(buf, dtype="<u4").astype(np.uint64)
        buf = ((f + 0x7FFF + ((f >> 16) & 1)) >> 16).astype("<u2").tobytes()
        dtype = "BF16"
    out.append((name, dtype, shape, buf))
st_file.write(dst, out, meta)
