"""Discriminator (critic) for rows in model space, with PacGAN packing."""

from __future__ import annotations

from torch import nn

__all__ = ["PackedCritic"]


class PackedCritic(nn.Module):
    """Score groups of ``pac`` rows: ``(B, d) → (B // pac,)``.

    PacGAN (Lin et al. 2018): the critic sees ``pac`` rows at once (their
    features concatenated), so a generator that repeats itself is easy to
    tell apart — a cheap, effective guard against mode collapse. Layers are
    Linear → LeakyReLU(0.2) → Dropout, with no BatchNorm (a WGAN-GP critic
    must score rows independently of the batch, and DP-SGD needs per-sample
    gradients). ``spectral_norm=True`` constrains each linear map's spectral
    norm to 1 (Miyato et al. 2018).

    Parameters
    ----------
    d_in : int
        Width of a row (model space plus any conditioning features).
    pac : int, default=10
        Rows per packed group; ``B`` must be a multiple of it.
    width : int, default=256
    depth : int, default=2
        Hidden layers.
    dropout : float, default=0.5
    spectral_norm : bool, default=False

    Examples
    --------
    >>> import torch
    >>> critic = PackedCritic(6, pac=4, width=16)
    >>> critic(torch.zeros(8, 6)).shape
    torch.Size([2])
    """

    def __init__(self, d_in, *, pac=10, width=256, depth=2, dropout=0.5, spectral_norm=False):
        super().__init__()
        self.pac = pac
        wrap = nn.utils.parametrizations.spectral_norm if spectral_norm else (lambda m: m)
        layers, d = [], d_in * pac
        for _ in range(depth):
            layers += [wrap(nn.Linear(d, width)), nn.LeakyReLU(0.2), nn.Dropout(dropout)]
            d = width
        layers.append(wrap(nn.Linear(d, 1)))
        self.net = nn.Sequential(*layers)

    def forward(self, x):
        if x.shape[0] % self.pac:
            raise ValueError(f"batch of {x.shape[0]} rows is not a multiple of pac={self.pac}.")
        return self.net(x.reshape(x.shape[0] // self.pac, -1)).squeeze(-1)
