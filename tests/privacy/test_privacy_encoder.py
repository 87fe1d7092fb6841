"""The private encoder: every statistic from DP releases, outliers and rare levels not exposed."""

import numpy as np
import pandas as pd
import pytest

from synthaug.encoding import TableEncoder


def _table(n=600, seed=0):
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "age": rng.integers(18, 70, n),
        "income": np.where(rng.random(n) < 0.1, np.nan, rng.lognormal(7, 0.5, n)),
        "debt": np.where(rng.random(n) < 0.6, 0.0, rng.gamma(2, 500, n)),
        "city": rng.choice(["a", "b", "c"], n, p=[0.5, 0.3, 0.2]),
    })


def _fit(df, seed, **kw):
    params = dict(epsilon=4.0, delta=1e-5)
    params.update(kw)
    return TableEncoder(**params).fit(df, random_state=seed)


def test_private_encoder_round_trips_and_reports_what_it_spent():
    df = _table()
    enc = _fit(df, 0)
    spent = enc.privacy_spent_
    assert sum(e for e, _, _ in spent.values()) == pytest.approx(4.0)
    assert set(enc.encoders_["city"].levels_) == {"a", "b", "c"}
    out = enc.inverse_transform(enc.transform(df, random_state=0), random_state=0)
    assert (out.dtypes == df.dtypes).all()
    assert out["age"].between(enc.encoders_["age"].min_, enc.encoders_["age"].max_).all()
    assert (out["city"] == df["city"]).all()
    assert enc.encoders_["debt"].spikes_.tolist() == [0.0]       # 60 % zeros: zero is a spike


def test_declared_bounds_and_categories_are_used_as_given():
    df = _table()
    enc = _fit(df, 0, bounds={"age": (0, 120), "income": (0, 1e5), "debt": (0, 1e5)},
               categories={"city": ["a", "b", "c", "d"]})
    assert (enc.encoders_["age"].min_, enc.encoders_["age"].max_) == (0, 120)
    assert list(enc.encoders_["city"].levels_) == ["a", "b", "c", "d"]   # "d" declared, never seen
    assert not any("bounds" in k for k in enc.privacy_spent_ if k.startswith(("age", "income", "debt")))
    with pytest.raises(ValueError, match="declared categories"):
        _fit(df, 0, categories={"city": ["a", "b"]})
    with pytest.raises(ValueError, match="bounds"):
        _fit(df, 0, bounds={"age": (5, 5)})
    with pytest.raises(ValueError, match="not in the data"):
        _fit(df, 0, bounds={"nope": (0, 1)})


def test_rare_levels_are_not_released():
    df = _table()
    df.loc[:2, "city"] = "tiny-town"          # 3 rows
    enc = _fit(df, 0)
    assert "tiny-town" not in set(enc.encoders_["city"].levels_)
    # its rows encode as <other>, which decodes to released levels only
    codes, _ = enc.encode_column("city", df["city"])
    assert (codes[:3] == enc.encoders_["city"].other_code).all()
    out = enc.inverse_transform(enc.transform(df, random_state=0), random_state=0)
    assert set(out["city"]) <= {"a", "b", "c"}


def test_too_little_budget_for_bounds_says_what_to_do():
    df = _table(n=40)
    with pytest.warns(UserWarning, match="Declare them with bounds="):
        enc = _fit(df, 0, epsilon=0.05, categories={"city": ["a", "b", "c"]})
    assert enc.encoders_["age"].min_ < enc.encoders_["age"].max_
    with pytest.raises(ValueError, match="no level is frequent enough"):   # a level set cannot be guessed
        _fit(df, 0, epsilon=0.05)


@pytest.mark.filterwarnings("ignore:Column")   # small per-column budgets: bounds guessed from the fullest bin
def test_an_outlier_row_is_not_exposed_by_the_encoder():
    """Changing one row to an extreme outlier with an unseen level: the released statistics
    cannot reveal it beyond what ε allows, while the non-private encoder exposes it always."""
    df = _table(n=400)
    outlier = df.copy()
    outlier.loc[0, ["age", "city"]] = [10**6, "secret"]
    n_runs, eps = 150, 2.0
    events = {"max_exposed": [0, 0], "level_exposed": [0, 0]}
    for seed in range(n_runs):
        for j, frame in enumerate((df, outlier)):
            enc = _fit(frame, seed, epsilon=eps)
            events["max_exposed"][j] += enc.encoders_["age"].max_ >= 10**5
            events["level_exposed"][j] += "secret" in set(enc.encoders_["city"].levels_)
    eps_col = eps / 4
    for name, (without, with_) in events.items():
        # P[E | with] <= e^eps P[E | without] + delta, with slack for 150 runs
        assert with_ <= np.exp(2 * eps_col) * without + 0.05 * n_runs, (name, without, with_)
    plain = TableEncoder().fit(outlier)
    assert plain.encoders_["age"].max_ == 10**6 and "secret" in set(plain.encoders_["city"].levels_)


def test_one_row_moves_each_noisy_statistic_by_at_most_its_sensitivity():
    """Same seed, one more row of level 'a': the noisy frequencies move by exactly one row."""
    df = _table(n=500)
    more = pd.concat([df, df.iloc[[0]].assign(city="a")], ignore_index=True)
    a, b = _fit(df, 3), _fit(more, 3)
    fa, fb = a.encoders_["city"], b.encoders_["city"]
    # same noise draws: 'b' and 'c' kept their noisy counts, so their ratio is unchanged,
    # and only 'a' grew (relative to them)
    assert fb.frequencies_["c"] / fb.frequencies_["b"] == pytest.approx(fa.frequencies_["c"] / fa.frequencies_["b"])
    assert fb.frequencies_["a"] / fb.frequencies_["b"] > fa.frequencies_["a"] / fa.frequencies_["b"]
    assert a.encoders_["age"].min_ == b.encoders_["age"].min_ and a.encoders_["age"].max_ == b.encoders_["age"].max_


@pytest.mark.parametrize("epsilon", [0.01, 0.1, 10.0])
def test_value_bins_grow_with_rows_and_budget(epsilon):
    """A bin should hold more rows than its noise scale: few bins for little budget, up to the cap."""
    from synthaug.encoding.private import _MAX_BINS, _MIN_BINS, _n_value_bins

    small, large = _n_value_bins(1_000, epsilon), _n_value_bins(100_000, epsilon)
    assert _MIN_BINS <= small <= large <= _MAX_BINS
    assert small == _MIN_BINS or 1_000 * epsilon / small >= 1.0
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"x": rng.lognormal(3, 1, 2_000), "n": rng.integers(0, 100, 2_000)})
    enc = _fit(df, 0, epsilon=epsilon, bounds={"x": (0, 5_000), "n": (0, 99)})
    x, n = enc.encoders_["x"], enc.encoders_["n"]
    bins = _n_value_bins(len(df), epsilon / 2)       # the budget is split between the two columns
    assert len(x.knots_) - 1 <= bins
    assert n.exact_ == (100 <= bins)                  # one bin per integer only when it rises above the noise
