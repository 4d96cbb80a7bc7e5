#!/usr/bin/env bash
# Twin deltas on a really trained replica (issue 13): bench/train_small.py trains a small
# LaTtE-Flow model's generation side (D = 512, 4 layers, K = 2; 56 MB in BF16) from an exact
# copy of its context layers, 400 AdamW steps of the reference's flow-matching loss on synthetic
# latents. This script codes the result with and without twin deltas and against zstd, times
# decoding both (export, ABBA), checks the round trips, and tabulates twin distance and replica
# ratio against training steps.
# Torch (the fixtures' venv: README, "Fixtures") is needed only to train; without it and
# without a trained model, skipped. The per-step snapshots the training leaves are measured
# once and deleted; the table stays in bench/work/trained/steps.txt (rm -r bench/work/trained
# to train and measure again).
#   TORCH_PY  python with torch (default .venv-fixtures/bin/python);  THREADS  (default 2)
#   ROUNDS    export timing rounds, ABBA (default 5)
#   LR        the training's learning rate (default 1e-4; another trains into bench/work/trained-lrLR)
set -euo pipefail
cd "$(dirname "$0")/.."
LATTE=${LATTE:-.build/release/latte}
WORK=bench/work
OUT=$WORK/trained
TORCH_PY=${TORCH_PY:-.venv-fixtures/bin/python}
PY=${PY:-$WORK/venv/bin/python}
THREADS=${THREADS:-2}
ROUNDS=${ROUNDS:-5}
# LR: the training's learning rate; a rate other than the default trains into its own folder.
LR=${LR:-1e-4}
[[ $LR =~ ^[0-9][0-9.eE+-]*$ ]] || { echo "error: LR=$LR: not a number" >&2; exit 1; }
[ "$LR" = 1e-4 ] || OUT=$WORK/trained-lr$LR
[ -x "$LATTE" ] || { echo "error: $LATTE missing: run swift build -c release --product latte" >&2; exit 1; }
[ -x "$PY" ] || PY=$TORCH_PY
"$PY" -c 'import numpy' 2>/dev/null || { echo "trained.sh: no python with numpy (set PY or TORCH_PY): skipped"; exit 0; }
# train.json is written last: without it the training did not finish.
if [ ! -f "$OUT/train.json" ]; then
  [ -x "$TORCH_PY" ] || { echo "trained.sh: no torch at $TORCH_PY (set TORCH_PY) and no $OUT/train.json: skipped"; exit 0; }
  rm -rf "$OUT"
  echo "training: bench/train_small.py --out $OUT (a few minutes on one core)"
  "$TORCH_PY" bench/train_small.py --out "$OUT" --lr "$LR" --threads 1 | sed '/^step /d'
