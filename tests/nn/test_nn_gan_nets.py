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


@pytest.mark.parametrize("depth,cond_dim", [(0, 3), (1, 0), (2, 3), (3, 5)])
def test_folded_generator_computes_the_eval_generator(depth, cond_dim):
    torch.manual_seed(0)
    net = DenseGenerator(4, 6, cond_dim=cond_dim, width=16, depth=depth)
    net.train()
    for _ in range(5):           # BatchNorm running statistics away from (0, 1)
        net(torch.randn(32, 4) * 3 + 1, None, torch.rand(32, cond_dim))
    with torch.no_grad():
        for layer in net.layers:
            layer.bn.weight.uniform_(0.5, 2)
            layer.bn.bias.normal_()
    net.eval()
    folded = net.folded()
    z, cond = torch.randn(50, 4), torch.rand(50, cond_dim)
    torch.testing.assert_close(folded(z, None, cond), net(z, None, cond), rtol=1e-5, atol=1e-5)
    if cond_dim:
        # a precomputed condition part gives the same rows as the dense condition
        parts = folded.condition_part(cond[:3])
        ids = torch.randint(3, (50,))
        torch.testing.assert_close(folded(z, None, cond_part=parts[ids]), net(z, None, cond[:3][ids]),
                                   rtol=1e-5, atol=1e-5)
        # ... and so do the parts picked by row inside the network, which leaves them as they were
        kept = parts.clone()
        torch.testing.assert_close(folded(z, None, cond_part=parts, rows=ids), net(z, None, cond[:3][ids]),
                                   rtol=1e-5, atol=1e-5)
        assert torch.equal(parts, kept)
    else:   # without a condition the part is the biases alone
        torch.testing.assert_close(folded(z, None, cond_part=folded.condition_part(None)), net(z), rtol=1e-5,
                                   atol=1e-5)
    assert not any(p.requires_grad for p in folded.buffers())
