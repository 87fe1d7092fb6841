"""GAN losses: values, signs and the gradient penalty."""

import pytest
import torch
from torch.nn import functional as F

from synthaug.gan import LOSSES, critic_loss, energy_score, generator_loss, gradient_penalty


def test_bce_is_the_minimax_game_with_non_saturating_generator():
    real, fake = torch.tensor([1.5, -0.3]), torch.tensor([0.2, -2.0])
    # the discriminator maximises log D(x) + log(1 − D(G(z))) with D = σ(score)
    expected_c = -(torch.log(torch.sigmoid(real)).mean() + torch.log(1 - torch.sigmoid(fake)).mean())
    assert torch.allclose(critic_loss("bce", real, fake), expected_c)
    # the generator minimises −log D(G(z)) (not log(1 − D(G(z))))
    assert torch.allclose(generator_loss("bce", fake), -torch.log(torch.sigmoid(fake)).mean())


def test_wgan_and_hinge_values():
    real, fake = torch.tensor([2.0, 0.5]), torch.tensor([-1.0, 0.5])
    assert torch.allclose(critic_loss("wgan-gp", real, fake), fake.mean() - real.mean())
    assert torch.allclose(critic_loss("hinge", real, fake), F.relu(1 - real).mean() + F.relu(1 + fake).mean())
    for kind in ("wgan-gp", "hinge"):
        assert torch.allclose(generator_loss(kind, fake), -fake.mean())


@pytest.mark.parametrize("kind", LOSSES)
def test_critic_loss_decreases_when_critic_separates_better(kind):
    weak = critic_loss(kind, torch.zeros(8), torch.zeros(8))
    strong = critic_loss(kind, torch.full((8,), 3.0), torch.full((8,), -3.0))
    assert strong < weak
    # the generator's loss falls when the critic rates its rows as real
    assert generator_loss(kind, torch.full((8,), 3.0)) < generator_loss(kind, torch.full((8,), -3.0))


def test_unknown_loss_is_named():
    with pytest.raises(ValueError, match="lsgan"):
        critic_loss("lsgan", torch.zeros(1), torch.zeros(1))
    with pytest.raises(ValueError, match="lsgan"):
        generator_loss("lsgan", torch.zeros(1))


def test_gradient_penalty_zero_for_unit_lipschitz_linear_critic_and_positive_otherwise():
    lin = torch.nn.Linear(3, 1)
    with torch.no_grad():
        lin.weight.copy_(torch.tensor([[0.6, 0.8, 0.0]]))
    real, fake = torch.randn(6, 3), torch.randn(6, 3)
    assert float(gradient_penalty(lambda x: lin(x).squeeze(-1), real, fake).detach()) == pytest.approx(0.0, abs=1e-10)
    with torch.no_grad():
        lin.weight.mul_(3)           # gradient norm 3 → penalty (3 − 1)² = 4
    gp = gradient_penalty(lambda x: lin(x).squeeze(-1), real, fake)
    assert float(gp.detach()) == pytest.approx(4.0, rel=1e-5)
    gp.backward()
    assert lin.weight.grad is not None and lin.weight.grad.abs().sum() > 0


def test_gradient_penalty_norm_is_per_packed_group():
    # critic sums each pair of rows: per group, ∇ has norm sqrt(2·3·w²); w = 1/sqrt(6) gives norm 1
    w = 1 / 6 ** 0.5
    critic = lambda x: (x.reshape(-1, 6) * w).sum(1)  # noqa: E731
    real, fake = torch.randn(4, 3), torch.randn(4, 3)
    assert float(gradient_penalty(critic, real, fake, pac=2).detach()) == pytest.approx(0.0, abs=1e-10)


def test_energy_score_is_least_at_the_true_spread():
    # a proper scoring rule: against N(1, 1) data, N(1, s) rows score best near s = 1 (not at s = 0, as a
    # squared error would)
    g = torch.Generator().manual_seed(0)
    real = 1.0 + torch.randn(200_000, 1, generator=g)
    free = torch.ones_like(real, dtype=torch.bool)

    def score(s):
        a, b = (1.0 + s * torch.randn(200_000, 1, generator=g) for _ in range(2))
        return float(energy_score(a, b, real, free))

    scores = {s: score(s) for s in (0.0, 0.5, 1.0, 1.5)}
    assert min(scores, key=scores.get) == 1.0
    assert scores[0.0] > scores[0.5] > scores[1.0] < scores[1.5]


def test_energy_score_counts_only_free_dims_and_has_gradients():
    real = torch.zeros(4, 3)
    fake = torch.randn(4, 3, generator=torch.Generator().manual_seed(1), requires_grad=True)
    other = torch.randn(4, 3, generator=torch.Generator().manual_seed(2))
    free = torch.tensor([[True, True, False]]).expand(4, 3)
    moved = fake.detach().clone()
    moved[:, 2] += 100.0   # a given dim: the score ignores it
    assert torch.allclose(energy_score(fake, other, real, free), energy_score(moved, other, real, free))
    energy_score(fake, other, real, free).backward()
    assert torch.isfinite(fake.grad).all() and (fake.grad[:, 2] == 0).all() and fake.grad[:, :2].abs().sum() > 0
