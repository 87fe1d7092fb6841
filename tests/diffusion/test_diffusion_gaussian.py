"""GaussianDiffusion with fake models: closed forms, oracles, inpainting, constraints."""

import math
import pickle

import numpy as np
import pytest
import torch

from synthaug.diffusion import Constraints, GaussianDiffusion, cosine_betas, linear_betas
from synthaug.diffusion.gaussian import draw_into_intervals, truncated_normal_mean
from synthaug.encoding import Layout

# column 0: a score; column 1: a score and a 3-mode block; column 2: a 2-level block
LAYOUT = Layout(n_continuous=2, cardinalities=(3, 2), column_parts=((0, None), (1, 0), (None, 1)))
LT = LAYOUT.tensors("cpu")
T = 40
SOLVERS = [("ddim", 0.0), ("ddim", 1.0), ("dpm++2m", 0.0)]


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


def _rows(n, seed=0):
    """Model-space rows from random scores and codes, and the codes."""
    g = _gen(seed)
    cont = torch.randn(n, LAYOUT.n_continuous, generator=g)
    codes = torch.stack([torch.randint(c, (n,), generator=g) for c in LAYOUT.cardinalities], dim=1)
    return LT.to_model(cont, codes), codes


def _oracle(proc, x0, *, logit=50.0):
    """ε for the continuous dims from the known x0, huge logits for the true level of each block."""
    ab = torch.as_tensor(proc.alphas_cumprod, dtype=x0.dtype)
    nc = LAYOUT.n_continuous

    def model(x_t, t, cond=None):
        a = ab[t, None]
        eps = (x_t[:, :nc] - a.sqrt() * x0[:, :nc]) / (1 - a).sqrt()
        return torch.cat([eps, logit * x0[:, nc:]], dim=1)

    return model


def _random_network(width, seed=0, scale=3.0):
    """An untrained network with non-trivial output: a fixed random map of (x_t, t, cond)."""
    g = _gen(seed)
    w = torch.randn(width, width, generator=g) / math.sqrt(width)
    b = torch.randn(width, generator=g)

    def model(x_t, t, cond=None):
        return scale * torch.tanh(x_t @ w + b + t[:, None].float() / T)

    return model


# ------------------------------------------------------------------------ construction
@pytest.mark.parametrize("betas", [[0.1, 0.0], [0.1, 1.5], [[0.1, 0.2]], [-0.1]])
def test_invalid_betas_raise(betas):
    with pytest.raises(ValueError, match="betas"):
        GaussianDiffusion(betas)


def test_process_pickles_after_use():
    proc = GaussianDiffusion(cosine_betas(T), layout=LAYOUT)
    x0, _ = _rows(4)
    t, noise = torch.tensor([0, 5, 20, 39]), torch.randn(4, LAYOUT.width, generator=_gen())
    before = proc.q_sample(x0, t, noise)                   # fills the per-device cache
    clone = pickle.loads(pickle.dumps(proc))
    torch.testing.assert_close(clone.q_sample(x0, t, noise), before)
    np.testing.assert_array_equal(clone.betas, proc.betas)


# ------------------------------------------------------------------------------ q_sample
@pytest.mark.parametrize("t", [0, 7, 20, T - 1])
def test_q_sample_moments(t):
    """x_t ~ N(√ᾱ_t·x0, (1 − ᾱ_t)·I), checked over many draws."""
    proc = GaussianDiffusion(linear_betas(T))
    n = 200_000
    x0 = torch.tensor([[2.0, -1.0, 0.0, 0.5]], dtype=torch.float64).expand(n, -1)
    noise = torch.randn(n, 4, generator=_gen(t), dtype=torch.float64)
    x_t = proc.q_sample(x0, torch.full((n,), t), noise)
    ab = proc.alphas_cumprod[t]
    se_mean = math.sqrt((1 - ab) / n)
    torch.testing.assert_close(x_t.mean(0), math.sqrt(ab) * x0[0], atol=5 * se_mean, rtol=0)
    torch.testing.assert_close(x_t.var(0), torch.full((4,), 1 - ab, dtype=torch.float64),
                               rtol=5 * math.sqrt(2 / n), atol=0)


