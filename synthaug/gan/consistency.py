"""Level predictor of a tabular GAN: a Gibbs sweep of the categorical columns, and a consistency term.

A generator draws every level of a row independently given its noise, so a
label follows the other columns only as sharply as the generator's logits
are; after a few hundred steps it follows them more loosely than the real
label follows the real ones. A *level predictor* — a network trained on real
rows with one discrete column hidden per row (its cells zeroed, its mask bit
set) to give that column's level probabilities ``q(level | rest of the row)``
— serves twice:

* :func:`resample_levels` — when sampling, each purely categorical column
  that is not given is redrawn from ``q`` given the row as it stands (one
  scan of a Gibbs sampler with the predictor's conditionals), with offsets
  from :func:`fit_level_offsets` that keep each column's training
  frequencies;
* :class:`LevelConsistency` — while training (optional), for each
  generated row one discrete column that was not given is hidden the same
  way and the generator's own level probabilities ``π`` for it are pulled
  toward the predictor's by ``KL(q ‖ π)``, in the spirit of CTAB-GAN's
  auxiliary classifier but for every discrete column and without naming a
  target. The KL is minimised by ``π = q``, so the label's spread is kept
  (a cross-entropy against the predicted class would sharpen it); the
  predictor sees the generated row detached, so the term moves only ``π``.
  It cannot do what the sweep does: the row's other levels are drawn
  independently of ``π``.
"""

from __future__ import annotations

import copy

import torch

from ..distributed import allreduce_gradients
from ..noise import rand

__all__ = ["LevelConsistency", "BestSnapshot", "hide_one_column", "hide_cells", "resample_levels",
           "constrained_log_mass", "fit_level_offsets"]


def hide_cells(x, hidden, dim_to_column):
    """Rows ``x`` (B, width) with the cells of the ``hidden`` columns (B, n_columns) set to 0."""
    return x.masked_fill(hidden.index_select(1, dim_to_column), 0.0)


def hide_one_column(candidates, given, *, generator):
    """One column per row, uniform among ``candidates`` (n_columns,) that are not ``given`` (B, n_columns).

    Returns ``(hidden (B, n_columns) bool one-hot, valid (B,) bool)``; a row
    with no candidate left has an all-False mask and ``valid`` False. No
    data-dependent branch: nothing waits for the device.

    Examples
    --------
    >>> import torch
    >>> g = torch.Generator().manual_seed(0)
    >>> hidden, valid = hide_one_column(torch.tensor([True, False, True]),
    ...                                 torch.tensor([[False, False, False], [True, False, True]]), generator=g)
    >>> hidden.sum(1).tolist(), valid.tolist(), bool(hidden[0, 1])
    ([1, 0], [True, False], False)
    """
    allowed = candidates[None, :] & ~given
    u = torch.rand(given.shape, generator=generator, device=given.device) + 1.0   # > 0 wherever allowed
    pick = (u * allowed).argmax(dim=1)
    valid = allowed.any(dim=1)
    hidden = torch.nn.functional.one_hot(pick, given.shape[1]).bool() & valid[:, None]
    return hidden, valid


