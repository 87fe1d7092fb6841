"""Figures for synthetic images, judged by classifiers trained locally on the real images.

No Inception weights can be downloaded here (and digits are not natural
images), so the judges are small scikit-learn models trained on the real
training images:

* **classification accuracy score** (CAS, Ravuri & Vinyals 2019): a logistic
  regression trained on the synthetic images with their *requested* labels,
  accuracy on real test images — compare with the same model trained on the
  real training images;
* **label fidelity**: share of synthetic images that an MLP trained on the
  real images assigns to the requested class;
* **Fréchet distance** (as FID, Heusel et al. 2017) between Gaussians fitted
  to the MLP's hidden-layer features of real and synthetic images, with the
  real-train vs real-test distance as the reference.
"""

from __future__ import annotations

import numpy as np
from ..encoding.images import check_images, unit_pixels

__all__ = ["ImageJudge", "frechet_distance", "evaluate_images"]


def _flat(X, name):
    arr = unit_pixels(X, name=name)
    return arr.reshape(len(arr), -1)


def frechet_distance(a, b):
    """Fréchet distance between Gaussians fitted to feature matrices ``a`` and ``b`` (rows = samples).

    ‖μ_a − μ_b‖² + tr(Σ_a + Σ_b − 2 (Σ_a Σ_b)^½).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> a = rng.normal(size=(2000, 3))
    >>> round(frechet_distance(a, a + 1.0), 1)      # the means differ by 1 in each of 3 features
    3.0
    """
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    mu = a.mean(0) - b.mean(0)
    ca, cb = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    # tr (Σ_a Σ_b)^½ = Σ √λ over the eigenvalues of Σ_a Σ_b (real, ≥ 0: it is similar to Σ_a^½ Σ_b Σ_a^½),
    # which stays exact when dead features make a covariance singular
    eig = np.linalg.eigvals(ca @ cb).real
    return float(mu @ mu + np.trace(ca) + np.trace(cb) - 2 * np.sqrt(np.clip(eig, 0, None)).sum())


class ImageJudge:
    """Classifiers trained on real images that score synthetic ones (see the module docstring).

    Parameters
    ----------
    X, y : real training images ``(N, C, H, W)`` or ``(N, H, W)`` and labels
    hidden : int, default=128
        Hidden units of the MLP whose features the Fréchet distance uses.
    random_state : int, default=0

    Examples
    --------
    >>> from sklearn.model_selection import train_test_split
    >>> from synthaug.datasets import load_digits
    >>> X, y = load_digits(return_X_y=True)
    >>> X_a, X_test, y_a, y_test = train_test_split(X, y, test_size=0.3, stratify=y, random_state=0)
    >>> judge = ImageJudge(X_a[:700], y_a[:700], random_state=0)
    >>> scores = judge.score(X_a[700:], y_a[700:], X_test=X_test, y_test=y_test)  # real images as "synthetic"
    >>> scores["label_fidelity"] > 0.9 and scores["cas"] > 0.9 and scores["frechet_ratio"] < 2
    True
    """

    def __init__(self, X, y, *, hidden=128, random_state=0):
        from sklearn.linear_model import LogisticRegression
        from sklearn.neural_network import MLPClassifier

        self.X_, self.y_ = _flat(X, "X"), np.asarray(y)
        self.random_state = random_state
        self.mlp_ = MLPClassifier(hidden_layer_sizes=(hidden,), max_iter=500, random_state=random_state)
        self.mlp_.fit(self.X_, self.y_)
        self._logistic = lambda: LogisticRegression(max_iter=2000)
        self.real_model_ = self._logistic().fit(self.X_, self.y_)

    def features(self, X, name="X"):
        """Hidden-layer activations of the judge MLP, ``(N, hidden)``."""
        return self._hidden(_flat(X, name))

    def _hidden(self, flat):
        return np.maximum(flat @ self.mlp_.coefs_[0] + self.mlp_.intercepts_[0], 0.0)

    def score(self, X_synth, y_synth, *, X_test=None, y_test=None):
        """Figures of ``X_synth`` generated for labels ``y_synth``.

        Returns a dict with ``label_fidelity`` and ``frechet`` (to the real
        training images); with ``X_test``/``y_test`` also ``cas`` (logistic
        regression trained on the synthetic images), ``cas_real`` (trained on
        the real ones), ``frechet_real`` (real train vs real test) and
        ``frechet_ratio`` (``frechet / frechet_real``).
        """
        flat, y_synth = _flat(X_synth, "X_synth"), np.asarray(y_synth)
        if len(flat) != len(y_synth):
            raise ValueError(f"X_synth has {len(flat)} images but y_synth has {len(y_synth)} labels.")
        real_features, synth_features = self._hidden(self.X_), self._hidden(flat)
        out = {"label_fidelity": float(np.mean(self.mlp_.predict(flat) == y_synth)),
               "frechet": frechet_distance(real_features, synth_features)}
        if X_test is not None:
            test, y_test = _flat(X_test, "X_test"), np.asarray(y_test)
            if len(np.unique(y_synth)) > 1:
                out["cas"] = float(self._logistic().fit(flat, y_synth).score(test, y_test))
            out["cas_real"] = float(self.real_model_.score(test, y_test))
            out["frechet_real"] = frechet_distance(real_features, self._hidden(test))
            out["frechet_ratio"] = out["frechet"] / out["frechet_real"]
        return out


