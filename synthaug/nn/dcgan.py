"""Conditional DCGAN networks for images (Radford et al. 2016), for any image size."""

from __future__ import annotations

import torch
from torch import nn

from .unet import unet_levels

__all__ = ["ConvGenerator", "ConvCritic"]


class ConvGenerator(nn.Module):
    """Noise and class → image ``(B, C, H, W)`` in [-1, 1].

    The noise, concatenated with a class embedding, is projected to a small
    feature map, then doubled in size by strided transposed convolutions
    (to the exact sizes of :func:`~synthaug.nn.unet.unet_levels`, so 7×7 →
    14×14 → 28×28 works as well as 4×4 → 8×8), each followed by BatchNorm
    and ReLU and a 3×3 convolution; a 3×3 convolution and tanh give the
    image.

    Parameters
    ----------
    noise_dim : int
    channels : int
    size : tuple of int
        ``(H, W)``.
    width : int, default=64
        Channels at full resolution, doubled at each lower one (at most 4×).
    n_classes : int, default=0
        Classes; the embedding has one more entry, "no class".

    Examples
    --------
    >>> import torch
    >>> g = ConvGenerator(16, 1, (28, 28), width=8, n_classes=10)
    >>> g(torch.zeros(2, 16), torch.tensor([3, 10])).shape
    torch.Size([2, 1, 28, 28])
    """

    def __init__(self, noise_dim, channels, size, *, width=64, n_classes=0):
        super().__init__()
        self.sizes = unet_levels(*size)[::-1]   # small to full
        chans = [width * min(4, 2 ** i) for i in range(len(self.sizes))][::-1]
        self.n_classes = n_classes
        self.label = nn.Embedding(n_classes + 1, noise_dim)
        h0, w0 = self.sizes[0]
        self.project = nn.Sequential(nn.Linear(2 * noise_dim, chans[0] * h0 * w0), nn.Unflatten(1, (chans[0], h0, w0)),
                                     nn.BatchNorm2d(chans[0]), nn.ReLU())
        self.ups = nn.ModuleList(nn.ConvTranspose2d(chans[i], chans[i + 1], 3, stride=2, padding=1)
                                 for i in range(len(chans) - 1))
        self.blocks = nn.ModuleList(nn.Sequential(nn.BatchNorm2d(c), nn.ReLU(), nn.Conv2d(c, c, 3, padding=1),
                                                  nn.BatchNorm2d(c), nn.ReLU()) for c in chans[1:])
        self.out = nn.Conv2d(chans[-1], channels, 3, padding=1)

    def forward(self, z, labels=None):
        if labels is None:
            labels = torch.full((z.shape[0],), self.n_classes, dtype=torch.long, device=z.device)
        h = self.project(torch.cat([z, self.label(labels)], dim=1))
        for up, block, size in zip(self.ups, self.blocks, self.sizes[1:]):
            h = block(up(h, output_size=size))
        return torch.tanh(self.out(h))


def _drop_unused_embedding(state_dict, prefix, *args):
    state_dict.pop(prefix + "embed.weight", None)


class ConvCritic(nn.Module):
    """Image and class → score ``(B,)``: strided convolutions, LeakyReLU(0.2), a projection head.

    Each resolution halves with a 4×4 stride-2 convolution (3×3 at the
    first level), LeakyReLU(0.2), optional BatchNorm (``norm="batch"``,
    DCGAN's choice; per-sample ``"none"`` is required by a gradient penalty
    and by DP-SGD). The class enters by projection (Miyato & Koyama 2018):
    score = w·φ(x) + e_y·φ(x), with e_y a learnt class embedding.

    Examples
    --------
    >>> import torch
    >>> d = ConvCritic(1, (8, 8), width=8, n_classes=10)
    >>> d(torch.zeros(3, 1, 8, 8), torch.tensor([0, 1, 10])).shape
    torch.Size([3])
    """

    def __init__(self, channels, size, *, width=64, n_classes=0, norm="none", spectral_norm=False):
        super().__init__()
        if norm not in ("none", "batch"):
            raise ValueError(f"norm must be 'none' or 'batch', got {norm!r}.")
        sn = nn.utils.parametrizations.spectral_norm if spectral_norm else (lambda m: m)
        sizes = unet_levels(*size)
        chans = [width * min(4, 2 ** i) for i in range(len(sizes))]
        layers = [sn(nn.Conv2d(channels, chans[0], 3, padding=1)), nn.LeakyReLU(0.2)]
        for i in range(1, len(sizes)):
            layers.append(sn(nn.Conv2d(chans[i - 1], chans[i], 4, stride=2, padding=1)))
            if norm == "batch":
                layers.append(nn.BatchNorm2d(chans[i]))
            layers.append(nn.LeakyReLU(0.2))
        self.features = nn.Sequential(*layers)
        self.n_classes = n_classes
        self.head = sn(nn.Linear(chans[-1], 1))
        # only with classes: a parameter the forward never uses breaks DP-SGD's per-sample norms
        self.embed = nn.Embedding(n_classes + 1, chans[-1]) if n_classes else None
        if self.embed is not None:
            nn.init.zeros_(self.embed.weight)
        else:   # critics saved before it was dropped still load
            self._register_load_state_dict_pre_hook(_drop_unused_embedding)

    def forward(self, x, labels=None):
        h = self.features(x).sum(dim=(2, 3))   # global sum pooling (any final size)
        out = self.head(h).squeeze(1)
        if labels is not None and self.embed is not None:
            out = out + (self.embed(labels) * h).sum(1)
        return out
