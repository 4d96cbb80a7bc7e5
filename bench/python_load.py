"""latte.load_file against safetensors.torch.load_file and ZipNN (issue 12), on one machine,
in one script, the runs of each comparison interleaved (ABBA), medians quoted.

    python bench/python_load.py LATTE_CLI FILE.safetensors[:CONFIG_DIR] ...

Per file: converts it (cached beside, in bench/work/), checks bit-exactness, times
load_file warm and cold (both files evicted with posix_fadvise(DONTNEED) before each cold
run) against safetensors.torch.load_file, ZipNN's decompression of the same bytes with the
same threads (when zipnn is installed; in this process, and as one load in a fresh process),
get_group(k) against the whole file (files with groups), and the peak RSS of load_file in a
fresh process against the tensors' bytes.
"""
import os
import statistics
import subprocess
import sys
import time

import latte
import torch
from safetensors.torch import load_file as st_load

try:
    import zipnn
except ImportError:
    zipnn = None

REPS = int(os.environ.get("REPS", "3"))
THREADS = int(os.environ.get("THREADS", os.cpu_count()))


def evict(*paths):
    for p in paths:
        fd = os.open(p, os.O_RDONLY)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        os.close(fd)


def timed(fn):
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def abba(a, b, reps, before=lambda: None):
    """Median seconds of a and b, run a b b a a b b a ..."""
    ta, tb = [], []
    for i in range(reps):
        for name in ("ab" if i % 2 == 0 else "ba"):
            before()
            (ta if name == "a" else tb).append(timed(a if name == "a" else b)[0])
    return statistics.median(ta), statistics.median(tb)


def as_bytes(t):
    return t.reshape(-1).view(torch.uint8) if t.dtype != torch.bool else t.reshape(-1)


def bit_exact(out, source):
    """Tensor by tensor (one in memory at a time): names, dtypes, shapes and bytes."""
    from safetensors import safe_open as st_open
    with latte.safe_open(out) as f, st_open(source, framework="pt") as g:
        if sorted(f.keys()) != sorted(g.keys()):
            return False
        for k in g.keys():
            a, b = f.get_tensor(k), g.get_tensor(k)
            if a.shape != b.shape or a.dtype != b.dtype or not torch.equal(as_bytes(a), as_bytes(b)):
                return False
    return True


def peak_rss(path, framework):
    # VmHWM, not ru_maxrss: a child's ru_maxrss starts at the parent's size at fork.
    code = ("import latte\n"
            + ("import torch\n" if framework == "pt" else "") +
            "def hwm():\n"
            "    return next(int(l.split()[1]) * 1024 for l in open('/proc/self/status') if l.startswith('VmHWM'))\n"
            f"base = hwm(); t = latte.load_file({path!r}, framework={framework!r})\n"
            "peak = hwm()\n"
            "n = sum(v.nbytes if hasattr(v, 'nbytes') else v.numel() * v.element_size() for v in t.values())\n"
            "print(base, peak, n)")
    base, peak, n = map(int, subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split())
    return base, peak, n


def bench_file(cli, source, config_dir):
    out = os.path.join(os.environ.get("OUT", "bench/work"), os.path.basename(source).replace(".safetensors", "") + ".py.latte")
    if not os.path.exists(out):
        args = [cli, "convert", source, "-o", out, "--no-progress"] + (["--config", os.path.join(config_dir, "config.json")] if config_dir else [])
        subprocess.run(args, check=True)
    size = os.path.getsize(source)
    print(f"\n-- {source} ({size / 1e9:.2f} GB) -> {out} ({os.path.getsize(out) / 1e9:.2f} GB), threads {THREADS}")
    print(f"bit-exact against safetensors: {'yes' if bit_exact(out, source) else 'NO'}")
    with latte.safe_open(out, framework="np") as f:
        nbytes = sum(t["nbytes"] for t in f._infos)
    reps = REPS if size < 2e9 else 1
    lt, st = abba(lambda: latte.load_file(out, threads=THREADS), lambda: st_load(source), reps)
    print(f"warm: latte {lt:.3f}s ({nbytes / lt / 1e9:.2f} GB/s)  safetensors {st:.3f}s ({nbytes / st / 1e9:.2f} GB/s)  latte/safetensors time {lt / st:.2f}x")
    # safetensors.torch.load_file maps the file: its tensors are read when first used. Cloned,
    # every byte is read and copied, as load_state_dict copies into a model's parameters.
    lt, st = abba(lambda: latte.load_file(out, threads=THREADS), lambda: {k: v.clone() for k, v in st_load(source).items()}, reps)
    print(f"warm, safetensors tensors cloned: latte {lt:.3f}s  safetensors+clone {st:.3f}s ({nbytes / st / 1e9:.2f} GB/s)  latte/safetensors time {lt / st:.2f}x")
    lt, st = abba(lambda: latte.load_file(out, threads=THREADS), lambda: st_load(source), reps, before=lambda: evict(out, source))
    print(f"cold: latte {lt:.3f}s ({nbytes / lt / 1e9:.2f} GB/s)  safetensors {st:.3f}s ({nbytes / st / 1e9:.2f} GB/s)  latte/safetensors time {lt / st:.2f}x")
    if size < 2e9:  # ZipNN holds the file, its compressed copy and its output in memory
        bench_zipnn(out, source, nbytes, reps)
    bench_groups(out, reps)
    for fw in ("np", "pt"):
        base, peak, n = peak_rss(out, fw)
        grown = peak - base
        print(f"peak RSS ({fw}): {grown / 2**20:.0f} MiB over the {base / 2**20:.0f} MiB after imports, tensors {n / 2**20:.0f} MiB: "
              f"{grown / n:.3f}x (target <= 1.1x + 64 MiB = {(1.1 * n + 64 * 2**20) / 2**20:.0f} MiB: {'met' if grown <= 1.1 * n + 64 * 2**20 else 'MISSED'})")


