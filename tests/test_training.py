"""The training loop, EMA, the learning-rate schedule and random conditioning masks."""

import math

import numpy as np
import pytest
import torch

from synthaug.conditioning import random_given_columns
from synthaug.diffusion import GaussianDiffusion, cosine_betas
from synthaug.diffusion.trainer import DiffusionStep
from synthaug.encoding import Layout
from synthaug.nn import ResidualMLP
from synthaug.optim import Adam, WarmupCosine
from synthaug.training import EMA, train

CPU = torch.device("cpu")


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


# ------------------------------------------------------------------------------ the loop
def test_training_lowers_the_loss_on_two_blobs():
    g = _gen()
    n, steps = 512, 200
    label = torch.randint(2, (n,), generator=g)
    cont = torch.tensor([[-1.5, -1.5], [1.5, 1.5]])[label] + 0.3 * torch.randn(n, 2, generator=g)
    layout = Layout(2, (2,), ((0, None), (1, None), (None, 0)))        # x, y, blob label
    torch.manual_seed(0)
    net = ResidualMLP(layout.width, layout.width, cond_dim=layout.n_columns, width=64, depth=2, time_dim=32)
    opt = Adam(net.parameters(), lr=3e-3, decoupled_weight_decay=True)
    ema = EMA(net, decay=0.99)
    step = DiffusionStep(GaussianDiffusion(cosine_betas(100), layout=layout), net, opt,
                         WarmupCosine(opt, steps), ema, (cont, label[:, None]), layout.tensors(CPU), generator=g)
    history = train(step, n_rows=n, batch_size=128, n_steps=steps, generator=g, device=CPU, verbose=False)

    assert set(history) == {"step", "seconds", "loss"}
    assert len({len(v) for v in history.values()}) == 1
    assert history["step"] == [25, 50, 75, 100, 125, 150, 175, 200]
    assert np.all(np.diff(history["seconds"]) >= 0)
    loss = history["loss"]
    assert all(math.isfinite(v) and v >= 0 for v in loss)
    assert np.mean(loss[-3:]) < 0.6 * loss[0]
    assert ema.n_updates == steps


def test_history_has_one_entry_per_log_period_and_a_last_one():
    def step(index):
        return {"a": index.float().mean(), "b": torch.tensor(2.0)}

    history = train(step, n_rows=100, batch_size=10, n_steps=60, generator=_gen(), device=CPU, verbose=False,
                    log_every=25)
    assert history["step"] == [25, 50, 60]
    assert {k: len(v) for k, v in history.items()} == {"step": 3, "seconds": 3, "a": 3, "b": 3}
    assert history["b"] == [2.0, 2.0, 2.0]
    assert all(0 <= a <= 99 for a in history["a"])


def test_batches_are_fresh_permutations_of_the_rows():
    seen = []

    def step(index):
        seen.append(index.clone())
        return {"loss": torch.tensor(0.0)}

    train(step, n_rows=10, batch_size=4, n_steps=6, generator=_gen(), device=CPU, verbose=False)
    assert all(len(i) == 4 for i in seen)
    for epoch in range(3):                         # 2 full batches per epoch, the remainder dropped
        rows = torch.cat(seen[2 * epoch: 2 * epoch + 2])
        assert rows.unique().numel() == 8 and rows.min() >= 0 and rows.max() < 10


def test_batch_size_above_the_row_count_uses_every_row():
    seen = []
    train(lambda i: seen.append(i) or {"loss": torch.tensor(0.0)}, n_rows=5, batch_size=64, n_steps=2,
          generator=_gen(), device=CPU, verbose=False)
    assert [sorted(i.tolist()) for i in seen] == [[0, 1, 2, 3, 4]] * 2


