#!/usr/bin/env bash
# Runtime benchmark (issue 5, "Done when"): a random model with Qwen2-VL-2B's decoder shape
# (D 1536, F 8960, H 12, Hkv 2, L 28, 32 context tokens, 256 image tokens, BF16 weights).
#   1. one sampling step: `latte run` against the PyTorch reference, same thread count;
#   2. K = 4 (7 layers a step) against K = 1 (all 28 layers a step), same weights;
#   3. peak RSS of sampling restricted to one group's steps (--steps 1: t = 0 only) against
#      all groups (--steps 4: t = 0, .25, .5, .75).
# Needs python with torch and safetensors (PYTHON=..., default the fixtures venv); writes to
# bench/work/ (ignored, ~6.3 GB of weights). Environment: THREADS (2), STEPS (8), STEPS_K1 (2).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-/work/main/.venv-fixtures/bin/python}
THREADS=${THREADS:-2}
STEPS=${STEPS:-8}
STEPS_K1=${STEPS_K1:-2}
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

echo "== latte K=4, $STEPS steps"
"$LATTE" run "$WORK/k4" --inputs "$IN" -o "$WORK/latte-k4.safetensors" --steps "$STEPS" --verbose 2> "$WORK/latte-k4.log"
cat "$WORK/latte-k4.log"
echo "== pytorch reference K=4, $STEPS steps, $THREADS threads"
"$PY" bench/ref_step.py "$WORK/k4" "$IN" "$WORK/torch-k4.safetensors" --steps "$STEPS" --threads "$THREADS" > "$WORK/torch-k4.json"
cat "$WORK/torch-k4.json"
echo "== latte K=1, $STEPS_K1 steps"
"$LATTE" run "$WORK/k1" --inputs "$IN" -o "$WORK/latte-k1.safetensors" --steps "$STEPS_K1" --verbose 2> "$WORK/latte-k1.log"
cat "$WORK/latte-k1.log"
echo "== peak RSS: one group (--steps 1) and all groups (--steps 4)"
/usr/bin/time -v "$LATTE" run "$WORK/k4" --inputs "$IN" -o "$WORK/latte-g1.safetensors" --steps 1 2> "$WORK/rss-one.log"
/usr/bin/time -v "$LATTE" run "$WORK/k4" --inputs "$IN" -o "$WORK/latte-g4.safetensors" --steps 4 2> "$WORK/rss-all.log"
grep -E "groups loaded|Maximum resident" "$WORK/rss-one.log" "$WORK/rss-all.log"

"$PY" - "$WORK" <<'PYEOF'
import json, re, sys
from safetensors.numpy import load_file
import numpy as np
work = sys.argv[1]
def latte_step(log):
    # Mean compute time per step: each step's time minus its group read.
    steps = [(float(a), float(b)) for a, b in re.findall(r"^step \d+ t=\S+ group \d+: (\S+) s \(group read (\S+) s\)", open(log).read(), re.M)]
    return sum(a - b for a, b in steps) / len(steps)
def rss_kb(log):
    return int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", open(log).read()).group(1))
l4, l1 = latte_step(f"{work}/latte-k4.log"), latte_step(f"{work}/latte-k1.log")
torch4 = json.load(open(f"{work}/torch-k4.json"))
t4 = torch4["mean_step_seconds"]
a, b = load_file(f"{work}/latte-k4.safetensors"), load_file(f"{work}/torch-k4.safetensors")
rel = {k: float(np.abs(a[k].astype(np.float64) - b[k]).max() / np.abs(b[k]).max()) for k in ("sample", "context_hidden")}
one, every = rss_kb(f"{work}/rss-one.log"), rss_kb(f"{work}/rss-all.log")
print("== results")
print(f"latte K=4 step:   {l4:.3f} s   (mean of {len(torch4['step_seconds'])} steps, group reads excluded)")
print(f"torch K=4 step:   {t4:.3f} s   ({torch4['threads']} threads)")
print(f"ratio latte/torch: {l4 / t4:.3f}   (target <= 1.0)")
print(f"latte K=1 step:   {l1:.3f} s")
print(f"speedup K=4 vs K=1: {l1 / l4:.2f}x   (target >= 3.5)")
print(f"peak RSS one group: {one / 1024:.0f} MiB, all groups: {every / 1024:.0f} MiB")
print(f"latte vs torch outputs, max abs err / max abs value: " + ", ".join(f"{k} {v:.2e}" for k, v in rel.items()))
PYEOF