class LevelConsistency:
    """The predictor of hidden discrete columns, its optimiser, and the generator's consistency term.

    Parameters
    ----------
    predictor : nn.Module
        ``predictor(x, None, hidden)`` maps rows ``(B, width)`` whose hidden
        column's cells are zeroed, and the mask of hidden columns
        ``(B, n_columns)``, to ``(B, width)`` outputs read as logits on the
        discrete dims (a :class:`~synthaug.nn.ResidualMLP` with
        ``cond_dim=n_columns``).
    optimizer : synthaug.optim.Adam or torch.optim.Optimizer
        Over the predictor's parameters.
    layout_tensors : LayoutTensors
    weight : float
        Multiplier of the generator's term.
    generator : torch.Generator
        Draws the hidden columns.
    validation : tuple, optional
        ``(x (V, width), hidden (V, n_columns) bool, excluded (width,) bool
        or None)``: rows kept out of the predictor's loss, each with the one
        column whose blocks it is scored on hidden, and levels left out of
        the score (a column's "missing" level: the score is then that of the
        present levels' conditional). :meth:`validate` scores the predictor
        on them and keeps a copy of the best one (early stopping), which
        :meth:`fitted_predictor` returns.
    columns : sequence of int, optional
        The columns the predictor learns to predict (one hidden per row
        and update, uniformly); every column with a discrete block without
        it. Those of the generator's term too.

    Examples
    --------
    >>> import torch
    >>> from synthaug.encoding import Layout
    >>> from synthaug.nn import ResidualMLP
    >>> from synthaug.optim import Adam
    >>> layout = Layout(1, (3,), ((0, None), (None, 0)))
    >>> lt = layout.tensors("cpu")
    >>> net = ResidualMLP(layout.width, layout.width, cond_dim=layout.n_columns, width=8, depth=1, time_dim=0)
    >>> g = torch.Generator().manual_seed(0)
    >>> term = LevelConsistency(net, Adam(net.parameters()), lt, weight=1.0, generator=g)
    >>> real = lt.to_model(torch.randn(6, 1), torch.randint(3, (6, 1)))
    >>> float(term.update(real, torch.zeros(6, 2, dtype=torch.bool))) > 0
    True
    >>> logits = torch.zeros(6, layout.width, requires_grad=True)
    >>> term.generator_term(real, logits, torch.zeros(6, 2, dtype=torch.bool)).backward()
    >>> logits.grad.shape
    torch.Size([6, 4])
    """

    def __init__(self, predictor, optimizer, layout_tensors, *, weight, generator, validation=None, columns=None):
        self.predictor, self.optimizer, self.lt = predictor, optimizer, layout_tensors
        self.weight, self.generator = weight, generator
        layout = layout_tensors.layout
        device = layout_tensors.device
        disc_to_column = torch.as_tensor(layout.disc_to_column(), device=device)
        self._disc_to_column = disc_to_column
        self._candidates = torch.zeros(layout.n_columns, dtype=torch.bool, device=device)
        self._candidates[disc_to_column if columns is None else torch.as_tensor(columns, device=device)] = True
        self.best = None
        if validation is not None:   # (rows, the one column hidden in each): what the kept predictor is chosen on
            self._val_x, self._val_hidden, excluded = validation
            self._val_offsets = None if excluded is None else excluded.float() * -1e4
            self.best = BestSnapshot(predictor)

    def _loss(self, x, hidden, valid, weight=None, offsets=None):
        """Mean cross-entropy of the hidden blocks of rows ``x`` (weighted per row by ``weight``; ``offsets``
        (width,) added to the predictor's logits)."""
        out = self._predict(x, hidden)
        if offsets is not None:
            out = out + offsets
        ce = self.lt.cross_entropy(out, self.lt.block_codes(x))      # (B, n_discrete)
        per_row = (ce * self._blocks_of(hidden)).sum(1)
        if weight is not None:
            per_row, valid = per_row * weight, valid & (weight > 0)
        return per_row.sum() / valid.sum().clamp(min=1)

    def _predict(self, x, hidden):
        return self.predictor(hide_cells(x, hidden, self.lt.dim_to_column), None, hidden.to(x.dtype))

    def _blocks_of(self, hidden):
        """``(B, n_discrete)`` float: 1 on the discrete blocks of each row's hidden column."""
        return hidden.index_select(1, self._disc_to_column).float()

    def update(self, x, given, weight=None):
        """One optimiser step of the predictor on real rows ``x`` (B, width); returns its loss (detached).

        ``weight`` (B,), optional: each row's weight in the loss (0 for the
        held-out rows of ``validation``).
        """
        hidden, valid = hide_one_column(self._candidates, given, generator=self.generator)
        loss = self._loss(x, hidden, valid, weight)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        allreduce_gradients(self.predictor)   # a no-op in one process
        self.optimizer.step()
        return loss.detach()

    @torch.no_grad()
    def validate(self):
        """Score the predictor on the held-out rows; keep a copy of it if it beats the best so far.

        No host synchronisation: the copy is chosen on the device. Returns
        the held-out loss (detached), or None without ``validation``.
        """
        if self.best is None:
            return None
        training = self.predictor.training
        self.predictor.eval()
        loss = self._loss(self._val_x, self._val_hidden, self._val_hidden.any(1), offsets=self._val_offsets)
        self.predictor.train(training)
        self.best.offer(self.predictor, loss)
        return loss

    def fitted_predictor(self):
        """The predictor to sample with: the held-out best (:meth:`validate`), or the last one without it."""
        if self.best is None or not bool(torch.isfinite(self.best.loss)):
            return self.predictor
        return self.best.model

    def generator_term(self, fake, logits, given):
        """``weight`` × mean over rows of ``KL(q ‖ π)`` on one hidden, not-given discrete column per row.

        ``fake`` (B, width): generated rows (only read, detached);
        ``logits`` (B, width): the generator's raw outputs, whose discrete
        dims are the level logits ``π`` is the softmax of.
        """
        hidden, valid = hide_one_column(self._candidates, given, generator=self.generator)
        with torch.no_grad():
            target = self._predict(fake.detach(), hidden)
        per_block = self.lt.kl_divergence(target, logits)            # (B, n_discrete)
        return self.weight * (per_block * self._blocks_of(hidden)).sum() / valid.sum().clamp(min=1)


