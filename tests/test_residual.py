"""GaussianResidual: the EM fit, the conditional moments and the residual map both samplers generate in."""

import numpy as np
import pandas as pd
import pytest
import torch

from synthaug import DiffusionSampler, GANSampler
from synthaug.encoding import Layout
from synthaug.residual import GaussianResidual

# three numeric columns, each with a block of two modes (0 = continuous, 1 = a spike or missing)
LAYOUT = Layout(3, (2, 2, 2), ((0, 0), (1, 1), (2, 2)))


def _rows(x, codes):
    """Model-space rows of LAYOUT from scores (B, 3) and mode codes (B, 3)."""
    lt = LAYOUT.tensors("cpu")
    return lt.to_model(torch.as_tensor(x, dtype=torch.float32), torch.as_tensor(codes))


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    a = rng.standard_normal(3000)
    z = np.c_[a, a + 0.05 * rng.standard_normal(3000), rng.standard_normal(3000)]
    codes = (rng.random(z.shape) < 0.2).astype(np.int64)   # 20 % of the cells unobserved
    return z, codes


@pytest.fixture(scope="module")
def fitted(data):
    z, codes = data
    return GaussianResidual(LAYOUT).fit(np.where(codes == 0, z, 0.0), codes)


def test_em_recovers_the_dependence_through_unobserved_cells(fitted):
    cov = fitted.covariance_
    corr = cov[0, 1] / np.sqrt(cov[0, 0] * cov[1, 1])
    assert corr > 0.99                     # (a mean fill would give about 0.8 × 0.999)
    assert abs(cov[0, 2]) < 0.05 and abs(fitted.mean_).max() < 0.1


def test_moments_are_the_gaussian_conditionals(fitted):
    x = _rows([[0.7, -0.3, 1.2]], [[0, 0, 0]])
    given = torch.tensor([[True, False, True] + [True, True, False, False, True, True]])   # columns 0 and 2
    mu, ratio = fitted.moments(x, given)
    cov, mean = fitted.covariance_, fitted.mean_
    o = [0, 2]
    expect = mean[1] + cov[1, o] @ np.linalg.solve(cov[np.ix_(o, o)], np.array([0.7, 1.2]) - mean[o])
    var = cov[1, 1] - cov[1, o] @ np.linalg.solve(cov[np.ix_(o, o)], cov[o, 1])
    assert float(mu[0, 1]) == pytest.approx(expect, abs=1e-5)
    assert float(ratio[0, 1]) == pytest.approx(np.sqrt(cov[1, 1] / var), rel=1e-4)


def test_nothing_known_is_the_identity(fitted):
    x = _rows(np.random.default_rng(1).standard_normal((5, 3)), np.zeros((5, 3), dtype=np.int64))
    given = torch.zeros_like(x, dtype=torch.bool)
    mu, ratio = fitted.moments(x, given)
    assert torch.equal(ratio, torch.ones_like(ratio))
    assert torch.allclose(fitted.to_residual(x, given, mu, ratio), x)


def test_a_score_outside_its_continuous_mode_is_not_known(fitted):
    """Column 0 given but at a spike: its placeholder score must not move the others' means."""
    given = torch.tensor([[True, False, False, True, True, False, False, False, False]])
    spike = _rows([[3.0, 0.0, 0.0]], [[1, 0, 0]])
    mu, ratio = fitted.moments(spike, given)
    assert float(mu[0, 1]) == pytest.approx(fitted.mean_[1], abs=1e-6) and float(ratio[0, 1]) == 1.0
    cont = _rows([[3.0, 0.0, 0.0]], [[0, 0, 0]])
    assert float(fitted.moments(cont, given)[0][0, 1]) > 2.5


def test_round_trip_and_given_cells_untouched(fitted):
    rng = np.random.default_rng(2)
    x = _rows(rng.standard_normal((64, 3)), np.zeros((64, 3), dtype=np.int64))
    given = torch.as_tensor(rng.random((64, 3)) < 0.5)[:, LAYOUT.tensors("cpu").dim_to_column]
    mu, ratio = fitted.moments(x, given)
    y = fitted.to_residual(x, given, mu, ratio)
    assert torch.equal(y[given], x[given])
    assert torch.allclose(fitted.from_residual(y, given, mu, ratio), x[:, :3], atol=1e-5)


