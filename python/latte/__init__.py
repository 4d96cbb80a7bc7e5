"""Load and save .latte files (compressed LaTtE-Flow checkpoints) with the safetensors API.

    import latte
    tensors = latte.load_file("model.latte")            # {name: torch.Tensor}
    with latte.safe_open("model.latte", framework="np") as f:
        expert = f.get_group(f.group_of(0.3))            # one expert's tensors only
"""
from ._native import LatteError
from ._file import safe_open, load_file, save_file

__all__ = ["LatteError", "safe_open", "load_file", "save_file"]
__version__ = "0.1.0"
