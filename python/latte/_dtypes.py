"""latte's dtype names (the safetensors names) to numpy and torch dtypes, and back."""
import numpy as np

try:
    import ml_dtypes
except ImportError:  # optional: BF16 and FP8 with numpy need it
    ml_dtypes = None

_NUMPY = {
    "BOOL": np.bool_, "U8": np.uint8, "I8": np.int8, "I16": np.int16, "U16": np.uint16,
    "I32": np.int32, "U32": np.uint32, "I64": np.int64, "U64": np.uint64,
    "F16": np.float16, "F32": np.float32, "F64": np.float64, "C64": np.complex64, "C128": np.complex128,
}
# Element types numpy lacks, from ml_dtypes (attribute names; older ml_dtypes lack some).
_ML_DTYPES = {"BF16": "bfloat16", "F8_E4M3": "float8_e4m3fn", "F8_E5M2": "float8_e5m2", "F8_E8M0": "float8_e8m0fnu"}
# torch dtype attribute names (newer torch versions have more of them).
_TORCH = {
    "BOOL": "bool", "U8": "uint8", "I8": "int8", "I16": "int16", "U16": "uint16", "I32": "int32",
    "U32": "uint32", "I64": "int64", "U64": "uint64", "F16": "float16", "BF16": "bfloat16",
    "F32": "float32", "F64": "float64", "C64": "complex64", "C128": "complex128",
    "F8_E4M3": "float8_e4m3fn", "F8_E5M2": "float8_e5m2", "F8_E8M0": "float8_e8m0fnu",
}


def numpy_dtype(name, tensor):
    """The numpy dtype of latte dtype `name`, or LatteError naming `tensor`."""
    from ._native import LatteError
    if name in _NUMPY:
        return np.dtype(_NUMPY[name])
    if name in _ML_DTYPES:
        t = getattr(ml_dtypes, _ML_DTYPES[name], None) if ml_dtypes is not None else None
        if t is None:
            raise LatteError(f"tensor '{tensor}': {name} needs ml_dtypes with numpy (pip install ml_dtypes), "
                             f"or framework=\"pt\"")
        return np.dtype(t)
    raise LatteError(f"tensor '{tensor}': {name} has no numpy dtype (sub-byte types are not supported)")


def torch_dtype(name, tensor):
    """The torch dtype of latte dtype `name`, or LatteError naming `tensor`."""
    import torch
    from ._native import LatteError
    t = getattr(torch, _TORCH.get(name, ""), None) if name in _TORCH else None
    if t is None:
        raise LatteError(f"tensor '{tensor}': {name} has no dtype in this torch version")
    return t


def name_of_numpy(dtype, tensor):
    """The latte dtype name of a numpy dtype, or LatteError naming `tensor`."""
    from ._native import LatteError
    for name, t in _NUMPY.items():
        if np.dtype(t) == dtype:
            return name
    if ml_dtypes is not None:
        for name, attr in _ML_DTYPES.items():
            t = getattr(ml_dtypes, attr, None)
            if t is not None and np.dtype(t) == dtype:
                return name
    raise LatteError(f"tensor '{tensor}': numpy dtype {dtype} has no latte dtype")


def name_of_torch(dtype, tensor):
    """The latte dtype name of a torch dtype, or LatteError naming `tensor`."""
    import torch
    from ._native import LatteError
    for name, attr in _TORCH.items():
        if getattr(torch, attr, None) == dtype:
            return name
    raise LatteError(f"tensor '{tensor}': torch dtype {dtype} has no latte dtype")