def test_q_sample_is_the_closed_form_per_row():
    proc = GaussianDiffusion(cosine_betas(T))
    x0 = torch.randn(3, 2, generator=_gen(1), dtype=torch.float64)
    noise = torch.randn(3, 2, generator=_gen(2), dtype=torch.float64)
    t = torch.tensor([0, 17, T - 1])
    ab = torch.as_tensor(proc.alphas_cumprod[t.numpy()])[:, None]
    torch.testing.assert_close(proc.q_sample(x0, t, noise), ab.sqrt() * x0 + (1 - ab).sqrt() * noise,
                               rtol=1e-6, atol=1e-6)


# ------------------------------------------------------------------------- training loss
def test_training_loss_is_per_row_and_non_negative():
    proc = GaussianDiffusion(cosine_betas(T), layout=LAYOUT)
    x0, _ = _rows(16)
    t = torch.randint(T, (16,), generator=_gen())
    loss = proc.training_loss(_random_network(LAYOUT.width), x0, t, generator=_gen())
    assert loss.shape == (16,) and torch.isfinite(loss).all() and (loss >= 0).all()


def test_training_loss_of_a_zero_network_is_its_closed_form():
    """Zero output: ε-MSE is mean(noise²), every block's cross-entropy is log(cardinality)."""
    proc = GaussianDiffusion(cosine_betas(T), layout=LAYOUT)
    x0, _ = _rows(8)
    noise = torch.randn(8, LAYOUT.width, generator=_gen(3))
    loss = proc.training_loss(lambda x, t, c=None: torch.zeros_like(x), x0, torch.randint(T, (8,)), noise=noise)
    nc = LAYOUT.n_continuous
    expected = ((noise[:, :nc] ** 2).sum(1) + sum(math.log(k) for k in LAYOUT.cardinalities)) \
        / (nc + LAYOUT.n_discrete)
    torch.testing.assert_close(loss, expected)


def test_training_loss_of_the_oracle_is_zero():
    proc = GaussianDiffusion(cosine_betas(T), layout=LAYOUT)
    x0, _ = _rows(8)
    noise = torch.randn(8, LAYOUT.width, generator=_gen(4))

    def oracle(x_t, t, cond=None):
        return torch.cat([noise[:, : LAYOUT.n_continuous], 50.0 * x0[:, LAYOUT.n_continuous:]], 1)

    loss = proc.training_loss(oracle, x0, torch.randint(T, (8,)), noise=noise)
    torch.testing.assert_close(loss, torch.zeros(8), atol=1e-6, rtol=0)


def test_training_loss_without_layout_is_the_eps_mse():
    proc = GaussianDiffusion(linear_betas(T))
    x0 = torch.randn(5, 3, generator=_gen(5))
    noise = torch.randn(5, 3, generator=_gen(6))
    model = _random_network(3)
    t = torch.randint(T, (5,), generator=_gen())
    expected = ((model(proc.q_sample(x0, t, noise), t) - noise) ** 2).mean(1)
    torch.testing.assert_close(proc.training_loss(model, x0, t, noise=noise), expected)


def _given_columns(n, seed=0, p=0.5):
    cols = torch.rand(n, LAYOUT.n_columns, generator=_gen(seed)) < p
    return cols, cols[:, LT.dim_to_column]


def test_given_dims_are_fed_clean_and_left_out_of_the_loss():
    proc = GaussianDiffusion(cosine_betas(T), layout=LAYOUT)
    x0, _ = _rows(32)
    cols, given = _given_columns(32)
    t = torch.randint(T, (32,), generator=_gen())
    noise = torch.randn(32, LAYOUT.width, generator=_gen(7))
    seen = {}
    base = _random_network(LAYOUT.width)

    def spy(x_t, t, cond=None):
        seen["x_t"], seen["cond"] = x_t, cond
        return base(x_t, t)

    def garbage_on_given(x_t, t, cond=None):
        return torch.where(given, torch.full_like(x_t, 1e6), base(x_t, t))

    loss = proc.training_loss(spy, x0, t, given=given, cond=cols.float(), noise=noise)
    assert torch.equal(seen["x_t"][given], x0[given])
    assert torch.equal(seen["cond"], cols.float())
    torch.testing.assert_close(proc.training_loss(garbage_on_given, x0, t, given=given, noise=noise), loss)


