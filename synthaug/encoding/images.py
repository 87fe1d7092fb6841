"""Images to model space and back: validation and the [-1, 1] scaling of pixel values.

Images arrive as ``(N, C, H, W)`` or ``(N, H, W)`` arrays, either integer
(0..255, usually uint8) or float in [0, 1]. :class:`ImageScaler` remembers
the convention (rank, channels, size, dtype) at ``fit`` and maps pixels to
[-1, 1] for the networks; ``inverse_transform`` gives back arrays of the same
convention and dtype.
"""

from __future__ import annotations

import warnings

import numpy as np

__all__ = ["ImageScaler", "is_image_input", "check_images", "unit_pixels"]


def _shapes(X):
    return sorted({tuple(np.shape(x)) for x in X}, key=str)


def is_image_input(X):
    """True when ``X`` is an image batch (rank 3 or 4 array, or a list of 2-D/3-D arrays), not a table."""
    if hasattr(X, "columns") or hasattr(X, "iloc"):   # DataFrame / Series: a table
        return False
    if isinstance(X, (list, tuple)):
        return len(X) > 0 and all(isinstance(x, np.ndarray) and x.ndim in (2, 3) for x in X)
    return isinstance(X, np.ndarray) and X.ndim in (3, 4)


def check_images(X, *, name="X", allow_nan=False, float_max=1.0):
    """Validate an image batch; return ``(array (N, C, H, W), squeezed)`` without copying when possible.

    ``squeezed`` is True for ``(N, H, W)`` input. Integer images must lie in
    0..255, float images in [0, ``float_max``]; NaN is allowed only with
    ``allow_nan`` (pixels to impute).
    """
    if isinstance(X, (list, tuple)):
        shapes = _shapes(X)
        if len(shapes) > 1:
            raise ValueError(f"{name} holds images of mixed sizes {shapes[:3]}; every image must have the same "
                             "shape (resize or crop them first).")
        X = np.stack(X)
    X = np.asarray(X)
    if X.ndim not in (3, 4):
        raise ValueError(f"{name} must have shape (N, C, H, W) or (N, H, W) for images; got rank {X.ndim} "
                         f"(shape {X.shape}).")
    squeezed = X.ndim == 3
    if squeezed:
        X = X[:, None]
    n, c, h, w = X.shape
    if n == 0 or h == 0 or w == 0 or c == 0:
        raise ValueError(f"{name} holds no pixels (shape {X.shape}).")
    if c > 4:
        raise ValueError(f"{name} has {c} channels on axis 1; images are (N, C, H, W) with C ≤ 4 "
                         "(channels-last arrays must be transposed: X.transpose(0, 3, 1, 2)).")
    if X.dtype == bool or not (np.issubdtype(X.dtype, np.integer) or np.issubdtype(X.dtype, np.floating)):
        raise TypeError(f"{name} must hold integer (0..255) or float ([0, 1]) pixels; got dtype {X.dtype}.")
    if np.issubdtype(X.dtype, np.integer):
        lo, hi = X.min(), X.max()
        if lo < 0 or hi > 255:
            raise ValueError(f"{name}: integer pixels must lie in 0..255; got values in [{lo}, {hi}].")
        return X, squeezed
    finite = np.isfinite(X)
    if np.isinf(X).any():
        raise ValueError(f"{name} contains infinite pixel values.")
    if not allow_nan and not finite.all():
        raise ValueError(f"{name} contains NaN pixels; fit and sample need complete images "
                         "(use impute to fill NaN pixels).")
    values = X[finite]
    if values.size and (values.min() < 0 or values.max() > float_max):
        hint = "(divide 0..255 floats by 255, or pass uint8)" if float_max == 1 else "(the model's 0..255 scale)"
        raise ValueError(f"{name}: float pixels must lie in [0, {float_max:g}]; got values in "
                         f"[{values.min():g}, {values.max():g}] {hint}.")
    return X, squeezed


def unit_pixels(X, *, name="X"):
    """Validated images as float64 ``(N, C, H, W)`` in [0, 1] (integer pixels divided by 255)."""
    arr, _ = check_images(X, name=name)
    return arr.astype(np.float64) / (255.0 if np.issubdtype(arr.dtype, np.integer) else 1.0)


