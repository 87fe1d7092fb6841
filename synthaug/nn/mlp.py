"""Residual MLP denoiser for rows in model space."""

from __future__ import annotations

import torch
from torch import nn

from .embeddings import timestep_embedding

__all__ = ["ResidualMLP"]


class _Block(nn.Module):
    """Pre-norm residual block: h + W₂·drop(SiLU(W₁·SiLU(LN(h)) + E·temb))."""

    def __init__(self, width, time_dim, dropout):
        super().__init__()
        self.norm = nn.LayerNorm(width)
        self.fc1 = nn.Linear(width, width)
        self.time = nn.Linear(time_dim, width) if time_dim else None
        self.fc2 = nn.Linear(width, width)
        self.drop = nn.Dropout(dropout)

    def forward(self, h, temb):
        z = self.fc1(nn.functional.silu(self.norm(h)))
        if temb is not None:
            z = z + self.time(temb)
        return h + self.fc2(self.drop(nn.functional.silu(z)))


class ResidualMLP(nn.Module):
    """Map ``(x, t, cond)`` to a vector of the same width as ``x``.

    A pure network: it knows nothing of noise schedules or sampling. ``cond``
    (e.g. the mask of given columns) is concatenated to ``x``.

    Parameters
    ----------
    d_in : int
        Width of ``x``.
    d_out : int
        Width of the output.
    cond_dim : int, default=0
        Width of ``cond``.
    width : int, default=256
    depth : int, default=3
        Number of residual blocks.
    time_dim : int, default=128
        Width of the sinusoidal time embedding; 0 for a network without time
        (a GAN generator), whose ``t`` is then ignored.
    dropout : float, default=0.0
    zero_out : bool, default=True
        Initialise the output layer at zero.

    Examples
    --------
    >>> import torch
    >>> net = ResidualMLP(5, 5, cond_dim=2, width=16, depth=1)
    >>> net(torch.zeros(3, 5), torch.tensor([0, 5, 9]), torch.ones(3, 2)).shape
    torch.Size([3, 5])
    """

    def __init__(self, d_in, d_out, *, cond_dim=0, width=256, depth=3, time_dim=128, dropout=0.0, zero_out=True):
        super().__init__()
        self.cond_dim = cond_dim
        self.time_dim = time_dim
        self.inp = nn.Linear(d_in + cond_dim, width)
        self.time_mlp = nn.Sequential(nn.Linear(time_dim, time_dim), nn.SiLU(), nn.Linear(time_dim, time_dim)) \
            if time_dim else None
        self.blocks = nn.ModuleList(_Block(width, time_dim, dropout) for _ in range(depth))
        self.out_norm = nn.LayerNorm(width)
        self.out = nn.Linear(width, d_out)
        if zero_out:  # a denoiser starts as the identity-in-expectation; a generator must not start constant
            nn.init.zeros_(self.out.weight)
            nn.init.zeros_(self.out.bias)

    def forward(self, x, t=None, cond=None):
        if self.cond_dim:
            x = torch.cat([x, cond.to(x.dtype)], dim=1)
        temb = self.time_mlp(timestep_embedding(t, self.time_dim)) if self.time_dim else None
        h = self.inp(x)
        for block in self.blocks:
            h = block(h, temb)
        return self.out(nn.functional.silu(self.out_norm(h)))
