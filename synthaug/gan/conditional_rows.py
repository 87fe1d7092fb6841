"""Training-by-sampling (Xu et al. 2019, CTGAN), vectorised on the device.

To learn rare levels, part of every batch is drawn by first picking a
discrete column uniformly, then one of its levels with probability
proportional to log(1 + count), then a real row holding that level; that
column is then *given* to the generator. The table is indexed once (rows
sorted by level, per column), so a batch is a handful of tensor operations —
no Python loop over rows.
"""

from __future__ import annotations

import torch

__all__ = ["ConditionalRowSampler"]


class ConditionalRowSampler:
    """Draw rows by (column, log-frequency level) on the device.

    Parameters
    ----------
    codes : torch.LongTensor of shape (n_rows, n_discrete)
        Level of every row in every discrete block.
    cardinalities : sequence of int
        Levels per discrete block.

    Examples
    --------
    >>> import torch
    >>> codes = torch.tensor([[0], [0], [0], [1]])
    >>> sampler = ConditionalRowSampler(codes, [2])
    >>> rows, blocks = sampler.sample(1000, generator=torch.Generator().manual_seed(0))
    >>> 0.3 < float((rows == 3).float().mean()) < 0.5   # log(2) / (log(2) + log(4)) = 1/3
    True
    """

    def __init__(self, codes, cardinalities):
        n, d = codes.shape
        device = codes.device
        k = max(cardinalities, default=1)
        self.n_blocks = d
        # rows sorted by level within each block, and where each level's run starts
        self.order = torch.argsort(codes, dim=0, stable=True).T.contiguous()          # (d, n)
        counts = torch.zeros((d, k), dtype=torch.long, device=device)
        counts.scatter_add_(1, codes.T, torch.ones_like(codes.T))
        self.counts = counts
        self.starts = torch.cumsum(counts, dim=1) - counts
        self.weights = torch.log1p(counts.float())                                    # 0 for absent levels

    def sample(self, n, *, generator):
        """``n`` row indices and the discrete block each was drawn through."""
        device = self.order.device
        blocks = torch.randint(self.n_blocks, (n,), generator=generator, device=device)
        levels = torch.multinomial(self.weights[blocks], 1, generator=generator).squeeze(1)
        count = self.counts[blocks, levels]
        u = torch.rand(n, generator=generator, device=device)
        within = (u * count).long().clamp_(max=count - 1)
        rows = self.order[blocks, self.starts[blocks, levels] + within]
        return rows, blocks
