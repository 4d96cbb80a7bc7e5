#!/usr/bin/env python3
"""Trains a small LaTtE-Flow model's generation side from a copy of its context layers, so the
twin-delta benchmark (bench/trained.sh) sees what real training does to the twin distance.

    python bench/train_small.py [--out bench/work/trained] [--steps 400] [--snapshots 0,1,10,50,100,200]
        [--batch 4] [--lr 1e-4] [--seed 0] [--threads 1]

The model is the reference of fixtures/reference/latte_flow.py (docs/MODEL.md) at D = 512,
F = 1408, L = 4, K = 2 (two groups of two layers, so TC-ResAttn is active), H = 8, Hkv = 2,
V = 1024, a 4x16x16 latent in 2x2 patches (64 image tokens), prompts of 16 tokens.

- The context model (`model.*`) is a fixed random init (fixtures/reference/make_models.py's
  `make_weights`, seeded, rounded to BF16 as a released VLM is), not a pretrained one: it stays
  frozen. The replica `gen.layers.{l}.X` starts as an exact copy of `model.layers.{l}.X`; the
  replica's own tensors (modulation, output norms, res_gate) and the shared generation tensors
  (time_embed, patch_embed, image_head) start from the same init.
- Trained: everything but `model.*` (the frozen VLM of docs/MODEL.md), in float32, with AdamW
  (lr --lr, betas 0.9/0.999, weight decay 0.01, gradients clipped to norm 1).
- Loss: rectified flow matching as docs/MODEL.md defines the flow: x_t = t x1 + (1 - t) x0,
  target x1 - x0, mean squared error of latte_flow.velocity(x_t, t, context), t ~ U(0, 1);
  each sample runs the group of its t. A batch is --batch samples.
- Data (synthetic, seeded): 16 classes, each a prompt of 16 random token ids and a mean latent
  (N(0, 1) on a 4x4 grid, upsampled bilinearly to 16x16); a sample is a class c uniformly,
  x1 = mean_c + 0.5 N(0, 1), x0 = N(0, 1). The context keys/values of each prompt are computed
  once (the context model is frozen).

Writes OUT/bf16/{config.json, model.safetensors} (the checkpoint after --steps steps, BF16)
with a reference for `latte verify --reference` (inputs.safetensors, run.json: 4 sampling
steps and a velocity per group, expected.safetensors: the reference's outputs on the stored
weights), OUT/f32/ (the same in float32), OUT/steps/step-NNNN.safetensors (BF16 snapshots at the
--snapshots steps, for the per-step table; bench/trained.sh deletes them once measured), and
OUT/train.json (loss curve, snapshot distances). Prints, for the final BF16 checkpoint, the
relative twin distance per layer and the share of replica elements whose BF16 bits are unchanged.
"""
import argparse
import json
import math
import os
import sys
import time

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "fixtures", "reference"))
sys.path.insert(0, HERE)
import latte_flow  # noqa: E402
import make_models  # noqa: E402
import st_file  # noqa: E402
import twin_distance  # noqa: E402

CONFIG = {
    "model_type": "latte_flow",
    "hidden_size": 512,
    "intermediate_size": 1408,
    "num_hidden_layers": 4,
    "num_attention_heads": 8,
    "num_key_value_heads": 2,
    "vocab_size": 1024,
    "rms_norm_eps": 1e-6,
    "rope_theta": 10000.0,
    "num_timestep_groups": 2,
    "latent_channels": 4,
    "patch_size": 2,
    "latent_size": [16, 16],
    "time_embed_frequency_dim": 256,
    "residual_attention": True,
}
CLASSES, PROMPT = 16, 16
DTYPES = {torch.bfloat16: "BF16", torch.float32: "F32"}


def initial_weights(config, seed):
    """The init: make_models' random weights rounded to BF16, replica layers copied from the
    context layers (so every replica tensor with a twin starts bit-identical to it)."""
    w = {k: v.to(torch.bfloat16).to(torch.float32) for k, v in make_models.make_weights(config, seed).items()}
    for name in list(w):
        if name.startswith("model.layers."):
            twin = "gen." + name[len("model."):]
            assert twin in w and w[twin].shape == w[name].shape, twin
            w[twin] = w[name].clone()
    return w


def synthetic_data(config, seed):
    """(prompts [CLASSES, PROMPT] token ids, class mean latents [CLASSES, C, h, w])."""
    g = torch.Generator().manual_seed(seed + 1)
    C, (h, w) = config["latent_channels"], config["latent_size"]
    prompts = torch.randint(0, config["vocab_size"], (CLASSES, PROMPT), generator=g)
    coarse = torch.randn(CLASSES, C, 4, 4, generator=g)
    means = torch.nn.functional.interpolate(coarse, size=(h, w), mode="bilinear", align_corners=False)
    return prompts, means


def save(path, weights, dtype):
    """Writes `weights` as `dtype` in make_models' tensor order (the layout latte's writer uses)."""
    out = []
    for name, shape, _ in make_models.tensor_specs(CONFIG):
        t = weights[name].detach().to(dtype).contiguous()
        raw = t.view(torch.int16 if dtype == torch.bfloat16 else torch.int32).numpy().tobytes()
        out.append((name, DTYPES[dtype], list(shape), raw))
    os.makedirs(os.path.dirname(path), exist_ok=True)
    st_file.write(path + ".tmp", out)
    os.replace(path + ".tmp", path)


