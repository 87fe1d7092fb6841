"""Membership-inference audit with canaries (one training run per model, Steinke, Nasr & Jagielski 2023).

``M`` canary rows, each a unique public level of a ``tag`` column, are put into
the training table independently with probability 1/2. The attacker counts
each canary's level in the model's samples and guesses "in" for the ``K`` most
frequent and "out" for the ``K`` least frequent. Under ε-DP, the number of
correct guesses is at most Binomial(2K, e^ε / (1 + e^ε)) in distribution, so
more than its 99th percentile is evidence that the promise is broken. The
same audit without DP must find the canaries — otherwise it could not fail.
"""

import numpy as np
import pandas as pd
from scipy.stats import binom

from tests._tiny import tiny

M, K, N_BASE = 60, 15, 300


def _audit(kind, epsilon, seed=0):
    rng = np.random.default_rng(seed)
    base = pd.DataFrame({"tag": ["base"] * N_BASE, "x": rng.normal(0, 1, N_BASE).clip(-3, 3)})
    inside = rng.random(M) < 0.5
    levels = [f"c{i}" for i in range(M)]
    canaries = pd.DataFrame({"tag": [lv for lv, keep in zip(levels, inside) if keep], "x": 4.5})
    params = dict(random_state=seed, max_steps=400, batch_size=64, width=64, depth=2)
    params.update(dict(n_timesteps=100, sampling_steps=10) if kind == "diffusion"
                  else dict(pac=1, noise_dim=8, critic_width=64, critic_depth=2))
    if epsilon is not None:
        params.update(epsilon=epsilon, bounds={"x": (-5, 5)}, categories={"tag": ["base", *levels]})
    model = tiny(kind, **params).fit(pd.concat([base, canaries], ignore_index=True))
    counts = model.sample(20_000, random_state=0)["tag"].value_counts().reindex(levels, fill_value=0).to_numpy()
    order = np.argsort(-counts + 1e-3 * rng.random(M), kind="stable")   # ties broken at random
    return int(inside[order[:K]].sum() + (~inside[order[-K:]]).sum())


def test_audit_finds_the_canaries_without_privacy(kind):
    assert _audit(kind, None) == 2 * K


def test_audit_finds_no_more_than_epsilon_permits(kind):
    epsilon = 1.0
    correct = _audit(kind, epsilon)
    limit = binom.ppf(0.99, 2 * K, np.exp(epsilon) / (1 + np.exp(epsilon)))
    assert correct <= limit, (correct, limit)
