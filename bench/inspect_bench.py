#!/usr/bin/env python3
"""Benchmark: `latte inspect` against Python's safetensors.safe_open listing the same names and shapes.

Makes (in bench/work/, ignored by git) a sharded checkpoint of 20,000 tensors and a 2 GB
safetensors file (sparse: the data region is never written), then times, in this one script:
  - latte inspect --json --no-tensors
  - latte inspect --json
  - python: safe_open over every shard, keys() and get_slice(k).get_shape() for each tensor
Prints medians and ratios (latte / python; below 1.0 is faster). Run by `make bench`.
"""
import json, os, struct, subprocess, sys, time, statistics

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WORK = os.path.join(ROOT, "bench", "work")
LATTE = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, ".build", "release", "latte")
REPEAT = int(os.environ.get("BENCH_REPEAT", "5"))


def write_safetensors(path, tensors, sparse_total=None):
    """tensors: list of (name, dtype, shape, nbytes). Data is zeros (sparse when large)."""
    header, off = {"__metadata__": {"format": "pt"}}, 0
    for name, dtype, shape, nbytes in tensors:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [off, off + nbytes]}
        off += nbytes
    h = json.dumps(header, separators=(",", ":")).encode()
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h)
        f.truncate(8 + len(h) + off)  # a hole: no data written, the size is right


def make_sharded(folder, n_tensors=20000, shards=4):
    if os.path.exists(os.path.join(folder, "model.safetensors.index.json")):
        return
    os.makedirs(folder, exist_ok=True)
    weight_map, per = {}, n_tensors // shards
    for s in range(shards):
        name = f"model-{s + 1:05d}-of-{shards:05d}.safetensors"
        ts = [(f"model.layers.{s * per + i}.mlp.weight", "BF16", [16, 16], 512) for i in range(per)]
        write_safetensors(os.path.join(folder, name), ts)
        for t in ts:
            weight_map[t[0]] = name
    with open(os.path.join(folder, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": n_tensors * 512}, "weight_map": weight_map}, f)


def make_big(path, total=2 << 30):
    if os.path.exists(path):
        return
    n = 200
    each = total // n
    each -= each % 2
    write_safetensors(path, [(f"w.{i}", "BF16", [each // 2], each) for i in range(n)])


def python_listing(paths):
    from safetensors import safe_open
    out = []
    for p in paths:
        with safe_open(p, framework="numpy") as f:
            for k in f.keys():
                out.append((k, f.get_slice(k).get_shape()))
    return out


def median_time(fn):
    ts = []
    for _ in range(REPEAT):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts)


def latte(args):
    r = subprocess.run([LATTE] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if r.returncode != 0:
        sys.exit(f"latte {' '.join(args)} failed: {r.stderr.decode()}")
    return r.stdout


def main():
    os.makedirs(WORK, exist_ok=True)
    sharded = os.path.join(WORK, "sharded20k")
    big = os.path.join(WORK, "big2g.safetensors")
    make_sharded(sharded)
    make_big(big)
    cases = [
        ("sharded, 20,000 tensors", sharded, sorted(os.path.join(sharded, f) for f in os.listdir(sharded) if f.endswith(".safetensors"))),
        ("2 GB single file", big, [big]),
    ]
    print(f"{'case':26} {'py in-proc':>10} {'py process':>10} {'--no-tensors':>12} {'ratio':>11} {'--json':>8} {'ratio':>11}")
    for label, path, files in cases:
        # Same answer first: latte's names and shapes equal safe_open's.
        doc = json.loads(latte(["inspect", "--json", path]))
        mine = sorted((t["name"], t["shape"]) for t in doc["tensors"])
        theirs = sorted((k, list(s)) for k, s in python_listing(files))
        assert mine == theirs, f"{label}: latte and safe_open disagree"
        py = median_time(lambda: python_listing(files))
        script = "import sys; sys.path.insert(0, %r); import inspect_bench as b; b.python_listing(%r)" % (os.path.dirname(os.path.abspath(__file__)), files)
        pyproc = median_time(lambda: subprocess.run([sys.executable, "-c", script], check=True))
        short = median_time(lambda: latte(["inspect", "--json", "--no-tensors", path]))
        full = median_time(lambda: latte(["inspect", "--json", path]))
        print(f"{label:26} {py:9.3f}s {pyproc:9.3f}s {short:11.3f}s {short / py:5.2f}/{short / pyproc:5.2f} {full:7.3f}s {full / py:5.2f}/{full / pyproc:5.2f}")
    print(f"(medians of {REPEAT} runs; ratios are latte / python in-process and latte / python as a new process,")
    print(" the way a user runs either; latte always runs as a new process)")


if __name__ == "__main__":
    main()