class ImageScaler:
    """Map images to float32 ``(N, C, H, W)`` in [-1, 1] and back, keeping the caller's convention.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[[0, 255], [128, 64]]], dtype=np.uint8)      # one 2×2 image, (N, H, W)
    >>> scaler = ImageScaler().fit(X)
    >>> Z = scaler.transform(X)
    >>> Z.shape, float(Z.min()), float(Z.max())
    ((1, 1, 2, 2), -1.0, 1.0)
    >>> bool((scaler.inverse_transform(Z) == X).all())
    True
    """

    def fit(self, X, *, name="X", checked=False, squeezed=None):
        if checked:   # X is the (N, C, H, W) array check_images returned
            arr, self.squeezed_ = X, squeezed
        else:
            arr, self.squeezed_ = check_images(X, name=name)
        self.shape_ = tuple(int(s) for s in arr.shape[1:])
        self.n_images_ = int(arr.shape[0])
        self.dtype_ = arr.dtype
        self.integer_ = bool(np.issubdtype(arr.dtype, np.integer))
        # the pixel range the images used (e.g. 0..16 for scikit-learn's digits): outputs stay within it
        self.range_ = (float(arr.min()), float(arr.max())) if arr.size else (0.0, 255.0)
        return self

    def check(self, X, *, name="X", allow_nan=False):
        """``(N, C, H, W)`` view of ``X`` after checking it matches the fitted shape.

        With ``allow_nan`` (images to impute, necessarily float), float pixels
        are on the fitted scale: 0..255 for a model fitted on integer images.
        """
        float_max = 255.0 if allow_nan and self.integer_ else 1.0
        arr, _ = check_images(X, name=name, allow_nan=allow_nan, float_max=float_max)
        if tuple(arr.shape[1:]) != self.shape_:
            c, h, w = self.shape_
            raise ValueError(f"{name} has images of shape {tuple(arr.shape[1:])} (C, H, W) but the model was "
                             f"fitted on {c}×{h}×{w}.")
        hi = (getattr(self, "range_", None) or (0.0, 255.0))[1]
        if float_max > 1 and np.issubdtype(arr.dtype, np.floating) and hi > 1 and 0 < np.nanmax(arr, initial=0) <= 1:
            warnings.warn(f"{name}: every observed pixel is within [0, 1], but the model was fitted on integer "
                          f"pixels up to {hi:g} and reads float pixels on that scale; multiply [0, 1] images "
                          "by 255 (or pass them as integers).", UserWarning, stacklevel=4)
        return arr

    def transform(self, X, *, name="X", allow_nan=False):
        """float32 ``(N, C, H, W)`` in [-1, 1] (NaN kept where ``allow_nan``)."""
        return self.scale(self.check(X, name=name, allow_nan=allow_nan))

    def fit_transform(self, X, *, name="X"):
        """:meth:`fit`, then the scaled images (validated once)."""
        arr, squeezed = check_images(X, name=name)
        return self.fit(arr, name=name, checked=True, squeezed=squeezed).scale(arr)

    def scale(self, arr):
        """float32 model-space pixels of an already checked ``(N, C, H, W)`` array."""
        # 0..255 pixels: integer input, or float input to a model fitted on integers (impute)
        scale = 127.5 if self.integer_ or np.issubdtype(arr.dtype, np.integer) else 0.5
        return (arr.astype(np.float32) / np.float32(scale) - 1).astype(np.float32)

    def inverse_transform(self, Z):
        """Arrays of the fitted rank and dtype from model-space ``Z`` (clipped to [-1, 1])."""
        Z = np.clip(np.asarray(Z, dtype=np.float64), -1, 1)
        lo, hi = getattr(self, "range_", None) or (None, None)
        if self.integer_:
            out = np.rint((Z + 1) * 127.5)
        else:
            out = (Z + 1) / 2
        if lo is not None:
            out = np.clip(out, lo, hi)
        out = out.astype(self.dtype_)
        return out[:, 0] if self.squeezed_ else out
