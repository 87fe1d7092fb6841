"""Networks: shapes, conditioning, independence of rows, the time embedding."""

import pytest
import torch

from synthaug.nn import ResidualMLP, timestep_embedding


def _randomise_output(net, seed=0):
    """The output layer starts at zero (the network predicts ε = 0); give it weights to see through it."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        net.out.weight.copy_(torch.randn(net.out.weight.shape, generator=g) * 0.1)
        net.out.bias.copy_(torch.randn(net.out.bias.shape, generator=g) * 0.1)
    return net


@pytest.mark.parametrize("d_in, d_out, cond_dim", [(5, 5, 0), (7, 7, 3), (4, 9, 2), (1, 1, 0)])
@pytest.mark.parametrize("depth", [0, 1, 3])
def test_output_shape(d_in, d_out, cond_dim, depth):
    torch.manual_seed(0)
    net = ResidualMLP(d_in, d_out, cond_dim=cond_dim, width=16, depth=depth, time_dim=8)
    cond = torch.ones(6, cond_dim) if cond_dim else None
    out = net(torch.randn(6, d_in), torch.arange(6), cond)
    assert out.shape == (6, d_out) and out.dtype == torch.float32


def test_untrained_network_predicts_zero():
    net = ResidualMLP(4, 4, width=16, depth=2, time_dim=8)
    torch.testing.assert_close(net(torch.randn(3, 4), torch.tensor([0, 1, 2])), torch.zeros(3, 4))


def test_rows_are_independent():
    """Per-row layer norm, no batch statistics: a row's output does not depend on the batch."""
    torch.manual_seed(0)
    net = _randomise_output(ResidualMLP(5, 5, cond_dim=2, width=16, depth=2, time_dim=8)).eval()
    x, t, c = torch.randn(8, 5), torch.randint(100, (8,)), torch.rand(8, 2)
    full = net(x, t, c)
    for i in [0, 5]:
        torch.testing.assert_close(net(x[i: i + 1], t[i: i + 1], c[i: i + 1]), full[i: i + 1])


def test_time_and_condition_change_the_output():
    torch.manual_seed(0)
    net = _randomise_output(ResidualMLP(3, 3, cond_dim=2, width=16, depth=1, time_dim=8))
    x = torch.randn(4, 3)
    base = net(x, torch.zeros(4, dtype=torch.long), torch.zeros(4, 2))
    assert not torch.allclose(base, net(x, torch.full((4,), 50), torch.zeros(4, 2)))
    assert not torch.allclose(base, net(x, torch.zeros(4, dtype=torch.long), torch.ones(4, 2)))


def test_every_parameter_gets_a_gradient():
    torch.manual_seed(0)
    net = _randomise_output(ResidualMLP(3, 3, cond_dim=1, width=8, depth=2, time_dim=4))
    net(torch.randn(5, 3), torch.randint(10, (5,)), torch.rand(5, 1)).pow(2).sum().backward()
    for name, p in net.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_dropout_only_in_training_mode():
    torch.manual_seed(0)
    net = _randomise_output(ResidualMLP(3, 3, width=32, depth=2, time_dim=8, dropout=0.5))
    x, t = torch.randn(4, 3), torch.arange(4)
    net.eval()
    torch.testing.assert_close(net(x, t), net(x, t))
    net.train()
    assert not torch.allclose(net(x, t), net(x, t))


def test_runs_under_bfloat16_autocast():
    net = _randomise_output(ResidualMLP(3, 3, cond_dim=2, width=8, depth=1, time_dim=4))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = net(torch.randn(2, 3), torch.tensor([1, 2]), torch.ones(2, 2))
    assert out.shape == (2, 3) and torch.isfinite(out.float()).all()


