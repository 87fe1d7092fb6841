"""Laplace histograms, the release threshold and the power-of-two grid."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from synthaug.privacy.mechanisms import laplace_histogram, norm_sub, power_of_two_bins, release_threshold


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(0, 50), min_size=1, max_size=20), st.integers(0, 19), st.integers(0, 2**31 - 1))
def test_neighbouring_histograms_differ_by_the_sensitivity(counts, which, seed):
    """Same noise draws: adding one row moves one bin by exactly 1 (L1 sensitivity 1)."""
    counts = np.asarray(counts)
    neighbour = counts.copy()
    neighbour[which % len(counts)] += 1
    a = laplace_histogram(counts, 0.5, np.random.default_rng(seed))
    b = laplace_histogram(neighbour, 0.5, np.random.default_rng(seed))
    assert np.abs(b - a).sum() == pytest.approx(1.0)


def test_laplace_noise_has_the_calibrated_scale():
    noisy = laplace_histogram(np.zeros(200_000), 0.25, np.random.default_rng(0))
    assert np.mean(np.abs(noisy)) == pytest.approx(4.0, rel=0.02)   # E|Lap(b)| = b = 1/ε
    with pytest.raises(ValueError, match="epsilon"):
        laplace_histogram([1, 2], 0.0, np.random.default_rng(0))


def test_a_level_seen_once_passes_the_threshold_with_probability_at_most_delta():
    eps, delta = 1.0, 1e-3
    tau = release_threshold(eps, delta)
    noisy = laplace_histogram(np.ones(400_000), eps, np.random.default_rng(1))
    assert np.mean(noisy >= tau) <= delta * 1.2


def test_power_of_two_grid():
    values = np.array([-1000.0, -3.0, 0.0, 1e-9, 0.75, 1.0, 1.5, 2.0, 5e18])
    index, n_bins, edges = power_of_two_bins(values)
    for v, k in zip(values, index):
        assert edges[k] <= v < edges[k + 1] or (abs(v) < 2.0**-16 and k == n_bins // 2)
    assert index[2] == index[3] == n_bins // 2        # zero and tiny values share the zero bin
    assert len(edges) == n_bins + 1


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(-50, 50), min_size=1, max_size=30), st.floats(0, 200))
def test_norm_sub_is_the_closest_non_negative_histogram_with_the_total(noisy, total):
    out = norm_sub(noisy, total)
    assert (out >= 0).all()
    np.testing.assert_allclose(out.sum(), total, atol=1e-6)
    # one common shift: every positive bin moved by the same amount, and no dropped bin was above a kept one
    noisy = np.asarray(noisy)
    kept = out > 0
    if kept.any():
        shift = noisy[kept] - out[kept]
        np.testing.assert_allclose(shift, shift[0], atol=1e-6)
        assert not (~kept).any() or noisy[~kept].max() <= noisy[kept].min() + 1e-9


def test_norm_sub_removes_the_bias_of_clipping_empty_bins():
    rng = np.random.default_rng(0)
    counts = np.zeros(64)
    counts[:4] = 500                                   # the mass lives in 4 of 64 bins
    noisy = laplace_histogram(counts, 0.05, rng)       # noise scale 20 rows per bin
    clipped = np.maximum(noisy, 0)
    projected = norm_sub(noisy)
    assert clipped[4:].sum() / clipped.sum() > 0.2     # clipping spreads a fifth of the mass over empty bins
    assert projected[4:].sum() / projected.sum() < 0.1
