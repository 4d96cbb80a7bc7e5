"""ZipNN's size on the benchmark files, beside latte's (issue 3 asks for both).

Run with a Python that has `zipnn` (it pulls in torch, so it is kept out of `make bench`):
    .venv-fixtures/bin/pip install zipnn
    .venv-fixtures/bin/python bench/zipnn_size.py bench/work/minilm-bf16.safetensors bfloat16 \
        bench/work/minilm-f32.safetensors float32
Prints, per file: ZipNN's compressed size / file size, the time, and whether its round trip
gave the same bytes back.
"""
import sys
import time

import zipnn

args = sys.argv[1:]
for path, dtype in zip(args[0::2], args[1::2]):
    data = open(path, "rb").read()
    z = zipnn.ZipNN(input_format="byte", bytearray_dtype=dtype)
    t0 = time.perf_counter()
    packed = z.compress(data)
    t1 = time.perf_counter()
    back = z.decompress(packed)
    t2 = time.perf_counter()
    print(f"{path}: zipnn {len(packed) / len(data):.3f} of {len(data)} bytes, "
          f"compress {t1 - t0:.3f}s, decompress {t2 - t1:.3f}s, round trip {'exact' if bytes(back) == data else 'FAILED'}")
