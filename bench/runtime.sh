#!/usr/bin/env bash
# Runtime benchmark (issue 5, "Done when"): a random model with Qwen2-VL-2B's decoder shape
# (D 1536, F 8960, H 12, Hkv 2, L 28, 32 context tokens, 256 image tokens, BF16 weights).
#   1. a sampling step: `latte run` against the PyTorch reference (bench/ref_step.py running
#      fixtures/reference/latte_flow.py), same thread count, runs interleaved ROUNDS times,
#      median over all steps (the machine may be shared: medians resist others' load spikes);
#   2. K = 4 (7 layers a step) against K = 1 (all 28 layers a step), same weights, also
#      interleaved in the same rounds;
#   3. end to end (issue 14): a fresh process each, E2E_STEPS (40) steps from the file on disk
#      to the sample, wall time: latte from safetensors and from `.latte` against the PyTorch
#      reference (its load included), in ABBA order (A B C, then C B A), medians;
#   4. peak RSS of those 40-step runs (and of one with --memory-budget set to one group's
#      float32 bytes plus 512 MiB) against one group's float32 bytes plus the context's keys
#      and values, and the budget;
#   5. weight-read throughput (source bytes per second of the replica groups) from
#      safetensors and from `.latte`, as `latte run` reports it.
# A latte step's time excludes the read of its group's weights (reported apart); the
# PyTorch harness loads every weight before its first step.
# Needs python with torch and safetensors: PYTHON=..., else the fixtures venv (.venv-fixtures),
# else a venv this script makes in bench/work/venv-torch (pip install, ~2 minutes). WORK
# (bench/work, ignored) holds the model (~6.3 GB, generated when missing) and its `.latte`
# conversion (~4 GB, made when missing); point WORK at an existing one to reuse it.
# Environment: THREADS (2), STEPS (8), STEPS_K1 (2), ROUNDS (2; 0 skips parts 1-2),
# E2E_STEPS (40), E2E_ROUNDS (2: A B C then C B A; 1: A B C), E2E (1; 0 skips parts 3-5).
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
E2E_STEPS=${E2E_STEPS:-40}
E2E=${E2E:-1}
E2E_ROUNDS=${E2E_ROUNDS:-2}
WORK=${WORK:-bench/work}
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
# One group's float32 bytes, for the budget of the one-group runs (+ 512 MiB):
# K=4 steps are timed without prefetch, whose background reads would share the cores.
GROUP_BYTES=$("$PY" -c "import json,sys; c=json.load(open(sys.argv[1])); d,f,h,kv=c['hidden_size'],c['intermediate_size'],c['num_attention_heads'],c['num_key_value_heads']; hd=d//h; q=h*hd+2*kv*hd; m=c['num_hidden_layers']//c['num_timestep_groups']; print(4*m*(d+q*d+q+d*h*hd+d+2*f*d+d*f+2*d+4*d*d+4*d+h*d+h))" "$WORK/k4/config.json")
ONE_GROUP_BUDGET=$((GROUP_BYTES + (512 << 20)))

for r in $(seq 1 "$ROUNDS"); do  # (no rounds when ROUNDS=0)
  echo "== round $r: latte K=4, $STEPS steps"
  "$LATTE" run "$WORK/k4" --inputs "$IN" -o "$WORK/latte-k4.safetensors" --steps "$STEPS" --verbose --max-memory "$ONE_GROUP_BUDGET" 2> "$WORK/latte-k4-$r.log"
  cat "$WORK/latte-k4-$r.log"
  echo "== round $r: pytorch reference K=4, $STEPS steps, $THREADS threads"
  "$PY" bench/ref_step.py "$WORK/k4" "$IN" "$WORK/torch-k4.safetensors" --steps "$STEPS" --threads "$THREADS" > "$WORK/torch-k4-$r.json"
  cat "$WORK/torch-k4-$r.json"
  echo "== round $r: latte K=1, $STEPS_K1 steps"
  "$LATTE" run "$WORK/k1" --inputs "$IN" -o "$WORK/latte-k1.safetensors" --steps "$STEPS_K1" --verbose 2> "$WORK/latte-k1-$r.log"
  cat "$WORK/latte-k1-$r.log"