def save_model(folder, weights, dtype):
    save(os.path.join(folder, "model.safetensors"), weights, dtype)
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(CONFIG, f, indent=2)
        f.write("\n")


def write_reference(folder, seed):
    """inputs.safetensors, run.json and expected.safetensors for `latte convert --reference`:
    the reference's outputs on the *stored* weights of folder/model.safetensors (4 sampling
    steps, and one velocity in each group)."""
    from safetensors.torch import load_file, save_file

    inputs = make_models.make_inputs(CONFIG, seed + 3, PROMPT, [0.25, 0.75])
    run = {"steps": 4, "cfg_scale": 1.0}
    out = latte_flow.run(load_file(os.path.join(folder, "model.safetensors")), CONFIG, inputs, **run)
    save_file(inputs, os.path.join(folder, "inputs.safetensors"))
    save_file(out, os.path.join(folder, "expected.safetensors"))
    with open(os.path.join(folder, "run.json"), "w") as f:
        json.dump(run, f)
        f.write("\n")


def flow_loss(weights, config, batch, contexts, means, g):
    """Mean over `batch` samples of the flow-matching MSE of the reference velocity."""
    C, (h, w) = config["latent_channels"], config["latent_size"]
    total = 0.0
    for _ in range(batch):
        c = int(torch.randint(0, CLASSES, (1,), generator=g))
        t = float(torch.rand(1, generator=g))
        x1 = means[c] + 0.5 * torch.randn(C, h, w, generator=g)
        x0 = torch.randn(C, h, w, generator=g)
        v = latte_flow.velocity(weights, config, t * x1 + (1 - t) * x0, t, contexts[c])
        total = total + torch.mean((v - (x1 - x0)) ** 2)
    return total / batch


def train(a):
    config = latte_flow.normalize_config(CONFIG)
    weights = initial_weights(CONFIG, a.seed)
    trainable = [k for k in weights if not k.startswith("model.")]
    for k in trainable:
        weights[k] = torch.nn.Parameter(weights[k])
    prompts, means = synthetic_data(CONFIG, a.seed)
    with torch.no_grad():
        contexts = [latte_flow.context_prefill(weights, config, prompts[c])[:2] for c in range(CLASSES)]
    opt = torch.optim.AdamW([weights[k] for k in trainable], lr=a.lr, betas=(0.9, 0.999), weight_decay=0.01)
    g = torch.Generator().manual_seed(a.seed + 2)
    snapshots = sorted({int(s) for s in a.snapshots.split(",") if s} - {a.steps})
    log = {"config": CONFIG, "steps": a.steps, "batch": a.batch, "lr": a.lr, "seed": a.seed, "loss": [], "snapshots": {}}
    t0 = time.perf_counter()
    for step in range(a.steps + 1):
        if step in snapshots:
            path = os.path.join(a.out, "steps", f"step-{step:04d}.safetensors")
            save(path, weights, torch.bfloat16)
            log["snapshots"][step] = twin_distance.distances(path)
        if step == a.steps:
            break
        loss = flow_loss(weights, config, a.batch, contexts, means, g)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_([weights[k] for k in trainable], 1.0)
        opt.step()
        log["loss"].append(float(loss.detach()))
        if step % 25 == 0 or step == a.steps - 1:
            print(f"step {step:4d} loss {float(loss.detach()):.4f} ({time.perf_counter() - t0:.0f} s)", flush=True)
    return weights, log


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=os.path.join(HERE, "work", "trained"))
    ap.add_argument("--steps", type=int, default=400)
    ap.add_argument("--snapshots", default="0,1,10,50,100,200", help="steps at which to save a BF16 snapshot")
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--lr", type=float, default=1e-4)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    if a.steps < 0 or a.batch < 1 or not math.isfinite(a.lr) or a.lr <= 0:
        ap.error("--steps must be >= 0, --batch >= 1, --lr > 0")
    if not all(s.strip().isdigit() for s in a.snapshots.split(",") if s):
        ap.error("--snapshots must be step numbers separated by commas")
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    weights, log = train(a)
    for dtype, kind in ((torch.float32, "f32"), (torch.bfloat16, "bf16")):
        save_model(os.path.join(a.out, kind), weights, dtype)
        write_reference(os.path.join(a.out, kind), a.seed)
    final = twin_distance.distances(os.path.join(a.out, "bf16", "model.safetensors"))
    log["snapshots"][a.steps] = final
    with open(os.path.join(a.out, "train.json"), "w") as f:
        json.dump(log, f)
    print(f"trained {a.steps} steps: loss {log['loss'][0] if log['loss'] else float('nan'):.4f} -> "
          f"{sum(log['loss'][-20:]) / max(1, len(log['loss'][-20:])):.4f} (mean of the last 20)")
    for l, v in final["layers"].items():
        print(f"layer {l}: relative twin distance ||gen - model|| / ||model|| = {v:.3e}")
    print(f"all layers: {final['distance']:.3e}; BF16 elements with unchanged bits: {final['unchanged']:.4f}")


if __name__ == "__main__":
    main()
