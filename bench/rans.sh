#!/usr/bin/env bash
# The rans32 codec alone (Sources/CLatteRANS) on a real exponent plane, against zstd in the
# same process. Needs clang (the Swift toolchain's) and libzstd-dev; `make bench` runs it
# after format.sh, which fetches the model.
set -euo pipefail
cd "$(dirname "$0")/.."
WORK=bench/work
mkdir -p "$WORK"
[ -f "$WORK/minilm-bf16.safetensors" ] || { echo "error: run bench/format.sh first (it makes $WORK/minilm-bf16.safetensors)" >&2; exit 1; }
clang -O2 -ISources/CLatteRANS/include bench/rans_bench.c Sources/CLatteRANS/rans32.c -o "$WORK/rans_bench" -lzstd -lpthread
"$WORK/rans_bench" "$WORK/minilm-bf16.safetensors"
