"""Book-keeping clipping: the per-row clipped gradient sum in one backward pass."""

import pytest
import torch

from synthaug.nn import ResidualMLP
from synthaug.privacy.bookkeeping import BookkeepingClipping
from synthaug.privacy.dp_sgd import make_private, private_backward, quiet_hooks, release


def _net():
    torch.manual_seed(0)
    net = ResidualMLP(5, 5, cond_dim=3, width=16, depth=2, time_dim=8, zero_out=False)
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, torch.nn.LayerNorm):   # non-trivial affine parameters
                m.weight.uniform_(0.5, 1.5)
                m.bias.normal_(0, 0.1)
    return net


def _batch(n=12):
    g = torch.Generator().manual_seed(1)
    x = torch.randn(n, 5, generator=g) * torch.linspace(0.1, 4, n)[:, None]   # small and large gradients
    return x, torch.randint(100, (n,), generator=g), torch.rand(n, 3, generator=g)


def _per_row_loss(net, x, t, c):
    return ((net(x, t, c) - x) ** 2).sum(1)


def test_bookkeeping_equals_explicit_per_row_clipping():
    net, (x, t, c), clip = _net(), _batch(), 12.0
    reference = [torch.zeros_like(p) for p in net.parameters()]
    norms = []
    for i in range(len(x)):
        grads = torch.autograd.grad(_per_row_loss(net, x[i:i + 1], t[i:i + 1], c[i:i + 1]).sum(),
                                    list(net.parameters()))
        norm = torch.sqrt(sum(g.square().sum() for g in grads))
        norms.append(norm)
        factor = min(1.0, clip / (float(norm) + 1e-6))
        for r, g in zip(reference, grads):
            r += factor * g
    assert min(norms) < clip < max(norms)          # some rows clipped, some not
    wrapped = BookkeepingClipping(net, max_grad_norm=clip)
    wrapped.clipped_backward(_per_row_loss(wrapped, x, t, c))
    for r, p in zip(reference, net.parameters()):
        torch.testing.assert_close(p.grad, r, rtol=1e-4, atol=1e-6)


def test_bookkeeping_equals_opacus_ghost_clipping():
    x, t, c = _batch()
    grads = {}
    for bookkeeping in (False, True):
        net = _net()
        opt = torch.optim.SGD(net.parameters(), lr=0.1)
        wrapped, dp_opt = make_private(net, opt, noise_multiplier=0.0, max_grad_norm=12.0, expected_batch_size=12,
                                       bookkeeping=bookkeeping)
        assert isinstance(wrapped, BookkeepingClipping) == bookkeeping
        dp_opt.zero_grad()
        with quiet_hooks():
            private_backward(wrapped, dp_opt, _per_row_loss(wrapped, x, t, c))
        grads[bookkeeping] = [p.grad.clone() for p in net.parameters()]
        dp_opt.step()                              # the Opacus optimiser takes either wrapper's .grad
        assert release(wrapped) is net
        assert not any(h for h in (getattr(m, "_forward_hooks", {}) for m in net.modules()))
    for a, b in zip(grads[False], grads[True]):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)


def test_bookkeeping_refuses_what_it_cannot_clip():
    conv = torch.nn.Sequential(torch.nn.Conv1d(2, 2, 3), torch.nn.Flatten(), torch.nn.Linear(2, 1))
    assert not BookkeepingClipping.supports(conv)
    with pytest.raises(ValueError, match="Linear or LayerNorm"):
        BookkeepingClipping(conv, max_grad_norm=1.0)
    # make_private falls back to Opacus for such a network
    wrapped, _ = make_private(conv, torch.optim.SGD(conv.parameters(), lr=0.1), noise_multiplier=1.0,
                              max_grad_norm=1.0, expected_batch_size=4, bookkeeping=True)
    assert not isinstance(wrapped, BookkeepingClipping)
    release(wrapped)
    layer = torch.nn.Linear(3, 3)
    twice = BookkeepingClipping(torch.nn.Sequential(layer, torch.nn.Tanh(), layer), max_grad_norm=1.0)
    with pytest.raises(ValueError, match="twice"):
        twice(torch.randn(4, 3))
    with pytest.raises(RuntimeError, match="forward pass"):
        BookkeepingClipping(torch.nn.Linear(3, 3), max_grad_norm=1.0).clipped_backward(torch.ones(2))