fi
# What the measurements write in $OUT, removed on any exit.
trap 'rm -f "$OUT"/{d,p,b,s-d,s-p}.latte "$OUT"/{back,x}.safetensors "$OUT"/z{3,19}.zst "$OUT"/base-*.safetensors "$OUT/steps.txt.tmp"' EXIT
size() { stat -L -c %s "$1"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }'; }
# "all twinned": stored / raw bytes of the gen.* tensors of a .latte file (from inspect --json),
# and of those among them with a twin (model.* of the same name, dtype and shape).
replica() { "$LATTE" inspect "$1" --json | "$PY" -c '
import json, sys
ts = json.load(sys.stdin)["tensors"]
by = {t["name"]: t for t in ts}
def r(g): return "%.3f" % (sum(t["stored_bytes"] for t in g) / sum(t["nbytes"] for t in g))
g = [t for t in ts if t["name"].startswith("gen.")]
tw = [t for t in g if (by.get("model." + t["name"][4:]) or {}).get("shape", 0) == t["shape"]
      and by["model." + t["name"][4:]]["dtype"] == t["dtype"]]
print(r(g), r(tw))'; }
# "distance unchanged": relative twin distance and share of replica elements with unchanged bits.
drift() { "$PY" bench/twin_distance.py "$1" --json | "$PY" -c '
import json, sys
d = json.load(sys.stdin)
print("%.2e %.4f" % (d["distance"], d["unchanged"]))'; }
# convert SRC OUT [options]: quiet, but a failure shows latte's error.
convert() { local err; err=$("$LATTE" convert "$1" -o "$2" --no-progress --threads "$THREADS" "${@:3}" 2>&1 >/dev/null) \
              || { echo "$err" >&2; exit 1; }; }
# export IN.latte must give back SRC byte for byte ("${@:3}": e.g. --base BASE).
exact() { "$LATTE" export "$1" -o "$OUT/back.safetensors" --no-progress --threads "$THREADS" "${@:3}" >/dev/null
          cmp -s "$2" "$OUT/back.safetensors" || { echo "error: export of $1 differs from $2" >&2; exit 1; }
          rm -f "$OUT/back.safetensors"; }

# The base-referenced fraction (issue 13, part 1): the checkpoint against a base made of its own
# model.* tensors (the frozen VLM its users already have, bench/context_base.py). Measured only
# when this latte's convert has --base; otherwise says so.
base_referenced() {
  local kind=$1 src=$2 base="$OUT/base-$1.safetensors" d dt p
  if ! "$LATTE" convert --help 2>&1 | grep -q -- '--base'; then
    echo "$kind base-referenced: not measured (this latte's convert has no --base)"; return 0
  fi
  "$PY" bench/context_base.py "$src" "$base"
  convert "$src" "$OUT/b.latte" --base "$base"
  convert "$src" "$OUT/p.latte" --base "$base" --no-twin-delta
  exact "$OUT/b.latte" "$src" --base "$base"
  exact "$OUT/p.latte" "$src" --base "$base"
  "$LATTE" verify "$OUT/b.latte" --base "$base" --source "$src" >/dev/null
  read -r d dt <<<"$(replica "$OUT/b.latte")"; read -r p _ <<<"$(replica "$OUT/p.latte")"
  echo "$kind base-referenced (base: the model.* tensors, $(size "$base") bytes): $(ratio "$(size "$OUT/b.latte")" "$(size "$src")") of the" \
    "safetensors file with deltas, $(ratio "$(size "$OUT/p.latte")" "$(size "$src")") without; replica $d (twinned $dt) against $p"
  rm -f "$OUT/b.latte" "$OUT/p.latte" "$base"
}

# One row: the whole file with and without deltas, zstd -3 / -19, the replica ratios, the drift.
row() {
  local kind=$1 dir="$OUT/$1" src="$OUT/$1/model.safetensors" d dt p
  convert "$dir" "$OUT/d.latte"
  convert "$dir" "$OUT/p.latte" --no-twin-delta
  for f in d p; do
    exact "$OUT/$f.latte" "$src"
    "$LATTE" verify "$OUT/$f.latte" --source "$src" --reference "$dir" >/dev/null
  done
  zstd -q -f -3 -T"$THREADS" "$src" -o "$OUT/z3.zst"
  zstd -q -f -19 -T"$THREADS" "$src" -o "$OUT/z19.zst"
  read -r d dt <<<"$(replica "$OUT/d.latte")"; read -r p _ <<<"$(replica "$OUT/p.latte")"
  printf '%-5s %10d %7s %7s %7s %7s | %9s %9s %9s | %s\n' "$kind" "$(size "$src")" \
    "$(ratio "$(size "$OUT/d.latte")" "$(size "$src")")" "$(ratio "$(size "$OUT/p.latte")" "$(size "$src")")" \
    "$(ratio "$(size "$OUT/z3.zst")" "$(size "$src")")" "$(ratio "$(size "$OUT/z19.zst")" "$(size "$src")")" \
    "$d" "$dt" "$p" "$(drift "$src")"
  decode_speed "$kind"
  rm -f "$OUT/d.latte" "$OUT/p.latte" "$OUT/z3.zst" "$OUT/z19.zst"
}

# Seconds of one export of $1 (the output removed, untimed).
export_time() { local s e; s=$(date +%s.%N); "$LATTE" export "$1" -o "$OUT/x.safetensors" --no-progress --threads "$THREADS" >/dev/null
                e=$(date +%s.%N); rm -f "$OUT/x.safetensors"; awk -v a="$s" -v b="$e" 'BEGIN { print b - a }'; }
med() { printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
# Decode: export of the whole file with deltas (d.latte) and without (p.latte), ABBA; medians.
decode_speed() {
  local p=() d=() mp md
  for _ in $(seq "$ROUNDS"); do
    p+=("$(export_time "$OUT/p.latte")"); d+=("$(export_time "$OUT/d.latte")")
    d+=("$(export_time "$OUT/d.latte")"); p+=("$(export_time "$OUT/p.latte")")
  done
  mp=$(med "${p[@]}"); md=$(med "${d[@]}")
  decode_lines+=("$(printf '%s export: plain %.3fs, deltas %.3fs' "$1" "$mp" "$md"): delta-file decode speed $(ratio "$mp" "$md")x of plain (medians of $((2 * ROUNDS)), ABBA)")
}
decode_lines=()

# Training steps -> twin distance -> replica ratio, from the BF16 snapshots and the final
# checkpoint (printed to stdout: the caller keeps it in steps.txt).
steps_table() {
  local final f n d dt p sd sp
  final=$("$PY" -c 'import json, sys; print(json.load(open(sys.argv[1]))["steps"])' "$OUT/train.json")
  printf '%6s %9s %9s | %9s %9s %9s %7s | %s\n' steps distance unchanged replica-d twinned-d replica-p file-d "deltas<=plain"
  for f in "$OUT"/steps/step-*.safetensors "$OUT/bf16/model.safetensors"; do
    [ -f "$f" ] || continue
    n=$final; [[ $f == */steps/* ]] && n=$((10#$(basename "$f" .safetensors | sed 's/^step-//')))
    convert "$f" "$OUT/s-d.latte"
    convert "$f" "$OUT/s-p.latte" --no-twin-delta
    exact "$OUT/s-d.latte" "$f"
    read -r d dt <<<"$(replica "$OUT/s-d.latte")"; read -r p _ <<<"$(replica "$OUT/s-p.latte")"
    sd=$(size "$OUT/s-d.latte"); sp=$(size "$OUT/s-p.latte")
    # shellcheck disable=SC2046 # drift prints two columns
    printf '%6d %9s %9s | %9s %9s %9s %7s | %s\n' "$n" $(drift "$f") "$d" "$dt" "$p" "$(ratio "$sd" "$(size "$f")")" \
      "$( [ "$sd" -le "$sp" ] && echo yes || echo NO)"
    rm -f "$OUT/s-d.latte" "$OUT/s-p.latte"
  done
}

echo "model: $OUT (lr $LR); whole file / safetensors: deltas, plain (--no-twin-delta), zstd -3, zstd -19"
echo "replica: gen.* stored / raw with deltas, its twinned part with deltas, and plain"
printf '%-5s %10s %7s %7s %7s %7s | %9s %9s %9s | %s\n' dtype bytes deltas plain zstd-3 zstd-19 replica-d twinned-d replica-p "distance unchanged"
for kind in bf16 f32; do row "$kind"; done
printf '%s\n' "${decode_lines[@]}"
for kind in bf16 f32; do base_referenced "$kind" "$OUT/$kind/model.safetensors"; done
if [ -d "$OUT/steps" ]; then
  steps_table > "$OUT/steps.txt.tmp" && mv "$OUT/steps.txt.tmp" "$OUT/steps.txt" && rm -rf "$OUT/steps"
fi
if [ -f "$OUT/steps.txt" ]; then
  echo "BF16 by training steps (measured on the training's snapshots, kept in $OUT/steps.txt; file-d: whole file with deltas / safetensors)"
  cat "$OUT/steps.txt"
else
  echo "no per-step table: the snapshots are gone and $OUT/steps.txt is missing (rm -r $OUT to train again)"
fi
echo "targets: deltas never larger than plain; every export bit-exact (checked: cmp)"
