"""Writes an int8 copy of a safetensors file: every F32 matrix quantized per row (symmetric,
round to nearest) to an I8 tensor `NAME` plus an F32 tensor `NAME.scale`; other tensors as is.
The non-float benchmark of issue 13: what an int8-quantized checkpoint costs against zstd -3."""
import sys
import numpy as np
import st_file

src, dst = sys.argv[1], sys.argv[2]
tensors, meta = st_file.read(src)
out = []
for name, dtype, shape, buf in tensors:
    if dtype == "F32" and len(shape) == 2:
        w = np.frombuffer(buf, dtype="<f4").reshape(shape)
        scale = np.maximum(np.abs(w).max(axis=1), 1e-12) / 127.0
        q = np.clip(np.rint(w / scale[:, None]), -127, 127).astype(np.int8)
        out.append((name, "I8", shape, q.tobytes()))
        out.append((name + ".scale", "F32", [shape[0]], scale.astype("<f4").tobytes()))
    else:
        out.append((name, dtype, shape, buf))
st_file.write(dst, out, meta)
