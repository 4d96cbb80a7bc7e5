#!/usr/bin/env python3
"""Writes a random LaTtE-Flow model with Qwen2-VL-2B's decoder shape for the runtime benchmark.

    python make_model.py OUT_DIR [--dtype bf16|f32] [--vocab V] [--seed S]

OUT_DIR/k4/{config.json, model.safetensors} (K = 4 groups of 7) and OUT_DIR/k1/ (K = 1, the
"vanilla" model running all 28 replica layers every step; model.safetensors is a symlink to
the same weights), plus OUT_DIR/inputs.safetensors (32 context tokens, a 4x32x32 noise latent:
256 image tokens with patch 2). The safetensors file is streamed tensor by tensor, so memory
stays small whatever the model's size. Weights: N(0, 0.02) matrices, norms near 1.
"""
import argparse
import json
import os
import struct

import torch

D, F, H, HKV, L = 1536, 8960, 12, 2, 28
HD = D // H
C, P, LAT = 4, 2, [32, 32]
FDIM = 256
T_CONTEXT = 32


def tensor_list(vocab):
    out = [("model.embed_tokens.weight", [vocab, D])]

    def decoder(prefix):
        return [
            (f"{prefix}.input_layernorm.weight", [D]),
            (f"{prefix}.self_attn.q_proj.weight", [H * HD, D]), (f"{prefix}.self_attn.q_proj.bias", [H * HD]),
            (f"{prefix}.self_attn.k_proj.weight", [HKV * HD, D]), (f"{prefix}.self_attn.k_proj.bias", [HKV * HD]),
            (f"{prefix}.self_attn.v_proj.weight", [HKV * HD, D]), (f"{prefix}.self_attn.v_proj.bias", [HKV * HD]),
            (f"{prefix}.self_attn.o_proj.weight", [D, H * HD]),
            (f"{prefix}.post_attention_layernorm.weight", [D]),
            (f"{prefix}.mlp.gate_proj.weight", [F, D]), (f"{prefix}.mlp.up_proj.weight", [F, D]),
            (f"{prefix}.mlp.down_proj.weight", [D, F]),
        ]

    for l in range(L):
        out += decoder(f"model.layers.{l}")
    out.append(("model.norm.weight", [D]))
    for l in range(L):
        p = f"gen.layers.{l}"
        out += decoder(p) + [
            (f"{p}.attn_out_norm.weight", [D]), (f"{p}.mlp_out_norm.weight", [D]),
            (f"{p}.modulation.weight", [4 * D, D]), (f"{p}.modulation.bias", [4 * D]),
            (f"{p}.res_gate.weight", [H, D]), (f"{p}.res_gate.bias", [H]),
        ]
    out += [
        ("time_embed.linear_1.weight", [D, FDIM]), ("time_embed.linear_1.bias", [D]),
        ("time_embed.linear_2.weight", [D, D]), ("time_embed.linear_2.bias", [D]),
        ("patch_embed.proj.weight", [D, C, P, P]), ("patch_embed.proj.bias", [D]),
        ("image_head.norm.weight", [D]),
        ("image_head.modulation.weight", [2 * D, D]), ("image_head.modulation.bias", [2 * D]),
        ("image_head.proj.weight", [C * P * P, D]), ("image_head.proj.bias", [C * P * P]),
    ]
    return out


def make(name, shape, gen):
    if name.endswith("norm.weight"):
        return 1.0 + 0.05 * torch.randn(shape, generator=gen)
    if name.endswith(".bias"):
        return 0.01 * torch.randn(shape, generator=gen)
    return 0.02 * torch.randn(shape, generator=gen)


def write_safetensors(path, tensors, dtype, gen):
    tdtype, tag, width = {"bf16": (torch.bfloat16, "BF16", 2), "f32": (torch.float32, "F32", 4)}[dtype]
    header, off = {}, 0
    for name, shape in tensors:
        n = 1
        for s in shape:
            n *= s
        header[name] = {"dtype": tag, "shape": shape, "data_offsets": [off, off + n * width]}
        off += n * width
    hb = json.dumps(header, separators=(",", ":")).encode()
    hb += b" " * ((8 - len(hb) % 8) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(hb)))
        f.write(hb)
        for name, shape in tensors:
            t = make(name, shape, gen).to(tdtype).contiguous()
            f.write(t.view(torch.uint8).numpy().tobytes() if tdtype == torch.bfloat16 else t.numpy().tobytes())
    os.replace(tmp, path)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--dtype", choices=["bf16", "f32"], default="bf16")
    ap.add_argument("--vocab", type=int, default=151936)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    gen = torch.Generator().manual_seed(a.seed)
    config = {
        "model_type": "latte_flow", "hidden_size": D, "intermediate_size": F, "num_hidden_layers": L,
        "num_attention_heads": H, "num_key_value_heads": HKV, "vocab_size": a.vocab, "rms_norm_eps": 1e-6,
        "rope_theta": 1000000.0, "num_timestep_groups": 4, "latent_channels": C, "patch_size": P,
        "latent_size": LAT, "time_embed_frequency_dim": FDIM, "residual_attention": True,
    }
    k4, k1 = os.path.join(a.out, "k4"), os.path.join(a.out, "k1")
    os.makedirs(k4, exist_ok=True)
    os.makedirs(k1, exist_ok=True)
    weights = os.path.join(k4, "model.safetensors")
    if not os.path.exists(weights):
        write_safetensors(weights, tensor_list(a.vocab), a.dtype, gen)
    with open(os.path.join(k4, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
    with open(os.path.join(k1, "config.json"), "w") as f:
        json.dump(dict(config, num_timestep_groups=1), f, indent=2)
    link = os.path.join(k1, "model.safetensors")
    if not os.path.lexists(link):
        os.symlink(os.path.join("..", "k4", "model.safetensors"), link)
    g2 = torch.Generator().manual_seed(a.seed + 1)
    from safetensors.torch import save_file
    save_file({
        "context_ids": torch.randint(0, a.vocab, (T_CONTEXT,), generator=g2, dtype=torch.int64),
        "noise": torch.randn([C] + LAT, generator=g2),
    }, os.path.join(a.out, "inputs.safetensors"))


if __name__ == "__main__":
    main()