def test_loss_of_a_row_is_the_mean_over_its_free_items():
    proc = GaussianDiffusion(cosine_betas(T), layout=LAYOUT)
    x0, _ = _rows(64)
    cols, given = _given_columns(64, seed=1)
    noise = torch.randn(64, LAYOUT.width, generator=_gen(8))
    loss = proc.training_loss(lambda x, t, c=None: torch.zeros_like(x), x0, torch.randint(T, (64,)),
                              given=given, noise=noise)
    nc = LAYOUT.n_continuous
    free_c = ~given[:, :nc]
    free_b = ~given[:, LT.offsets]
    log_k = torch.log(torch.tensor(LAYOUT.cardinalities, dtype=torch.float32))
    total = (noise[:, :nc] ** 2 * free_c).sum(1) + (log_k * free_b).sum(1)
    count = free_c.sum(1) + free_b.sum(1)
    torch.testing.assert_close(loss, total / count.clamp(min=1))
    assert (loss[count == 0] == 0).all()


@pytest.mark.parametrize("value", [float("inf"), float("nan")])
def test_non_finite_output_on_given_dims_does_not_reach_the_loss(value):
    proc = GaussianDiffusion(cosine_betas(T), layout=LAYOUT)
    x0, _ = _rows(8)
    cols, given = _given_columns(8, seed=2)
    noise = torch.randn(8, LAYOUT.width, generator=_gen(9))
    zero = lambda x, t, c=None: torch.zeros_like(x)   # noqa: E731
    bad = lambda x, t, c=None: torch.where(given, torch.full_like(x, value), torch.zeros_like(x))  # noqa: E731
    t = torch.randint(T, (8,))
    torch.testing.assert_close(proc.training_loss(bad, x0, t, given=given, noise=noise),
                               proc.training_loss(zero, x0, t, given=given, noise=noise))


# ------------------------------------------------------------------------------ sampling
@pytest.mark.parametrize("steps", [T, 10, 2])
@pytest.mark.parametrize("betas", [cosine_betas(T), linear_betas(T)])
def test_ddim_with_oracle_eps_returns_x0(betas, steps):
    g = _gen()
    proc = GaussianDiffusion(betas)
    x0 = torch.randn(64, 3, generator=g)
    ab = torch.as_tensor(proc.alphas_cumprod)
    oracle = lambda x_t, t, cond=None: ((x_t - ab[t, None].sqrt() * x0) / (1 - ab[t, None]).sqrt()).float()  # noqa: E731
    out, codes = proc.ddim_sample(oracle, torch.randn(64, 3, generator=g), steps=steps)
    assert codes is None and out.dtype == torch.float32
    torch.testing.assert_close(out, x0)


def test_ddim_with_oracle_eps_returns_x0_in_float64():
    g = _gen()
    proc = GaussianDiffusion(cosine_betas(50))
    x0 = torch.randn(64, 3, generator=g, dtype=torch.float64)
    ab = torch.from_numpy(proc.alphas_cumprod)
    oracle = lambda x_t, t, cond=None: (x_t - ab[t, None].sqrt() * x0) / (1 - ab[t, None]).sqrt()  # noqa: E731
    out, _ = proc.ddim_sample(oracle, torch.randn(64, 3, generator=g, dtype=torch.float64), steps=10)
    assert out.dtype == torch.float64
    torch.testing.assert_close(out, x0)


@pytest.mark.parametrize("solver, eta", SOLVERS)
def test_sampling_with_an_oracle_returns_the_right_codes(solver, eta):
    proc = GaussianDiffusion(cosine_betas(T), layout=LAYOUT)
    x0, codes = _rows(128)
    out, got = proc.sample(_oracle(proc, x0), torch.randn(128, LAYOUT.width, generator=_gen(1)),
                           steps=8, solver=solver, eta=eta, generator=_gen(2))
    assert torch.equal(got, codes)
    torch.testing.assert_close(out, x0)                     # blocks exactly ±1, scores recovered


