#!/usr/bin/env bash
# Parse time and peak memory of JSON.parseTree / JSON.parse against json-c, the parser they
# replaced, on manifest-like documents of 20 and 90 MB and safetensors headers of 20,000 and
# 10^6 tensors (make_docs.py). One process per measurement, so peak RSS is the parse's own.
#   bench/json/measure.sh [WORKDIR]    (default: bench/work/json, ignored by git)
set -euo pipefail
cd "$(dirname "$0")"
WORK=${1:-../work/json}
mkdir -p "$WORK"
[ -f "$WORK/manifest-90mb.json" ] || python3 make_docs.py "$WORK"
swift build -c release 2>&1 | grep -E "error|Build complete" || true
BIN=.build/release/json-bench
for doc in header-20k manifest-20mb manifest-90mb header-1m-empty; do
  for mode in jsonc-tree jsonc-value tree value; do
    "$BIN" "$mode" "$WORK/$doc.json" "${REPEAT:-1}"
  done
done