done
if [ "$E2E" = 1 ]; then
  if [ ! -f "$WORK/k4.latte" ]; then
    echo "== converting the model to $WORK/k4.latte (~4 GB)"
    "$LATTE" convert "$WORK/k4/model.safetensors" -o "$WORK/k4.latte" --no-progress
  fi
  rm -f "$WORK"/e2e-*.log
  e2e() {  # e2e NAME ROUND: one fresh process, timed by /usr/bin/time -v
    case "$1" in
      st) /usr/bin/time -v "$LATTE" run "$WORK/k4" --inputs "$IN" -o "$WORK/e2e-st.safetensors" --steps "$E2E_STEPS" --no-progress ;;
      latte) /usr/bin/time -v "$LATTE" run "$WORK/k4.latte" --inputs "$IN" -o "$WORK/e2e-latte.safetensors" --steps "$E2E_STEPS" --no-progress ;;
      torch) /usr/bin/time -v "$PY" bench/ref_step.py "$WORK/k4" "$IN" "$WORK/e2e-torch.safetensors" --steps "$E2E_STEPS" --threads "$THREADS" ;;
      onegroup) /usr/bin/time -v "$LATTE" run "$WORK/k4" --inputs "$IN" -o "$WORK/e2e-one.safetensors" --steps "$E2E_STEPS" --no-progress --memory-budget "$ONE_GROUP_BUDGET" ;;
    esac > "$WORK/e2e-$1-$2.out" 2> "$WORK/e2e-$1-$2.log"
    grep -E "Elapsed|Maximum resident|weight reads|group reads|prefetch:|memory:" "$WORK/e2e-$1-$2.log" | sed "s/^/$1 $2: /"
  }
  echo "== end to end, $E2E_STEPS steps, fresh processes (ABBA: st latte torch, then torch latte st)"
  e2e st 1; e2e latte 1; e2e torch 1
  if [ "$E2E_ROUNDS" -ge 2 ]; then e2e torch 2; e2e latte 2; e2e st 2; fi
  echo "== one-group budget: --memory-budget $ONE_GROUP_BUDGET"
  e2e onegroup 1
fi

"$PY" - "$WORK" "$ROUNDS" "$E2E" "${GROUP_BYTES:-0}" "${ONE_GROUP_BUDGET:-0}" "$E2E_ROUNDS" <<'PYEOF'
import glob, json, re, statistics, sys
from safetensors.numpy import load_file
import numpy as np
work, rounds, e2e = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1"
group_bytes, one_budget, e2e_rounds = int(sys.argv[4]), int(sys.argv[5]), min(int(sys.argv[6]), 2)
def latte_steps(log):
    # Each step's time minus the first read of its group's weights.
    steps = re.findall(r"^step \d+ t=\S+ group \d+: (\S+) s \(group read (\S+) s\)", open(log).read(), re.M)
    return [float(a) - float(b) for a, b in steps]
def rss_kb(log):
    return int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", open(log).read()).group(1))
