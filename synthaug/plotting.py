"""Pictures of images: a grid of samples as a PNG."""

from __future__ import annotations

import numpy as np

__all__ = ["image_grid"]


def _as_nchw(X):
    """``(N, C, H, W)`` float array in [0, 1] from uint8 0..255 or float [0, 1] images."""
    X = np.asarray(X)
    if X.ndim == 3:
        X = X[:, None]
    if X.ndim != 4:
        raise ValueError(f"Images must have shape (N, C, H, W) or (N, H, W); got an array of rank {X.ndim}.")
    if X.shape[1] not in (1, 3):
        raise ValueError(f"Images must have 1 or 3 channels on axis 1; got {X.shape[1]}.")
    if X.shape[0] == 0:
        raise ValueError("No images to draw.")
    if np.issubdtype(X.dtype, np.integer):
        if X.min() < 0 or X.max() > 255:
            raise ValueError("Integer images must lie in 0..255.")
        return X.astype(np.float64) / 255.0
    if not np.issubdtype(X.dtype, np.floating):
        raise TypeError(f"Images must be integer or float arrays; got dtype {X.dtype}.")
    if not np.isfinite(X).all():
        raise ValueError("Images contain NaN or infinite values.")
    if X.min() < 0 or X.max() > 1:
        raise ValueError("Float images must lie in [0, 1] (integer images in 0..255).")
    return X.astype(np.float64)


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
