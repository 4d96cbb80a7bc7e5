#!/usr/bin/env bash
# Base references (issue 13): a LaTtE-Flow model converted against a base holding its frozen
# VLM (`model.*`, renamed the way transformers names Qwen2-VL's decoder: latte matches by
# content), as a fraction of its safetensors size, beside the full .latte; export through the
# base checked bit-exact (cmp). Models: the 2B-shape model (bench/work/k4, 6.3 GB BF16;
# bench/runtime.sh makes it) and the drift files of bench/twin.sh (made here when missing,
# numpy), whose replicas are also coded as twin deltas against the twins in the base.
#   THREADS   threads (default 2);  DRIFTS   drift files (default "1e-4 1e-3 1e-2 1e-1", "" for none)
#   ROUNDS    export timing rounds, ABBA (default 5): drift 1e-3 against its base, replica coded
#             as deltas against the base's twins or plainly
set -euo pipefail
cd "$(dirname "$0")/.."
LATTE=${LATTE:-.build/release/latte}
WORK=bench/work
PY=${PY:-$WORK/venv/bin/python}
THREADS=${THREADS:-2}
ROUNDS=${ROUNDS:-5}
DRIFTS=${DRIFTS-1e-4 1e-3 1e-2 1e-1}
SRC="$WORK/k4/model.safetensors"
[ -f "$SRC" ] || { echo "base.sh: $SRC missing (bench/runtime.sh makes it); skipped"; exit 0; }
size() { stat -L -c %s "$1"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }'; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }
B="$WORK/base.safetensors" FULL="$WORK/base-full.latte" REF="$WORK/base-ref.latte" BACK="$WORK/base-back.safetensors"
PLAIN="$WORK/base-plain.latte"
trap 'rm -f "$B" "$FULL" "$REF" "$BACK" "$PLAIN"' EXIT
# One row: the model, its base's share, the full and the base-referenced file (fractions of
# the safetensors size); convert and export times, without and with the base (one run each:
# for scale, not a comparison; the sizes do not move).
row() {
  local name=$1 src=$2 t0 cf cr ef er
  python3 bench/make_base.py "$src" "$B"
  t0=$(now); "$LATTE" convert "$src" -o "$FULL" --no-progress --threads "$THREADS" >/dev/null 2>&1; cf=$(since "$t0")
  t0=$(now); "$LATTE" convert "$src" --base "$B" -o "$REF" --no-progress --threads "$THREADS" >/dev/null 2>&1; cr=$(since "$t0")
  t0=$(now); "$LATTE" export "$FULL" -o "$BACK" --no-progress --threads "$THREADS" >/dev/null; ef=$(since "$t0")
  rm -f "$BACK"
  t0=$(now); "$LATTE" export "$REF" --base "$B" -o "$BACK" --no-progress --threads "$THREADS" >/dev/null; er=$(since "$t0")
  cmp -s "$src" "$BACK" || { echo "error: export of $REF through the base differs from $src" >&2; exit 1; }
  printf '%-10s %11d %6s | %6s %6s | %7s %7s | %7s %7s\n' "$name" "$(size "$src")" "$(ratio "$(size "$B")" "$(size "$src")")" \
    "$(ratio "$(size "$FULL")" "$(size "$src")")" "$(ratio "$(size "$REF")" "$(size "$src")")" "${cf}s" "${cr}s" "${ef}s" "${er}s"
  rm -f "$FULL" "$BACK"
}
printf '%-10s %11s %6s | %6s %6s | %7s %7s | %7s %7s\n' model bytes base full refd conv conv-b exp exp-b
row k4-2B "$SRC"
for r in $DRIFTS; do
  f="$WORK/drift-$r.safetensors"
  [ -f "$f" ] || "$PY" bench/make_drift.py "$SRC" "$f" --drift "$r"
  row "drift-$r" "$f"
done
# Decode speed of delta chunks whose twin is in the base (read in place, nothing decoded for
# it) against plain chunks: export of drift 1e-3 through its base, both ways, ABBA; medians.
f="$WORK/drift-1e-3.safetensors"
if [ -f "$f" ] && [ "$ROUNDS" -gt 0 ]; then
  python3 bench/make_base.py "$f" "$B"
  "$LATTE" convert "$f" --base "$B" -o "$REF" --no-progress --threads "$THREADS" >/dev/null 2>&1
  "$LATTE" convert "$f" --base "$B" -o "$PLAIN" --no-progress --threads "$THREADS" --no-twin-delta >/dev/null 2>&1
  t() { local s; s=$(now); "$LATTE" export "$1" --base "$B" -o "$BACK" --threads "$THREADS" --no-progress >/dev/null; since "$s"; rm -f "$BACK"; }
  p=(); d=()
  for _ in $(seq "$ROUNDS"); do p+=("$(t "$PLAIN")"); d+=("$(t "$REF")"); d+=("$(t "$REF")"); p+=("$(t "$PLAIN")"); done
  med() { printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
  mp=$(med "${p[@]}"); md=$(med "${d[@]}")
  echo "export drift 1e-3 through its base: replica plain ${mp}s ($(ratio "$(size "$PLAIN")" "$(size "$f")")), deltas ${md}s ($(ratio "$(size "$REF")" "$(size "$f")")): decode speed $(ratio "$mp" "$md")x of plain (target >= 0.8)"
fi
echo "base: the base's share of the model; full: .latte without a base; refd: .latte against the base (all / safetensors)"
echo "conv, exp: convert and export without a base; conv-b, exp-b: with it (seconds, one run each)"
echo "target: the base-referenced file of the 2B-shape model (k4-2B refd) <= 0.40"