med = statistics.median
if rounds > 0:
    l4 = [s for r in range(1, rounds + 1) for s in latte_steps(f"{work}/latte-k4-{r}.log")]
    t4 = [s for r in range(1, rounds + 1) for s in json.load(open(f"{work}/torch-k4-{r}.json"))["step_seconds"]]
    l1 = [s for r in range(1, rounds + 1) for s in latte_steps(f"{work}/latte-k1-{r}.log")]
    a, b = load_file(f"{work}/latte-k4.safetensors"), load_file(f"{work}/torch-k4.safetensors")
    rel = {k: float(np.abs(a[k].astype(np.float64) - b[k]).max() / np.abs(b[k]).max()) for k in ("sample", "context_hidden")}
    print("== results (seconds per sampling step: median [mean, min] over all steps of all rounds)")
    print(f"latte K=4: {med(l4):.3f} [{statistics.mean(l4):.3f}, {min(l4):.3f}]  ({len(l4)} steps)")
    print(f"torch K=4: {med(t4):.3f} [{statistics.mean(t4):.3f}, {min(t4):.3f}]  ({len(t4)} steps)")
    print(f"ratio latte/torch (median): {med(l4) / med(t4):.3f}   (target <= 1.0; mean {statistics.mean(l4) / statistics.mean(t4):.3f}, min {min(l4) / min(t4):.3f})")
    print(f"latte K=1: {med(l1):.3f} [{statistics.mean(l1):.3f}, {min(l1):.3f}]  ({len(l1)} steps)")
    print(f"speedup K=4 vs K=1 (median): {med(l1) / med(l4):.2f}x   (target >= 3.8; min {min(l1) / min(l4):.2f}x)")
    print("latte vs torch outputs (max abs err / max abs value): " + ", ".join(f"{k} {v:.2e}" for k, v in rel.items()))
if e2e:
    def wall(log):
        m = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (?:(\d+):)?(\d+):([\d.]+)", open(log).read())
        return int(m.group(1) or 0) * 3600 + int(m.group(2)) * 60 + float(m.group(3))
    def reads(log):
        # Reads on the sampler's thread: nothing else runs (prefetched reads share the cores with the steps).
        m = re.search(r"group reads on the sampler's thread: .*? \(([\d.]+) GB per second\)", open(log).read())
        return float(m.group(1)) if m else float("nan")
    w = {k: [wall(f"{work}/e2e-{k}-{r}.log") for r in range(1, e2e_rounds + 1)] for k in ("st", "latte", "torch")}
    print(f"== end to end, {len(w['st'])} fresh processes each (median wall seconds)")
    for k in ("st", "latte", "torch"):
        print(f"{k:6}: {med(w[k]):.1f} s  {w[k]}")
    print(f"ratio latte/torch from safetensors: {med(w['st']) / med(w['torch']):.3f}; from .latte: {med(w['latte']) / med(w['torch']):.3f}   (target <= 0.75)")
    kv = 28 * 2 * 32 * 256 * 4  # context keys and values of the bench's 32 tokens (L x 2 x T x kvDim floats)
    gib = 1 << 30
    for k in ("st", "latte", "torch", "onegroup"):
        rounds_k = (1,) if k == "onegroup" else range(1, e2e_rounds + 1)
        rss = max(rss_kb(f"{work}/e2e-{k}-{r}.log") for r in rounds_k) * 1024
        print(f"peak RSS {k:8}: {rss / gib:.2f} GiB  = {rss / (group_bytes + kv):.2f}x one group + KV ({(group_bytes + kv) / gib:.2f} GiB);"
              f" two groups + 0.5 GiB = {(2 * group_bytes + gib / 2) / gib:.2f} GiB, one group + 0.5 GiB = {(group_bytes + gib / 2) / gib:.2f} GiB"
              + (f"; budget {one_budget / gib:.2f} GiB" if k == "onegroup" else ""))
    ref = load_file(f"{work}/e2e-torch.safetensors")
    for k in ("st", "latte", "one"):
        out = load_file(f"{work}/e2e-{k}.safetensors")
        errs = {n: float(np.abs(out[n].astype(np.float64) - ref[n]).max() / np.abs(ref[n]).max()) for n in ("sample", "context_hidden")}
        print(f"{k} vs torch, {len(out)} outputs (max abs err / max abs value): " + ", ".join(f"{n} {v:.2e}" for n, v in errs.items()))
    for k in ("st", "latte", "onegroup"):
        r = [reads(f"{work}/e2e-{k}-{i}.log") for i in (range(1, e2e_rounds + 1) if k != "onegroup" else (1,))]
        print(f"group reads on the sampler's thread from {k}: median {med(r):.2f} GB/s of source bytes {r}   (target >= {'1' if k == 'latte' else '2'} GB/s)")
PYEOF