@pytest.mark.parametrize("n_rows, batch_size", [(5, 64), (7, 8), (150, 512), (3, 3)])
def test_filled_batches_repeat_every_row_equally_often(n_rows, batch_size):
    seen = []
    n_steps = 3 * n_rows   # 3 · batch_size rows of each row in all
    train(lambda i: seen.append(i.clone()) or {"loss": torch.tensor(0.0)}, n_rows=n_rows, batch_size=batch_size,
          n_steps=n_steps, generator=_gen(), device=CPU, verbose=False, fill_batches=True)
    assert all(len(i) == max(batch_size, 1) for i in seen)
    everything = torch.cat(seen)
    assert torch.equal(torch.bincount(everything, minlength=n_rows), torch.full((n_rows,), 3 * batch_size))
    if batch_size > n_rows:   # a batch spans consecutive permutations: no row more than ⌈b / n⌉ + 1 times in it
        assert max(int(torch.bincount(i).max()) for i in seen) <= -(-batch_size // n_rows) + 1


def test_filled_batches_leave_a_large_table_as_it_was():
    def indices(fill):
        seen = []
        train(lambda i: seen.append(i) or {"loss": torch.tensor(0.0)}, n_rows=50, batch_size=8, n_steps=10,
              generator=_gen(3), device=CPU, verbose=False, fill_batches=fill)
        return torch.stack(seen)

    assert torch.equal(indices(True), indices(False))


def test_batching_is_reproducible_with_a_generator():
    def indices(seed):
        seen = []
        train(lambda i: seen.append(i) or {"loss": torch.tensor(0.0)}, n_rows=50, batch_size=8, n_steps=10,
              generator=_gen(seed), device=CPU, verbose=False)
        return torch.stack(seen)

    assert torch.equal(indices(1), indices(1))
    assert not torch.equal(indices(1), indices(2))


# ------------------------------------------------------------------------------------ EMA
def _net(seed):
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4), torch.nn.Linear(4, 2))


def test_ema_with_decay_zero_equals_the_model():
    model = _net(0)
    ema = EMA(model, decay=0.0)
    model.load_state_dict(_net(1).state_dict())
    model(torch.randn(8, 3))                                 # moves the BatchNorm running stats
    ema.update(model)
    for (name, a), b in zip(ema.model.state_dict().items(), model.state_dict().values()):
        torch.testing.assert_close(a, b, msg=name)


def test_ema_update_is_the_weighted_average_with_its_warm_up():
    model = _net(0)
    ema = EMA(model, decay=0.999)
    start = [p.detach().clone() for p in ema.model.parameters()]
    model.load_state_dict(_net(1).state_dict())
    ema.update(model)
    d = min(0.999, 2 / 11)                                  # (1 + k) / (10 + k) at k = 1
    for e, s, p in zip(ema.model.parameters(), start, model.parameters()):
        torch.testing.assert_close(e, d * s + (1 - d) * p.detach())


def test_ema_copy_is_frozen_and_separate():
    model = _net(0)
    ema = EMA(model)
    assert not ema.model.training
    assert not any(p.requires_grad for p in ema.model.parameters())
    with torch.no_grad():
        model[0].weight.add_(1.0)
    assert not torch.equal(ema.model[0].weight, model[0].weight)


# ------------------------------------------------------------------------ learning rate
def test_warmup_cosine_schedule():
    n, warmup, floor = 100, 0.1, 0.1
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=2.0)
    sched = WarmupCosine(opt, n, warmup=warmup, floor=floor)
    lrs = []
    for _ in range(n):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    n_warm = int(warmup * n)
    np.testing.assert_allclose(lrs[:n_warm], 2.0 * (np.arange(n_warm) + 1) / n_warm)
    assert lrs[n_warm] == pytest.approx(2.0)
    assert lrs[-1] == pytest.approx(2.0 * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * (n - 1 - n_warm)
                                                                                 / (n - n_warm)))))
    assert np.all(np.diff(lrs[n_warm:]) <= 1e-12)
    assert min(lrs[n_warm:]) >= 2.0 * floor


# ---------------------------------------------------------------- conditioning masks
@pytest.mark.parametrize("n_columns", [2, 3, 8])
@pytest.mark.parametrize("p_unconditional", [0.0, 0.3, 0.5])
def test_random_given_columns_never_gives_a_whole_row(n_columns, p_unconditional):
    given = random_given_columns(20_000, n_columns, generator=_gen(), device=CPU, p_unconditional=p_unconditional)
    assert given.shape == (20_000, n_columns) and given.dtype == torch.bool
    assert not given.all(dim=1).any()


