"""Random masks of given pixels for training image models to inpaint."""

from __future__ import annotations

import torch

__all__ = ["random_pixel_masks"]


def random_pixel_masks(n, height, width, *, generator, device, p_unconditional=0.8):
    """Masks ``(n, 1, H, W)`` float, 1 where a pixel is given clean.

    A share ``p_unconditional`` of masks is empty (plain generation). The
    others are, with equal chance, scattered pixels (each given with a rate
    drawn uniformly per image), a rectangle of missing pixels in an
    otherwise given image, or one given half (top, bottom, left or right),
    so the model learns to fill holes of every shape. Drawn on the device
    with ``generator``; no host synchronisation.

    Examples
    --------
    >>> import torch
    >>> g = torch.Generator().manual_seed(0)
    >>> m = random_pixel_masks(6, 8, 8, generator=g, device="cpu", p_unconditional=0.0)
    >>> m.shape, bool(((m == 0) | (m == 1)).all())
    (torch.Size([6, 1, 8, 8]), True)
    """
    def u(*shape):
        return torch.rand(shape, generator=generator, device=device)

    rows = torch.arange(height, device=device).view(1, height, 1)
    cols = torch.arange(width, device=device).view(1, 1, width)
    scattered = u(n, height, width) < u(n, 1, 1)
    # a missing rectangle: corners drawn uniformly, sides at least one pixel
    r0, r1 = (u(n, 1, 1) * height).floor(), (u(n, 1, 1) * height).floor()
    c0, c1 = (u(n, 1, 1) * width).floor(), (u(n, 1, 1) * width).floor()
    box = (rows >= torch.minimum(r0, r1)) & (rows <= torch.maximum(r0, r1)) \
        & (cols >= torch.minimum(c0, c1)) & (cols <= torch.maximum(c0, c1))
    # one given half: 0 top, 1 bottom, 2 left, 3 right
    side = (u(n, 1, 1) * 4).floor()
    half = torch.where(side == 0, rows < height / 2, torch.where(side == 1, rows >= height / 2,
                       torch.where(side == 2, cols < width / 2, cols >= width / 2)))
    kind = (u(n, 1, 1) * 3).floor()
    given = torch.where(kind == 0, scattered, torch.where(kind == 1, ~box, half))
    given &= u(n, 1, 1) >= p_unconditional
    return given.unsqueeze(1).float()
