"""Generator and packed critic networks."""

import pytest
import torch

from synthaug.nn import DenseGenerator, PackedCritic


def test_dense_generator_shapes_and_noise_dependence():
    net = DenseGenerator(4, 6, cond_dim=3, width=16, depth=2).eval()
    cond = torch.ones(10, 3)
    a = net(torch.randn(10, 4), None, cond)
    b = net(torch.randn(10, 4), None, cond)
    assert a.shape == (10, 6) and not torch.allclose(a, b)


def test_packed_critic_scores_groups_and_rejects_ragged_batches():
    critic = PackedCritic(5, pac=3, width=8, depth=2, spectral_norm=True)
    assert critic(torch.randn(9, 5)).shape == (3,)
    with pytest.raises(ValueError, match="pac=3"):
        critic(torch.randn(8, 5))
    # packing: a group's score depends on every row of the group, and only on it
    x = torch.randn(6, 5)
    y = x.clone()
    y[4] += 1
    critic.eval()
    sx, sy = critic(x), critic(y)
    assert torch.equal(sx[0], sy[0]) and not torch.equal(sx[1], sy[1])


def test_critic_has_no_batch_statistics():
    critic = PackedCritic(5, pac=2, width=8)
    assert not any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in critic.modules())
    critic.eval()
    x = torch.randn(8, 5)
    assert torch.allclose(critic(x)[:2], critic(x[:4]))