def test_ddim_output_blocks_are_one_hot_and_match_the_codes():
    proc = GaussianDiffusion(cosine_betas(T), layout=LAYOUT)
    out, codes = proc.ddim_sample(_random_network(LAYOUT.width), torch.randn(50, LAYOUT.width, generator=_gen()),
                                  steps=5, generator=_gen(1))
    assert codes.shape == (50, LAYOUT.n_discrete) and codes.dtype == torch.long
    assert (codes < torch.tensor(LAYOUT.cardinalities)).all()
    torch.testing.assert_close(out[:, LAYOUT.n_continuous:], LT.to_model(out[:, :2], codes)[:, 2:])


@pytest.mark.parametrize("solver, eta", SOLVERS)
def test_returned_probabilities_are_the_last_steps_and_the_codes_were_drawn_from_them(solver, eta):
    proc = GaussianDiffusion(cosine_betas(T), layout=LAYOUT)
    allowed = torch.ones(LAYOUT.width, dtype=torch.bool)
    allowed[2 + 1] = False                                    # level 1 of the first block is forbidden
    args = (_random_network(LAYOUT.width), torch.randn(200, LAYOUT.width, generator=_gen()))
    kwargs = dict(steps=5, solver=solver, eta=eta, constraints=Constraints(allowed=allowed))
    out, codes, probs = proc.sample(*args, **kwargs, generator=_gen(1), return_probs=True)
    plain_out, plain_codes = proc.sample(*args, **kwargs, generator=_gen(1))
    assert torch.equal(codes, plain_codes) and torch.equal(out, plain_out)    # the same draw, probabilities added
    assert probs.shape == (200, LAYOUT.width - LAYOUT.n_continuous)
    torch.testing.assert_close(probs[:, :3].sum(1), torch.ones(200))
    torch.testing.assert_close(probs[:, 3:].sum(1), torch.ones(200))
    assert (probs[:, 1] == 0).all()
    drawn = probs.gather(1, codes + torch.as_tensor(LAYOUT.offsets - LAYOUT.n_continuous))
    assert (drawn > 0).all()


@pytest.mark.parametrize("solver, eta", SOLVERS)
def test_given_dims_are_returned_exactly(solver, eta):
    """Inpainting: given cells (scores and codes) come back untouched, whatever the network."""
    proc = GaussianDiffusion(cosine_betas(T), layout=LAYOUT)
    x_given, given_codes = _rows(64, seed=3)
    cols, given = _given_columns(64, seed=4)
    seen = []
    net = _random_network(LAYOUT.width)

    def model(x_t, t, cond=None):
        seen.append(cond)
        return net(x_t, t)

    out, codes = proc.sample(model, torch.randn(64, LAYOUT.width, generator=_gen(5)), steps=6, solver=solver,
                             eta=eta, given=given, x_given=x_given, cond=cols.float(), generator=_gen(6))
    assert torch.equal(out[given], x_given[given])
    block_given = given[:, LT.offsets]
    assert torch.equal(codes[block_given], given_codes[block_given])
    assert len(seen) == 6 and all(torch.equal(c, cols.float()) for c in seen)


def test_inpainting_without_layout():
    proc = GaussianDiffusion(cosine_betas(T))
    x_given = torch.randn(20, 4, generator=_gen(7))
    given = torch.rand(20, 4, generator=_gen(8)) < 0.5
    out, codes = proc.ddim_sample(_random_network(4), torch.randn(20, 4, generator=_gen(9)), steps=4,
                                  given=given, x_given=x_given)
    assert codes is None and torch.equal(out[given], x_given[given])


