#!/usr/bin/env bash
# Runtime benchmark (issue 5, "Done when"): a random model with Qwen2-VL-2B's decoder shape
# (D 1536, F 8960, H 12, Hkv 2, L 28, 32 context tokens, 256 image tokens, BF16 weights).
#   1. a sampling step: `latte run` against the PyTorch reference (bench/ref_step.py running
#      fixtures/reference/latte_flow.py), same thread count, runs interleaved ROUNDS times,
#      median over all steps (the machine may be shared: medians resist others' load spikes);
#   2. K = 4 (7 layers a step) against K = 1 (all 28 layers a step), same weights, also
#      interleaved in the same rounds;
#   3. peak RSS of sampling restricted to one group's steps (--steps 1: t = 0 only) against
#      all groups (--steps 4: t = 0, .25, .5, .75).
# A latte step's time excludes the first read of its group's weights (reported apart); the
# PyTorch harness loads every weight before its first step.
# Needs python with torch and safetensors: PYTHON=..., else the fixtures venv (.venv-fixtures),
# else a venv this script makes in bench/work/venv-torch (pip install, ~2 minutes); writes to
# bench/work/ (ignored, ~6.3 GB of weights). Environment: THREADS (2), STEPS (8),
# STEPS_K1 (2), ROUNDS (2).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -n "${PYTHON:-}" ]; then
  PY=$PYTHON
elif [ -x .venv-fixtures/bin/python ]; then
  PY=.venv-fixtures/bin/python
else
  PY=bench/work/venv-torch/bin/python
  if [ ! -x "$PY" ]; then
    python3 -m venv bench/work/venv-torch
    bench/work/venv-torch/bin/pip install -q torch safetensors numpy
  fi
fi
THREADS=${THREADS:-2}
STEPS=${STEPS:-8}
STEPS_K1=${STEPS_K1:-2}
ROUNDS=${ROUNDS:-2}
WORK=bench/work
export OPENBLAS_NUM_THREADS=$THREADS OMP_NUM_THREADS=$THREADS MKL_NUM_THREADS=$THREADS
mkdir -p "$WORK"

if [ ! -f "$WORK/k4/model.safetensors" ] || [ ! -f "$WORK/inputs.safetensors" ]; then
  echo "== generating the model (BF16, ~6.3 GB) in $WORK"
  "$PY" bench/make_model.py "$WORK"
fi
swift build -c release --product latte >/dev/null
LATTE=.build/release/latte
IN="$WORK/inputs.safetensors"
rm -f "$WORK"/latte-k4-*.log "$WORK"/torch-k4-*.json "$WORK"/latte-k1-*.log

for r in $(seq 1 "$ROUNDS"); do
  echo "== round $r: latte K=4, $STEPS steps"
  "$LATTE" run "$WORK/k4" --inputs "$IN" -o "$WORK/latte-k4.safetensors" --steps "$STEPS" --verbose 2> "$WORK/latte-k4-$r.log"
  cat "$WORK/latte-k4-$r.log"
  echo "== round $r: pytorch reference K=4, $STEPS steps, $THREADS threads"
  "$PY" bench/ref_step.py "$WORK/k4" "$IN" "$WORK/torch-k4.safetensors" --steps "$STEPS" --threads "$THREADS" > "$WORK/torch-k4-$r.json"
  cat "$WORK/torch-k4-$r.json"
  echo "== round $r: latte K=1, $STEPS_K1 steps"
  "$LATTE" run "$WORK/k1" --inputs "$IN" -o "$WORK/latte-k1.safetensors" --steps "$STEPS_K1" --verbose 2> "$WORK/latte-k1-$r.log"
  cat "$WORK/latte-k1-$r.log"
done
echo "== peak RSS: one group (--steps 1) and all groups (--steps 4)"
/usr/bin/time -v "$LATTE" run "$WORK/k4" --inputs "$IN" -o "$WORK/latte-g1.safetensors" --steps 1 2> "$WORK/rss-one.log"
/usr/bin/time -v "$LATTE" run "$WORK/k4" --inputs "$IN" -o "$WORK/latte-g4.safetensors" --steps 4 2> "$WORK/rss-all.log"
grep -E "groups loaded|Maximum resident" "$WORK/rss-one.log" "$WORK/rss-all.log"

"$PY" - "$WORK" "$ROUNDS" <<'PYEOF'
import glob, json, re, statistics, sys
from safetensors.numpy import load_file
import numpy as np
work, rounds = sys.argv[1], int(sys.argv[2])
def latte_steps(log):
    # Each step's time minus the first read of its group's weights.
    steps = re.findall(r"^step \d+ t=\S+ group \d+: (\S+) s \(group read (\S+) s\)", open(log).read(), re.M)
    return [float(a) - float(b) for a, b in steps]
def rss_kb(log):
    return int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", open(log).read()).group(1))
l4 = [s for r in range(1, rounds + 1) for s in latte_steps(f"{work}/latte-k4-{r}.log")]
t4 = [s for r in range(1, rounds + 1) for s in json.load(open(f"{work}/torch-k4-{r}.json"))["step_seconds"]]
l1 = [s for r in range(1, rounds + 1) for s in latte_steps(f"{work}/latte-k1-{r}.log")]
a, b = load_file(f"{work}/latte-k4.safetensors"), load_file(f"{work}/torch-k4.safetensors")
rel = {k: float(np.abs(a[k].astype(np.float64) - b[k]).max() / np.abs(b[k]).max()) for k in ("sample", "context_hidden")}
one, every = rss_kb(f"{work}/rss-one.log"), rss_kb(f"{work}/rss-all.log")
med = statistics.median
print("== results (seconds per sampling step: median [mean, min] over all steps of all rounds)")
print(f"latte K=4: {med(l4):.3f} [{statistics.mean(l4):.3f}, {min(l4):.3f}]  ({len(l4)} steps)")
print(f"torch K=4: {med(t4):.3f} [{statistics.mean(t4):.3f}, {min(t4):.3f}]  ({len(t4)} steps)")
print(f"ratio latte/torch (median): {med(l4) / med(t4):.3f}   (target <= 1.0; mean {statistics.mean(l4) / statistics.mean(t4):.3f}, min {min(l4) / min(t4):.3f})")
print(f"latte K=1: {med(l1):.3f} [{statistics.mean(l1):.3f}, {min(l1):.3f}]  ({len(l1)} steps)")
print(f"speedup K=4 vs K=1 (median): {med(l1) / med(l4):.2f}x   (target >= 3.5; min {min(l1) / min(l4):.2f}x)")
print(f"peak RSS, sampling one group: {one / 1024:.0f} MiB; all four groups: {every / 1024:.0f} MiB")
print("latte vs torch outputs (max abs err / max abs value): " + ", ".join(f"{k} {v:.2e}" for k, v in rel.items()))
PYEOF
