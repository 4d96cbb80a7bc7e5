#!/usr/bin/env python3
"""Writes the `model.*` tensors of a LaTtE-Flow safetensors file (the frozen VLM: its context
layers, embedding and final norm) as a safetensors file of their own, bytes unchanged: the
base a user already has, for `latte convert --base` (bench/trained.sh).

    python bench/context_base.py SRC.safetensors OUT.safetensors
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import st_file  # noqa: E402

if len(sys.argv) != 3:
    sys.exit("usage: context_base.py SRC.safetensors OUT.safetensors")
tensors, _ = st_file.read(sys.argv[1])
base = [t for t in tensors if t[0].startswith("model.")]
if not base:
    sys.exit(f"error: {sys.argv[1]}: no model.* tensor")
st_file.write(sys.argv[2], base)
