"""Generator network for rows: densely connected Linear–BatchNorm–ReLU layers."""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["DenseGenerator"]


class _Dense(nn.Module):
    def __init__(self, d_in, width):
        super().__init__()
        self.fc = nn.Linear(d_in, width)
        self.bn = nn.BatchNorm1d(width)

    def forward(self, h):
        # concatenate the layer's output to its input: every layer sees the noise and the condition
        return torch.cat([nn.functional.relu(self.bn(self.fc(h))), h], dim=1)


class DenseGenerator(nn.Module):
    """Map noise and a condition to a row: ``(z, t, cond) → (B, d_out)``.

    Each hidden layer is Linear → BatchNorm → ReLU and its output is
    concatenated to its input (as in CTGAN's generator), so the noise and the
    condition reach every layer and the output. Batch normalisation keeps the
    generator's outputs spread out early in adversarial training; the
    generator never sees real data, so it stays outside any privacy budget.
    ``t`` is accepted and ignored, for the signature shared with the
    denoisers.

    Parameters
    ----------
    d_in : int
        Noise dimension.
    d_out : int
    cond_dim : int, default=0
    width : int, default=256
    depth : int, default=2

    Examples
    --------
    >>> import torch
    >>> net = DenseGenerator(4, 3, cond_dim=2, width=8)
    >>> net(torch.zeros(5, 4), None, torch.ones(5, 2)).shape
    torch.Size([5, 3])
    """

    def __init__(self, d_in, d_out, *, cond_dim=0, width=256, depth=2):
        super().__init__()
        self.cond_dim = cond_dim
        layers, d = [], d_in + cond_dim
        for _ in range(depth):
            layers.append(_Dense(d, width))
            d += width
        self.layers = nn.Sequential(*layers)
        self.out = nn.Linear(d, d_out)

    def forward(self, z, t=None, cond=None):
        h = torch.cat([z, cond.to(z.dtype)], dim=1) if self.cond_dim else z
        return self.out(self.layers(h))
