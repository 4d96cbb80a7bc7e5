#!/usr/bin/env bash
# `make bench`: every benchmark, each printing ratios against a baseline run in the same script.
set -euo pipefail
cd "$(dirname "$0")/.."
LATTE=${LATTE:-.build/release/latte}
mkdir -p bench/work
# One venv for the Python baselines (safetensors, numpy), in the ignored bench/work folder.
if [ ! -x bench/work/venv/bin/python ]; then
  python3 -m venv bench/work/venv
  bench/work/venv/bin/pip install -q safetensors numpy
fi
PY=bench/work/venv/bin/python
echo "== inspect: latte vs safetensors.safe_open"
$PY bench/inspect_bench.py "$LATTE"
for extra in bench/format.sh bench/rans.sh bench/runtime.sh bench/twin.sh bench/base.sh bench/python.sh bench/trained.sh; do
  if [ -f "$extra" ]; then echo "== $extra"; LATTE="$LATTE" bash "$extra"; fi
done
