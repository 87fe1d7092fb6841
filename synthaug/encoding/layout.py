"""Where each table column lives in the encoded arrays and in model space.

Model space is one float vector per row: the continuous scores first, then
one block per discrete column holding its one-hot code mapped to ±1
(``2 * one_hot - 1``, "analog bits"). Every model (diffusion or GAN) reads and
writes this space through :class:`Layout`, so the column book-keeping lives in
one place and is computed once, not per step.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import torch

from ..noise import rand

__all__ = ["Layout", "LayoutTensors", "Constraints", "group_blocks"]


@dataclass
class Constraints:
    """Constraints on the generated dimensions of model-space rows, broadcast over rows.

    Every model honours them while generating (the diffusion sampler at each
    step, the GAN in its output head), so no rejection is needed.

    Attributes
    ----------
    allowed : torch.BoolTensor (width,) or None
        False marks a discrete level that must not be generated.
    low, high : torch.Tensor (n_continuous, K) or (B, n_continuous, K), or None
        The ``K`` intervals of each continuous score: it must fall in one of
        them (a free score: ``(-inf, inf)``; an unused slot: ``(inf, inf)``).
        ``(n_continuous,)`` is one interval per score; one of them may be
        None (unbounded on that side). See :meth:`intervals`.
    log_weights : torch.Tensor (width,) or None
        Added to the logits of the discrete levels: the log-probability
        that a level is consistent with the constraints (an interval
        condition on a numeric column holds only part of its continuous
        mode's values, and all of a spike's).
    """

    allowed: torch.Tensor | None = None
    low: torch.Tensor | None = None
    high: torch.Tensor | None = None
    log_weights: torch.Tensor | None = None

    @property
    def bounded(self):
        """Whether any score has an interval."""
        return self.low is not None or self.high is not None

    @property
    def weighs_levels(self):
        """Whether some level is forbidden or weighted (:meth:`level_log_weights` is not None)."""
        return self.allowed is not None or self.log_weights is not None

    def repeat(self, k):
        """The constraints of ``k`` copies of a batch stacked one after the other (per-row intervals repeated)."""
        def stacked(t):
            return t if t is None or t.dim() < 3 else t.repeat(k, 1, 1)

        return replace(self, low=stacked(self.low), high=stacked(self.high))

    def intervals(self, dtype=torch.float32):
        """``(low, high)`` in ``dtype`` with the trailing ``K`` dimension (one interval: ``K = 1``)."""
        ref = self.low if self.low is not None else self.high
        inf = torch.full((), torch.inf, dtype=dtype, device=ref.device)
        low = -inf if self.low is None else self.low.to(dtype)
        high = inf if self.high is None else self.high.to(dtype)
        low, high = torch.broadcast_tensors(low, high)
        return (low.unsqueeze(-1), high.unsqueeze(-1)) if ref.dim() == 1 else (low, high)

    def level_log_weights(self, dims, dtype=torch.float32):
        """Log-weight of the model-space levels ``dims`` (index tensor or slice): ``log_weights`` there (0
        without), −inf where ``allowed`` forbids the level; None when neither is set."""
        if self.allowed is None and self.log_weights is None:
            return None
        ref = self.allowed if self.allowed is not None else self.log_weights
        w = torch.zeros(ref[dims].shape, dtype=dtype, device=ref.device) if self.log_weights is None \
            else self.log_weights[dims].to(dtype)
        return w if self.allowed is None else w.masked_fill(~self.allowed[dims], float("-inf"))


@dataclass(frozen=True)
class Layout:
    """Column book-keeping of an encoded table.

    Attributes
    ----------
    n_continuous : int
        Number of continuous scores.
    cardinalities : tuple of int
        Number of codes of each discrete column.
    column_parts : tuple of (int or None, int or None)
        For each table column, its continuous index and its discrete index.
    """

    n_continuous: int
    cardinalities: tuple
    column_parts: tuple

    @classmethod
    def from_encoders(cls, encoders):
        parts, n_cont, cards = [], 0, []
        for enc in encoders:
            ci = di = None
            if enc.has_continuous:
                ci, n_cont = n_cont, n_cont + 1
            if enc.n_levels:
                di = len(cards)
                cards.append(enc.n_levels)
            parts.append((ci, di))
        return cls(n_cont, tuple(cards), tuple(parts))

    @property
    def n_discrete(self):
        return len(self.cardinalities)

    @property
    def n_columns(self):
        return len(self.column_parts)

    @property
    def width(self):
        """Dimension of model space."""
        return self.n_continuous + int(sum(self.cardinalities))

    @property
    def offsets(self):
        """Start of each discrete block in model space."""
        return self.n_continuous + np.concatenate([[0], np.cumsum(self.cardinalities)[:-1]]).astype(np.int64) \
            if self.cardinalities else np.zeros(0, dtype=np.int64)

    def dim_to_column(self):
        """Table-column index of every model-space dimension, shape ``(width,)``."""
        out = np.empty(self.width, dtype=np.int64)
        offsets = self.offsets
        for j, (ci, di) in enumerate(self.column_parts):
            if ci is not None:
                out[ci] = j
            if di is not None:
                out[offsets[di]: offsets[di] + self.cardinalities[di]] = j
        return out

    def disc_to_column(self):
        return np.array([j for j, (_, di) in enumerate(self.column_parts) if di is not None], dtype=np.int64)

    def cont_to_column(self):
        return np.array([j for j, (ci, _) in enumerate(self.column_parts) if ci is not None], dtype=np.int64)

    def score_modes(self):
        """Discrete block of each score's column, or -1, shape ``(n_continuous,)``.

        A numeric column with modes (spikes, missing) has both a score and a
        block; its score is meaningful only in the block's level 0, the
        continuous mode (:attr:`~synthaug.encoding.columns.NumericColumn.CONTINUOUS`).
        """
        out = np.full(self.n_continuous, -1, dtype=np.int64)
        for ci, di in self.column_parts:
            if ci is not None and di is not None:
                out[ci] = di
        return out

    def scores_in_mode(self, discrete):
        """Whether each row's scores are in their continuous mode: codes (n, n_discrete) → (n, n_continuous)."""
        blocks = self.score_modes()
        out = np.ones((len(discrete), self.n_continuous), dtype=bool)
        with_mode = blocks >= 0
        out[:, with_mode] = np.asarray(discrete)[:, blocks[with_mode]] == 0
        return out

    def score_mode_dims(self):
        """Model-space dimension of each score's continuous mode (level 0 of its block), or -1: ``(n_continuous,)``."""
        blocks = self.score_modes()
        if not self.n_discrete:
            return blocks
        return np.where(blocks >= 0, self.offsets[np.maximum(blocks, 0)], -1)

    def tensors(self, device):
        """Index tensors used on the hot path, built once per fit/sample call."""
        return LayoutTensors(self, device)


