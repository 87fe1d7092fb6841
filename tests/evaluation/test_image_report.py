"""evaluate_images: the figures, their checks, and the per-class grid of the HTML page."""

import numpy as np
import pytest

from synthaug.datasets import load_digits
from synthaug.evaluation import ImageJudge, evaluate_images


@pytest.fixture(scope="module")
def digits():
    from sklearn.model_selection import train_test_split

    X, y = load_digits(return_X_y=True)
    return train_test_split(X, y, test_size=0.3, stratify=y, random_state=0)


def test_real_images_score_like_real_and_noise_scores_badly(digits):
    X_train, X_test, y_train, y_test = digits
    judge = ImageJudge(X_train[:800], y_train[:800], random_state=0)
    real = judge.score(X_train[800:], y_train[800:], X_test=X_test, y_test=y_test)
    assert real["label_fidelity"] > 0.9 and real["cas"] > 0.9 and real["frechet_ratio"] < 2
    noise = np.random.default_rng(0).integers(0, 256, size=(400, 1, 8, 8), dtype=np.uint8)
    bad = judge.score(noise, np.arange(400) % 10, X_test=X_test, y_test=y_test)
    assert bad["label_fidelity"] < 0.3 and bad["cas"] < 0.5 and bad["frechet_ratio"] > 10


def test_report_page_shows_real_and_synthetic_per_class(digits):
    X_train, X_test, y_train, y_test = digits
    report = evaluate_images(X_train[:600], X_train[600:900], y_real=y_train[:600], y_synthetic=y_train[600:900],
                             holdout=X_test, y_holdout=y_test)
    assert {"cas", "cas_real", "label_fidelity", "frechet", "frechet_real", "frechet_ratio"} <= set(report.scores)
    page = report.to_html()
    assert 'id="images"' in page and page.count("data:image/png;base64") == 20   # 10 classes × real, synthetic
    header = page.split("<header>")[1].split("</header>")[0]
    assert "real 600 images" in header and "columns" not in header


def test_without_holdout_the_holdout_figures_are_skipped(digits):
    X_train, _, y_train, _ = digits
    report = evaluate_images(X_train[:300], X_train[300:400], y_real=y_train[:300], y_synthetic=y_train[300:400])
    assert set(report.scores) == {"label_fidelity", "frechet"} and "cas" in report.skipped


@pytest.mark.parametrize("kwargs, match", [
    ({"y_synthetic": np.zeros(3)}, "has 100 images but y_synthetic has 3"),
    ({"y_real": None}, "need their labels"),
    ({"holdout": np.zeros((5, 8, 8), np.uint8)}, "need their labels"),
])
def test_bad_arguments(digits, kwargs, match):
    X_train, _, y_train, _ = digits
    args = {"y_real": y_train[:200], "y_synthetic": y_train[200:300], **kwargs}
    with pytest.raises(ValueError, match=match):
        evaluate_images(X_train[:200], X_train[200:300], **args)
