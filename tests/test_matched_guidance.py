"""Guidance matched to the real rows' class posterior (synthaug.matched_guidance)."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from synthaug.matched_guidance import GUIDANCE_BOUNDS, matched_guidance, picked_mean


def _candidates(seed, k=4, n=200):
    g = torch.Generator().manual_seed(seed)
    log_p = torch.log(torch.rand((k, n), generator=g).clamp(0.01, 1.0))
    base = torch.randn((k, n), generator=g)
    return base, log_p


def test_picked_mean_is_the_plain_mean_at_zero_and_rises_with_w():
    base, log_p = _candidates(0)
    flat = torch.zeros_like(base)
    assert torch.allclose(picked_mean(flat, log_p, 0.0), log_p.exp().mean(0))
    means = [float(picked_mean(base, log_p, w).mean()) for w in np.linspace(-1, 4, 11)]
    assert all(b >= a - 1e-7 for a, b in zip(means, means[1:])) and means[-1] > means[0] + 0.1


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), share=st.floats(0.0, 1.0))
def test_matched_weight_reaches_a_reachable_target(seed, share):
    base, log_p = _candidates(seed)
    groups = torch.arange(log_p.shape[1]) % 2
    low, high = (picked_mean(base, log_p, w) for w in GUIDANCE_BOUNDS)
    # a target inside each group's reachable range is met; the other group's, out of reach, gets a bound
    target0 = float(low[groups == 0].mean() + share * (high[groups == 0].mean() - low[groups == 0].mean()))
    targets = torch.tensor([target0, 1.5])
    w = matched_guidance(base, log_p, groups, targets)
    assert w[groups == 0].unique().numel() == 1 and w[groups == 1].unique().numel() == 1
    assert float(picked_mean(base, log_p, w)[groups == 0].mean()) == pytest.approx(target0, abs=1e-4)
    assert float(w[groups == 1][0]) == pytest.approx(GUIDANCE_BOUNDS[1], abs=1e-6)


def test_a_class_without_target_is_not_guided_and_inputs_are_kept():
    base, log_p = _candidates(1, n=10)
    groups = torch.tensor([0, 1] * 5)
    before = (base.clone(), log_p.clone(), groups.clone())
    w = matched_guidance(base, log_p, groups, torch.tensor([float("nan"), 0.0]))
    assert (w[groups == 0] == 0).all()
    assert float(w[groups == 1][0]) == pytest.approx(GUIDANCE_BOUNDS[0], abs=1e-6)   # below reach: lowest w
    for a, b in zip(before, (base, log_p, groups)):
        assert torch.equal(a, b)
