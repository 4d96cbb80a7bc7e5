#!/usr/bin/env python3
"""Times Euler sampling steps of the PyTorch reference implementation
(fixtures/reference/latte_flow.py) on a model folder, the baseline of bench/runtime.sh.

    python ref_step.py MODEL_DIR INPUTS OUT [--steps S] [--threads N] [--reference PATH]

Runs the reference's own functions (context_prefill, velocity) exactly as its `sample` does:
z = noise; for i < S: t = i/S; z = z + velocity(z, t)/S. Weights are upcast to float32 one
tensor at a time (as `prepare_weights` does), the context model's before the prefill and
dropped after it, the replica layers' after it, so memory holds one model half at a time.
Prints JSON: prefill seconds, each step's seconds (compute only: every weight is loaded
before the first step), and writes the sample (and context_hidden) to OUT.
"""
import argparse
import json
import os
import sys
import time

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model_dir")
    ap.add_argument("inputs")
    ap.add_argument("out")
    ap.add_argument("--steps", type=int, default=8)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reference", default=os.path.join(HERE, "..", "fixtures", "reference", "latte_flow.py"))
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    sys.path.insert(0, os.path.dirname(os.path.abspath(a.reference)))
    import latte_flow as lf

    with open(os.path.join(a.model_dir, "config.json")) as f:
        config = lf.normalize_config(json.load(f))
    inputs = load_file(a.inputs)
    path = os.path.join(a.model_dir, "model.safetensors")
    result = {"threads": torch.get_num_threads(), "steps": a.steps}
    with torch.inference_mode(), safe_open(path, "pt") as f:
        names = list(f.keys())
        t0 = time.perf_counter()
        w = {n: f.get_tensor(n).to(torch.float32).contiguous() for n in names if n.startswith("model.")}
        result["context_load_seconds"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        keys, values, hidden = lf.context_prefill(w, config, inputs["context_ids"])
        result["prefill_seconds"] = time.perf_counter() - t0
        del w
        t0 = time.perf_counter()
        w = {n: f.get_tensor(n).to(torch.float32).contiguous() for n in names if not n.startswith("model.")}
        result["generation_load_seconds"] = time.perf_counter() - t0
        z = inputs["noise"].to(torch.float32).clone()
        times = []
        for i in range(a.steps):
            t0 = time.perf_counter()
            t = i / a.steps
            v = lf.velocity(w, config, z, t, (keys, values))
            z = z + v / a.steps
            times.append(time.perf_counter() - t0)
        result["step_seconds"] = times
        result["mean_step_seconds"] = sum(times) / len(times)
    save_file({"sample": z.contiguous(), "context_hidden": hidden.contiguous()}, a.out)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
