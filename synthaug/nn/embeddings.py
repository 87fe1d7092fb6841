"""Embeddings shared by the networks."""

import math

import torch

__all__ = ["timestep_embedding"]


def timestep_embedding(t, dim, max_period=10_000):
    """Sinusoidal embedding of (integer or real) timesteps ``t`` (B,) → (B, dim)."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, device=t.device, dtype=torch.float32) / half)
    args = t.float()[:, None] * freqs[None]
    emb = torch.cat([torch.cos(args), torch.sin(args)], dim=-1)
    if dim % 2:
        emb = torch.nn.functional.pad(emb, (0, 1))
    return emb