class BestSnapshot(torch.nn.Module):
    """A copy of a network with the lowest validation loss offered so far (early stopping, kept on the device).

    A module, so that a checkpoint of the training holds it.

    Examples
    --------
    >>> import torch
    >>> net = torch.nn.Linear(2, 1)
    >>> best = BestSnapshot(net)
    >>> best.offer(net, torch.tensor(1.0))
    >>> with torch.no_grad():
    ...     _ = net.weight.add_(1.0)
    >>> best.offer(net, torch.tensor(2.0))                  # worse: the copy keeps the first weights
    >>> bool(torch.equal(best.model.weight + 1.0, net.weight)), float(best.loss)
    (True, 1.0)
    """

    def __init__(self, model):
        super().__init__()
        self.model = copy.deepcopy(model).requires_grad_(False)
        self.register_buffer("loss", torch.tensor(float("inf"), device=next(model.parameters()).device))

    @torch.no_grad()
    def offer(self, model, loss):
        """Copy ``model``'s parameters and buffers if ``loss`` (a 0-d tensor) is below the best one."""
        better = loss < self.loss
        for mine, theirs in zip(self.model.state_dict().values(), model.state_dict().values()):
            mine.copy_(torch.where(better, theirs, mine))
        self.loss.copy_(torch.minimum(loss, self.loss))


@torch.no_grad()
def resample_levels(predictor, layout_tensors, x, codes, blocks, frozen, *, generator, constraints=None,
                    probs=None, offsets=None, sweeps=1):
    """Gibbs sweeps over categorical ``blocks``: each redrawn from the predictor given the rest of the row.

    A generator draws every discrete cell of a row independently given its
    noise, so two categorical columns (or a class and the features) depend
    on each other only through how sharp the generator's logits are. The
    sweep redraws the level of each block in ``blocks`` (in order) from
    ``predictor``'s probabilities for its column given the row as it stands
    — the other columns as generated, the blocks before it as redrawn —
    which is one scan of a Gibbs sampler with the predictor's conditionals.
    Rows whose column is ``frozen`` (B, n_columns) keep their level.
    ``constraints`` (allowed levels, level weights) apply as in sampling.
    Only purely categorical blocks belong in ``blocks``: a numeric column's
    mode block gates its score.

    Parameters
    ----------
    predictor : nn.Module
        As in :class:`LevelConsistency` (its folded form works too).
    layout_tensors : LayoutTensors
    x : Tensor (B, width)
        Rows with exact ±1 blocks.
    codes : LongTensor (B, n_discrete)
    blocks : sequence of int
        Discrete block indices to redraw.
    frozen : BoolTensor (B, n_columns)
    generator : torch.Generator or Antithetic
    constraints : Constraints, optional
    probs : Tensor (B, width - n_continuous), optional
        The level probabilities the codes were drawn with; the redrawn
        blocks' entries are replaced by the predictor's.
    offsets : Tensor (width,), optional
        Added to the predictor's logits (see :func:`fit_level_offsets`).
    sweeps : int, default=1
        How many sweeps over ``blocks`` are made in turn (each starts from
        the rows the one before left).

    A folded predictor (:class:`~synthaug.nn.FoldedResidualMLP`) keeps the
    product of its input layer up to date block by block instead of
    recomputing it for every block.

    Returns
    -------
    x, codes, probs
        New tensors (the inputs are not modified); ``probs`` None if not given.
    """
    for k in range(sweeps):   # the first sweep copies the inputs; the later ones redraw that copy in place
        x, codes, probs = _sweep(predictor, layout_tensors, x, codes, blocks, frozen, generator=generator,
                                 constraints=constraints, probs=probs, offsets=offsets, copy=k == 0)[:3]
    return x, codes, probs


