#!/usr/bin/env bash
# The Python package against safetensors.torch and ZipNN (bench/python_load.py), on the files
# the other benchmarks made in bench/work (WORK=... to read them elsewhere). Its venv holds
# torch, safetensors, ml_dtypes and, when it installs, zipnn.
set -euo pipefail
cd "$(dirname "$0")/.."
LATTE=${LATTE:-.build/release/latte}
WORK=${WORK:-bench/work}
VENV=bench/work/pyvenv
if [ ! -x $VENV/bin/python ]; then
  python3 -m venv $VENV
  $VENV/bin/pip install -q numpy safetensors ml_dtypes torch setuptools wheel
  $VENV/bin/pip install -q zipnn || echo "zipnn did not install: its comparison is skipped"
fi
LATTE_LIBRARY_SOURCE=$PWD/.build/release/liblatte-c.so $VENV/bin/pip install -q --no-build-isolation --force-reinstall --no-deps ./python
files=()
[ -f "$WORK/minilm-bf16.safetensors" ] && files+=("$WORK/minilm-bf16.safetensors")
[ -f "$WORK/synthetic-1g.safetensors" ] && files+=("$WORK/synthetic-1g.safetensors")
[ -f "$WORK/k4/model.safetensors" ] && files+=("$WORK/k4/model.safetensors:$WORK/k4")
[ ${#files[@]} -gt 0 ] || { echo "no benchmark files in $WORK: run bench/format.sh and bench/runtime.sh first" >&2; exit 1; }
$VENV/bin/python bench/python_load.py "$LATTE" "${files[@]}"
