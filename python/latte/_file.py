"""safe_open, load_file and save_file over liblatte.so: tensors are decoded straight into
the memory of the arrays returned (one allocation per tensor, no intermediate copy)."""
import ctypes
import json
import os
import tempfile
from ctypes import POINTER, byref, c_char_p, c_int32, c_int64, c_void_p

import numpy as np

from . import _dtypes
from ._native import LatteError, check, lib

_FRAMEWORKS = {"pt": "pt", "torch": "pt", "np": "np", "numpy": "np"}


class safe_open:
    """An open .latte file, as safetensors' safe_open: use it in a `with` block.

    framework: "pt" (torch tensors) or "np" (numpy arrays); device: "cpu" only.
    threads: decoding threads per read (0: every core). base: the base checkpoint (a path
    latte reads) of a file converted with `latte convert --base`."""

    def __init__(self, filename, framework="pt", device="cpu", threads=0, base=None):
        if framework not in _FRAMEWORKS:
            raise LatteError(f"framework {framework!r}: use \"pt\" or \"np\"")
        if str(device) != "cpu":
            raise LatteError(f"device {device!r}: latte decodes on the CPU; move the tensors afterwards")
        self._framework = _FRAMEWORKS[framework]
        self._path = os.fspath(filename)
        self._threads = int(threads)
        self._handle = c_void_p()
        base_path = None if base is None else os.fsencode(os.fspath(base))
        check(lib.latte_open_with_base(os.fsencode(os.fspath(filename)), base_path, byref(self._handle)))
        try:
            self._infos = [self._info(i) for i in range(lib.latte_tensor_count(self._handle))]
        except BaseException:
            self.close()
            raise
        self._index = {t["name"]: i for i, t in enumerate(self._infos)}

    def _info(self, i):
        name, dtype, role = c_char_p(), c_char_p(), c_char_p()
        ndim, section, group, layer = c_int32(), c_int32(), c_int32(), c_int32()
        shape, nbytes = POINTER(c_int64)(), c_int64()
        check(lib.latte_tensor_info(self._handle, i, byref(name), byref(dtype), byref(ndim), byref(shape), byref(nbytes),
                                    byref(section), byref(group), byref(layer), byref(role)))
        return {
            "name": name.value.decode(), "dtype": dtype.value.decode(),
            "shape": tuple(shape[d] for d in range(ndim.value)), "nbytes": nbytes.value, "section": section.value,
            "group": None if group.value < 0 else group.value, "layer": None if layer.value < 0 else layer.value,
            "role": role.value.decode() if role.value is not None else None,
        }

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        self.close()

    def close(self):
        """Closes the file (also done on leaving the `with` block)."""
        h = getattr(self, "_handle", None)
        if h is not None and h.value:
            lib.latte_close(h)
            self._handle = c_void_p()

    def _open_handle(self):
        if not self._handle.value:
            raise LatteError("the file is closed")
        return self._handle

    def keys(self):
        """Tensor names, in file order."""
        return [t["name"] for t in self._infos]

    def metadata(self):
        """The string-to-string metadata (safetensors' __metadata__)."""
        h, out = self._open_handle(), {}
        for i in range(lib.latte_metadata_count(h)):
            k, v = c_char_p(), c_char_p()
            check(lib.latte_metadata_entry(h, i, byref(k), byref(v)))
            out[k.value.decode()] = v.value.decode()
        return out

    def provenance(self):
        """The manifest's provenance document (source, config, plan), as a dict."""
        return json.loads(lib.latte_provenance_json(self._open_handle()).decode())

    def tensor_info(self, name):
        """What the manifest says of `name`: dtype, shape, nbytes, section, group, layer, role."""
        return dict(self._infos[self._find(name)])

    def _find(self, name):
        i = self._index.get(name)
        if i is None:  # not there: the library says so, with the CLI's message
            index = c_int64()
            check(lib.latte_find_tensor(self._open_handle(), name.encode(), byref(index)))
            i = index.value
        return i

    def get_tensor(self, name):
        """The tensor called `name`, checksum verified."""
        return self._read([self._find(name)])[name]

    def groups(self):
        """The expert groups present, ascending: dicts with "index", and from the plan
        "timesteps" ([start, end]) and "layers" (the replica layers it owns)."""
        h = self._open_handle()
        planned = {g["index"]: g for g in (self.provenance().get("plan") or {}).get("groups", [])}
        out = []
        for i in range(lib.latte_group_count(h)):
            g, n = c_int32(), c_int64()
            check(lib.latte_group_info(h, i, byref(g), byref(n)))
            entry = {"index": g.value, "tensors": n.value}
            if g.value in planned:
                entry["timesteps"] = tuple(planned[g.value]["timesteps"])
                entry["layers"] = list(planned[g.value]["layers"])
            out.append(entry)
        return out

    def group_of(self, t):
        """The expert group of timestep t in [0, 1]: the largest k whose interval starts at
        or before t (a boundary belongs to the later group), as the runtime picks it."""
        groups = [g for g in self.groups() if "timesteps" in g]
        if not groups:
            raise LatteError(f"{self._path}: no expert-group plan in this file")
        if not 0.0 <= float(t) <= 1.0:
            raise LatteError(f"timestep {t} outside [0, 1]")
        best = groups[0]["index"]
        for g in groups:
            if g["timesteps"][0] <= float(t):
                best = g["index"]
        return best

    def get_group(self, k):
        """Every tensor of expert group k's section (that section alone is decoded)."""
        h = self._open_handle()
        n = next((g["tensors"] for g in self.groups() if g["index"] == k), None)
        if n is None:
            check(lib.latte_group_tensors(h, int(k), None, 0))  # raises, with the CLI's message
        indices = (c_int64 * max(n, 1))()
        check(lib.latte_group_tensors(h, int(k), indices, n))
        return self._read(list(indices[:n]))

    def _read(self, indices):
        """Tensors `indices` decoded together, in one call, into arrays allocated here."""
        h = self._open_handle()
        # The manifest's sizes are bounded by the bytes stored (at most 2^15 raw bytes per
        # stored byte), so a small valid file can still ask for many GB: refused before any
        # allocation when the arrays would not fit in the memory available now.
        need, avail = sum(self._infos[i]["nbytes"] for i in indices), _available_memory()
        if avail is not None and need > avail:
            raise LatteError(f"{self._path}: these tensors need {_size(need)} of memory, more than the "
                             f"{_size(avail)} available: read fewer at a time (get_group, get_tensor)")
        out, keep = {}, []
        buffers = (c_void_p * max(len(indices), 1))()
        sizes = (c_int64 * max(len(indices), 1))()
        ids = (c_int64 * max(len(indices), 1))(*indices)
        for k, i in enumerate(indices):
            t = self._infos[i]
            arr, ptr = self._empty(t)
            out[t["name"]] = arr
            keep.append(arr)
            buffers[k], sizes[k] = ptr, t["nbytes"]
        check(lib.latte_read_tensors(h, len(indices), ids, buffers, sizes, self._threads))
        return out

    def _empty(self, t):
        """An uninitialized array of tensor t's dtype and shape, and its data pointer."""
        if self._framework == "np":
            arr = np.empty(t["shape"], dtype=_dtypes.numpy_dtype(t["dtype"], t["name"]))
            return arr, arr.ctypes.data
        import torch
        arr = torch.empty(t["shape"], dtype=_dtypes.torch_dtype(t["dtype"], t["name"]))
        return arr, arr.data_ptr()


