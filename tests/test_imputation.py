"""impute(): missing cells generated given the observed ones, on both samplers."""

import numpy as np
import pandas as pd
import pytest

from synthaug import DiffusionSampler
from synthaug.datasets import load_credit

from _tiny import SAMPLERS, tiny


@pytest.fixture(scope="module", params=sorted(SAMPLERS))
def kind(request):
    return request.param


@pytest.fixture(scope="module")
def holes():
    df = load_credit().sample(300, random_state=2).reset_index(drop=True)
    df.index = df.index + 1000                          # a non-default index must survive
    rng = np.random.default_rng(0)
    return df.mask(rng.random(df.shape) < 0.25)


@pytest.fixture(scope="module")
def fitted(holes, kind):
    return tiny(kind, random_state=0).fit(holes)


def test_every_missing_cell_filled_and_observed_cells_untouched(holes, fitted):
    before = holes.copy()
    filled = fitted.impute(holes)
    pd.testing.assert_frame_equal(holes, before)        # the caller's frame is not mutated
    assert filled.notna().all().all()
    assert list(filled.columns) == list(holes.columns) and filled.index.equals(holes.index)
    assert filled.dtypes.equals(holes.dtypes)
    observed = holes.notna()
    for col in holes.columns:
        pd.testing.assert_series_equal(filled[col][observed[col]], holes[col][observed[col]])
    for col in ["Home", "Marital", "Records", "Job", "Status"]:
        assert set(filled[col]) <= set(holes[col].dropna())


def test_multiple_draws_and_reproducibility(holes, fitted):
    draws = fitted.impute(holes, n_draws=3, random_state=0)
    assert isinstance(draws, list) and len(draws) == 3
    again = fitted.impute(holes, n_draws=3, random_state=0)
    for a, b in zip(draws, again):
        pd.testing.assert_frame_equal(a, b)
    observed = holes.notna()
    assert all(d[observed].equals(draws[0][observed]) for d in draws)


def test_unseen_patterns_single_rows_and_all_missing_rows(holes, fitted):
    row = holes.iloc[[0]].copy()
    row.iloc[0, :] = np.nan                               # every cell missing: an unconditional sample
    out = fitted.impute(row)
    assert out.notna().all().all() and out.index.equals(row.index)
    complete = holes.dropna().head(5)
    pd.testing.assert_frame_equal(fitted.impute(complete), complete)   # nothing to fill


def test_column_order_is_aligned_by_name(holes, fitted):
    shuffled = holes[holes.columns[::-1]]
    out = fitted.impute(shuffled, random_state=1)
    assert list(out.columns) == list(shuffled.columns)
    pd.testing.assert_frame_equal(out[holes.columns], fitted.impute(holes, random_state=1))


@pytest.mark.parametrize("change, error, match", [
    (lambda df: df.assign(extra=1.0), ValueError, "unseen at fit.*extra"),
    (lambda df: df.drop(columns="Age"), ValueError, "missing columns.*Age"),
    (lambda df: df.assign(Age=np.nan), ValueError, "'Age'.*entirely missing"),
    (lambda df: df.assign(Income=np.inf), ValueError, "'Income'.*infinite"),
    (lambda df: df.assign(Home="castle"), ValueError, "castle"),
])
def test_bad_input_is_named(holes, fitted, change, error, match):
    with pytest.raises(error, match=match):
        fitted.impute(change(holes))


def test_bad_n_draws(holes, fitted):
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="n_draws"):
            fitted.impute(holes, n_draws=bad)


def test_ndarray_in_ndarray_out(kind):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(80, 3))
    X[rng.random(X.shape) < 0.2] = np.nan
    model = tiny(kind, random_state=0).fit(X)
    out = model.impute(X)
    assert isinstance(out, np.ndarray) and out.shape == X.shape and not np.isnan(out).any()
    assert np.array_equal(out[~np.isnan(X)], X[~np.isnan(X)])


def test_imputation_follows_the_observed_cells():
    """y = 2x + small noise: imputed y given x must track 2x, far better than the marginal."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=800)
    df = pd.DataFrame({"x": x, "y": 2 * x + 0.1 * rng.normal(size=800), "c": rng.choice(["a", "b"], 800)})
    model = DiffusionSampler(max_steps=400, batch_size=128, width=64, depth=2, n_timesteps=100,
                             random_state=0, verbose=False).fit(df)
    test = df.head(200).copy()
    truth = test["y"].copy()
    hide = np.arange(200) % 4 != 0                        # (a column missing in every row is refused)
    test.loc[hide, "y"] = np.nan
    filled = model.impute(test)
    rmse = float(np.sqrt(((filled["y"][hide] - truth[hide]) ** 2).mean()))
    assert rmse < 0.5 * truth.std()
    # multiple imputation spreads where the model is unsure: c is independent of x, y
    test_c = df.head(200).copy()
    test_c.loc[hide, "c"] = np.nan
    draws = model.impute(test_c, n_draws=5, random_state=0)
    disagree = np.mean([len(set(d["c"].iloc[i] for d in draws)) > 1 for i in np.flatnonzero(hide)])
    assert disagree > 0.5
