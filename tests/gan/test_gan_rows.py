"""Training-by-sampling and mode coverage."""

import warnings

import numpy as np
import pandas as pd
import pytest
import torch

from synthaug import GANSampler
from synthaug.gan import ConditionalRowSampler, ModeCollapseWarning, ModeCoverage, warn_if_collapsed


def test_rows_follow_log_frequency_and_hold_their_level():
    rng = np.random.default_rng(0)
    codes = torch.as_tensor(np.stack([rng.choice(3, 2000, p=[0.9, 0.09, 0.01]),
                                      rng.choice(2, 2000, p=[0.5, 0.5])], axis=1))
    sampler = ConditionalRowSampler(codes, [3, 2])
    rows, blocks = sampler.sample(60_000, generator=torch.Generator().manual_seed(0))
    assert rows.min() >= 0 and rows.max() < 2000
    on_first = rows[blocks == 0]
    counts = np.bincount(codes[:, 0].numpy(), minlength=3)
    expected = np.log1p(counts) / np.log1p(counts).sum()
    got = np.bincount(codes[on_first, 0].numpy(), minlength=3) / len(on_first)
    assert np.allclose(got, expected, atol=0.01)
    assert abs(float((blocks == 0).float().mean()) - 0.5) < 0.01
    # every row of a level is reachable: draws within a level are uniform over its rows
    rare_rows = torch.nonzero(codes[:, 0] == 2).squeeze(1)
    drawn = set(on_first[codes[on_first, 0] == 2].tolist())
    assert drawn == set(rare_rows.tolist())


def test_coverage_full_on_training_data_and_low_on_collapse():
    rng = np.random.default_rng(0)
    cont = torch.as_tensor(rng.normal(size=(4000, 2)), dtype=torch.float32)
    codes = torch.as_tensor(rng.choice(4, size=(4000, 1), p=[0.4, 0.3, 0.2, 0.1]))
    cov = ModeCoverage(cont, codes, [4])
    full = cov(cont[:2000], codes[:2000])
    assert float(full["level_coverage"]) == 1.0 and float(full["mode_coverage"]) == 1.0
    collapsed = cov(torch.zeros(2000, 2), torch.zeros(2000, 1, dtype=torch.long))
    assert float(collapsed["level_coverage"]) == 0.25
    assert float(collapsed["mode_coverage"]) == pytest.approx(0.1)   # one decile of ten per column


def test_collapse_warning_names_the_cure():
    with pytest.warns(ModeCollapseWarning, match="max_steps"):
        assert warn_if_collapsed({"level_coverage": [1.0, 0.5], "mode_coverage": [1.0, 1.0]})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert not warn_if_collapsed({"level_coverage": [0.2, 1.0], "mode_coverage": [1.0, 0.95]})


def test_collapse_warning_follows_the_coverage_of_released_samples():
    # one frequent level the generator barely trained on: what decides the warning is what sample() gives
    table = pd.DataFrame({"c": ["a"] * 60 + ["b"] * 40, "x": np.linspace(0.0, 1.0, 100)})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = GANSampler(max_steps=3, random_state=0, verbose=False).fit(table)
    warned = any(issubclass(w.category, ModeCollapseWarning) for w in caught)
    assert warned == (min(model.coverage_.values()) < 0.9)
    levels = model.sample(4096, random_state=0)["c"].value_counts(normalize=True)
    assert set(levels.index) == {"a", "b"}   # anchored rows: both levels whatever the generator learnt