def test_bounds_map_with_the_scores(fitted):
    rng = np.random.default_rng(3)
    x = _rows(rng.standard_normal((200, 3)), np.zeros((200, 3), dtype=np.int64))
    given = torch.zeros_like(x, dtype=torch.bool)
    given[:, [0, 3, 4]] = True                                  # column 0 given
    mu, ratio = fitted.moments(x, given)
    low, high = torch.tensor([-np.inf, -0.5, 0.0]), torch.tensor([np.inf, 0.5, np.inf])
    y_low, y_high = (b[..., 0] for b in fitted.transform_bounds(low[:, None], high[:, None], mu, ratio))
    y = fitted.to_residual(x, given, mu, ratio)[:, :3]
    inside = (x[:, :3] >= low) & (x[:, :3] <= high)
    assert torch.equal(inside[:, 1:], ((y >= y_low) & (y <= y_high))[:, 1:])


def test_subsample_is_fixed(data):
    z, codes = data
    a = GaussianResidual(LAYOUT, max_rows=500).fit(z, codes)
    b = GaussianResidual(LAYOUT, max_rows=500).fit(z, codes)
    assert np.array_equal(a.covariance_, b.covariance_)


def test_modes_of_numeric_columns_get_no_prediction(fitted):
    x, nothing = _rows([[0.0, 0.0, 0.0]], [[0, 0, 0]]), torch.zeros(1, 9, dtype=torch.bool)
    assert fitted.n_features == 0 and fitted.moments(x, nothing, features=True)[2].shape == (1, 0)


def test_a_spike_with_a_score_is_known_there():
    """A spike placed on its column's scale (``level_scores``) is an observed score: when given, and in the fit."""
    rng = np.random.default_rng(4)
    a = rng.standard_normal(4000)
    z = np.c_[a, a + 0.05 * rng.standard_normal(4000), rng.standard_normal(4000)]
    codes = np.zeros(z.shape, dtype=np.int64)
    codes[np.abs(a - 1.0) < 0.1, 0] = 1                    # column 0's spike: values near score 1.0, rounded to it
    level_scores = np.full(LAYOUT.width, np.nan)
    level_scores[LAYOUT.offsets[0] + 1] = 1.0
    res = GaussianResidual(LAYOUT, level_scores=level_scores).fit(np.where(codes == 0, z, 0.0), codes)
    given = torch.tensor([[True, False, False, True, True, False, False, False, False]])   # column 0
    spike = _rows([[0.0, 0.0, 0.0]], [[1, 0, 0]])                                           # at its spike
    assert bool(res.known(spike, given)[0, 0])
    assert float(res.moments(spike, given)[0][0, 1]) == pytest.approx(1.0, abs=0.05)      # read at 1.0
    without = GaussianResidual(LAYOUT).fit(np.where(codes == 0, z, 0.0), codes)
    assert not bool(without.known(spike, given)[0, 0])                                     # a placeholder
    assert res.n_features == 0                              # the modes of numeric columns get no prediction
    # in the fit: column 2 depends on nothing, so only its spike's score can tell EM where those rows are
    codes[:, 0] = 0
    codes[np.abs(z[:, 2] - 1.0) < 0.1, 2] = 1
    level_scores = np.full(LAYOUT.width, np.nan)
    level_scores[LAYOUT.offsets[2] + 1] = 1.0
    placed = GaussianResidual(LAYOUT, level_scores=level_scores).fit(np.where(codes == 0, z, 0.0), codes)
    unplaced = GaussianResidual(LAYOUT).fit(np.where(codes == 0, z, 0.0), codes)
    assert abs(placed.mean_[2] - z[:, 2].mean()) < 0.01 < z[:, 2].mean() - unplaced.mean_[2]


