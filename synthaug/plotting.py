"""Pictures of images: a grid of samples as a PNG."""

from __future__ import annotations

import numpy as np

from .encoding.images import unit_pixels

__all__ = ["image_grid"]


def _as_nchw(X):
    """``(N, C, H, W)`` float array in [0, 1] from uint8 0..255 or float [0, 1] images."""
    X = unit_pixels(X, name="images")
    if X.shape[1] not in (1, 3):
        raise ValueError(f"Images must have 1 or 3 channels on axis 1; got {X.shape[1]}.")
    return X


def image_grid(X, *, path=None, ncols=None, scale=4, pad=1):
    """Lay images out in a grid and optionally write it as a PNG.

    Parameters
    ----------
    X : array-like of shape (N, C, H, W) or (N, H, W)
        uint8 images in 0..255, or float images in [0, 1]; 1 or 3 channels.
    path : str or path-like, default=None
        Where to write the PNG.
    ncols : int, default=None
        Images per row; by default about ``sqrt(N)``.
    scale : int, default=4
        Each pixel becomes a ``scale × scale`` block (8×8 digits are tiny).
    pad : int, default=1
        White pixels between images (before scaling).

    Returns
    -------
    grid : ndarray of shape (rows, cols, 3), uint8
        The RGB picture that was (or would be) written.

    Examples
    --------
    >>> from synthaug.datasets import load_digits
    >>> from synthaug.plotting import image_grid
    >>> X, _ = load_digits(return_X_y=True)
    >>> image_grid(X[:16], scale=2).shape      # 4 × 4 images of 8 + 1 pad pixels, ×2
    (74, 74, 3)
    """
    X = _as_nchw(X)
    n, c, h, w = X.shape
    ncols = int(ncols) if ncols else int(np.ceil(np.sqrt(n)))
    if ncols < 1 or scale < 1 or pad < 0:
        raise ValueError("ncols and scale must be >= 1 and pad >= 0.")
    nrows = int(np.ceil(n / ncols))
    grid = np.ones((nrows * (h + pad) + pad, ncols * (w + pad) + pad, 3))
    rgb = np.repeat(X, 3, axis=1) if c == 1 else X
    for k in range(n):
        r, q = divmod(k, ncols)
        top, left = pad + r * (h + pad), pad + q * (w + pad)
        grid[top: top + h, left: left + w] = rgb[k].transpose(1, 2, 0)
    grid = np.kron(grid, np.ones((scale, scale, 1)))
    out = np.round(grid * 255).astype(np.uint8)
    if path is not None:
        import matplotlib.pyplot as plt

        plt.imsave(path, out)
    return out
