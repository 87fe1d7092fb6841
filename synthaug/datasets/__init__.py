"""Bundled datasets: the credit-scoring table and scikit-learn's digits as images."""

from importlib import resources

import numpy as np
import pandas as pd

__all__ = ["load_credit", "load_digits"]


def load_credit(*, return_X_y=False, as_frame=True):
    """Load the bundled credit-scoring table (4,454 rows, 14 columns).

    The table has real missing values in ``Income``, ``Assets``, ``Debt``,
    ``Home``, ``Marital`` and ``Job`` and a binary target ``Status``
    (``"good"`` / ``"bad"``, about 28 % bad).

    Parameters
    ----------
    return_X_y : bool, default=False
        If True, return ``(X, y)`` with ``y`` the ``Status`` column.
    as_frame : bool, default=True
        Kept for symmetry with scikit-learn loaders; the data is always a
        DataFrame because its columns have mixed types.

    Returns
    -------
    frame : pandas.DataFrame, or (X, y) if ``return_X_y``.

    Examples
    --------
    >>> from synthaug.datasets import load_credit
    >>> df = load_credit()
    >>> df.shape
    (4454, 14)
    >>> X, y = load_credit(return_X_y=True)
    >>> y.name, X.shape
    ('Status', (4454, 13))
    """
    path = resources.files(__name__).joinpath("data", "credit_data.csv")
    with path.open("rb") as fh:
        frame = pd.read_csv(fh)
    if return_X_y:
        return frame.drop(columns="Status"), frame["Status"]
    return frame


def load_digits(*, return_X_y=False):
    """scikit-learn's 1,797 handwritten digits as 8×8 grey-scale images.

    scikit-learn stores each pixel as an integer 0..16; here they are
    rescaled to the usual image range, ``uint8`` 0..255
    (``round(v * 255 / 16)``), with a channel axis.

    Parameters
    ----------
    return_X_y : bool, default=False
        If True, return ``(X, y)`` instead of a Bunch.

    Returns
    -------
    data : sklearn.utils.Bunch
        ``images`` (1797, 1, 8, 8) uint8, ``target`` (1797,) int64 labels
        0..9, ``target_names``; or ``(X, y)`` if ``return_X_y``.

    Examples
    --------
    >>> from synthaug.datasets import load_digits
    >>> X, y = load_digits(return_X_y=True)
    >>> X.shape, X.dtype, int(X.max()), sorted(set(y.tolist())) == list(range(10))
    ((1797, 1, 8, 8), dtype('uint8'), 255, True)
    """
    from sklearn.datasets import load_digits as _sklearn_digits
    from sklearn.utils import Bunch

    bunch = _sklearn_digits()
    images = np.round(bunch.images * (255.0 / 16.0)).astype(np.uint8)[:, None, :, :]
    target = bunch.target.astype(np.int64)
    if return_X_y:
        return images, target
    return Bunch(images=images, target=target, target_names=np.arange(10))