def test_categorical_levels_are_predicted_from_the_known_scores():
    layout = Layout(2, (3,), ((0, None), (1, None), (None, 0)))     # two numeric columns and a 3-level category
    rng = np.random.default_rng(0)
    z = rng.standard_normal((4000, 2))
    level = np.digitize(z[:, 0], [-0.5, 0.5])                       # the category follows column 0
    res = GaussianResidual(layout).fit(z, level[:, None])
    assert list(res.feature_dims_) == [2, 3, 4]
    freq = np.bincount(level) / len(level)
    np.testing.assert_allclose(res.prior_features(1, "cpu")[0].exp().numpy(), freq, rtol=1e-5)
    lt = layout.tensors("cpu")
    x = lt.to_model(torch.tensor([[2.0, 0.0], [-2.0, 0.0], [2.0, 0.0]]), torch.tensor([[0], [0], [0]]))
    given = torch.tensor([[True, False, False, False, False]] * 2 + [[False, True, False, False, False]])
    _, _, feats = res.moments(x, given, features=True)
    assert feats.shape == (3, 3) and bool((feats <= 0).all()) and bool((feats >= np.log(0.01) - 1e-6).all())
    assert int(feats[0].argmax()) == 2 and int(feats[1].argmax()) == 0
    # the closed form of linear discriminant analysis on the known score: Gaussian levels around their means
    # with the within-level variance, posterior ∝ π_c N(x_o; m_o + δ_co, W_oo), floored at 0.01
    o = [0]
    delta = res.level_means_[o]                                    # (1, 3)
    within = res.covariance_[0, 0] - (delta[0] ** 2 * freq).sum()
    np.testing.assert_allclose(res.within_covariances_[0, 0, 0], within, rtol=1e-6)
    log_post = np.log(freq) - (2.0 - res.mean_[0] - delta[0]) ** 2 / (2 * within)
    expect = np.maximum(np.exp(log_post - np.logaddexp.reduce(log_post)), 0.01)
    np.testing.assert_allclose(feats[0].exp().numpy(), expect, rtol=1e-5)
    # the level means are those of the scores of each level's rows
    np.testing.assert_allclose(delta[0], [z[level == c, 0].mean() - z[:, 0].mean() for c in range(3)], atol=1e-6)
    # only column 1 (independent of the category) known: the prediction stays near the frequencies
    np.testing.assert_allclose(feats[2].exp().numpy(), freq, atol=0.05)
    # the score moments are those without features
    mu, ratio = res.moments(x, given)
    torch.testing.assert_close(res.moments(x, given, features=True)[:2], (mu, ratio))


def test_level_posteriors_marginalise_the_unknown_scores():
    """Each row's posterior uses only its known scores' block of the within-level covariance."""
    layout = Layout(3, (2, 2), ((0, None), (1, None), (2, None), (None, 0), (None, 1)))   # two 2-level columns
    rng = np.random.default_rng(1)
    levels = rng.integers(0, 2, size=(3000, 2))
    z = rng.standard_normal((3000, 3)) @ np.array([[1, 0.5, 0.2], [0, 1, 0.3], [0, 0, 1]])
    z += levels @ np.array([[1.0, -0.5, 0.0], [0.0, 0.8, 0.6]])                      # each column shifts the scores
    res = GaussianResidual(layout).fit(z, levels)
    x = layout.tensors("cpu").to_model(torch.as_tensor(z[:4], dtype=torch.float32), torch.as_tensor(levels[:4]))
    given = torch.zeros((4, layout.width), dtype=torch.bool)
    subsets = [[0], [1, 2], [0, 1, 2], [2]]
    for i, o in enumerate(subsets):
        given[i, o] = True
    feats = res.moments(x, given, features=True)[2].numpy()
    freq = (res.feature_mean_ + 1) / 2
    for i, o in enumerate(subsets):
        for j, (a, b) in enumerate(zip(res.feature_columns_[:-1], res.feature_columns_[1:])):
            w_oo = res.within_covariances_[j][np.ix_(o, o)]
            dev = z[i, o].astype(np.float32) - res.mean_[o]
            log_post = [np.log(freq[c]) - 0.5 * (dev - res.level_means_[o, c]) @ np.linalg.solve(
                w_oo, dev - res.level_means_[o, c]) for c in range(a, b)]
            expect = np.maximum(np.exp(log_post - np.logaddexp.reduce(log_post)), 0.01)
            np.testing.assert_allclose(np.exp(feats[i, a:b]), expect, rtol=1e-4, atol=1e-6)


def test_shrinkage_is_chosen_by_held_out_likelihood():
    """Correlations the levels are told apart by are kept; many noisy ones from few rows are shrunk."""
    rng = np.random.default_rng(2)
    # two scores almost equal within a level, the levels apart only in their difference: shrinking hides it
    n = 2000
    level = rng.integers(0, 2, n)
    common = rng.standard_normal(n)
    z = np.c_[common + 0.05 * level + 0.02 * rng.standard_normal(n), common - 0.05 * level]
    layout = Layout(2, (2,), ((0, None), (1, None), (None, 0)))
    res = GaussianResidual(layout).fit(z, level[:, None])
    assert res.shrinkages_.tolist() == [0.0]
    # forty independent scores, a small shift in each, sixty rows: the full within covariance overfits
    d, n = 40, 60
    level = np.arange(n) % 2
    z = rng.standard_normal((n, d)) + 0.3 * level[:, None]
    layout = Layout(d, (2,), tuple((j, None) for j in range(d)) + ((None, 0),))
    res = GaussianResidual(layout).fit(z, level[:, None])
    assert res.shrinkages_[0] >= 0.3
    # a fixed shrinkage scales the within-level correlations and keeps the variances
    full = GaussianResidual(layout, shrinkage=0.0).fit(z, level[:, None]).within_covariances_[0]
    half = GaussianResidual(layout, shrinkage=0.5).fit(z, level[:, None]).within_covariances_[0]
    np.testing.assert_allclose(np.diag(half), np.diag(full))
    off = ~np.eye(d, dtype=bool)
    np.testing.assert_allclose(half[off], 0.5 * full[off])


