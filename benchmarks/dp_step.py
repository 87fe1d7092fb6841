"""Cost of one DP-SGD step of the default denoiser: plain, per-sample gradients, ghost clipping.

Times ``--steps`` optimiser steps of synthaug's ``ResidualMLP`` (width 128,
depth 3, credit-sized input) on a batch of ``--batch`` rows, on one thread:

* ``plain`` — AdamW on the mean loss;
* ``per-sample`` — Opacus ``GradSampleModule`` + ``DPOptimizer`` (materialises
  every row's gradient);
* ``ghost`` — Opacus ghost clipping (two backward passes), what synthaug uses
  for networks with other layers (the U-Net, the GAN critic);
* ``bookkeeping`` — the same clipped sum in one backward pass
  (:class:`synthaug.privacy.bookkeeping.BookkeepingClipping`), what the table
  denoiser uses.

Usage (from the repository root)::

    python benchmarks/dp_step.py
"""

from __future__ import annotations

import argparse
import time

import torch


def _time(step, n_steps):
    for _ in range(3):
        step()
    start = time.perf_counter()
    for _ in range(n_steps):
        step()
    return (time.perf_counter() - start) / n_steps * 1000


def main(argv=None):
    from opacus import GradSampleModule
    from opacus.optimizers import DPOptimizer

    from synthaug.nn import ResidualMLP
    from synthaug.privacy.dp_sgd import make_private, private_backward, quiet_hooks

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch", type=int, default=512)
    parser.add_argument("--steps", type=int, default=20)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    torch.manual_seed(0)
    d, b = 60, args.batch
    x, t, c = torch.randn(b, d), torch.randint(1000, (b,)), torch.randn(b, 14)

    def net():
        return ResidualMLP(d, d, cond_dim=14, width=128, depth=3, zero_out=False)

    plain_net = net()
    plain_opt = torch.optim.AdamW(plain_net.parameters(), lr=1e-3)

    def plain():
        plain_opt.zero_grad(set_to_none=True)
        ((plain_net(x, t, c) - x) ** 2).mean().backward()
        plain_opt.step()

    gsm = GradSampleModule(net(), loss_reduction="sum")
    gsm_opt = DPOptimizer(torch.optim.AdamW(gsm.parameters(), lr=1e-3), noise_multiplier=1.0, max_grad_norm=1.0,
                          expected_batch_size=b)

    def per_sample():
        gsm_opt.zero_grad(set_to_none=True)
        ((gsm(x, t, c) - x) ** 2).sum().backward()
        gsm_opt.step()

    ghost_net = net()
    ghost, ghost_opt = make_private(ghost_net, torch.optim.AdamW(ghost_net.parameters(), lr=1e-3),
                                    noise_multiplier=1.0, max_grad_norm=1.0, expected_batch_size=b)

    def ghost_step():
        ghost_opt.zero_grad()
        private_backward(ghost, ghost_opt, ((ghost(x, t, c) - x) ** 2).sum(1))
        ghost_opt.step()

    bk_net = net()
    bookkeeping, bk_opt = make_private(bk_net, torch.optim.AdamW(bk_net.parameters(), lr=1e-3),
                                       noise_multiplier=1.0, max_grad_norm=1.0, expected_batch_size=b,
                                       bookkeeping=True)

    def bookkeeping_step():
        bk_opt.zero_grad()
        private_backward(bookkeeping, bk_opt, ((bookkeeping(x, t, c) - x) ** 2).sum(1))
        bk_opt.step()

    with quiet_hooks():
        times = {name: _time(f, args.steps) for name, f in
                 (("plain", plain), ("per-sample", per_sample), ("ghost", ghost_step),
                  ("bookkeeping", bookkeeping_step))}
    for name, ms in times.items():
        print(f"{name:12s} {ms:8.1f} ms/step  {ms / times['plain']:5.1f}x plain")


if __name__ == "__main__":
    main()