def constrained_log_mass(predictor, layout_tensors, x, codes, blocks, frozen, *, constraints, offsets=None):
    """``log P(level allowed by constraints | rest of the row)`` of each of ``blocks`` under the predictor.

    The log-probability that :func:`resample_levels`, drawing the block
    from the predictor without ``constraints``, would give it a level the
    constraints allow (weighted by their level weights), given the rest of
    the row as it stands: ``(B, n_discrete)``, 0 for the blocks not in
    ``blocks``, the unconstrained ones and ``frozen`` ones (B, n_columns).
    """
    return _sweep(predictor, layout_tensors, x, codes, blocks, frozen, generator=None, constraints=constraints,
                  offsets=offsets, draw=False)[4]


@torch.no_grad()
def fit_level_offsets(predictor, layout_tensors, x, codes, blocks, targets, *, generator, sweeps=1, max_offset=3.0):
    """Logit offsets under which the sweep of :func:`resample_levels` gives each block its target frequencies.

    The sweeps run on ``x``/``codes`` (unconditional generated rows); before
    each block is drawn, its offsets are fitted on the logits of these rows
    so that their mean probabilities equal ``targets[block]`` — the
    expectation–maximisation of a change of prior (Saerens et al. 2002):
    ``o ← o + log(f / mean softmax(logits + o))`` — and the block is drawn
    with them, so the blocks after it see a calibrated column. With several
    sweeps the offsets of the last one are kept (each sweep starts from the
    previous one's). Levels with a zero target, or never predicted, stop at
    ``±max_offset``.

    Returns
    -------
    Tensor (width,)
        Offsets on the blocks of ``targets`` (0 elsewhere).
    """
    offsets = torch.zeros(layout_tensors.width, device=x.device)
    frozen = torch.zeros((x.shape[0], layout_tensors.layout.n_columns), dtype=torch.bool, device=x.device)
    targets = {int(b): torch.as_tensor(f, dtype=torch.float32, device=x.device) for b, f in targets.items()}
    for _ in range(sweeps):
        x, codes, _, offsets, _ = _sweep(predictor, layout_tensors, x, codes, blocks, frozen, generator=generator,
                                      offsets=offsets, targets=targets, max_offset=max_offset)
    return offsets


def _prior_shift(logits, target, offset, *, max_offset, n_iter=100, tol=1e-4, check_every=10):
    """Offsets ``(K,)`` from ``offset`` with ``softmax(logits + o).mean(0) ≈ target``.

    At most ``n_iter`` updates (each a softmax pass over every row); every
    ``check_every`` of them, stops once the last update moved no offset by
    more than ``tol``.
    """
    log_target = torch.log(target.clamp(min=1e-12))
    for i in range(n_iter):
        g = torch.softmax(logits + offset, dim=1).mean(0)
        new = (offset + log_target - torch.log(g.clamp(min=1e-12))).clamp(-max_offset, max_offset)
        if (i + 1) % check_every == 0 and bool(((new - offset).abs() <= tol).all()):
            return new
        offset = new
    return offset


