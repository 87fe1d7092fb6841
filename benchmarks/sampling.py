"""Where sampling time goes: network products, the rest of each step, decoding; and the cores' GEMM rate.

Fits each sampler on the credit table grown to 10,000 rows (300 steps, as
``scale.py`` does), samples 200,000 rows once to warm up, then once under
cProfile, and splits the time into

* ``matmul`` — the network's matrix products (``linear`` / ``addmm``);
* ``decode`` — :meth:`TableEncoder.inverse_transform` (values and dtypes);
* ``other`` — everything else (norms, activations, drawing levels, noise, Python).

It also times the matrix product of the denoiser's hidden layer shape
(4,096 × 128 · 128 × 128) to give the GFLOP/s these cores reach, the
denoiser's forward pass as a module and folded (as sampling runs it), and
with ``--compile`` the folded pass under ``torch.compile``.

Usage (from the repository root)::

    python benchmarks/sampling.py
    python benchmarks/sampling.py --compile
    PYTHONPATH=OLD_CHECKOUT python benchmarks/sampling.py   # an older commit (git worktree add OLD_CHECKOUT REV)

Runs of two versions are comparable only when made one after the other on
the same cores (the GEMM line shows how fast they were).
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import time
import warnings

import torch

from scale import SAMPLE_ROWS, gemm_rate, grown_credit

MATMUL = ("linear", "addmm")


def split(profile):
    """Seconds in the network's matrix products, in decoding, and in total."""
    stats = pstats.Stats(profile).stats
    matmul = sum(v[2] for (_, _, name), v in stats.items() if any(m in name for m in MATMUL))
    decode = sum(v[3] for (_, _, name), v in stats.items() if name == "inverse_transform")
    total = max(v[3] for v in stats.values())
    return matmul, decode, total


def forward_us_per_row(network, d_x, cond_dim, n_rows=4096, repeats=50, *, folded=False):
    """Seconds per row (in µs) of the denoiser's forward pass; ``folded``: with the condition part precomputed.

    ``cond_dim`` counts every condition column, the skip features included.
    """
    x = torch.randn(n_rows, d_x)
    cond, t = torch.zeros(n_rows, cond_dim), torch.full((1,), 500)
    kwargs = {"cond_part": network.condition_part(cond)} if folded else {"cond": cond}
    with torch.inference_mode():
        for _ in range(3):
            network(x, t, **kwargs)
        start = time.perf_counter()
        for _ in range(repeats):
            network(x, t, **kwargs)
    return (time.perf_counter() - start) / repeats / n_rows * 1e6


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--compile", action="store_true", help="also time the denoiser under torch.compile")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore")
    from synthaug import DiffusionSampler, GANSampler

    data = grown_credit(10_000)
    print(f"GEMM 4096×128·128×128: {gemm_rate():.0f} GFLOP/s on {torch.get_num_threads()} threads")
    for name, cls in (("diffusion", DiffusionSampler), ("gan", GANSampler)):
        model = cls(max_steps=300, random_state=0, verbose=False).fit(data)
        model.sample(SAMPLE_ROWS, random_state=1)
        profile = cProfile.Profile()
        profile.enable()
        model.sample(SAMPLE_ROWS, random_state=0)
        profile.disable()
        matmul, decode, total = split(profile)
        print(f"{name}: {SAMPLE_ROWS:,} rows in {total:.2f} s under cProfile — matmul {matmul:.2f} s, "
              f"decode {decode:.2f} s, other {total - matmul - decode:.2f} s")
        if name != "diffusion":
            continue
        net = model.network_
        dims = (net.inp.in_features - net.cond_dim, net.cond_dim + getattr(net, "skip_dim", 0))   # (older code: none)
        folded = net.folded()
        print(f"denoiser forward: module {forward_us_per_row(net, *dims):.2f} µs/row, folded (as sampling runs it) "
              f"{forward_us_per_row(folded, *dims, folded=True):.2f} µs/row")
        if args.compile:
            start = time.perf_counter()
            compiled = torch.compile(folded)
            forward_us_per_row(compiled, *dims, repeats=1, folded=True)
            warm = time.perf_counter() - start
            print(f"folded denoiser compiled: {forward_us_per_row(compiled, *dims, folded=True):.2f} µs/row "
                  f"(compilation {warm:.0f} s)")


if __name__ == "__main__":
    main()
