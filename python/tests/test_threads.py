"""Concurrent reads of one open file from Python threads (the library releases the GIL)."""
from concurrent.futures import ThreadPoolExecutor

import numpy as np

import latte


def test_concurrent_reads_of_one_file(tmp_path):
    rng = np.random.default_rng(7)
    tensors = {f"t{i}": rng.standard_normal((64, 1000 + i)).astype(np.float32) for i in range(12)}
    path = tmp_path / "many.latte"
    latte.save_file(tensors, path)
    with latte.safe_open(path, framework="np", threads=2) as f:
        names = list(tensors) * 4
        with ThreadPoolExecutor(8) as pool:
            results = list(pool.map(lambda n: (n, f.get_tensor(n)), names))
        group = list(ThreadPoolExecutor(4).map(lambda _: latte.load_file(path, framework="np"), range(4)))
    for name, arr in results:
        assert np.array_equal(arr, tensors[name])
    for whole in group:
        assert all(np.array_equal(whole[n], tensors[n]) for n in tensors)
