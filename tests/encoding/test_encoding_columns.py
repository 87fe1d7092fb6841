"""Per-column encoders: codes, normal scores, spikes, the tail of a categorical column."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import ndtr, ndtri

from synthaug.encoding import CategoricalColumn, NumericColumn


# ---------------------------------------------------------------------------- numeric
def _spiky(n=1000, seed=0):
    rng = np.random.default_rng(seed)
    x = np.round(rng.normal(50.0, 10.0, n), 1)
    x[rng.random(n) < 0.3] = 0.0
    x[rng.random(n) < 0.1] = np.nan
    return x


def test_frequent_values_become_modes_and_missing_is_the_last_mode():
    x = _spiky()
    col = NumericColumn().fit(x)
    np.testing.assert_array_equal(col.spikes_, [0.0])
    assert col.has_continuous and col.has_missing_
    assert col.n_levels == 3 and col.level_labels() == ["<continuous>", 0.0, "<missing>"]
    codes, z = col.encode(x)
    np.testing.assert_array_equal(codes[x == 0], 1)
    np.testing.assert_array_equal(codes[np.isnan(x)], col.missing_code)
    np.testing.assert_array_equal(codes[(x != 0) & ~np.isnan(x)], col.CONTINUOUS)
    np.testing.assert_array_equal(z[codes != col.CONTINUOUS], 0.0)   # no score off the continuous mode
    assert col.missing_rate_ == pytest.approx(np.isnan(x).mean())


def test_a_column_without_spikes_or_missing_has_no_code():
    col = NumericColumn().fit(np.random.default_rng(0).normal(size=500))
    assert col.n_levels == 0 and col.missing_code is None
    codes, z = col.encode(np.array([0.1, -0.2]))
    assert codes is None and z.shape == (2,)


def test_a_column_of_few_values_is_encoded_as_levels():
    x = np.repeat([1.0, 2.0, 5.0, np.nan], [500, 300, 150, 50])
    col = NumericColumn(numeric_levels=10).fit(x)
    assert not col.has_continuous and col.has_missing_
    np.testing.assert_array_equal(col.spikes_, [1.0, 2.0, 5.0])
    assert col.level_labels() == [1.0, 2.0, 5.0, "<missing>"]
    codes, z = col.encode(x)
    assert z is None
    np.testing.assert_array_equal(col.decode(codes, None), x)
    # by default (numeric_levels=0), or with fewer levels than values: one continuous mode
    for params in ({}, {"numeric_levels": 2}):
        assert NumericColumn(**params).fit(x).has_continuous, params


def test_a_rare_value_among_few_keeps_the_column_continuous():
    x = np.r_[np.zeros(500), np.ones(499), 7.0]
    col = NumericColumn(numeric_levels=10).fit(x, sample=np.arange(999))     # the sample misses the lone 7
    assert col.has_continuous and col.spikes_.size == 0     # the lone 7 is no level: the column stays a score
    codes, z = col.encode(x)
    np.testing.assert_array_equal(col.decode(codes, z), x)
    # counted on every row: with the 7 in 60 rows, the three values are levels
    x = np.r_[np.zeros(500), np.ones(440), np.full(60, 7.0)]
    col = NumericColumn(numeric_levels=10).fit(x, sample=np.arange(940))     # (the sample holds no 7)
    np.testing.assert_array_equal(col.spikes_, [0.0, 1.0, 7.0])
    assert not col.has_continuous


@pytest.mark.parametrize("counts", [[30, 30, 30], [5, 500, 495]])
def test_values_in_few_rows_are_no_levels(counts):
    """Each value must hold 50 rows (``level_min_rows``) and 2 % of them (``spike_threshold``)."""
    x = np.repeat([1.0, 2.0, 3.0], counts)
    assert NumericColumn(numeric_levels=10).fit(x).has_continuous
    assert not NumericColumn(numeric_levels=10, level_min_rows=5, spike_threshold=0.005).fit(x).has_continuous


def test_a_value_outside_the_levels_is_refused_naming_them():
    col = NumericColumn(numeric_levels=10).fit(np.repeat([1.0, 2.0, 3.0], 60))
    with pytest.raises(ValueError, match=r"'rating': value 2.5 was not seen.*\[1.0, 2.0, 3.0\]"):
        col.encode(np.array([2.0, 2.5]), name="rating")


def test_a_constant_column_is_not_made_a_level():
    col = NumericColumn(numeric_levels=10).fit(np.full(30, 4.0))
    assert col.has_continuous and col.n_levels == 0


def test_all_missing_column_has_a_single_missing_mode():
    # Regression: fitting an all-NaN column raised "zero-size array to reduction operation".
    col = NumericColumn().fit(np.full(20, np.nan))
    assert not col.has_continuous and col.n_levels == 1 and col.missing_code == 0
    assert np.isnan(col.min_) and np.isnan(col.max_)
    codes, z = col.encode(np.full(4, np.nan))
    np.testing.assert_array_equal(codes, 0)
    assert z is None
    assert np.isnan(col.decode(codes, None)).all()


def test_scores_are_standard_normal_on_training_data():
    x = np.random.default_rng(1).lognormal(size=20_000)
    col = NumericColumn(n_knots=200).fit(x)
    _, z = col.encode(x)
    assert abs(z.mean()) < 0.02 and z.std() == pytest.approx(1.0, abs=0.02)


@pytest.mark.parametrize("n_distinct", [5, 3000])
def test_uniform_positions_invert(n_distinct):
    rng = np.random.default_rng(2)
    x = rng.choice(rng.normal(size=n_distinct), 5000)
    col = NumericColumn(n_knots=1000, numeric_levels=0).fit(x)
    assert col.exact_ == (n_distinct <= 1000)
    values = np.unique(x)
    u = col.to_uniform(values)
    assert ((u > 0) & (u < 1)).all()
    np.testing.assert_allclose(col.from_uniform(u), values, rtol=1e-12)
    # dequantised positions decode to the same values
    np.testing.assert_allclose(col.from_uniform(col.to_uniform(values, rng=rng)), values, rtol=1e-12)


def test_dequantisation_spreads_ties_inside_their_step():
    x = np.repeat([1.0, 2.0, 3.0], [200, 600, 200])
    col = NumericColumn(spike_threshold=1.0, numeric_levels=0).fit(x)     # no spikes: one continuous mode
    u = col.to_uniform(x, rng=np.random.default_rng(0))
    for value, lo, hi in [(1.0, 0.0, 0.2), (2.0, 0.2, 0.8), (3.0, 0.8, 1.0)]:
        inside = u[x == value]
        assert inside.min() > lo and inside.max() < hi
        assert inside.max() - inside.min() > 0.9 * (hi - lo)   # spread over the step, not a point
    assert np.unique(col.to_uniform(x)).size == 3                 # without rng: the midpoints


@pytest.mark.parametrize("n_distinct", [40, 3000])
@settings(max_examples=30, deadline=None)
@given(bounds=st.tuples(st.floats(-3, 3), st.floats(-3, 3)).map(sorted))
def test_z_bounds_hold_the_interval(n_distinct, bounds):
    """Any score inside ``z_bounds(low, high)`` decodes into ``[low, high]``."""
    low, high = bounds
    rng = np.random.default_rng(3)
    x = rng.choice(rng.normal(size=n_distinct), 4000)
    col = NumericColumn().fit(x)
    zb = col.z_bounds(low, high)
    inside = x[(x >= low) & (x <= high)]
    if zb is None:
        assert inside.size == 0
        return
    values = col.from_uniform(ndtr(np.linspace(zb[0], zb[1], 201)))
    tol = 1e-9 * max(1.0, abs(low), abs(high))
    assert values.min() >= low - tol and values.max() <= high + tol


def test_z_bounds_is_none_outside_the_training_values():
    col = NumericColumn(numeric_levels=0).fit(np.arange(10.0))
    assert col.z_bounds(20.0, 30.0) is None
    assert col.z_bounds(3.2, 3.8) is None          # between two training values
    lo, hi = col.z_bounds(3.0, 3.0)
    assert lo < hi


def test_decoding_clips_extreme_scores_to_the_bounds():
    x = np.random.default_rng(4).gamma(2.0, 3.0, 5000)
    col = NumericColumn(n_knots=100).fit(x)
    out = col.decode(None, np.array([-1e3, -40.0, 40.0, 1e3, np.inf, -np.inf]))
    np.testing.assert_array_equal(out, [x.min(), x.min(), x.max(), x.max(), x.max(), x.min()])


def test_integral_and_step_grids_are_respected_when_interpolating():
    rng = np.random.default_rng(5)
    ints = rng.integers(0, 100_000, 5000).astype(float)
    money = np.round(rng.gamma(2, 100, 5000), 2)
    z = rng.normal(size=2000) * 2
    out = NumericColumn(n_knots=100, integral=True).fit(ints).decode(None, z)
    np.testing.assert_array_equal(out, np.round(out))
    out = NumericColumn(n_knots=100, step=0.01).fit(money).decode(None, z)
    # on the float nearest each decimal, as parsing "12.34" gives
    np.testing.assert_array_equal(out, np.array([float(f"{v:.2f}") for v in out]))


def test_unseen_value_and_unexpected_missing_raise():
    col = NumericColumn().fit(np.array([0.0] * 50 + list(range(1, 51))))
    with pytest.raises(ValueError, match="'amount'.*missing"):
        col.encode(np.array([1.0, np.nan]), name="amount")
    spikes_only = NumericColumn(spike_ratio=0.1).fit(np.array([0.0, 1.0] * 50))
    assert not spikes_only.has_continuous
    with pytest.raises(ValueError, match="'flag'.*0.5"):
        spikes_only.encode(np.array([0.5]), name="flag")


def test_subsample_fit_keeps_full_bounds_missing_rate_and_value_set():
    rng = np.random.default_rng(6)
    x = rng.geometric(0.02, 10_000).astype(float)
    x[123] = np.nan
    x[456] = 10_000.0                                  # a far outlier, rarely in a sample
    sample = np.sort(rng.choice(10_000, 200, replace=False))
    sample = sample[(sample != 123) & (sample != 456)]
    col = NumericColumn().fit(x, sample=sample)
    assert col.has_missing_ and col.missing_rate_ == pytest.approx(1e-4)
    assert col.max_ == 10_000.0
    codes, z = col.encode(x)
    out = col.decode(codes, z.astype(np.float32))
    np.testing.assert_array_equal(out, x)


# ------------------------------------------------------------------------ categorical
def test_levels_are_sorted_and_missing_is_the_last_code():
    s = pd.Series(["b", "a", None, "c", "a"])
    col = CategoricalColumn().fit(s)
    assert list(col.levels_) == ["a", "b", "c"]
    assert col.n_levels == 4 and col.missing_code == 3 and col.other_code is None
    assert col.level_labels() == ["a", "b", "c", "<missing>"]
    np.testing.assert_array_equal(col.codes_for(s), [1, 0, 3, 2, 0])
    out = col.decode(np.array([0, 1, 2, 3]), rng=np.random.default_rng(0))
    assert list(out) == ["a", "b", "c", None]


def test_unsortable_levels_keep_frequency_order():
    s = pd.Series([1, "x", "x", 2.5, "x", 1], dtype=object)
    col = CategoricalColumn().fit(s)
    assert list(col.levels_) == ["x", 1, 2.5]
    np.testing.assert_array_equal(col.codes_for(s), [1, 0, 0, 2, 0, 1])


def test_rare_levels_share_the_other_code():
    s = pd.Series(list("aaaabbbcc") + ["d", "e", "f"])
    col = CategoricalColumn(max_levels=2).fit(s)
    assert list(col.levels_) == ["a", "b"] and col.has_other_ and col.other_code == 2
    assert set(col.tail_levels_) == {"c", "d", "e", "f"}
    np.testing.assert_allclose(col.tail_probs_[list(col.tail_levels_).index("c")], 2 / 5)
    np.testing.assert_array_equal(col.codes_for(pd.Series(["a", "f", "c"])), [0, 2, 2])
    out = col.decode(np.full(5000, 2), rng=np.random.default_rng(0))
    assert set(out) == {"c", "d", "e", "f"}
    assert (out == "c").mean() == pytest.approx(0.4, abs=0.03)


def test_min_count_moves_rare_levels_to_the_tail():
    s = pd.Series(list("aaaabbbc") + ["d"])
    col = CategoricalColumn(max_levels=3, min_count=2).fit(s)
    assert list(col.levels_) == ["a", "b"]


def test_unseen_level_raises_naming_the_column():
    col = CategoricalColumn().fit(pd.Series(["a", "b"]))
    with pytest.raises(ValueError, match="'city'.*'z'"):
        col.codes_for(pd.Series(["a", "z"]), name="city")
    with pytest.raises(ValueError, match="'city' had no missing"):
        col.codes_for(pd.Series(["a", None]), name="city")


def test_codes_accept_plain_lists_and_categoricals():
    col = CategoricalColumn().fit(pd.Series(pd.Categorical(["lo", "hi", "lo"], categories=["lo", "hi"])))
    np.testing.assert_array_equal(col.codes_for(["hi", "lo"]), [0, 1])
    np.testing.assert_array_equal(col.codes_for(pd.Series(pd.Categorical(["hi"]))), [0])


def test_score_bound_constant_matches_the_cdf_margin():
    from synthaug.encoding.columns import _U_EPS, _Z_MAX
    assert _Z_MAX == pytest.approx(-ndtri(_U_EPS))


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), n_knots=st.integers(2, 60), ties=st.booleans())
def test_knot_decoding_equals_np_interp(seed, n_knots, ties):
    # the grid lookup that replaces np.interp when decoding must give the same values, ties removed or not
    rng = np.random.default_rng(seed)
    values = rng.lognormal(size=500)
    if ties:
        values[: 150] = np.round(values[: 150], 1)
    col = NumericColumn(n_knots=n_knots, spike_threshold=1.0).fit(values)
    assert not col.exact_
    u = np.concatenate([[0.0, 1.0, 0.5], rng.random(1000), np.linspace(0, 1, n_knots)])
    np.testing.assert_allclose(col._interp_knots(u), np.interp(u, col.knot_probs_, col.knots_), rtol=1e-13, atol=0)
    refit = NumericColumn(n_knots=n_knots, spike_threshold=1.0).fit(values)
    refit._interp_knots(u)
    refit.fit(values * 3 + 1)                        # a refit must not reuse the old lookup
    np.testing.assert_allclose(refit._interp_knots(u), np.interp(u, refit.knot_probs_, refit.knots_),
                               rtol=1e-13, atol=0)


def test_a_spike_inside_the_continuous_range_has_a_score_there():
    rng = np.random.default_rng(0)
    x = np.round(rng.uniform(0.0, 100.0, 2000), 3)
    x[:300], x[300:500], x[500:560] = 0.0, 40.0, 99.9   # below all, inside, above 99.9 % of the rest
    col = NumericColumn().fit(x)
    np.testing.assert_array_equal(col.spikes_, [0.0, 40.0, 99.9])
    scores = col.spike_scores()
    assert scores.shape == (col.n_levels,) and np.isnan(scores[col.CONTINUOUS])
    rest = x[~np.isin(x, [0.0, 40.0, 99.9])]
    assert scores[2] == pytest.approx(ndtri((rest < 40.0).mean()), abs=0.05)   # 40's place among the rest
    assert np.isnan(scores[1]) and np.isnan(scores[3])    # at an end: another mode, not a place on the scale
    assert np.isnan(NumericColumn().fit(np.r_[x, np.nan]).spike_scores()[-1])   # nor the missing mode
    values = np.arange(1.0, 21.0)
    exact = NumericColumn().fit(np.repeat(values, np.where(values == 10.0, 600, 50)))   # a step CDF
    assert exact.exact_ and list(exact.spikes_) == [10.0]
    assert exact.spike_scores()[1] == pytest.approx(ndtri(9 / 19))       # 9 of the 19 other values below 10
