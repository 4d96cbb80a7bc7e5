"""Shared helpers: the built `latte` CLI, converting fixtures, reading safetensors bytes."""
import json
import os
import struct
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIXTURES = os.path.join(ROOT, "fixtures")
LATTE = os.environ.get("LATTE_BIN", os.path.join(ROOT, ".build", "release", "latte"))


def run_latte(*args, check=True):
    """Runs the latte CLI; returns the completed process."""
    p = subprocess.run([LATTE, *map(str, args)], capture_output=True, text=True, timeout=300)
    if check and p.returncode != 0:
        raise AssertionError(f"latte {' '.join(map(str, args))}: {p.stderr}")
    return p


def read_safetensors(path):
    """{name: (dtype, shape, bytes)} and the metadata of a safetensors file, parsed here."""
    with open(path, "rb") as f:
        b = f.read()
    n = struct.unpack("<Q", b[:8])[0]
    header = json.loads(b[8:8 + n])
    meta = header.pop("__metadata__", {})
    base = 8 + n
    return {k: (v["dtype"], tuple(v["shape"]), b[base + v["data_offsets"][0]:base + v["data_offsets"][1]])
            for k, v in header.items()}, meta


@pytest.fixture(scope="session")
def converted(tmp_path_factory):
    """convert(source, *args) -> path of the .latte file, cached per session."""
    out = tmp_path_factory.mktemp("converted")
    cache = {}

    def convert(source, *args):
        key = (source, args)
        if key not in cache:
            path = out / f"{len(cache)}.latte"
            run_latte("convert", os.path.join(ROOT, source), "-o", path, *args)
            cache[key] = str(path)
        return cache[key]

    return convert
