#!/usr/bin/env bash
# Twin deltas (issue 13): replica layers = context layers + relative drift r, coded with and
# without deltas against their twins, in one run. Needs bench/work/k4 (bench/make_model.py,
# the 2B-shape model; bench/runtime.sh makes it) and numpy. Layers 0 and 1 at full width (a
# 412 MB file per drift), not the whole model: making and coding four 6 GB copies here is too slow.
#   THREADS   threads (default 2);  ROUNDS   export timing rounds, ABBA (default 5)
set -euo pipefail
cd "$(dirname "$0")/.."
LATTE=${LATTE:-.build/release/latte}
WORK=bench/work
PY=${PY:-$WORK/venv/bin/python}
THREADS=${THREADS:-2}
ROUNDS=${ROUNDS:-5}
SRC="$WORK/k4/model.safetensors"
[ -f "$SRC" ] || { echo "twin.sh: $SRC missing (bench/runtime.sh makes it); skipped"; exit 0; }
size() { stat -L -c %s "$1"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }'; }
# Stored and raw bytes of the gen.* tensors of a .latte file, from inspect --json.
replica() { "$LATTE" inspect "$1" --json | "$PY" -c '
import json, sys
ts = json.load(sys.stdin)["tensors"]
g = [t for t in ts if t["name"].startswith("gen.")]
print(sum(t["stored_bytes"] for t in g) / sum(t["nbytes"] for t in g))'; }
printf '%-6s %10s %8s %8s | %9s %9s\n' drift bytes deltas plain replica-d replica-p
for r in 1e-4 1e-3 1e-2 1e-1; do
  f="$WORK/drift-$r.safetensors"
  [ -f "$f" ] || "$PY" bench/make_drift.py "$SRC" "$f" --drift "$r"
  "$LATTE" convert "$f" -o "$WORK/drift-d.latte" --no-progress --threads "$THREADS" >/dev/null 2>&1
  "$LATTE" convert "$f" -o "$WORK/drift-p.latte" --no-progress --threads "$THREADS" --no-twin-delta >/dev/null 2>&1
  "$LATTE" export "$WORK/drift-d.latte" -o "$WORK/drift-back.safetensors" >/dev/null
  cmp -s "$f" "$WORK/drift-back.safetensors" || { echo "error: export of the delta-coded $f differs from it" >&2; exit 1; }
  printf '%-6s %10d %8s %8s | %9.3f %9.3f\n' "$r" "$(size "$f")" "$(ratio "$(size "$WORK/drift-d.latte")" "$(size "$f")")" \
    "$(ratio "$(size "$WORK/drift-p.latte")" "$(size "$f")")" "$(replica "$WORK/drift-d.latte")" "$(replica "$WORK/drift-p.latte")"
  if [ "$r" = 1e-3 ]; then cp "$WORK/drift-d.latte" "$WORK/drift3-d.latte"; cp "$WORK/drift-p.latte" "$WORK/drift3-p.latte"; fi
done
# Decode: export of the whole drift-1e-3 file, with and without deltas, ABBA; medians.
t() { local s e; s=$(date +%s.%N); "$LATTE" export "$1" -o "$WORK/drift-x.safetensors" --threads "$THREADS" >/dev/null; e=$(date +%s.%N)
      rm -f "$WORK/drift-x.safetensors"; awk -v a="$s" -v b="$e" 'BEGIN { print b - a }'; }
p=(); d=()
for _ in $(seq "$ROUNDS"); do p+=("$(t "$WORK/drift3-p.latte")"); d+=("$(t "$WORK/drift3-d.latte")"); d+=("$(t "$WORK/drift3-d.latte")"); p+=("$(t "$WORK/drift3-p.latte")"); done
med() { printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
mp=$(med "${p[@]}"); md=$(med "${d[@]}")
echo "export drift 1e-3: plain ${mp}s, deltas ${md}s: delta-file decode speed $(ratio "$mp" "$md")x of plain (target >= 0.8)"
echo "targets: replica at drift 1e-3 <= 0.45 of raw; deltas never larger than plain"
rm -f "$WORK"/drift-d.latte "$WORK"/drift-p.latte "$WORK"/drift-back.safetensors "$WORK"/drift3-?.latte
