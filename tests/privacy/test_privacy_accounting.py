"""The noise multiplier keeps the promise: checked against an accountant written here from the papers."""

import numpy as np
import pytest
from scipy.special import gammaln, logsumexp

from synthaug.privacy import PrivacyBudget, default_delta, noise_multiplier_for
from synthaug.privacy.accounting import epsilon_spent


def _rdp_subsampled_gaussian(q, sigma, alpha):
    """RDP of one Poisson-subsampled Gaussian step at integer order ``alpha``.

    Mironov, Talwar & Zhang (2019), Sec. 3.3: for integer α,
    A_α = Σ_k C(α, k) (1 − q)^(α−k) q^k exp((k² − k) / (2σ²)), and ε(α) = log A_α / (α − 1).
    """
    k = np.arange(alpha + 1)
    log_binom = gammaln(alpha + 1) - gammaln(k + 1) - gammaln(alpha - k + 1)
    with np.errstate(divide="ignore"):
        log_terms = log_binom + (alpha - k) * np.log1p(-q) + k * np.log(q) + (k * k - k) / (2 * sigma**2)
    return logsumexp(log_terms) / (alpha - 1)


def _independent_epsilon(q, sigma, steps, delta):
    """(ε, δ) from RDP with the conversion of Balle et al. (2020), Thm. 21, over integer orders."""
    best = np.inf
    for alpha in range(2, 257):
        rdp = steps * _rdp_subsampled_gaussian(q, sigma, alpha)
        eps = rdp + np.log1p(-1 / alpha) - (np.log(delta) + np.log(alpha)) / (alpha - 1)
        best = min(best, eps)
    return best


@pytest.mark.parametrize("epsilon, q, steps", [(1.0, 0.1, 1000), (3.0, 0.115, 1000), (10.0, 0.46, 400),
                                               (3.0, 0.01, 5000)])
def test_noise_multiplier_reaches_epsilon_within_one_percent(epsilon, q, steps):
    delta = 1e-5
    sigma = noise_multiplier_for(epsilon, delta, q, steps)
    independent = _independent_epsilon(q, sigma, steps, delta)
    assert abs(independent - epsilon) <= 0.01 * epsilon, (sigma, independent)
    # and Opacus' own accountant agrees that the budget is not exceeded
    assert 0.99 * epsilon <= epsilon_spent(sigma, delta, q, steps) <= epsilon


def test_less_budget_means_more_noise():
    sigmas = [noise_multiplier_for(e, 1e-5, 0.1, 500) for e in (0.5, 1.0, 3.0, 10.0)]
    assert sigmas == sorted(sigmas, reverse=True)


def test_default_delta_is_below_one_over_n():
    for n in (10, 1000, 10**6):
        assert 0 < default_delta(n) < 1 / n


def test_budget_split_and_basic_composition():
    budget = PrivacyBudget(3.0, 1e-5)
    assert budget.encoder_epsilon + budget.training_epsilon == pytest.approx(3.0)
    assert budget.encoder_delta + budget.training_delta == pytest.approx(1e-5)
    budget.spend("a", 0.2, 1e-6)
    budget.spend("b", 2.7, 9e-6)
    assert budget.total() == pytest.approx((2.9, 1e-5))


def test_an_unreachable_budget_is_named_and_no_order_warning_leaks():
    import warnings

    with pytest.raises(ValueError, match="ε = 1e-06.*too small for 5 steps"):
        noise_multiplier_for(1e-6, 1e-5, 1.0, 5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")           # Opacus' "Optimal order is the largest alpha" must not reach users
        sigma = noise_multiplier_for(8.0, 1e-5, 0.5, 20)
        epsilon_spent(sigma, 1e-5, 0.5, 20)