@pytest.mark.parametrize("depth, cond_dim, time_dim", [(0, 0, 8), (1, 3, 8), (3, 2, 8), (2, 2, 0)])
@pytest.mark.parametrize("per_row_t", [False, True])
def test_folded_network_computes_the_eval_network(depth, cond_dim, time_dim, per_row_t):
    torch.manual_seed(0)
    net = _randomise_output(ResidualMLP(5, 4, cond_dim=cond_dim, width=16, depth=depth, time_dim=time_dim,
                                        dropout=0.5))
    with torch.no_grad():
        for module in net.modules():       # layer norms away from their (1, 0) initialisation
            if isinstance(module, torch.nn.LayerNorm):
                module.weight.uniform_(0.5, 2)
                module.bias.normal_()
    net.eval()
    folded = net.folded()
    x, cond = torch.randn(40, 5), torch.rand(40, cond_dim) if cond_dim else None
    t = torch.randint(1000, (40,)) if per_row_t else torch.tensor([321])
    expected = net(x, t, cond)
    torch.testing.assert_close(folded(x, t, cond), expected, rtol=1e-5, atol=1e-5)
    # the condition's part computed once serves every call on the same rows
    part = folded.condition_part(cond)
    torch.testing.assert_close(folded(x, t, cond_part=part), expected, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(folded(x, t, cond_part=part), expected, rtol=1e-5, atol=1e-5)
    # the activations the output layer reads give the outputs in either layout
    hidden = folded.penultimate(torch.addmm(part[:, :16], x, folded.w_x), t)
    torch.testing.assert_close(hidden @ folded.w_out + folded.b_out, expected, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close((folded.w_out.t() @ hidden.t()).t() + folded.b_out, expected, rtol=1e-5, atol=1e-5)
    assert not any(p.requires_grad for p in folded.parameters())
    # a copy: training the source network further does not change the folded one
    with torch.no_grad():
        net.inp.weight.add_(1.0)
    torch.testing.assert_close(folded(x, t, cond_part=part), expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("cond_dim", [0, 2])
def test_skip_features_reach_only_their_outputs(cond_dim):
    """The skip map starts as the identity onto its outputs, trains, and the folded copy computes it."""
    torch.manual_seed(0)
    net = ResidualMLP(6, 6, cond_dim=cond_dim, width=16, depth=1, time_dim=8, skip_dim=2, skip_outputs=[4, 1],
                      skip_init=1.0)
    x, t, feats = torch.randn(5, 6), torch.randint(100, (5,)), torch.randn(5, 2)
    cond = torch.cat([torch.rand(5, cond_dim), feats], dim=1)
    out = net(x, t, cond)                                   # the blocks' output layer starts at zero
    torch.testing.assert_close(out[:, [4, 1]], feats)
    assert torch.equal(out[:, [0, 2, 3, 5]], torch.zeros(5, 4))
    out.pow(2).sum().backward()
    assert net.skip.weight.grad.abs().sum() > 0
    _randomise_output(net)
    with torch.no_grad():
        net.skip.weight.normal_()
    net.eval()
    folded = net.folded()
    expected = net(x, t, cond)
    torch.testing.assert_close(folded(x, t, cond), expected, rtol=1e-5, atol=1e-5)
    part = folded.condition_part(cond)
    torch.testing.assert_close(folded(x, t[:1], cond_part=part), net(x, t[:1].expand(5), cond), rtol=1e-5, atol=1e-5)


def test_folded_network_inputs_are_not_mutated():
    torch.manual_seed(0)
    net = _randomise_output(ResidualMLP(3, 3, cond_dim=2, width=8, depth=2, time_dim=4)).eval()
    folded = net.folded()
    x, c = torch.randn(6, 3), torch.rand(6, 2)
    part = folded.condition_part(c)
    before = (x.clone(), c.clone(), part.clone())
    folded(x, torch.tensor([3]), cond_part=part)
    folded(x, torch.tensor([3]), c)
    for a, b in zip((x, c, part), before):
        assert torch.equal(a, b)


@pytest.mark.parametrize("dim", [1, 2, 7, 16])
def test_timestep_embedding(dim):
    t = torch.tensor([0, 1, 10, 999])
    emb = timestep_embedding(t, dim)
    assert emb.shape == (4, dim) and emb.abs().max() <= 1.0
    half = dim // 2
    torch.testing.assert_close(emb[0, :half], torch.ones(half))      # cos(0)
    torch.testing.assert_close(emb[0, half: 2 * half], torch.zeros(half))   # sin(0)
    if dim % 2:
        assert (emb[:, -1] == 0).all()                                  # odd width padded
    if dim >= 2:
        assert len({tuple(row.tolist()) for row in emb}) == 4           # distinct times differ


def test_timestep_embedding_accepts_real_times():
    emb = timestep_embedding(torch.tensor([0.5, 2.25]), 8)
    assert emb.shape == (2, 8) and torch.isfinite(emb).all()


def test_time_path_shared_by_repeated_timesteps_gives_the_per_row_result():
    # a batch with few distinct timesteps runs the time path once per value (CPU); outputs and
    # gradients equal the per-row computation, which per-sample gradients (DP-SGD) use
    torch.manual_seed(0)
    net = _randomise_output(ResidualMLP(5, 5, cond_dim=2, width=16, depth=2, time_dim=8))
    x, c = torch.randn(40, 5), torch.rand(40, 2)
    t = torch.tensor([3, 900, 3, 41])[torch.randint(4, (40,))]
    results = []
    for shared in (True, False):
        net.zero_grad()
        net.shared_time = shared
        out = net(x, t, c)
        out.square().sum().backward()
        results.append((out.detach(), [p.grad.clone() for p in net.parameters()]))
    torch.testing.assert_close(results[0][0], results[1][0])
    for a, b in zip(results[0][1], results[1][1]):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)