def evaluate_images(real, synthetic, *, y_real, y_synthetic, holdout=None, y_holdout=None, random_state=0):
    """Score synthetic images against real ones; an :class:`EvaluationReport` whose page shows them per class.

    Parameters
    ----------
    real, y_real : the real training images ``(N, C, H, W)`` or ``(N, H, W)`` and labels
    synthetic, y_synthetic : generated images and the labels they were generated for
    holdout, y_holdout : real images the model never saw, optional
        Needed for ``cas``, ``cas_real``, ``frechet_real`` and ``frechet_ratio``.
    random_state : int, default=0

    Returns
    -------
    EvaluationReport
        ``label_fidelity`` and ``frechet`` always; the holdout figures when a
        holdout is given. ``to_html`` shows the figures and, for every class,
        real images beside synthetic ones.

    Examples
    --------
    >>> from synthaug.datasets import load_digits
    >>> from synthaug.evaluation import evaluate_images
    >>> X, y = load_digits(return_X_y=True)
    >>> report = evaluate_images(X[:900], X[900:1300], y_real=y[:900], y_synthetic=y[900:1300],
    ...                          holdout=X[1300:], y_holdout=y[1300:])
    >>> sorted(report.scores)[:3]
    ['cas', 'cas_real', 'frechet']
    """
    from .report import EvaluationReport

    for images, labels, name in ((real, y_real, "real"), (synthetic, y_synthetic, "synthetic"),
                                 (holdout, y_holdout, "holdout")):
        if images is None:
            continue
        if labels is None:
            raise ValueError(f"{name} images need their labels (y_{name}).")
        n = len(check_images(images, name=name)[0])
        if len(labels) != n:
            raise ValueError(f"{name} has {n} images but y_{name} has {len(labels)} labels.")
    if (holdout is None) != (y_holdout is None):
        raise ValueError("give holdout and y_holdout together.")
    judge = ImageJudge(real, y_real, random_state=random_state)
    scores = judge.score(synthetic, y_synthetic, X_test=holdout, y_test=y_holdout)
    info = {"n_rows": {"real": len(y_real), "synthetic": len(y_synthetic),
                       "holdout": None if y_holdout is None else len(y_holdout)}}
    data = {"images": {"real": real, "y_real": np.asarray(y_real), "synthetic": synthetic,
                       "y_synthetic": np.asarray(y_synthetic)}}
    skipped = {} if holdout is not None else {k: "needs holdout images" for k in
                                              ("cas", "cas_real", "frechet_real", "frechet_ratio")}
    return EvaluationReport(scores, skipped=skipped, info=info, data=data)