def _size(n):
    """n bytes in the largest binary unit under which it is at least 1 (as the CLI prints sizes)."""
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if n >= 1 << shift:
            return f"{n / (1 << shift):.1f} {unit}"
    return f"{n} bytes"


def _available_memory():
    """MemAvailable from /proc/meminfo, in bytes; None where the kernel does not say."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def load_file(filename, framework="pt", device="cpu", threads=0, base=None):
    """Every tensor of a .latte file, as {name: tensor}, ready for `model.load_state_dict`
    (base: the base checkpoint of a file converted with `latte convert --base`)."""
    with safe_open(filename, framework=framework, device=device, threads=threads, base=base) as f:
        return f._read(list(range(len(f._infos))))


def save_file(tensors, filename, metadata=None, config=None, threads=0):
    """Writes {name: torch tensor or numpy array} to a .latte file through the writer
    `latte convert` uses. metadata: {str: str}. config: a LaTtE-Flow config (a dict or a
    config.json path) to lay tensors out in expert-group sections, as convert does."""
    names, dtypes, ndims, shapes, data, nbytes, keep = [], [], [], [], [], [], []
    for name, value in tensors.items():
        raw, dtype = _contiguous(name, value)
        keep.append(raw)
        names.append(name.encode())
        dtypes.append(dtype.encode())
        ndims.append(raw.ndim)
        shapes.append((c_int64 * max(raw.ndim, 1))(*raw.shape))
        data.append(raw.ctypes.data)
        nbytes.append(raw.nbytes)
    n = len(names)
    meta = list((metadata or {}).items())
    for k, v in meta:
        if not isinstance(k, str) or not isinstance(v, str):
            raise LatteError(f"metadata {k!r}: keys and values must be strings")
    tmp = None
    try:
        if isinstance(config, dict):
            tmp = tempfile.NamedTemporaryFile("w", suffix=".json", delete=False)
            json.dump(config, tmp)
            tmp.close()
            config = tmp.name
        check(lib.latte_write(
            os.fsencode(os.fspath(filename)), n, (c_char_p * max(n, 1))(*names), (c_char_p * max(n, 1))(*dtypes),
            (c_int32 * max(n, 1))(*ndims), (POINTER(c_int64) * max(n, 1))(*[ctypes.cast(s, POINTER(c_int64)) for s in shapes]),
            (c_void_p * max(n, 1))(*data), (c_int64 * max(n, 1))(*nbytes), len(meta),
            (c_char_p * max(len(meta), 1))(*[k.encode() for k, _ in meta]),
            (c_char_p * max(len(meta), 1))(*[v.encode() for _, v in meta]),
            os.fsencode(os.fspath(config)) if config is not None else None, int(threads)))
    finally:
        if tmp is not None:
            os.unlink(tmp.name)


def _contiguous(name, value):
    """A C-contiguous little-endian numpy view (or copy) of a torch tensor or numpy array, and its latte dtype."""
    if isinstance(value, np.ndarray):
        arr = value if value.flags.c_contiguous else value.copy(order="C")  # ascontiguousarray makes 0-d 1-d
        if arr.dtype.byteorder == ">":
            arr = arr.astype(arr.dtype.newbyteorder("<"))
        return arr, _dtypes.name_of_numpy(arr.dtype, name)
    if type(value).__module__.startswith("torch"):
        t = value.detach().cpu().contiguous()
        dtype = _dtypes.name_of_torch(t.dtype, name)
        # The bytes as uint8, viewed without a copy (numpy has no bfloat16 or float8).
        raw = t.reshape(-1).view(__import__("torch").uint8).numpy() if t.numel() else np.zeros(0, np.uint8)
        return _Raw(raw, tuple(t.shape)), dtype
    raise LatteError(f"tensor '{name}': {type(value).__name__} is neither a torch tensor nor a numpy array")


class _Raw:
    """A tensor's bytes (a uint8 array) with its logical shape, for save_file."""

    def __init__(self, raw, shape):
        self.raw, self.shape, self.ndim = raw, shape, len(shape)
        self.ctypes, self.nbytes = raw.ctypes, raw.nbytes