def _sweep(predictor, lt, x, codes, blocks, frozen, *, generator, constraints=None, probs=None, offsets=None,
           targets=None, max_offset=3.0, draw=True, copy=True):
    """The sweep of :func:`resample_levels`; with ``targets``, each block's offsets are fitted first.

    Returns ``(x, codes, probs, offsets, log_mass)``, ``log_mass`` as in
    :func:`constrained_log_mass` (0 without constraints). ``draw=False``
    only measures it: every row keeps its levels. ``copy=False`` redraws
    ``x``, ``codes`` and ``probs`` in place (a caller's own copies).
    """
    layout = lt.layout
    log_mass = x.new_zeros((x.shape[0], lt.layout.n_discrete), dtype=torch.float32)
    if copy:
        x, codes = x.clone(), codes.clone()
        probs = None if probs is None else probs.clone()
    if targets is not None:
        offsets = offsets.clone()
    n_columns, nc = layout.n_columns, layout.n_continuous
    disc_to_column = layout.disc_to_column()
    folded = hasattr(predictor, "penultimate")
    columns = [int(disc_to_column[block]) for block in blocks]
    hidden_all = torch.nn.functional.one_hot(torch.as_tensor(columns, dtype=torch.long, device=x.device),
                                             n_columns).to(x.dtype)   # each block's mask: its column hidden
    # fixed offsets ride in the output bias; fitted ones (targets) change block by block
    fixed = offsets is not None and targets is None
    if folded:   # the input layer's product, kept up to date block by block (see FoldedResidualMLP.after_input)
        base = x @ predictor.w_x
        condition_parts = predictor.condition_part(hidden_all)   # (n_blocks, width), one product for the sweep
        out_bias = predictor.b_out + offsets.to(predictor.b_out.dtype) if fixed else predictor.b_out
    # (on CUDA whether any row is frozen is not asked: it would synchronise with the host)
    any_frozen = x.is_cuda or bool(frozen.any())
    for i, (block, column) in enumerate(zip(blocks, columns)):
        off, card = int(layout.offsets[block]), int(layout.cardinalities[block])
        cells = slice(off, off + card)
        weights = None if constraints is None else constraints.level_log_weights(cells)
        if weights is not None and not bool((weights != 0).any()):
            weights = None   # (a block the constraints leave free)
        if not draw and weights is None:
            continue
        # the logits level-major, (card, B): the softmax and the draw reduce over a few contiguous rows
        # instead of along a short last dimension
        if folded:   # the row with this block zeroed: the product less the block's own part
            w_block = predictor.w_x[cells]
            h = torch.addmm(base, x[:, cells], w_block, alpha=-1).add_(condition_parts[i])
            logits = torch.addmm(out_bias[cells, None].to(h.dtype), predictor.w_out[:, cells].t(),
                                 predictor.penultimate(h).t())
        else:
            mask = hidden_all[i: i + 1].expand(x.shape[0], -1)
            logits = predictor(hide_cells(x, mask.bool(), lt.dim_to_column), None, mask)[:, cells].t()
        logits = logits.float()
        if targets is not None and block in targets:
            offsets[cells] = _prior_shift(logits.t(), targets[block], offsets[cells], max_offset=max_offset)
        if offsets is not None and not (folded and fixed):
            logits = logits + offsets[cells, None].to(logits.dtype)
        keep = frozen[:, column]
        if weights is not None:
            weights = weights.to(logits.dtype)
            allowed = logits + (weights.t() if weights.dim() == 2 else weights[:, None])
            log_mass[:, block] = torch.where(keep, 0.0, torch.logsumexp(allowed, 0) - torch.logsumexp(logits, 0))
            logits = allowed
        if not draw:
            continue
        # inverse CDF: the level is the number of cumulative masses below u × the total
        mass = (logits - logits.amax(0)).exp_()
        cumulative = mass.cumsum(0)
        u = rand((x.shape[0], 1), generator, device=x.device).clamp_(min=1e-12)
        new = (cumulative[:-1] < u.squeeze(1) * cumulative[-1]).sum(0)
        code = torch.where(keep, codes[:, block], new) if any_frozen else new
        codes[:, block] = code
        one_hot = x.new_full((x.shape[0], card), -1.0).scatter_(1, code.unsqueeze(1), 1.0)
        if folded:
            base.addmm_(one_hot - x[:, cells], w_block)
        x[:, cells] = one_hot
        if probs is not None:
            part = probs[:, off - nc: off - nc + card]
            p = (mass / cumulative[-1]).t()
            probs[:, off - nc: off - nc + card] = torch.where(keep[:, None], part, p.to(probs.dtype)) \
                if any_frozen else p
    return x, codes, probs, offsets, log_mass
