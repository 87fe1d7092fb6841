"""synthaug.noise: the samplers' draws, plain, in antithetic pairs or stratified over the rows."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from synthaug.noise import Antithetic, Stratified, rand, randn


def test_a_plain_generator_draws_what_torch_draws():
    a = randn((5, 3), torch.Generator().manual_seed(0))
    b = torch.randn((5, 3), generator=torch.Generator().manual_seed(0))
    assert torch.equal(a, b)
    u = rand((4,), torch.Generator().manual_seed(1))
    assert torch.equal(u, torch.rand(4, generator=torch.Generator().manual_seed(1)))
    assert randn((2, 2), None, dtype=torch.float64).dtype == torch.float64


@pytest.mark.parametrize("n", [1, 2, 7, 10])
def test_antithetic_draws_are_mirrored_halves(n):
    z = randn((n, 4), Antithetic(torch.Generator().manual_seed(0)), dtype=torch.float64)
    u = rand((n, 2), Antithetic(torch.Generator().manual_seed(0)))
    assert z.shape == (n, 4) and u.shape == (n, 2)
    h = (n + 1) // 2                                    # an odd batch's middle row has no twin
    assert torch.equal(z[h:], -z[: n // 2])
    assert torch.allclose(u[h:], 1 - u[: n // 2])
    assert bool(((u >= 0) & (u <= 1)).all())
    # reproducible, and the first half is the plain generator's draw of that size
    assert torch.equal(z, randn((n, 4), Antithetic(torch.Generator().manual_seed(0)), dtype=torch.float64))
    assert torch.equal(z[:h], torch.randn((h, 4), generator=torch.Generator().manual_seed(0), dtype=torch.float64))


def test_antithetic_draws_keep_the_distribution():
    z = randn((200_000,), Antithetic(torch.Generator().manual_seed(0)))
    u = rand((200_000,), Antithetic(torch.Generator().manual_seed(0)))
    assert abs(float(z.std()) - 1) < 0.01 and abs(float(z.mean())) < 1e-6
    assert abs(float((z[:1000] ** 2).mean()) - 1) < 0.15          # each half is N(0, 1) on its own
    assert abs(float(u.mean()) - 0.5) < 1e-6 and abs(float(u.var()) - 1 / 12) < 1e-3


def _strata(u):
    """Each draw's stratum among the batch's ``len(u)`` (rows × flattened columns)."""
    return (u.reshape(len(u), -1).double() * len(u)).floor().long()


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 300), shape=st.sampled_from([(), (1,), (3,), (2, 2)]), seed=st.integers(0, 2**31))
def test_stratified_draws_put_one_row_in_each_stratum_of_every_column(n, shape, seed):
    u = rand((n, *shape), Stratified(torch.Generator().manual_seed(seed)))
    z = randn((n, *shape), Stratified(torch.Generator().manual_seed(seed)), dtype=torch.float64)
    assert u.shape == z.shape == (n, *shape) and u.dtype == torch.float32 and z.dtype == torch.float64
    assert bool(((u >= 0) & (u < 1)).all()) and bool(torch.isfinite(z).all())
    rows = torch.arange(n)
    for strata in (_strata(u), _strata(torch.special.ndtr(z))):
        assert all(torch.equal(col.sort().values, rows) for col in strata.t())   # a permutation per column


def test_stratified_draws_are_reproducible_and_differ_by_seed():
    a = randn((50, 3), Stratified(torch.Generator().manual_seed(0)))
    assert torch.equal(a, randn((50, 3), Stratified(torch.Generator().manual_seed(0))))
    assert not torch.equal(a, randn((50, 3), Stratified(torch.Generator().manual_seed(1))))
    assert randn((0, 3), Stratified(torch.Generator().manual_seed(0))).shape == (0, 3)


def test_each_stratified_row_is_an_exact_draw():
    # over many batches, one row's draws are uniform / standard normal and its columns independent
    g = Stratified(torch.Generator().manual_seed(0))
    u = torch.stack([rand((5, 2), g)[3] for _ in range(3000)]).double().numpy()
    z = torch.stack([randn((5,), g)[0] for _ in range(3000)]).double().numpy()
    assert stats.kstest(u[:, 0], "uniform").pvalue > 0.01 and stats.kstest(u[:, 1], "uniform").pvalue > 0.01
    assert stats.kstest(z, "norm").pvalue > 0.01
    assert abs(np.corrcoef(u[:, 0], u[:, 1])[0, 1]) < 0.06


def test_a_stratified_batch_has_a_closer_marginal_than_an_independent_one():
    plain = [stats.kstest(randn((400,), torch.Generator().manual_seed(s)).numpy(), "norm").statistic
             for s in range(20)]
    strat = [stats.kstest(randn((400,), Stratified(torch.Generator().manual_seed(s))).numpy(), "norm").statistic
             for s in range(20)]
    assert max(strat) <= 1 / 400 + 1e-6 < min(plain)   # at most one stratum's width from N(0, 1)