def bench_zipnn(out, source, nbytes, reps):
    if zipnn is None:
        print("zipnn: not installed, skipped")
        return
    data = open(source, "rb").read()
    by_dtype = {}
    with latte.safe_open(out, framework="np") as f:
        for t in f._infos:
            by_dtype[t["dtype"]] = by_dtype.get(t["dtype"], 0) + t["nbytes"]
    main = max(by_dtype, key=by_dtype.get)  # the dtype holding most bytes
    dtype = {"BF16": "bfloat16", "F32": "float32", "F16": "float16"}.get(main, "bfloat16")
    z = zipnn.ZipNN(input_format="byte", bytearray_dtype=dtype, threads=THREADS)
    packed = z.compress(data)
    exact = bytes(z.decompress(packed)) == data
    zt, lt = abba(lambda: z.decompress(packed), lambda: latte.load_file(out, threads=THREADS), reps)
    print(f"zipnn ({dtype}, {THREADS} threads): {len(packed) / len(data):.3f} of the file, decompress {zt:.3f}s "
          f"({len(data) / zt / 1e9:.2f} GB/s, round trip {'exact' if exact else 'NOT exact'}); latte.load_file {lt:.3f}s "
          f"({nbytes / lt / 1e9:.2f} GB/s): latte {zt / lt * nbytes / len(data):.2f}x zipnn's throughput")
    ndata = len(data)
    packed_path = out + ".zipnn"
    with open(packed_path, "wb") as f:
        f.write(packed)
    del data, packed
    ft, lt = abba(lambda: fresh_fill(nbytes), lambda: latte.load_file(out, threads=THREADS), reps)
    print(f"floor: writing {nbytes / 1e9:.2f} GB into fresh memory ({THREADS} threads) {ft:.3f}s ({nbytes / ft / 1e9:.2f} GB/s), "
          f"which any decoder's output costs here; per byte, latte.load_file takes {lt / ft:.2f}x that, "
          f"zipnn {zt / ndata / (ft / nbytes):.2f}x")
    try:
        bench_fresh_process(out, packed_path, dtype, nbytes, ndata, max(reps, 5))
    finally:
        os.unlink(packed_path)


# One load in a new process, the way a program loads its weights once: every output byte
# lands in memory the process has never touched. Timed around the call alone (imports and
# ZipNN's read of its compressed file are outside), with the call's user and system time.
ONE_LOAD = """
import resource, sys, time
which, path, dtype, threads = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
import torch, latte
if which == "zipnn":
    import zipnn
    packed = open(path, "rb").read()
    z = zipnn.ZipNN(input_format="byte", bytearray_dtype=dtype, threads=threads)
    run = lambda: z.decompress(packed)
else:
    run = lambda: latte.load_file(path, threads=threads)
r0, t0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
out = run()
t1, r1 = time.perf_counter(), resource.getrusage(resource.RUSAGE_SELF)
print(t1 - t0, r1.ru_utime - r0.ru_utime, r1.ru_stime - r0.ru_stime)
"""


def one_load(which, path, dtype):
    r = subprocess.run([sys.executable, "-c", ONE_LOAD, which, path, dtype, str(THREADS)], capture_output=True, text=True, check=True)
    return tuple(map(float, r.stdout.split()))


def bench_fresh_process(out, packed_path, dtype, nbytes, ndata, reps):
    runs = {"latte": [], "zipnn": []}
    for i in range(reps):
        for which in (("latte", "zipnn") if i % 2 == 0 else ("zipnn", "latte")):
            runs[which].append(one_load(which, out if which == "latte" else packed_path, dtype))
    med = {k: [statistics.median(r[j] for r in v) for j in range(3)] for k, v in runs.items()}
    (lw, lu, ls), (zw, zu, zs) = med["latte"], med["zipnn"]
    ratio = zw / lw * nbytes / ndata
    print(f"one load in a fresh process ({reps} each, ABBA): latte {lw:.3f}s ({nbytes / lw / 1e9:.2f} GB/s; user {lu:.3f}s, "
          f"system {ls:.3f}s), zipnn {zw:.3f}s ({ndata / zw / 1e9:.2f} GB/s; user {zu:.3f}s, system {zs:.3f}s): "
          f"latte {ratio:.2f}x zipnn's throughput")


def fresh_fill(n):
    """Writes n bytes into newly allocated memory on THREADS threads (ctypes.memset releases
    the GIL): the page faults and zeroing every loader's output pays on first touch."""
    import ctypes
    import threading
    import numpy as np
    buf = np.empty(n, dtype=np.uint8)
    base, per = buf.ctypes.data, (n + THREADS - 1) // THREADS
    ts = [threading.Thread(target=ctypes.memset, args=(base + i * per, 1, max(0, min(per, n - i * per)))) for i in range(THREADS)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return buf


def bench_groups(out, reps):
    with latte.safe_open(out, threads=THREADS) as f:
        groups = f.groups()
        if not groups:
            return
        k = groups[0]["index"]
        gt, wt = abba(lambda: f.get_group(k), lambda: latte.load_file(out, threads=THREADS), reps)
    K = len(groups)
    print(f"get_group({k}) of {K}: {gt:.3f}s, load_file {wt:.3f}s: {wt / gt:.1f}x faster (target >= {K - 1}x: "
          f"{'met' if wt / gt >= K - 1 else 'MISSED'})")


def main():
    cli = sys.argv[1]
    for arg in sys.argv[2:]:
        source, _, config = arg.partition(":")
        bench_file(cli, source, config or None)


if __name__ == "__main__":
    main()
