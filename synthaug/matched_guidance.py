"""Guidance towards a class, with its strength matched to how plainly the real rows are of their class.

A row of a requested class is picked among k candidates made given the
class, in proportion to ``exp(base)·p(class | rest of the row)^w``
(``base``: whatever else weighs the candidates, 0 for plain candidates).
Which ``w`` is right depends on the model and the table: where the model
blurs a small class into its neighbours (its rows less plainly of their
class than the real ones), ``w > 0`` sharpens them; where the classes
overlap and the model already draws its rows clear of the overlap, a fixed
``w > 0`` pushes them further and a classifier trained on them draws its
boundary too far into the class.

:func:`matched_guidance` picks ``w`` per class so that the picked rows'
expected ``p(class | rest)`` — under the model's own classifier, the one
that weighs them — equals its mean over the real rows of the class
(``targets``): the first moment of the class posterior is matched, and the
candidates' other traits follow. The expected posterior of the pick is
non-decreasing in ``w`` (its derivative is the tilted covariance of ``p``
and ``log p``), so ``w`` is found by bisection inside ``bounds``; a target
out of reach gets the nearer bound.
"""

from __future__ import annotations

import torch

__all__ = ["matched_guidance", "picked_mean"]

#: the range of the matched weight: from undoing the class's weight to sharper than any fixed default
GUIDANCE_BOUNDS = (-1.0, 4.0)


def picked_mean(base, log_p, w):
    """Expected ``p`` of the candidate picked per row in proportion to ``exp(base + w·log_p)``.

    Parameters
    ----------
    base, log_p : Tensor (k, n)
        Candidate ``j`` of row ``i`` at ``[j, i]``; ``log_p`` is ``log p(class | rest)``.
    w : Tensor (n,) or float

    Returns
    -------
    Tensor (n,)

    Examples
    --------
    >>> import torch
    >>> log_p = torch.log(torch.tensor([[0.2], [0.8]]))
    >>> [round(float(picked_mean(torch.zeros(2, 1), log_p, w)), 3) for w in (0.0, 1.0)]
    [0.5, 0.68]
    """
    weights = torch.softmax(base + w * log_p, dim=0)
    return (weights * log_p.exp()).sum(0)


def matched_guidance(base, log_p, groups, targets, *, bounds=GUIDANCE_BOUNDS, n_iter=40):
    """Per row, the guidance weight ``w`` of its group (class) that matches the group's target posterior.

    Parameters
    ----------
    base, log_p : Tensor (k, n)
        As in :func:`picked_mean`.
    groups : LongTensor (n,)
        Each row's class code (an index into ``targets``).
    targets : Tensor (n_groups,)
        Mean ``p(class | rest)`` of each class's real rows; NaN: no target,
        that class's rows get ``w = 0``.
    bounds : (float, float)
    n_iter : int
        Bisection steps (each halves the interval).

    Returns
    -------
    Tensor (n,)
        ``w`` of each row's group: the mean of :func:`picked_mean` over the
        group's rows is ``targets[group]`` (or the nearer bound).

    Examples
    --------
    >>> import torch
    >>> log_p = torch.log(torch.tensor([[0.2, 0.3], [0.8, 0.6]]))
    >>> w = matched_guidance(torch.zeros(2, 2), log_p, torch.tensor([0, 0]), torch.tensor([0.6]))
    >>> round(float(picked_mean(torch.zeros(2, 2), log_p, w).mean()), 4)
    0.6
    """
    base, log_p = base.float(), log_p.float()
    n_groups = len(targets)
    lo = torch.full((n_groups,), float(bounds[0]), device=log_p.device)
    hi = torch.full((n_groups,), float(bounds[1]), device=log_p.device)
    counts = torch.zeros(n_groups, device=log_p.device).index_add_(0, groups, torch.ones_like(log_p[0]))
    targets = targets.to(log_p.device, torch.float32)
    for _ in range(n_iter):
        mid = (lo + hi) / 2
        means = torch.zeros(n_groups, device=log_p.device).index_add_(
            0, groups, picked_mean(base, log_p, mid.index_select(0, groups)))
        below = means < targets * counts   # the group's mean posterior is still short of its target: sharpen
        lo, hi = torch.where(below, mid, lo), torch.where(below, hi, mid)
    w = (lo + hi) / 2
    return torch.where(torch.isnan(targets), 0.0, w).index_select(0, groups)
