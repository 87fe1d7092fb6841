"""synthaug.optim: Adam and gradient clipping against torch's, checkpoint state, and a fit that never imports torch's
compiler."""

import subprocess
import sys
import textwrap

import pytest
import torch

from synthaug.optim import Adam, WarmupCosine, clip_grad_norm


def _two_copies(seed=0):
    torch.manual_seed(seed)
    net = torch.nn.Sequential(torch.nn.Linear(5, 7), torch.nn.Tanh(), torch.nn.Linear(7, 3))
    twin = torch.nn.Sequential(torch.nn.Linear(5, 7), torch.nn.Tanh(), torch.nn.Linear(7, 3))
    twin.load_state_dict(net.state_dict())
    return net, twin


@pytest.mark.parametrize("decoupled", [False, True])
@pytest.mark.parametrize("weight_decay", [0.0, 0.1])
def test_adam_takes_torch_optims_steps(decoupled, weight_decay):
    net, twin = _two_copies()
    hyper = dict(lr=0.01, betas=(0.5, 0.9), eps=1e-6, weight_decay=weight_decay)
    mine = Adam(net.parameters(), decoupled_weight_decay=decoupled, **hyper)
    theirs = (torch.optim.AdamW if decoupled else torch.optim.Adam)(twin.parameters(), foreach=False, **hyper)
    g = torch.Generator().manual_seed(1)
    for step in range(30):
        x = torch.randn(16, 5, generator=g)
        for model, opt in ((net, mine), (twin, theirs)):
            opt.zero_grad(set_to_none=True)
            model(x).pow(2).mean().backward()
            if step % 3 == 0:              # the last layer's bias gets no gradient at some steps
                model[2].bias.grad = None
            opt.step()
        for p, q in zip(net.parameters(), twin.parameters()):
            torch.testing.assert_close(p, q, rtol=1e-5, atol=1e-6)
    # a parameter skipped at some steps counts only the steps it took
    assert float(mine.state[3]["step"]) == 20 and float(mine.state[0]["step"]) == 30


def test_adam_state_round_trips_through_a_checkpoint():
    net, twin = _two_copies()
    opt = Adam(net.parameters(), lr=0.05)
    x = torch.randn(8, 5)
    for _ in range(3):
        opt.zero_grad()
        net(x).sum().backward()
        opt.step()
    saved = opt.state_dict()
    twin.load_state_dict(net.state_dict())
    resumed = Adam(twin.parameters(), lr=1.0)
    resumed.load_state_dict(saved)
    assert resumed.param_groups[0]["lr"] == 0.05
    for model, o in ((net, opt), (twin, resumed)):
        o.zero_grad()
        model(x).sum().backward()
        o.step()
    for p, q in zip(net.parameters(), twin.parameters()):
        torch.testing.assert_close(p, q)


def test_state_of_another_optimizer_is_refused_by_name():
    net, _ = _two_copies()
    theirs = torch.optim.Adam(net.parameters())
    net(torch.randn(4, 5)).sum().backward()
    theirs.step()
    with pytest.raises(ValueError, match="not synthaug.optim's"):
        Adam(net.parameters()).load_state_dict(theirs.state_dict())
    lambda_lr = torch.optim.lr_scheduler.LambdaLR(theirs, lambda step: 1.0)
    with pytest.raises(ValueError, match="delete the checkpoint"):
        WarmupCosine(Adam(net.parameters()), 10).load_state_dict(lambda_lr.state_dict())


def test_adam_zero_grad_and_no_gradient_step():
    w = torch.nn.Parameter(torch.ones(3))
    opt = Adam([w], lr=0.1)
    opt.step()                                   # no gradient yet: nothing moves, no state
    assert torch.equal(w, torch.ones(3)) and not opt.state
    w.sum().backward()
    opt.zero_grad(set_to_none=False)
    assert torch.equal(w.grad, torch.zeros(3))
    opt.zero_grad()
    assert w.grad is None
    with pytest.raises(ValueError, match="empty parameter list"):
        Adam([])


@pytest.mark.parametrize("decoupled, cls", [(False, torch.optim.Adam), (True, torch.optim.AdamW)])
def test_to_torch_is_the_same_optimizer_for_opacus(decoupled, cls):
    w = torch.nn.Parameter(torch.ones(2))
    twin = Adam([w], lr=0.2, betas=(0.5, 0.9), weight_decay=0.01, decoupled_weight_decay=decoupled).to_torch()
    assert type(twin) is cls
    group = twin.param_groups[0]
    assert group["params"][0] is w and (group["lr"], group["betas"], group["weight_decay"]) == (0.2, (0.5, 0.9), 0.01)


@pytest.mark.parametrize("max_norm", [1e-3, 1.0, 1e3])   # clipped, and (at 1e3) left as it is
def test_clip_grad_norm_equals_torchs(max_norm):
    net, twin = _two_copies()
    x = torch.randn(8, 5, generator=torch.Generator().manual_seed(2))
    for module in (net, twin):
        module[2](module[1](module[0](x))).pow(2).sum().backward()
    net[0].bias.grad = twin[0].bias.grad = None   # a parameter without a gradient is skipped
    norm = clip_grad_norm(list(net.parameters()), max_norm)
    expected = torch.nn.utils.clip_grad_norm_(list(twin.parameters()), max_norm, foreach=True)
    assert torch.equal(norm, expected)
    for p, q in zip(net.parameters(), twin.parameters()):
        assert (p.grad is None and q.grad is None) or torch.equal(p.grad, q.grad)
    assert float(clip_grad_norm([torch.nn.Parameter(torch.zeros(2))], 1.0)) == 0.0   # no gradients: norm 0


def test_warmup_cosine_drives_any_optimizer_and_resumes():
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=2.0)
    sched = WarmupCosine(opt, 20, warmup=0.25)
    assert opt.param_groups[0]["lr"] == pytest.approx(2.0 / 5)
    for _ in range(7):
        sched.step()
    state = sched.state_dict()
    other = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=99.0)
    WarmupCosine(other, 20, warmup=0.25).load_state_dict(state)
    assert other.param_groups[0]["lr"] == opt.param_groups[0]["lr"]


def test_a_fit_does_not_import_torchs_compiler():
    """torch.optim's optimizers import torch._dynamo (over a second, tens of MiB); a fit needs none of it."""
    code = textwrap.dedent("""
        import sys
        import numpy as np, pandas as pd
        from synthaug import DiffusionSampler, GANSampler
        rng = np.random.default_rng(0)
        df = pd.DataFrame({"x": rng.normal(size=60), "g": rng.choice(["a", "b"], 60)})
        for cls in (DiffusionSampler, GANSampler):
            model = cls(max_steps=3, batch_size=16, verbose=False, random_state=0).fit(df)
            model.impute(df.mask(rng.random(df.shape) < 0.2))
        print("torch._dynamo" in sys.modules)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "False"
