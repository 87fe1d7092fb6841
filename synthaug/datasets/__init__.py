"""Bundled datasets: the credit-scoring table and scikit-learn's digits as images."""

from importlib import resources

import pandas as pd

__all__ = ["load_credit"]


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
