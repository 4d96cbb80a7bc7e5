"""ctypes bindings of liblatte.so (include/latte.h). ctypes releases the GIL around every
foreign call, so decoding runs while other Python threads do."""
import ctypes
import os
from ctypes import POINTER, c_char_p, c_int32, c_int64, c_uint32, c_void_p

ABI_VERSION = 1


class LatteError(ValueError):
    """A .latte file could not be read or written: the message is the one the latte CLI
    prints after "error: " (file, tensor when one is involved, what is wrong)."""

    def __init__(self, message, status=None):
        super().__init__(message)
        self.status = status


def _library_path():
    override = os.environ.get("LATTE_LIBRARY")
    if override:
        return override
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), "liblatte.so")


def _load():
    path = _library_path()
    try:
        lib = ctypes.CDLL(path)
    except OSError as e:
        raise ImportError(f"latte: cannot load {path}: {e}") from None
    sig = {
        "latte_abi_version": (c_uint32, []),
        "latte_version": (c_char_p, []),
        "latte_last_error": (c_char_p, []),
        "latte_open": (c_int32, [c_char_p, POINTER(c_void_p)]),
        "latte_open_with_base": (c_int32, [c_char_p, c_char_p, POINTER(c_void_p)]),
        "latte_close": (None, [c_void_p]),
        "latte_tensor_count": (c_int64, [c_void_p]),
        "latte_tensor_info": (c_int32, [c_void_p, c_int64, POINTER(c_char_p), POINTER(c_char_p), POINTER(c_int32),
                                        POINTER(POINTER(c_int64)), POINTER(c_int64), POINTER(c_int32),
                                        POINTER(c_int32), POINTER(c_int32), POINTER(c_char_p)]),
        "latte_find_tensor": (c_int32, [c_void_p, c_char_p, POINTER(c_int64)]),
        "latte_metadata_count": (c_int64, [c_void_p]),
        "latte_metadata_entry": (c_int32, [c_void_p, c_int64, POINTER(c_char_p), POINTER(c_char_p)]),
        "latte_provenance_json": (c_char_p, [c_void_p]),
        "latte_group_count": (c_int64, [c_void_p]),
        "latte_group_info": (c_int32, [c_void_p, c_int64, POINTER(c_int32), POINTER(c_int64)]),
        "latte_group_tensors": (c_int32, [c_void_p, c_int32, POINTER(c_int64), c_int64]),
        "latte_read_tensor": (c_int32, [c_void_p, c_int64, c_void_p, c_int64, c_int32]),
        "latte_read_tensors": (c_int32, [c_void_p, c_int64, POINTER(c_int64), POINTER(c_void_p), POINTER(c_int64), c_int32]),
        "latte_write": (c_int32, [c_char_p, c_int64, POINTER(c_char_p), POINTER(c_char_p), POINTER(c_int32),
                                  POINTER(POINTER(c_int64)), POINTER(c_void_p), POINTER(c_int64), c_int64,
                                  POINTER(c_char_p), POINTER(c_char_p), c_char_p, c_int32]),
    }
    for name, (res, args) in sig.items():
        fn = getattr(lib, name)
        fn.restype = res
        fn.argtypes = args
    found = lib.latte_abi_version()
    if found != ABI_VERSION:
        raise ImportError(f"latte: {path} has ABI version {found}, this package needs {ABI_VERSION}")
    return lib


lib = _load()


# The library asks for a missing base the C way; a Python caller passes base= instead.
_C_BASE_HINT, _PY_BASE_HINT = "; open the file with latte_open_with_base (", "; pass base= to safe_open or load_file ("


def check(status):
    """Raises LatteError with the calling thread's last message unless status is LATTE_OK."""
    if status != 0:
        message = lib.latte_last_error().decode("utf-8", "replace")
        raise LatteError(message.replace(_C_BASE_HINT, _PY_BASE_HINT, 1), status)
