"""Over-sampling with a class-conditional generative model, under imbalanced-learn's contract.

:class:`OverSamplerMixin` gives an estimator ``fit_resample(X, y)``: it
resolves ``sampling_strategy`` exactly as imbalanced-learn's over-samplers do
(``imblearn.utils.check_sampling_strategy``), fits the class-conditional model
on *all* classes — so a minority class of 20 rows borrows the structure the
other classes share — and appends, class by class, rows sampled with that
class given. The original rows come first and unchanged.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from imblearn.utils import check_sampling_strategy

from ._validation import check_table, check_target

__all__ = ["OverSamplerMixin"]


def check_resampling_target(y_series, name="y"):
    """Resampling needs ≥ 2 classes and ≥ 2 rows in each; a clear error otherwise."""
    counts = y_series.value_counts()
    if len(counts) < 2:
        raise ValueError(f"{name} holds a single class ({counts.index[0]!r}); resampling needs at least two.")
    lonely = counts[counts < 2]
    if len(lonely):
        raise ValueError(f"class {lonely.index[0]!r} of {name} has a single row; a generative model needs at "
                         "least 2 rows of a class to learn it (drop the class or add rows).")
    return counts


class OverSamplerMixin:
    """``fit_resample`` for an estimator with a class-conditional ``fit(X, y)`` / ``sample(n, y=...)``."""

    _sampling_type = "over-sampling"

    def fit_resample(self, X, y):
        """Fit on ``(X, y)``, then add synthetic rows of the classes ``sampling_strategy`` names.

        Parameters
        ----------
        X : DataFrame or ndarray of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
            Class labels (binary or multi-class).

        Returns
        -------
        X_resampled : DataFrame or ndarray
            The rows of ``X`` first, unchanged, then the synthetic ones; same
            container, columns and dtypes as ``X`` (a DataFrame gets a fresh
            RangeIndex, as imbalanced-learn's samplers do).
        y_resampled : Series or ndarray
            Labels, in the container of ``y``.
        """
        frame, schema = check_table(X)
        y_series, target_schema = check_target(y, len(frame))
        check_resampling_target(y_series)
        labels = y_series.to_numpy()
        self.sampling_strategy_ = check_sampling_strategy(self.sampling_strategy, labels, self._sampling_type)
        self.fit(X, y)
        frames, targets = [frame.reset_index(drop=True)], [labels]
        for label, n_new in self.sampling_strategy_.items():
            if n_new <= 0:
                continue
            new, new_labels = self._sample_table(int(n_new), None, label, self._sample_rng)
            frames.append(new)
            targets.append(new_labels)
        X_res = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
        return schema.wrap(X_res), target_schema.wrap(np.concatenate(targets))