# ------------------------------------------------------------------ in the sampler
@pytest.fixture(scope="module")
def linear_table():
    rng = np.random.default_rng(0)
    x = rng.lognormal(size=600)
    return pd.DataFrame({"x": x, "y": 3 * x + 0.01 * rng.normal(size=600), "c": rng.choice(["a", "b"], 600)})


def _brief(kind, **params):
    """A briefly trained sampler of ``kind`` on a small network."""
    if kind == "diffusion":
        return DiffusionSampler(**{"max_steps": 100, "batch_size": 64, "width": 16, "depth": 1, "n_timesteps": 50,
                                   "random_state": 0, "verbose": False, **params})
    return GANSampler(**{"max_steps": 100, "batch_size": 64, "width": 16, "critic_width": 16, "random_state": 0,
                         "verbose": False, **params})


@pytest.mark.parametrize("kind", ["diffusion", "gan"])
def test_a_near_linear_column_is_imputed_almost_exactly(linear_table, kind):
    """Even a briefly trained model gets the linear part exactly: it only generates the residual."""
    model = _brief(kind).fit(linear_table)
    assert model.residual_ is not None
    test = linear_table.head(100).copy()
    truth = test["y"].copy()
    test.loc[::2, "y"] = np.nan
    filled = model.impute(test)
    rmse = float(np.sqrt(((filled["y"] - truth) ** 2).mean()))
    assert rmse < 0.05 * truth.std()
    # and conditional sampling: y given x follows the line, whatever the training length
    x0 = float(linear_table["x"].median())
    out = model.sample(200, conditions={"x": x0}, random_state=0)
    assert float((out["y"] - 3 * x0).abs().median()) < 0.1 * truth.std()


def test_a_category_set_by_many_numbers_is_imputed_after_brief_training():
    """The Gaussian's prediction of the level starts the logits: a sum of ten columns decides the category."""
    rng = np.random.default_rng(0)
    z = rng.standard_normal((800, 10))
    table = pd.DataFrame(z, columns=[f"x{j}" for j in range(10)])
    table["c"] = np.where(z.sum(1) + 0.3 * rng.standard_normal(800) > 0, "yes", "no")
    model = DiffusionSampler(max_steps=60, batch_size=128, width=32, depth=1, n_timesteps=50, random_state=0,
                             verbose=False).fit(table)
    test = table.head(300).copy()
    test.loc[:199, "c"] = np.nan
    accuracy = float((model.impute(test)["c"].head(200) == table["c"].head(200)).mean())
    assert accuracy > 0.9


@pytest.mark.parametrize("kind", ["diffusion", "gan"])
def test_interval_conditions_hold_on_residual_scores(linear_table, kind):
    model = _brief(kind, max_steps=30).fit(linear_table)
    x0 = float(linear_table["x"].iloc[0])
    for low, high in [(3 * x0 - 0.5, 3 * x0 + 0.5), (0.0, x0)]:   # around the linear value, and far from it
        out = model.sample(300, conditions={"x": x0, "c": "a", "y": (low, high)})
        assert out["y"].between(low, high).all() and (out["x"] == x0).all() and (out["c"] == "a").all()


@pytest.mark.parametrize("kind", ["diffusion", "gan"])
@pytest.mark.parametrize("params", [{"gaussian_residual": False}, {"epsilon": 5.0}])
def test_off_without_the_option_and_under_dp(linear_table, params, kind):
    model = _brief(kind, max_steps=3, width=8, **params).fit(linear_table)
    assert model.residual_ is None
    rows = linear_table.head(10).copy()
    rows.loc[::2, "y"] = np.nan
    assert model.impute(rows)["y"].notna().all()


def test_gan_without_numeric_columns_has_no_residual():
    table = pd.DataFrame({"c": list("ab") * 20, "d": list("xyz") * 13 + ["x"]})
    assert _brief("gan", max_steps=3, width=8).fit(table).residual_ is None