def group_blocks(cardinalities, *, group_cost=8):
    """Partition discrete blocks into groups padded to a common number of levels.

    Blocks are sorted by cardinality and cut into runs so that the padded
    size of all groups — ``max_card(group) × len(group)`` entries, plus
    ``group_cost`` entries per group for the fixed cost of each extra tensor
    operation — is smallest (dynamic programming over the sorted runs). One
    100-level column among 3-level ones then costs about ``100 + 3·n``
    entries per row rather than ``100·n``.

    Returns
    -------
    list of int arrays
        Block indices of each group, ascending cardinality.

    Examples
    --------
    >>> [g.tolist() for g in group_blocks([2, 100, 3, 2])]
    [[0, 3, 2], [1]]
    """
    cards = np.asarray(cardinalities, dtype=np.int64)
    if cards.size == 0:
        return []
    order = np.argsort(cards, kind="stable")
    c = cards[order]
    n = len(c)
    best = np.zeros(n + 1)             # best[j]: cheapest cover of the j smallest blocks
    cut = np.zeros(n + 1, dtype=np.int64)
    for j in range(1, n + 1):
        starts = np.arange(j)          # group = sorted blocks starts..j-1, padded to c[j-1]
        costs = best[:j] + c[j - 1] * (j - starts) + group_cost
        cut[j] = int(np.argmin(costs))
        best[j] = costs[cut[j]]
    groups, j = [], n
    while j > 0:
        groups.append(order[cut[j]: j])
        j = cut[j]
    return groups[::-1]


