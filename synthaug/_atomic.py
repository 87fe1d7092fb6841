"""A fit that fails leaves the estimator as it was."""

from __future__ import annotations

import contextlib

__all__ = ["restore_on_failure"]


@contextlib.contextmanager
def restore_on_failure(estimator):
    """Undo every attribute change of ``estimator`` made inside the block if the block raises.

    A refused refit (a ``warm_start`` with new levels, another fit's checkpoint),
    an error or a ``KeyboardInterrupt`` in ``fit`` then leaves the previously
    fitted model usable rather than half-replaced. Attributes are restored, not
    deep-copied: a network trained in place before the failure keeps that
    training (as an interrupted ``partial_fit`` would).

    Examples
    --------
    >>> class Model:
    ...     pass
    >>> m = Model(); m.coef_ = 1
    >>> try:
    ...     with restore_on_failure(m):
    ...         m.coef_ = 2
    ...         del m.coef_
    ...         raise ValueError("refused")
    ... except ValueError:
    ...     pass
    >>> m.coef_
    1
    """
    state = estimator.__dict__.copy()
    try:
        yield estimator
    except BaseException:
        estimator.__dict__.clear()
        estimator.__dict__.update(state)
        raise