@pytest.mark.parametrize("solver, eta", SOLVERS)
def test_constraints_are_respected_by_every_row(solver, eta):
    proc = GaussianDiffusion(cosine_betas(T), layout=LAYOUT)
    allowed = torch.ones(LAYOUT.width, dtype=torch.bool)
    allowed[LAYOUT.offsets[0] + 1] = False                 # block 0: levels {0, 2}
    allowed[LAYOUT.offsets[1]] = False                     # block 1: level {1}
    low, high = torch.tensor([-0.5, 0.0]), torch.tensor([0.25, 2.0])
    out, codes = proc.sample(_random_network(LAYOUT.width, scale=6.0),
                             torch.randn(500, LAYOUT.width, generator=_gen(10)), steps=5, solver=solver, eta=eta,
                             constraints=Constraints(allowed, low, high), generator=_gen(11))
    assert set(codes[:, 0].tolist()) <= {0, 2} and (codes[:, 1] == 1).all()
    assert (out[:, :2] >= low).all() and (out[:, :2] <= high).all()


@pytest.mark.parametrize("mean, low, high, scale", [
    (0.0, -1.0, 1.0, 1.0), (5.0, -1.0, 1.0, 1.0), (-40.0, -1.0, 1.0, 0.1), (0.5, 0.0, np.inf, 2.0),
    (100.0, -np.inf, 0.0, 1.0), (0.3, 0.2, 0.2000001, 1.0), (2.0, -np.inf, np.inf, 1.0), (-3.0, 2.0, 9.0, 0.5)])
def test_truncated_normal_mean_is_the_closed_form(mean, low, high, scale):
    from scipy.stats import truncnorm

    got = truncated_normal_mean(*(torch.tensor(v, dtype=torch.float64) for v in (mean, [low], [high], scale)))
    expected = truncnorm.mean((low - mean) / scale, (high - mean) / scale, loc=mean, scale=scale)
    assert float(got) == pytest.approx(expected, rel=1e-6, abs=1e-9)
    assert low <= float(got) <= high


def test_interval_samples_follow_the_truncated_distribution():
    """With the exact denoiser of N(0, 1) data, an interval gives N(0, 1) truncated to it, not rows on its edges."""
    from scipy.stats import kstest, truncnorm

    proc = GaussianDiffusion(cosine_betas(1000))
    ab = torch.as_tensor(proc.alphas_cumprod, dtype=torch.float32)

    def exact(x_t, t, cond=None):      # E[x₀ | x_t] = √ᾱ x_t for unit-variance Gaussian data
        return (1 - ab[t]).sqrt().reshape(-1, 1) * x_t

    low, high = 0.5, 1.5
    out, _ = proc.ddim_sample(exact, torch.randn(4000, 1, generator=_gen()), steps=25, eta=1.0,
                              constraints=Constraints(low=torch.tensor([low]), high=torch.tensor([high])),
                              generator=_gen(1))
    x = out[:, 0].double().numpy()
    assert ((x >= low) & (x <= high)).all()
    # (clamping x̂₀ into the interval at every step, as the sampler did before, fails both assertions)
    assert np.isin(x, [low, high]).mean() < 0.05
    assert kstest(x, truncnorm(low, high).cdf).statistic < 0.07


def test_a_lower_bound_alone_is_a_valid_constraint():
    proc = GaussianDiffusion(cosine_betas(T), layout=LAYOUT)
    out, _ = proc.ddim_sample(_random_network(LAYOUT.width), torch.randn(20, LAYOUT.width, generator=_gen()),
                              steps=3, constraints=Constraints(low=torch.zeros(2)))
    assert (out[:, :2] >= 0).all()


def test_clip_bounds_the_continuous_estimate():
    proc = GaussianDiffusion(cosine_betas(T), layout=LAYOUT, clip=1.0)
    out, _ = proc.ddim_sample(_random_network(LAYOUT.width, scale=10.0),
                              torch.randn(100, LAYOUT.width, generator=_gen()), steps=4, generator=_gen(1))
    assert out[:, :2].abs().max() <= 1.0


def test_sampling_is_reproducible_with_a_generator():
    proc = GaussianDiffusion(cosine_betas(T), layout=LAYOUT)
    net = _random_network(LAYOUT.width)
    noise = torch.randn(30, LAYOUT.width, generator=_gen())
    a = proc.ddim_sample(net, noise, steps=4, eta=1.0, generator=_gen(1))
    b = proc.ddim_sample(net, noise, steps=4, eta=1.0, generator=_gen(1))
    c = proc.ddim_sample(net, noise, steps=4, eta=1.0, generator=_gen(2))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert not torch.equal(a[0], c[0])


