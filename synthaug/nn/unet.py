"""U-Net denoiser for images (DDPM, Ho et al. 2020; improved-diffusion's layout, small)."""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from .embeddings import timestep_embedding

__all__ = ["UNet", "unet_levels"]


def _norm(channels):
    """GroupNorm with up to 32 groups that divide ``channels`` (per-sample: fine for DP-SGD)."""
    return nn.GroupNorm(math.gcd(32, channels), channels)


def _zero(module):
    for p in module.parameters():
        nn.init.zeros_(p)
    return module


def unet_levels(height, width, *, max_down=3, min_side=4):
    """Resolutions of a U-Net for an image: halve (rounding up) while the smaller side exceeds ``min_side``.

    Works for any size, powers of two or not.

    Examples
    --------
    >>> unet_levels(8, 8)
    [(8, 8), (4, 4)]
    >>> unet_levels(28, 28)
    [(28, 28), (14, 14), (7, 7), (4, 4)]
    """
    sizes = [(int(height), int(width))]
    while len(sizes) <= max_down and min(sizes[-1]) > min_side:
        h, w = sizes[-1]
        sizes.append(((h + 1) // 2, (w + 1) // 2))
    return sizes


class ResBlock(nn.Module):
    """GroupNorm–SiLU–Conv, then the embedding as a scale and shift of the second norm, Dropout–Conv; plus skip."""

    def __init__(self, c_in, c_out, emb_dim, dropout=0.0):
        super().__init__()
        self.norm1, self.conv1 = _norm(c_in), nn.Conv2d(c_in, c_out, 3, padding=1)
        self.emb = nn.Linear(emb_dim, 2 * c_out)
        self.norm2 = _norm(c_out)
        self.drop = nn.Dropout(dropout)
        self.conv2 = _zero(nn.Conv2d(c_out, c_out, 3, padding=1))
        self.skip = nn.Conv2d(c_in, c_out, 1) if c_in != c_out else nn.Identity()

    def forward(self, x, emb):
        h = self.conv1(F.silu(self.norm1(x)))
        scale, shift = self.emb(F.silu(emb))[:, :, None, None].chunk(2, dim=1)
        h = self.norm2(h) * (1 + scale) + shift
        return self.skip(x) + self.conv2(self.drop(F.silu(h)))


class AttentionBlock(nn.Module):
    """Multi-head self-attention over the pixels of a (low-resolution) feature map, residual."""

    def __init__(self, channels, heads=4):
        super().__init__()
        self.heads = heads if channels % heads == 0 else 1
        self.norm = _norm(channels)
        self.qkv = nn.Conv1d(channels, 3 * channels, 1)
        self.proj = _zero(nn.Conv1d(channels, channels, 1))

    def forward(self, x):
        b, c, h, w = x.shape
        q, k, v = self.qkv(self.norm(x).reshape(b, c, h * w)).reshape(b, 3 * self.heads, c // self.heads, h * w) \
            .transpose(-1, -2).chunk(3, dim=1)
        out = F.scaled_dot_product_attention(q, k, v)            # (b, heads, hw, c / heads)
        return x + self.proj(out.transpose(-1, -2).reshape(b, c, h * w)).reshape(b, c, h, w)


class _Level(nn.Module):
    """The residual (and attention) blocks of one resolution."""

    def __init__(self, c_in, c_out, n_blocks, emb_dim, attention, dropout):
        super().__init__()
        self.blocks = nn.ModuleList(ResBlock(c_in if i == 0 else c_out, c_out, emb_dim, dropout)
                                    for i in range(n_blocks))
        self.attn = nn.ModuleList(AttentionBlock(c_out) if attention else nn.Identity() for _ in range(n_blocks))


class UNet(nn.Module):
    """Map ``(x_t, t, cond)`` for images ``(B, C, H, W)`` to the predicted noise ``(B, C, H, W)``.

    Residual blocks with GroupNorm and a time (plus class) embedding,
    self-attention at the low resolutions, strided-convolution downsampling
    and upsampling to the skip connection's exact size, so any ``H × W``
    works (8×8, 28×28, 32×32, …). A pure network: it knows nothing of
    noise schedules or sampling.

    ``cond`` is ``None`` or a pair ``(labels, mask)``: ``labels`` (B,) long
    class indices where ``n_classes`` means "no class" (classifier-free
    guidance), or None; ``mask`` (B, 1, H, W) float, 1 where the pixel is
    given clean (inpainting), or None.

    Parameters
    ----------
    channels : int
        Image channels (input and output).
    size : tuple of int
        ``(H, W)``.
    width : int, default=64
        Channels at full resolution; doubled at lower resolutions.
    n_blocks : int, default=2
        Residual blocks per resolution.
    n_classes : int, default=0
        Number of classes; 0 for an unconditional model.
    attention_side : int, default=8
        Self-attention at resolutions whose smaller side is at most this
        (never at full resolution).
    dropout : float, default=0.0

    Examples
    --------
    >>> import torch
    >>> net = UNet(1, (7, 9), width=16, n_blocks=1, n_classes=3)
    >>> labels = torch.tensor([0, 3])
    >>> net(torch.zeros(2, 1, 7, 9), torch.tensor([5, 9]), (labels, None)).shape
    torch.Size([2, 1, 7, 9])
    """

    def __init__(self, channels, size, *, width=64, n_blocks=2, n_classes=0, attention_side=8, dropout=0.0):
        super().__init__()
        self.channels, self.size, self.n_classes, self.width = channels, tuple(size), n_classes, width
        emb_dim = 4 * width
        self.time = nn.Sequential(nn.Linear(width, emb_dim), nn.SiLU(), nn.Linear(emb_dim, emb_dim))
        self.label = nn.Embedding(n_classes + 1, emb_dim)   # index n_classes: no class
        sizes = unet_levels(*size)
        mult = [1] + [2] * (len(sizes) - 1)
        chans = [width * m for m in mult]
        attn = [i > 0 and min(s) <= attention_side for i, s in enumerate(sizes)]
        self.stem = nn.Conv2d(channels + 1, width, 3, padding=1)   # + the mask channel
        self.down = nn.ModuleList()
        self.downsample = nn.ModuleList()
        c = width
        for i, ch in enumerate(chans):
            self.down.append(_Level(c, ch, n_blocks, emb_dim, attn[i], dropout))
            c = ch
            if i + 1 < len(chans):
                self.downsample.append(nn.Conv2d(c, c, 3, stride=2, padding=1))
        self.mid1 = ResBlock(c, c, emb_dim, dropout)
        self.mid_attn = AttentionBlock(c)
        self.mid2 = ResBlock(c, c, emb_dim, dropout)
        self.up = nn.ModuleList()
        self.upsample = nn.ModuleList()
        for i in reversed(range(len(chans))):
            # each level's first block also takes the skip connection of the same resolution
            self.up.append(_Level(c + chans[i], chans[i], n_blocks, emb_dim, attn[i], dropout))
            c = chans[i]
            if i:
                self.upsample.append(nn.Conv2d(c, c, 3, padding=1))
        self.out = nn.Sequential(_norm(c), nn.SiLU(), _zero(nn.Conv2d(c, channels, 3, padding=1)))

    def forward(self, x, t, cond=None):
        b = x.shape[0]
        labels, mask = cond if cond is not None else (None, None)
        t = t.expand(b) if t.shape[0] != b else t
        emb = self.time(timestep_embedding(t, self.width))
        if labels is None:
            labels = torch.full((b,), self.n_classes, dtype=torch.long, device=x.device)
        emb = emb + self.label(labels)
        mask = torch.zeros_like(x[:, :1]) if mask is None else mask.to(x.dtype)
        h = self.stem(torch.cat([x, mask], dim=1))
        skips = []
        for i, level in enumerate(self.down):
            for block, attn in zip(level.blocks, level.attn):
                h = attn(block(h, emb))
            skips.append(h)
            if i < len(self.downsample):
                h = self.downsample[i](h)
        h = self.mid2(self.mid_attn(self.mid1(h, emb)), emb)
        for i, level in enumerate(self.up):
            skip = skips.pop()
            if h.shape[-2:] != skip.shape[-2:]:
                h = self.upsample[i - 1](F.interpolate(h, size=skip.shape[-2:], mode="nearest"))
            h = torch.cat([h, skip], dim=1)
            for block, attn in zip(level.blocks, level.attn):
                h = attn(block(h, emb))
        return self.out(h)