def test_rows_sharing_known_scores_get_what_each_row_gets_alone():
    """The factorisations are shared by the rows with the same known scores, the means stay each row's own."""
    layout = Layout(3, (2, 2), ((0, None), (1, None), (2, None), (None, 0), (None, 1)))
    rng = np.random.default_rng(2)
    levels = rng.integers(0, 2, size=(2000, 2))
    z = rng.standard_normal((2000, 3)) @ np.array([[1, 0.6, 0.2], [0, 1, 0.4], [0, 0, 1]]) + levels @ np.ones((2, 3))
    res = GaussianResidual(layout).fit(z, levels)
    x = layout.tensors("cpu").to_model(torch.as_tensor(z[:40], dtype=torch.float32), torch.as_tensor(levels[:40]))
    given = torch.zeros((40, layout.width), dtype=torch.bool)
    given[:, :3] = torch.as_tensor(rng.random((40, 3)) < 0.5)   # at most 8 sets of known scores over 40 rows
    given[0, :3] = True
    known = given[:, :3]
    assert len(torch.unique(known, dim=0)) < 40
    shared = [t.numpy() for t in res.moments(x, given, features=True)]
    alone = [np.concatenate(parts) for parts in zip(*(
        [t.numpy() for t in res.moments(x[i: i + 1], given[i: i + 1], features=True)] for i in range(40)))]
    for a, b in zip(shared, alone):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    # the EM's summed conditional covariances, too
    mu, summed = res._conditional(x[:, :3].double(), known, torch.float64, summed=True)
    alone = [res._conditional(x[i: i + 1, :3].double(), known[i: i + 1], torch.float64, summed=True)
             for i in range(40)]
    torch.testing.assert_close(mu, torch.cat([m for m, _ in alone]))
    torch.testing.assert_close(summed, sum(c for _, c in alone))


@pytest.mark.parametrize("shared", [False, True])
def test_conditional_moments_are_the_gaussian_formulas(shared):
    """Means, variances and the E-step's summed covariances against Σ_fo Σ_oo⁻¹ and Σ_ff − Σ_fo Σ_oo⁻¹ Σ_of."""
    rng = np.random.default_rng(3)
    d, n = 6, 30
    layout = Layout(d, (), tuple((j, None) for j in range(d)))
    z = rng.standard_normal((400, d)) @ rng.standard_normal((d, d)) + rng.standard_normal(d)
    res = GaussianResidual(layout).fit(z, np.zeros((400, 0), dtype=np.int64))
    x = torch.as_tensor(rng.standard_normal((n, d)))
    known = torch.as_tensor(rng.random((n, d)) < 0.5)
    if shared:   # a few sets, each held by several rows
        known = known[torch.as_tensor(rng.integers(0, 4, n))]
    known[0], known[1] = False, True   # nothing known, everything known
    mu, var = res._conditional(x, known, torch.float64)
    _, summed = res._conditional(x, known, torch.float64, summed=True)
    m, cov = res.mean_, res.covariance_
    total = np.zeros((d, d))
    for i in range(n):
        o = known[i].numpy()
        f = ~o
        gain = cov[np.ix_(f, o)] @ np.linalg.inv(cov[np.ix_(o, o)]) if o.any() else np.zeros((f.sum(), 0))
        expected = x[i].numpy().copy()
        expected[f] = m[f] + gain @ (x[i].numpy()[o] - m[o])
        conditional = np.zeros((d, d))
        conditional[np.ix_(f, f)] = cov[np.ix_(f, f)] - gain @ cov[np.ix_(o, f)]
        np.testing.assert_allclose(mu[i].numpy(), expected, atol=1e-9)
        np.testing.assert_allclose(var[i].numpy(), np.maximum(np.diag(conditional), res.ridge), atol=1e-9)
        total += conditional
    np.testing.assert_allclose(summed.numpy(), total, atol=1e-8)


@pytest.mark.parametrize("d", [5, 70])   # bits packed in one integer; rows compared whole past 62 scores
def test_known_patterns_give_each_row_its_set(d):
    from synthaug.residual import _known_patterns

    base = torch.zeros((4, d), dtype=torch.bool)
    base[torch.arange(4), torch.arange(4)] = True
    base[:, -1] = True
    known = base.repeat(5, 1)[torch.as_tensor(np.random.default_rng(d).permutation(20))]
    patterns, inverse = _known_patterns(known)
    assert len(patterns) == 4 and torch.equal(patterns.index_select(0, inverse), known)
    same, none = _known_patterns(base)   # every row its own set: the rows as they are, nothing to gather
    assert same is base and none is None
