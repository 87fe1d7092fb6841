"""Random draws of the samplers, plain or in antithetic pairs.

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
"""

from __future__ import annotations

import torch

__all__ = ["Antithetic", "rand", "randn"]


class Antithetic:
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

    def __init__(self, generator):
        self.generator = generator

    @property
    def device(self):
        return self.generator.device


def _draw(kind, shape, generator, mirror, **kwargs):
    if not isinstance(generator, Antithetic):
        return kind(shape, generator=generator, **kwargs)
    shape = tuple(shape)
    half = kind(((shape[0] + 1) // 2, *shape[1:]), generator=generator.generator, **kwargs)
    return torch.cat([half, mirror(half[: shape[0] // 2])])


def randn(shape, generator=None, **kwargs):
    """``torch.randn(shape, generator=generator, **kwargs)``; antithetic halves for an :class:`Antithetic` one."""
    return _draw(torch.randn, shape, generator, torch.neg, **kwargs)


def rand(shape, generator=None, **kwargs):
    """``torch.rand(shape, generator=generator, **kwargs)``; ``u`` and ``1 − u`` for an :class:`Antithetic` one."""
    return _draw(torch.rand, shape, generator, lambda u: 1 - u, **kwargs)
