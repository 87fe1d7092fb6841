"""Random draws of the samplers: plain, in antithetic pairs, or stratified over the rows.

Every random number a sampler draws while it generates rows — the starting
noise, the noise of each stochastic step, the uniforms behind each
categorical draw — goes through :func:`randn` and :func:`rand`. Given a
``torch.Generator`` they are ``torch.randn`` and ``torch.rand``. Given an
:class:`Antithetic` generator they draw the first half of the batch and
mirror it into the second: row ``i + ⌈B/2⌉`` gets ``−z`` where row ``i``
gets ``z``, and ``1 − u`` where it gets ``u``. Both halves are exact draws
of the same distribution; when the two halves of a batch hold the same
input rows, each pair's two outputs are negatively correlated wherever the
output is monotone in the noise, and the mean of many such pairs has a
smaller Monte Carlo error than the mean of as many independent draws
(antithetic variates, Hammersley & Morton 1956). ``impute(X)``'s point
estimate — the mean of many posterior draws per missing cell — uses them.

Given a :class:`Stratified` generator they draw a Latin hypercube over the
batch's rows (McKay, Beckman & Conover 1979): in every column of the draw
the ``B`` rows fall one in each of ``B`` equally likely strata, in an order
drawn at random, independently per column. Every row is still an exact draw
of the distribution (its strata are uniformly random and independent across
columns); only the rows' draws are spread evenly instead of clumping by
chance, so the sample's marginals — and whatever the network makes of
them — come out closer to the model's own than an independent sample's.
``sample(n)`` of a table uses it when its rows fit in one batch.
"""

from __future__ import annotations

import math

import torch

__all__ = ["Antithetic", "Stratified", "rand", "randn"]


class _Wrapped:
    """A ``torch.Generator`` wrapped to tell :func:`randn` and :func:`rand` how to draw from it."""

    def __init__(self, generator):
        self.generator = generator

    @property
    def device(self):
        return self.generator.device


class Antithetic(_Wrapped):
    """A ``torch.Generator`` whose draws :func:`randn` and :func:`rand` make in mirrored halves.

    Parameters
    ----------
    generator : torch.Generator
        Source of the first half of every batch.

    Examples
    --------
    >>> import torch
    >>> z = randn((4, 2), Antithetic(torch.Generator().manual_seed(0)))
    >>> bool(torch.equal(z[2:], -z[:2]))
    True
    >>> u = rand((3,), Antithetic(torch.Generator().manual_seed(0)))
    >>> bool(torch.allclose(u[2], 1 - u[0]))
    True
    """


class Stratified(_Wrapped):
    """A ``torch.Generator`` whose draws :func:`randn` and :func:`rand` make as a Latin hypercube over the rows.

    Row ``i`` of column ``j`` of a ``(B, ...)`` draw lies in stratum
    ``π_j(i)`` of ``B`` equally likely ones (``[π_j(i) / B, (π_j(i) + 1) / B)``
    for a uniform, its normal quantiles for a normal draw), each ``π_j`` a
    random permutation of its own.

    Parameters
    ----------
    generator : torch.Generator
        Source of the strata's order and of the draws inside them.

    Examples
    --------
    >>> import torch
    >>> u = rand((8, 3), Stratified(torch.Generator().manual_seed(0)))
    >>> sorted((u[:, 0] * 8).floor().int().tolist())
    [0, 1, 2, 3, 4, 5, 6, 7]
    >>> z = randn((1000, 2), Stratified(torch.Generator().manual_seed(0)))
    >>> bool(z.mean(0).abs().max() < 0.01), bool((z.std(0) - 1).abs().max() < 0.02)
    (True, True)
    """


def _latin_hypercube(kind, shape, generator, *, device=None, dtype=None):
    """``kind``'s draw of ``shape`` (``torch.rand`` or ``torch.randn``) stratified over its first dimension."""
    g = generator.generator
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    device = g.device if device is None else device
    dtype = torch.get_default_dtype() if dtype is None else dtype
    n, width = shape[0], math.prod(shape[1:])
    strata = torch.stack([torch.randperm(n, generator=g, device=device) for _ in range(width)], dim=1) \
        if width else torch.zeros((n, 0), dtype=torch.long, device=device)
    u = (strata + torch.rand((n, width), generator=g, device=device, dtype=torch.float64)) / max(n, 1)
    u = u.clamp_(min=2.0 ** -60)   # (a draw of exactly 0 has no normal quantile)
    if kind is torch.randn:
        out = torch.special.ndtri(u)
    else:
        out = u.to(dtype).clamp_(max=1.0 - torch.finfo(dtype).eps / 2)   # [0, 1) after rounding, as torch.rand
    return out.to(dtype).reshape(shape)


def _draw(kind, shape, generator, mirror, **kwargs):
    if isinstance(generator, Stratified):
        return _latin_hypercube(kind, shape, generator, **kwargs)
    if not isinstance(generator, Antithetic):
        return kind(shape, generator=generator, **kwargs)
    shape = tuple(shape)
    half = kind(((shape[0] + 1) // 2, *shape[1:]), generator=generator.generator, **kwargs)
    return torch.cat([half, mirror(half[: shape[0] // 2])])


def randn(shape, generator=None, **kwargs):
    """``torch.randn(shape, generator=generator, **kwargs)``; antithetic halves for an :class:`Antithetic` one, a
    Latin hypercube over the rows for a :class:`Stratified` one."""
    return _draw(torch.randn, shape, generator, torch.neg, **kwargs)


def rand(shape, generator=None, **kwargs):
    """``torch.rand(shape, generator=generator, **kwargs)``; ``u`` and ``1 − u`` for an :class:`Antithetic` one, a
    Latin hypercube over the rows for a :class:`Stratified` one."""
    return _draw(torch.rand, shape, generator, lambda u: 1 - u, **kwargs)