@pytest.mark.parametrize("p_unconditional", [0.0, 0.2, 0.5, 0.9])
def test_random_given_columns_unconditional_share(p_unconditional):
    """Empty rows: the unconditional share, plus conditional rows whose rate r ~ U(0, 1) gave nothing.

    P(nothing given | conditional) = E[(1 − r)^k] = 1 / (k + 1).
    """
    k, n = 6, 50_000
    given = random_given_columns(n, k, generator=_gen(1), device=CPU, p_unconditional=p_unconditional)
    empty = (~given.any(dim=1)).float().mean().item()
    assert empty == pytest.approx(p_unconditional + (1 - p_unconditional) / (k + 1), abs=0.01)
    # each column is given in half of the conditional rows on average (E[r] = 1/2), less the dropped ones
    per_column = given.float().mean(0)
    expected = (1 - p_unconditional) * (0.5 - 1 / (k + 1) / k)
    torch.testing.assert_close(per_column, torch.full((k,), expected), atol=0.015, rtol=0)


def test_always_column_is_given_at_least_p_always():
    k, n = 5, 50_000
    given = random_given_columns(n, k, generator=_gen(2), device=CPU, p_unconditional=0.5, always=0, p_always=0.5)
    share = given[:, 0].float().mean().item()
    assert share > 0.5 + 0.5 * 0.25 - 0.03                    # p_always + (1 − p_always)·P(given anyway)
    assert not given.all(dim=1).any()


def test_random_given_columns_is_reproducible_and_unconditional_at_one():
    a = random_given_columns(100, 4, generator=_gen(3), device=CPU)
    b = random_given_columns(100, 4, generator=_gen(3), device=CPU)
    assert torch.equal(a, b)
    none = random_given_columns(100, 4, generator=_gen(3), device=CPU, p_unconditional=1.0)
    assert not none.any()


def test_stratified_timesteps_are_uniform_and_share_few_values():
    from synthaug.diffusion.trainer import stratified_timesteps

    g = _gen(3)
    draws = torch.stack([stratified_timesteps(16, 10, n_levels=4, generator=g) for _ in range(20_000)])
    assert all(row.unique().numel() <= 4 for row in draws[:50])
    freq = torch.bincount(draws.flatten(), minlength=10).double() / draws.numel()
    # 10 timesteps over 4 strata: each timestep is still equally likely (strata of 2.5 timesteps)
    torch.testing.assert_close(freq, torch.full((10,), 0.1, dtype=torch.float64), atol=0.004, rtol=0)
    one = stratified_timesteps(8, 1000, n_levels=1, generator=g)
    assert one.unique().numel() == 1
    small = stratified_timesteps(3, 1000, generator=g)
    assert small.shape == (3,) and bool((small >= 0).all() and (small < 1000).all())


def test_stratified_timesteps_logit_normal_follow_their_distribution():
    from scipy import stats

    from synthaug.diffusion.trainer import stratified_timesteps

    g = _gen(5)
    t = torch.cat([stratified_timesteps(64, 1000, logit_normal=(0.3, 0.8), generator=g) for _ in range(500)])
    assert bool((t >= 0).all() and (t < 1000).all())
    # t / T (mid-bin) against the logit-normal(0.3, 0.8) CDF: Φ((logit x − 0.3) / 0.8)
    x = (t.double().numpy() + 0.5) / 1000
    cdf = lambda v: stats.norm.cdf((np.log(v / (1 - v)) - 0.3) / 0.8)   # noqa: E731
    assert stats.kstest(x, cdf).statistic < 0.02
    # the middle of the chain gets most of the draws; the nearly clean end almost none
    assert (t < 100).double().mean() < 0.01 and 0.5 < ((t >= 260) & (t < 830)).double().mean()


def test_uniform_timesteps_unchanged_by_the_logit_normal_option():
    from synthaug.diffusion.trainer import stratified_timesteps

    a = stratified_timesteps(64, 1000, generator=_gen(9))
    b = stratified_timesteps(64, 1000, logit_normal=None, generator=_gen(9))
    assert torch.equal(a, b)
    c = stratified_timesteps(64, 1000, logit_normal=(0.0, 1e-6), generator=_gen(9))
    assert bool(((c == 499) | (c == 500)).all())    # a degenerate logit-normal: every draw at T / 2
