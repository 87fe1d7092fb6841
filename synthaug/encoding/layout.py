"""Where each table column lives in the encoded arrays and in model space.

Model space is one float vector per row: the continuous scores first, then
one block per discrete column holding its one-hot code mapped to ±1
(``2 * one_hot - 1``, "analog bits"). Every model (diffusion or GAN) reads and
writes this space through :class:`Layout`, so the column book-keeping lives in
one place and is computed once, not per step.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

__all__ = ["Layout", "LayoutTensors", "Constraints"]


@dataclass
class Constraints:
    """Constraints on the generated dimensions of model-space rows, broadcast over rows.

    Every model honours them while generating (the diffusion sampler at each
    step, the GAN in its output head), so no rejection is needed.

    Attributes
    ----------
    allowed : torch.BoolTensor (width,) or None
        False marks a discrete level that must not be generated.
    low, high : torch.Tensor (n_continuous,) or None
        Interval for each continuous score.
    """

    allowed: torch.Tensor | None = None
    low: torch.Tensor | None = None
    high: torch.Tensor | None = None


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

    def tensors(self, device):
        """Index tensors used on the hot path, built once per fit/sample call."""
        return LayoutTensors(self, device)


class LayoutTensors:
    """Precomputed index tensors for a :class:`Layout` on one device.

    The discrete blocks of a batch are handled together as one padded tensor
    ``(B, max_card, n_discrete)`` — *levels along dimension 1*, blocks last —
    so a softmax, a cumulative sum or an argmax over every block is one call
    on contiguous slices, with no Python loop over columns. (A reduction over
    a short last dimension is several times slower on CPU.) ``block_index``
    ``(max_card, n_discrete)`` holds the model-space dim of each entry,
    padded with a valid dim and flagged in ``block_valid``. Use
    :attr:`LEVELS` as the ``dim`` of reductions over levels.
    """

    LEVELS = 1

    def __init__(self, layout: Layout, device):
        self.layout = layout
        self.device = torch.device(device)
        k = max(layout.cardinalities, default=1)
        idx = np.zeros((k, layout.n_discrete), dtype=np.int64)
        valid = np.zeros((k, layout.n_discrete), dtype=bool)
        for d, (off, card) in enumerate(zip(layout.offsets, layout.cardinalities)):
            idx[:card, d] = off + np.arange(card)
            idx[card:, d] = off
            valid[:card, d] = True
        self.block_index = torch.as_tensor(idx, device=device)
        self.block_valid = torch.as_tensor(valid, device=device)
        # position in the flattened (max_card, n_discrete) blocks of every discrete dim, in model order
        order = np.argsort(idx[valid], kind="stable")
        self.valid_flat = torch.as_tensor(np.flatnonzero(valid.reshape(-1))[order], device=device)
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

    def block_logits(self, out):
        """Gather the discrete blocks of ``out`` (B, width) → (B, max_card, n_disc), padding = -inf."""
        # index_select on a flat index is several times faster than advanced indexing on CPU
        g = out.index_select(1, self.block_index.view(-1)).view(out.shape[0], *self.block_index.shape)
        return g.masked_fill_(~self.block_valid, float("-inf"))

    def block_codes(self, x):
        """Level of each one-hot (±1) block of model-space rows ``x`` (B, width) → codes (B, n_disc).

        The rows must hold exact one-hot blocks (encoded data, given cells,
        drawn samples): the level is read as ``[x > 0] @ level_matrix``, one
        small matrix product instead of an argmax over a strided dimension.
        """
        hot = (x[:, self.n_continuous:] > 0).to(self.level_matrix.dtype)
        return (hot @ self.level_matrix).round_().long()

    def mask_logits(self, logits, constraints):
        """Set the logits (B, max_card, n_disc) of levels a :class:`Constraints` forbids to -inf."""
        if constraints is None or constraints.allowed is None:
            return logits
        allowed = self.block_logits(constraints.allowed[None].float()) > 0
        return logits.masked_fill(~allowed, float("-inf"))

    def draw_codes(self, probs, generator):
        """Draw one level per block from ``probs`` (B, max_card, n_disc) → codes (B, n_disc).

        Inverse-CDF draw: one uniform per block, ``code = #{k : F_k < u}``
        over each block's cumulative probabilities; a level of probability
        zero (forbidden, or padding) is never drawn.
        """
        cdf = probs.cumsum(self.LEVELS)
        u = torch.rand((probs.shape[0], probs.shape[2]), generator=generator, device=probs.device, dtype=cdf.dtype)
        u = u.clamp_(min=1e-12) * cdf[:, -1]
        codes = (cdf < u.unsqueeze(self.LEVELS)).sum(self.LEVELS)
        return codes.clamp_(max=cdf.shape[self.LEVELS] - 1)

    def codes_to_flat(self, codes):
        """Codes (B, n_disc) → the ±1 one-hot discrete dims (B, width - n_continuous)."""
        flat = torch.full((codes.shape[0], self.width - self.n_continuous), -1.0, device=codes.device)
        return flat.scatter_(1, codes + (self.offsets - self.n_continuous), 1.0)

    def blocks_to_flat(self, blocks):
        """Inverse of :meth:`block_logits`: (B, max_card, n_disc) → (B, width - n_continuous)."""
        return blocks.reshape(blocks.shape[0], -1).index_select(1, self.valid_flat)