class _Group:
    """Index tensors of one group of blocks padded to ``k`` levels: see :class:`LayoutTensors`."""

    def __init__(self, layout, blocks, device):
        cards = np.asarray(layout.cardinalities)[blocks]
        offsets = layout.offsets[blocks]
        k = int(cards.max())
        idx = np.zeros((k, len(blocks)), dtype=np.int64)
        valid = np.zeros((k, len(blocks)), dtype=bool)
        for d, (off, card) in enumerate(zip(offsets, cards)):
            idx[:card, d] = off + np.arange(card)
            idx[card:, d] = off
            valid[:card, d] = True
        self.block_ids, self.entries, self.valid_entries = np.asarray(blocks), idx.reshape(-1), valid.reshape(-1)
        self.index = torch.as_tensor(idx, device=device)
        self.valid = torch.as_tensor(valid, device=device)
        self.padded = not valid.all()
        self.blocks = torch.as_tensor(blocks, device=device)


class LayoutTensors:
    """Precomputed index tensors for a :class:`Layout` on one device.

    The discrete blocks of a batch are handled in a few *groups* of blocks of
    similar cardinality (:func:`group_blocks`); a group is one padded tensor
    ``(B, max_card, n_blocks)`` — *levels along dimension 1*, blocks last —
    so a softmax, a cumulative sum or an argmax over every block of the group
    is one call on contiguous slices, with no Python loop over columns. (A
    reduction over a short last dimension is several times slower on CPU.)
    Methods taking or returning "blocks" use a list with one such tensor per
    group; padding entries are ``-inf`` logits, hence zero probabilities.
    Use :attr:`LEVELS` as the ``dim`` of reductions over levels. Codes
    ``(B, n_discrete)`` are always in the layout's block order.
    """

    LEVELS = 1

    def __init__(self, layout: Layout, device):
        self.layout = layout
        self.device = torch.device(device)
        self.groups = [_Group(layout, blocks, device) for blocks in group_blocks(layout.cardinalities)]
        order = np.concatenate([np.zeros(0, np.int64)] + [g.block_ids for g in self.groups])
        # codes concatenated group after group → block order
        self.block_order = torch.as_tensor(np.argsort(order), device=device)
        self._in_order = bool(np.array_equal(order, np.arange(len(order))))
        # position of every discrete dim (in model order) in the concatenated flattened groups
        entries = np.concatenate([np.zeros(0, np.int64)] + [g.entries for g in self.groups])
        valid = np.concatenate([np.zeros(0, bool)] + [g.valid_entries for g in self.groups])
        self.valid_flat = torch.as_tensor(np.flatnonzero(valid)[np.argsort(entries[valid], kind="stable")],
                                          device=device)
        self.offsets = torch.as_tensor(layout.offsets, device=device)
        # (width - n_continuous, n_discrete): the level of each discrete dim in its block's column
        levels = np.zeros((len(self.valid_flat), layout.n_discrete), dtype=np.float32)
        for d, (off, card) in enumerate(zip(layout.offsets - layout.n_continuous, layout.cardinalities)):
            levels[off: off + card, d] = np.arange(card)
        self.level_matrix = torch.as_tensor(levels, device=device)
        self.dim_to_column = torch.as_tensor(layout.dim_to_column(), device=device)
        self.n_continuous = layout.n_continuous
        self.width = layout.width

    def to_model(self, continuous, discrete):
        """``(B, n_cont)`` scores and ``(B, n_disc)`` codes → ``(B, width)`` model-space rows."""
        b = max(continuous.shape[0], discrete.shape[0])
        x = torch.full((b, self.width), -1.0, dtype=torch.float32, device=self.device)
        x[:, : self.n_continuous] = continuous
        if discrete.shape[1]:
            x.scatter_(1, discrete + self.offsets, 1.0)
        return x

    def gather(self, continuous, discrete, index):
        """Model-space rows ``index`` (B,) of a table held as scores (N, n_cont) and codes (N, n_disc).

        ``index_select``: several times faster than advanced indexing on CPU.
        """
        return self.to_model(continuous.index_select(0, index), discrete.index_select(0, index))

    def block_logits(self, out):
        """Gather the discrete blocks of ``out`` (B, width) → one (B, max_card, n_blocks) per group, padding -inf."""
        groups = []
        for g in self.groups:
            # index_select on a flat index is several times faster than advanced indexing on CPU
            logits = out.index_select(1, g.index.view(-1)).view(out.shape[0], *g.index.shape)
            groups.append(logits.masked_fill_(~g.valid, float("-inf")) if g.padded else logits)
        return groups

    def block_codes(self, x):
        """Level of each one-hot (±1) block of model-space rows ``x`` (B, width) → codes (B, n_disc).

        The rows must hold exact one-hot blocks (encoded data, given cells,
        drawn samples): the level is read as ``[x > 0] @ level_matrix``, one
        small matrix product instead of an argmax over a strided dimension.
        """
        hot = (x[:, self.n_continuous:] > 0).to(self.level_matrix.dtype)
        return (hot @ self.level_matrix).round_().long()

    def mask_logits(self, logits, constraints):
        """Logits (per group) with the levels a :class:`Constraints` forbids at -inf and its log-weights added."""
        weights = None if constraints is None else constraints.level_log_weights(slice(None), logits[0].dtype)
        if weights is None:
            return logits
        return [lg + w for lg, w in zip(logits, self.block_logits(weights[None]))]

    def log_mass(self, masked, logits):
        """``log Σ softmax(logits)·exp(masked − logits)`` of every block (B, n_disc): the log-probability
        that a level drawn from ``logits`` is allowed by the :meth:`mask_logits` that gave ``masked``
        (weighted by its log-weights)."""
        return self._in_block_order([torch.logsumexp(m, dim=self.LEVELS) - torch.logsumexp(lg, dim=self.LEVELS)
                                     for m, lg in zip(masked, logits)])

    def softmax(self, logits):
        """Probabilities of the levels of every block, per group."""
        return [torch.softmax(lg, dim=self.LEVELS) for lg in logits]

    def cross_entropy(self, out, codes):
        """``−log softmax(out)[code]`` of every block: (B, width) logits and (B, n_disc) codes → (B, n_disc)."""
        ce = []
        for g, logits in zip(self.groups, self.block_logits(out)):
            target = codes.index_select(1, g.blocks).unsqueeze(self.LEVELS)
            ce.append(-torch.log_softmax(logits, dim=self.LEVELS).gather(self.LEVELS, target).squeeze(self.LEVELS))
        return self._in_block_order(ce)

    def kl_divergence(self, target, out):
        """``KL(softmax(target) ‖ softmax(out))`` of every block: two (B, width) logits → (B, n_disc)."""
        kl = []
        for g, q_lg, p_lg in zip(self.groups, self.block_logits(target), self.block_logits(out)):
            log_q = torch.log_softmax(q_lg, dim=self.LEVELS)
            # padding levels: both logs are -inf and q = 0; their terms are 0
            diff = torch.where(g.valid, log_q - torch.log_softmax(p_lg, dim=self.LEVELS), 0.0)
            kl.append((log_q.exp() * diff).sum(self.LEVELS))
        return self._in_block_order(kl)

    def draw_codes(self, probs, generator):
        """Draw one level per block from ``probs`` (per group, unnormalised allowed) → codes (B, n_disc).

        Inverse-CDF draw: one uniform per block (drawn in block order, so the
        stream does not depend on the grouping), ``code = #{k : F_k < u}``
        over each block's cumulative probabilities; a level of probability
        zero (forbidden, or padding) is never drawn.
        """
        b = probs[0].shape[0] if probs else 0
        dtype = probs[0].dtype if probs else torch.float32
        u = rand((b, self.layout.n_discrete), generator, device=self.device, dtype=dtype)
        u = u.clamp_(min=1e-12)
        codes = []
        for g, p in zip(self.groups, probs):
            cdf = p.cumsum(self.LEVELS)
            ug = u.index_select(1, g.blocks) * cdf[:, -1]
            codes.append((cdf < ug.unsqueeze(self.LEVELS)).sum(self.LEVELS).clamp_(max=cdf.shape[self.LEVELS] - 1))
        return self._in_block_order(codes)

    def _in_block_order(self, per_group):
        """Concatenate per-group (B, n_blocks) tensors and put their columns in the layout's block order."""
        out = per_group[0] if len(per_group) == 1 else torch.cat(per_group, dim=1)
        return out if self._in_order else out.index_select(1, self.block_order)

    def codes_to_flat(self, codes):
        """Codes (B, n_disc) → the ±1 one-hot discrete dims (B, width - n_continuous)."""
        flat = torch.full((codes.shape[0], self.width - self.n_continuous), -1.0, device=codes.device)
        return flat.scatter_(1, codes + (self.offsets - self.n_continuous), 1.0)

    def blocks_to_flat(self, blocks):
        """Inverse of :meth:`block_logits`: per-group blocks → (B, width - n_continuous)."""
        flat = torch.cat([g.reshape(g.shape[0], -1) for g in blocks], dim=1)
        return flat.index_select(1, self.valid_flat)