@pytest.mark.parametrize("solver", ["ddim", "dpm++2m"])
def test_sampling_evaluates_the_model_once_per_step_at_decreasing_times(solver):
    proc = GaussianDiffusion(cosine_betas(T))
    times = []

    def model(x_t, t, cond=None):
        times.append(int(t[0]))
        assert (t == t[0]).all()
        return torch.zeros_like(x_t)

    proc.sample(model, torch.randn(3, 2), steps=5, solver=solver)
    assert times == [T - 1, 31, 23, 15, 7]      # trailing spacing: the last x̂₀ is the sample


@pytest.mark.parametrize("solver", ["ddim", "dpm++2m"])
@pytest.mark.parametrize("steps", [T, 12, 3])
def test_with_an_oracle_every_solver_stays_on_the_noising_path(solver, steps):
    """With the exact x̂₀, DDIM (η = 0) and DPM-Solver++ (an exponential integrator) are exact:
    every x_t the model sees is √ᾱ_t·x0 + √(1 − ᾱ_t)·ε for the one ε of x_T."""
    g = _gen(3)
    proc = GaussianDiffusion(cosine_betas(T))
    x0 = torch.randn(32, 3, generator=g)
    ab = torch.as_tensor(proc.alphas_cumprod)
    x_T = torch.randn(32, 3, generator=g)
    eps_T = (x_T - ab[-1].sqrt() * x0) / (1 - ab[-1]).sqrt()
    implied = []

    def oracle(x_t, t, cond=None):
        a = ab[t, None]
        eps = ((x_t - a.sqrt() * x0) / (1 - a).sqrt()).float()
        implied.append(eps)
        return eps

    out, _ = proc.sample(oracle, x_T, steps=steps, solver=solver)
    assert len(implied) == steps
    for eps in implied:
        torch.testing.assert_close(eps, eps_T, atol=2e-4, rtol=2e-4)
    torch.testing.assert_close(out, x0)


def test_unknown_solver_raises():
    proc = GaussianDiffusion(cosine_betas(T))
    with pytest.raises(ValueError, match="'euler'"):
        proc.sample(lambda x, t, c=None: x, torch.zeros(2, 2), steps=2, solver="euler")


@pytest.mark.parametrize("mean", [1.3, -0.45, 3.0])
def test_a_score_outside_its_interval_is_drawn_from_the_truncated_normal(mean):
    from scipy.stats import kstest, truncnorm

    scale, n = 0.2, 20_000
    u = torch.rand(n, generator=_gen(4))
    out = draw_into_intervals(torch.full((n,), mean), torch.tensor([[0.0]]), torch.tensor([[1.0]]),
                              torch.tensor(scale), u).double().numpy()
    assert ((out >= 0) & (out <= 1)).all() and np.isin(out, [0.0, 1.0]).mean() < 0.001   # not piled on a bound
    law = truncnorm((0 - mean) / scale, (1 - mean) / scale, loc=mean, scale=scale)
    assert kstest(out, law.cdf).statistic < 0.02


def test_a_score_inside_an_interval_is_kept_and_an_outside_one_goes_to_the_nearest():
    # score 0: a free score; score 1: two intervals [0, 1] and [2, 3] (the first row's -inf..inf is score 0's)
    low, high = torch.tensor([[-torch.inf, torch.inf], [0.0, 2.0]]), torch.tensor([[torch.inf, torch.inf], [1.0, 3.0]])
    x = torch.tensor([[5.0, 0.5], [-7.0, 1.8], [0.0, 1.2], [1.0, 3.4]])
    out = draw_into_intervals(x, low, high, torch.tensor(0.2), torch.full((4, 2), 0.5))
    assert torch.equal(out[:, 0], x[:, 0]) and out[0, 1] == 0.5
    assert 2.0 < out[1, 1] < 2.2 and 0.8 < out[2, 1] < 1.0 and 2.8 < out[3, 1] < 3.0
