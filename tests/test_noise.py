"""synthaug.noise: the samplers' draws, plain or in antithetic pairs."""

import pytest
import torch

from synthaug.noise import Antithetic, rand, randn


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
