"""The public estimators: thin shells that choose a network and a process."""

from __future__ import annotations

import dataclasses
import functools
from numbers import Integral, Real

import numpy as np
import pandas as pd
import torch
from sklearn.utils._param_validation import Interval, StrOptions

from ._base import BaseGenerativeSampler, base_parameters
from .diffusion import SCHEDULES, ClassifierFreeGuidance, GaussianDiffusion, get_betas
from .diffusion.trainer import DiffusionStep, ImageDiffusionStep
from .encoding.columns import _Z_MAX
from .conditioning import exact_levels_as_sets
from .gan.consistency import constrained_log_mass, fit_level_offsets, resample_levels
from .gan import (LOSSES, ConditionalRowSampler, GANStep, ImageGANStep, LevelConsistency, ModeCoverage, TabularGAN,
                  warn_if_collapsed)
from .nn import ConvCritic, ConvGenerator, DenseGenerator, PackedCritic, ResidualMLP, UNet
from .calibration import LevelCalibration, level_frequencies
from .checkpoint import TrainingState
from .distributed import broadcast_module, world
from .privacy.dp_sgd import quiet_hooks, release
from .optim import Adam, WarmupCosine
from .training import EMA
from .noise import rand, randn

__all__ = ["DiffusionSampler", "GANSampler"]

# point_estimate_steps="auto" (at least): the posterior mean behind impute(X) loses its discretisation error
# with more steps (benchmarks/imputation.py, 20 % MCAR: see docs/imputation.md)
POINT_ESTIMATE_STEPS = 25
# timestep_sampling: (location, scale) of the logit-normal t / T, or None for uniform t (benchmarks/ablation.py,
# six seeds on credit and breast_cancer, 2026-12-03: see docs/diffusion.md); tables only
_TIMESTEP_SAMPLING = {"logit-normal": (0.3, 0.8), "uniform": None}


def _anchor_table(encoder, codes=None):
    """Discrete blocks an unconditional GAN row can be anchored on and their level frequencies ``(blocks, freq)``.

    The blocks of purely categorical columns, and, with at least one of
    those, the mode blocks of numeric columns with a spike or missing mode of
    positive frequency (only those levels are anchors: a row in the
    continuous mode needs a score, so its rows come from the categorical
    anchors; see :class:`_Anchors`). None without a categorical column.
    ``codes``: the encoded training codes; None (a private fit): the
    encoder's released frequencies (see
    :func:`~synthaug.calibration.level_frequencies`), which hold no numeric
    column's modes.
    """
    layout = encoder.layout_
    freqs = level_frequencies(encoder, codes)
    modes = _mode_blocks(layout)
    blocks = [di for ci, di in layout.column_parts if di is not None and ci is None and di in freqs]
    if blocks:
        blocks += [di for ci, di in layout.column_parts if ci is not None and di in modes and di in freqs
                   and np.any(np.asarray(freqs[di])[1:] > 0)]
    if not blocks:
        return None
    freq = np.zeros((len(blocks), max(layout.cardinalities)), dtype=np.float32)
    for i, di in enumerate(blocks):
        freq[i, : len(freqs[di])] = freqs[di]
    return np.asarray(blocks, dtype=np.int64), freq


def _mode_blocks(layout):
    """The discrete blocks that are numeric columns' modes (level 0: the continuous mode)."""
    return {int(b) for b in layout.score_modes() if b >= 0}


class _Anchors:
    """Every (categorical column, level) a GAN sample can be anchored on, with its condition tensors.

    A numeric column's spike or missing mode is an anchor too (when
    :func:`_anchor_table` holds its mode block): the generator, trained to
    generate rows given such a level (training-by-sampling), then makes the
    rest of the row given it — on breast_cancer, the zeros that six
    concavity columns share come back together. Its continuous mode is no
    anchor (a given row there needs a score); it is a level of the mixture's
    targets all the same.

    ``cdf`` is the cumulative probability of each anchor: a column chosen
    uniformly, then its level at its (training or released) frequency.
    ``cols``, ``given`` and ``x_given`` are the conditioning rows of each
    anchor, ``cond_part`` its contribution to the folded generator's layers,
    so a batch gathers rows instead of recomputing them.
    """

    # calibrate the mixture only while each anchor can get a useful number of rows
    _MAX_CALIBRATED, _CALIBRATION_ROWS, _CALIBRATION_BATCH = 500, 40_000, 4_096

    def __init__(self, anchor_levels, layout, gan, folded, device, refine=None):
        blocks, freq = anchor_levels[:2]
        self.refine = refine
        lt = layout.tensors(device)
        modes = np.isin(blocks, sorted(_mode_blocks(layout)))
        which, levels = np.nonzero((freq > 0) & ~(modes[:, None] & (np.arange(freq.shape[1]) == 0)))
        # anchors on a numeric column's mode: not for rows of a requested class (see consistency)
        self.categorical = torch.as_tensor(~modes[which], device=device)
        codes = np.zeros((len(which), layout.n_discrete), dtype=np.int64)
        codes[np.arange(len(which)), blocks[which]] = levels
        self.blocks, self.freq, self.gan, self.folded = blocks, freq, gan, folded
        self.anchor, self.levels = which, levels
        # each anchor column's model-space dims, one per level slot (slots past a column's levels repeat its
        # last level; their shares are 0)
        cards = np.asarray(layout.cardinalities)[blocks]
        slots = np.minimum(np.arange(freq.shape[1]), cards[:, None] - 1)
        self.cell_dims = torch.as_tensor(layout.offsets[blocks][:, None] + slots, device=device)
        # mixture weights: a column chosen uniformly, then its level at its frequency ...
        self.frequency_weights = freq[which, levels].astype(np.float64) / len(blocks)
        # ... or the calibrated ones once fitted, with the level shares of each anchor's rows
        self.use_weights(*(anchor_levels[2:] if len(anchor_levels) > 2 else (self.frequency_weights,)),
                         device=device)
        self.x_given = lt.to_model(torch.zeros((len(which), layout.n_continuous), device=device),
                                   torch.as_tensor(codes, device=device))
        # each anchor's model-space dim (its level's), to weigh it under the constraints of a condition
        self.dims = torch.as_tensor(layout.offsets[blocks[which]] + levels, device=device)
        columns = torch.as_tensor(layout.disc_to_column()[blocks[which]], device=device)
        self.cols = torch.nn.functional.one_hot(columns, layout.n_columns).bool()
        self.given = self.cols[:, lt.dim_to_column]
        with torch.no_grad():
            self.cond_part = folded.condition_part(gan.generator_condition(self.cols, self.given, self.x_given))

    def use_weights(self, weights, shares=None, *, device):
        """Draw the anchors with mixture ``weights`` (one per anchor).

        ``shares`` ``(anchors, anchor columns, levels)``: the share of each
        anchor's rows with each level of each anchor column, as
        :meth:`calibrated_weights` measured them (None: unknown).
        """
        self.weights = torch.as_tensor(weights, dtype=torch.float32, device=device)
        self.cdf = torch.as_tensor(np.cumsum(weights), dtype=torch.float32, device=device)
        # as measured, the anchor's own column included: the sweep redraws it, so an anchor on a level a
        # condition forbids still makes rows that meet it (weighing it by its level alone left those out)
        self.shares = None if shares is None else torch.as_tensor(np.asarray(shares, dtype=np.float32),
                                                                  device=device)

    def calibrated_weights(self, generator, *, ridge=1e-2):
        """Mixture weights of the anchors under which every anchored column has its training frequencies.

        A row anchored on (column A, level a) has A = a exactly and its other
        categorical columns from the generator's conditionals, which carry
        the generator's own errors; with weights ∝ frequency those errors
        reach the marginals of the columns a row is not anchored on. Let
        ``P[k, (c, l)]`` be the share of rows anchored on ``k`` that have
        level ``l`` in column ``c`` (estimated from generated rows); the
        weights solve ``min ‖Pᵀw − f‖² + ridge·‖w − w₀‖²`` over ``w ≥ 0``
        (non-negative least squares) for the training frequencies ``f``, near
        the frequency weights ``w₀``, then are normalised. Each component
        keeps its conditional distribution; only how often each anchor is
        used changes. With a Gibbs sweep (``refine``) the shares are measured
        after it, on the rows as sampling releases them. Returns
        ``(weights, shares)``, ``shares`` as ``P`` shaped ``(anchors, anchor
        columns, levels)`` (:meth:`draw` weighs the anchors under a set
        condition with them), or None (frequency weights) for too many anchors.
        """
        n_anchors = len(self.cdf)
        if n_anchors > self._MAX_CALIBRATED:
            return None
        per = max(20, self._CALIBRATION_ROWS // n_anchors)
        ids = torch.arange(n_anchors, device=self.cdf.device).repeat_interleave(per)
        noise = torch.randn((len(ids), self.folded.w_noise.shape[0]), generator=generator, device=ids.device)
        network = functools.partial(_with_condition_parts, self.folded, self.cond_part)
        blocks, parts = torch.as_tensor(self.blocks, device=ids.device), []
        # in batches as sampling makes them: one pass over all the rows held every layer's activations at once
        for rows, z in zip(ids.split(self._CALIBRATION_BATCH), noise.split(self._CALIBRATION_BATCH)):
            cols = self.cols.index_select(0, rows)
            x, codes = self.gan.sample(network, z, cols=cols, given=self.given.index_select(0, rows),
                                       x_given=self.x_given.index_select(0, rows), cond=rows, generator=generator)
            if self.refine is not None:   # the rows as sampling releases them (the anchor redrawn too)
                _, codes, _, _ = self.refine(x, codes, torch.zeros_like(cols), generator)
            parts.append(codes.index_select(1, blocks))
        codes = torch.cat(parts).cpu().numpy()                                             # (rows, anchor columns)
        width = self.freq.shape[1]
        flat = codes + width * np.arange(len(self.blocks))                              # (column, level) index
        share = np.zeros((n_anchors, self.freq.size))
        np.add.at(share, (np.repeat(np.arange(n_anchors), per)[:, None], flat), 1.0 / per)
        weights = _mixture_weights(share, self.freq.ravel(), self.frequency_weights, ridge=ridge)
        return None if weights is None else (weights, share.reshape(n_anchors, *self.freq.shape))

    def draw(self, n, generator, constraints=None, *, categorical_only=False):
        """``(cols, given, x_given, ids, factor)`` of ``n`` rows: their anchors' conditions, ids and the
        :meth:`consistency` factor the anchors were drawn with (None: 1).

        Under ``constraints`` (a set condition's allowed levels, an interval's
        level weights) each anchor's weight is multiplied by the chance that
        its rows are consistent with them: for each anchor column, its own
        included, the share of the anchor's rows on allowed levels (measured
        with the calibrated weights, after the sweep, which redraws the
        anchor's column too: an anchor on a forbidden level still makes rows
        that meet the condition); without measured shares, its own level's
        weight. Each anchor is then drawn about as often as it holds rows
        that meet the condition (what Bayes' rule asks of a row drawn given
        it), so the candidates of :meth:`GANSampler._generate`, which divides
        this factor back out of their weights, are rarely wasted. None when
        the constraints leave no anchor. ``categorical_only``: as in
        :meth:`consistency`.
        """
        cdf = self.cdf
        consistent = self.consistency(constraints, categorical_only=categorical_only)
        if consistent is not None:
            cdf = (self.weights * consistent).cumsum(0)
            if not bool(cdf[-1] > 0):
                return None
        u = rand(n, generator, device=cdf.device)
        ids = torch.searchsorted(cdf, u * cdf[-1], right=True).clamp_(max=len(cdf) - 1)
        return (self.cols.index_select(0, ids), self.given.index_select(0, ids), self.x_given.index_select(0, ids),
                ids, consistent)

    def consistency(self, constraints, *, categorical_only=False):
        """The factor :meth:`draw` multiplies each anchor's weight by under ``constraints``, or None (1).

        ``categorical_only`` (rows of a requested class): 0 for the anchors on
        numeric modes. Their share of a rare class is measured on the few
        rows of it their calibration makes, and a row drawn through one is
        weighed by its inverse; the class's own anchor gives its rows.
        """
        factor = None
        if constraints is not None and constraints.weighs_levels:
            log_weights = constraints.level_log_weights(self.dims if self.shares is None else self.cell_dims)
            factor = log_weights.exp() if self.shares is None else (self.shares * log_weights.exp()).sum(-1).prod(-1)
        if categorical_only:
            mask = self.categorical.to(self.weights.dtype)
            factor = mask if factor is None else factor * mask
        return factor


def _pick_consistent(log_weights, generator, *rows):
    """One of ``k`` candidates per row, drawn in proportion to ``exp(log_weights)`` ``(k, n)``.

    ``rows``: tensors whose first dimension holds the ``k·n`` candidates,
    candidate ``j`` of row ``i`` at ``j·n + i`` (None passes through).

    Under a set condition the generator's and the Gibbs sweep's levels are
    restricted to the allowed ones, but the rest of a row was made with the
    unrestricted ones: a row that would have been a tenant, restricted to
    owners or parents, keeps a tenant's other cells and is made one of the
    two. A draw given the condition weighs each row by the probability that
    its unrestricted levels meet the condition (sampling-importance
    resampling); picking one of ``k`` candidates per row in proportion to
    that weight approaches it as ``k`` grows, with no rejection loop.

    Examples
    --------
    >>> rows = torch.arange(6.0).view(6, 1)                 # 3 candidates for each of 2 rows
    >>> w = torch.log(torch.tensor([[0.0, 1.0], [1.0, 0.0], [0.0, 0.0]]))
    >>> _pick_consistent(w, torch.Generator().manual_seed(0), rows)[0].view(-1).tolist()
    [2.0, 1.0]
    """
    k, n = log_weights.shape
    u = rand((k, n), generator, device=log_weights.device, dtype=log_weights.dtype).clamp_(1e-12, 1 - 1e-7)
    pick = (log_weights - torch.log(-torch.log(u))).argmax(0)   # Gumbel-max: one draw per row
    index = pick * n + torch.arange(n, device=pick.device)
    return [None if r is None else r.index_select(0, index) for r in rows]


def _mixture_weights(share, target, w0, *, ridge=1e-2):
    """Weights ``w ≥ 0``, ``Σw = 1``, with ``shareᵀ w ≈ target``, near ``w0``: non-negative least squares.

    ``share`` is ``(components, cells)``: the share of each component's rows
    in each cell; the solution minimises ``‖shareᵀw − target‖² + ridge‖w − w0‖²``
    with the sum pinned by a heavy extra row, then is normalised. None when
    every weight comes out zero.

    Examples
    --------
    >>> share = np.array([[1.0, 0.0], [0.5, 0.5]])        # two components over two cells
    >>> _mixture_weights(share, np.array([0.75, 0.25]), np.array([0.5, 0.5]), ridge=1e-8).round(3).tolist()
    [0.5, 0.5]
    """
    from scipy.optimize import nnls

    n = share.shape[0]
    a = np.vstack([share.T, np.sqrt(ridge) * np.eye(n), np.full((1, n), 10.0)])
    b = np.concatenate([target, np.sqrt(ridge) * w0, [10.0]])
    w, _ = nnls(a, b, maxiter=50 * n)
    return w / w.sum() if w.sum() > 0 else None


def _with_condition_parts(network, parts, z, t, ids=None, *, offsets=None):
    """A folded network whose condition was computed up front: ``parts`` per row, or picked by id (``rows``).

    ``offsets`` (width,), if given, is added to the output (the level calibration's logit offsets).
    """
    out = network(z, t, cond_part=parts) if ids is None else network(z, t, cond_part=parts, rows=ids)
    return out if offsets is None else out.add_(offsets)


class DiffusionSampler(BaseGenerativeSampler):
    """Conditional denoising diffusion model (DDPM) for mixed-type tables.

    Numeric columns are mapped to normal scores through their empirical CDF,
    with frequent exact values (spikes) and missingness as discrete modes
    (with ``numeric_levels``, a column of a few common values is modes
    alone); categorical columns are one-hot blocks. One Gaussian diffusion runs over
    all of it: ε-prediction for scores, cross-entropy x₀-prediction for
    blocks. A residual MLP denoiser with a time embedding is trained with
    random conditioning masks, so the same fitted model samples
    unconditionally, conditionally on any columns, per class, and imputes.
    Sampling uses DDIM with ``sampling_steps`` network evaluations and the
    EMA weights.

    Given images — an array ``(N, C, H, W)`` or ``(N, H, W)`` of uint8 or
    float pixels — the same process runs over pixels scaled to [-1, 1] with
    a U-Net denoiser (:class:`~synthaug.nn.UNet`: residual blocks, GroupNorm,
    time and class embeddings, attention at low resolution), trained with
    label dropout so that sampling per class uses classifier-free guidance
    (``guidance_scale``), and with random pixel masks so that :meth:`impute`
    inpaints. See ``docs/images.md``.

    Parameters
    ----------
    n_timesteps : int, default=1000
        Length T of the diffusion chain used in training.
    sampling_steps : int, default=9
        Network evaluations per sample (DDIM, "trailing" timesteps evenly
        spaced from T − 1 down to T / steps − 1; the sample is the last
        denoised estimate); ``n_timesteps`` gives full DDPM. Nine trailing
        steps make the same evaluations as ten steps ending at t = 0 minus
        that last, redundant one (x_0 is clean to √(1 − ᾱ₀) ≈ 0.01), and
        scored the same on credit and breast_cancer (``benchmarks/ablation.py``,
        two seeds each); 20 steps gained little for twice the sampling time.
    width : int or "auto", default="auto"
        Tables: width of the residual MLP, ``"auto"`` = 128 (on credit, width
        128 trained for 4,000 steps matched width 256 for 2,000 — same
        compute — and samples 4× faster). Images: channels of the U-Net at
        full resolution, ``"auto"`` = 32.
    depth : int or "auto", default="auto"
        Tables: residual blocks, ``"auto"`` = 1, or 2 with ``epsilon``
        (see ``docs/diffusion.md``: one block scored as high as two on
        credit and breast_cancer and samples in about 0.6 of the time; two
        trained for 1,500 steps scored higher than three for 1,000).
        Images: residual blocks per U-Net resolution, ``"auto"`` = 1.
    dropout : float in [0, 1), default=0.0
        Dropout inside the denoiser's residual blocks (tables and images).
        A regulariser for very small tables, which training passes over
        hundreds of times; not on by default: on breast_cancer (398 rows,
        1,500 passes, ``benchmarks/ablation.py``, six seeds) dropout 0.175
        kept quality and train-on-synthetic AUC but raised the detection AUC
        (see ``docs/diffusion.md``).
    schedule : {"cosine", "linear"}, default="cosine"
        Noise schedule.
    solver : {"ddim", "dpm++2m"}, default="ddim"
        Few-step sampler: DDIM or the second-order multistep DPM-Solver++.
        On credit, DDIM gave the lower detection AUC at 20 steps (0.69 vs
        0.71); the multistep extrapolation hurts the one-hot blocks.
    eta : float, default=1.0
        DDIM stochasticity (0 deterministic, 1 ancestral-like); DDIM only.
        The fresh noise corrects errors of earlier steps: on credit the
        detection AUC fell from 0.70 (η = 0) to 0.62 (η = 1) at 20 steps.
    point_estimate_steps : int or "auto", default="auto"
        Sampler steps of the draws behind :meth:`impute`'s point estimate
        (``n_draws=None``: the mean, or most probable level, of 16 to 50
        draws per missing cell); ``"auto"`` = ``max(25, sampling_steps)`` (at most
        ``n_timesteps``). A mean of many draws shows the few-step sampler's
        discretisation error, which the spread of a single draw hides.
        ``sample``, ``fit_resample`` and ``impute(X, n_draws=k)`` use
        ``sampling_steps``. At 20 % of cells missing (``benchmarks/imputation.py``),
        9 / 25 steps gave numeric NRMSE 0.838 / 0.833 on credit and
        0.304 / 0.293 on breast_cancer (categorical accuracy 0.756 / 0.756
        and 0.965 / 0.956); the time is in ``docs/imputation.md``.
    guidance_scale : float or "auto", default="auto"
        Guidance weight w for rows of requested classes (a model fitted
        with ``y``: ``sample(n, y=...)``, ``fit_resample``; images also for
        ``sample(n)``, whose classes are drawn at their training
        frequencies): w > 0 makes rows more typical of their class at the
        cost of diversity, 0 is plain conditional sampling. Tables: each
        such row is picked among 4 candidates made given its class without
        guidance, in proportion to the model's own probability of the class
        given the rest of the row raised to w (one network call with every
        other column given and the class at pure noise) — importance
        resampling towards p(row | class)·p(class | row)^w, as
        :class:`GANSampler` picks its rows; ``sample(n)`` (a copy of the
        table) is never guided. Until 2026-12-06 tables used classifier-free
        extrapolation from the prediction with the class generated to the
        one with it given, which pushed a class's rows beyond the real ones
        (``docs/resampling.md``). Images: classifier-free guidance, the
        prediction (1 + w)·f(x, class) − w·f(x, no class). ``"auto"`` is 1.0
        for tables and 0.0 for images. On digits (``benchmarks/images.py``)
        w = 0 / 1 gave classification accuracy score 0.959 / 0.939, label
        fidelity 0.994 / 1.000 and Fréchet ratio 1.10 / 2.49. A model fitted
        without ``y`` has no class to guide towards.
    label_dropout : float, default=0.1
        Images with ``y``: share of training images whose class is hidden,
        so the network also learns the unconditional prediction guidance
        needs.
    ema_decay : float, default=0.999
        Decay of the exponential moving average of the weights used to sample.
    p_unconditional : float, default=0.8
        Share of training rows with no column given; the rest train
        conditional sampling (and imputation). On credit at 2,000 steps,
        0.5 / 0.8 / 1.0 gave detection AUC 0.77 / 0.69 / 0.67.
    gaussian_residual : bool, default=True
        Generate each free score as the residual of its Gaussian conditional
        mean given the known scores (a Gaussian fitted by EM to the training
        scores; see :class:`~synthaug.residual.GaussianResidual`),
        so the near-linear part of the dependence between numeric columns is
        exact when cells are given — conditional sampling and imputation.
        The same Gaussian's linear prediction of each categorical column's
        levels from the known scores starts the denoiser's logits for that
        column (a linear skip, trained with the rest), so a category that
        follows many given numbers is imputed from them. With nothing
        given the map is the identity and the predictions are the levels'
        frequencies. It also fits a linear imputer on the training rows
        (:class:`~synthaug.linear.LinearImputer`), which ``impute``'s point
        estimate of numeric cells is blended with (and with the nearest
        rows' mean, :class:`~synthaug.neighbours.NeighbourImputer`, and
        forests' predictions, :class:`~synthaug.forest.ForestImputer`).
        Ignored with ``epsilon``.
    timestep_sampling : {"logit-normal", "uniform"}, default="logit-normal"
        Tables: how training draws the timestep of each row. ``"uniform"``
        is DDPM's uniform t; ``"logit-normal"`` draws t / T from a
        logit-normal distribution with location 0.3 and scale 0.8 (median
        t ≈ 0.57 T, 90 % of the draws between 0.26 T and 0.83 T;
        :func:`~synthaug.diffusion.trainer.stratified_timesteps`), so the
        network is trained where the sampler's trailing steps evaluate it
        (the lowest of nine is ≈ 0.11 T) and where the columns' dependence
        is formed rather than on nearly clean rows. Six seeds of
        ``benchmarks/ablation.py`` (see ``docs/diffusion.md``): on credit
        (mixed types) train-on-synthetic ROC AUC 0.823 against 0.810 with
        ``"uniform"`` and detection AUC 0.615 against 0.634; on breast_cancer
        (all numeric) 0.956 against 0.959 and detection 0.636 against
        0.607 — a cost in fine numeric detail. Images always use uniform
        timesteps.
    sampling_strategy : float, str, dict or callable, default="auto"
        Which classes :meth:`fit_resample` up-samples and to how many rows —
        exactly imbalanced-learn's over-sampling meaning: a float (binary
        only: minority / majority ratio after resampling), ``"auto"`` (=
        ``"not majority"``), ``"minority"``, ``"not minority"``,
        ``"not majority"``, ``"all"``, a dict ``{class: n_rows}`` or a callable
        ``y -> dict``.
    quality_filter : "auto", float in (0, 1) or None, default="auto"
        :meth:`fit_resample` of a table only. ``"auto"``: turn away synthetic
        rows that the real rows around them place in their class less than
        95 % of the real rows of that class are placed
        (:class:`~synthaug.resampling.ClassNeighbourhoodCheck`: the share of
        the class among a row's 5 nearest real rows, and the distance to the
        nearest real row of the class),
        drawing others in their place, when more of a class's rows fail it
        than twice the share of its real rows that do, and more than 10 %
        (otherwise the model's rows stand); not under ``epsilon``. A float: draw
        ``1 / (1 − quality_filter)`` times the rows needed and keep those a
        gradient-boosting classifier trained on the real rows finds most
        plausible for their class
        (:class:`~synthaug.resampling.PlausibilityFilter`). None: every row
        as the model makes it.
    importance_resampling : int >= 2, "auto" or None, default=None
        Tables: after training, a gradient-boosting classifier of the
        training rows against as many of the model's own estimates the
        density ratio real / model
        (:class:`~synthaug.density_ratio.DensityRatio`); each sampled row
        (``sample``, ``sample_to``, ``fit_resample``) is then one of this
        many candidates generated under its conditions, drawn in proportion
        to that ratio (:func:`~synthaug.density_ratio.importance_resample`):
        rows the classifier can tell from real ones become rarer. Sampling
        costs about this many times more. Read again at sampling (None
        turns it off for a fitted model). An integer is refused with
        ``epsilon`` (the classifier reads the training rows). ``"auto"``:
        only the rows of :meth:`fit_resample` (few, made once, and judged by
        how real the minority looks), 4 candidates each, and only if a
        ratio fitted on half the training rows makes the samples harder to
        tell from the other half (else ``density_ratio_`` is None); ``fit``
        fits no ratio and ``sample`` stays plain; off with ``epsilon``. Off
        by default here: on breast_cancer ``"auto"`` lowered this model's
        up-sampling figures (docs/resampling.md).
    max_steps : int or "auto", default="auto"
        Optimiser steps; ``"auto"`` scales with the table (20 epochs, between
        1,500 — 1,000 with ``epsilon`` — and 30,000 steps; without
        ``epsilon``, a table of at most half ``batch_size`` rows has the
        lower bound 1,500 × √(rows / batch_size): 812 steps for 150 rows).
    batch_size : int or "auto", default="auto"
        Rows per step: 512, or 1,024 with ``epsilon`` (the expected size of
        a Poisson batch). Without ``epsilon``, a table of at most half as
        many rows gives batches of each of its rows twice, each copy with
        its own noise, timestep and mask; a table of fewer rows than
        ``batch_size`` but more than half, batches of every row once.
    lr : float or "auto", default="auto"
        Peak AdamW learning rate (warm-up, then cosine decay): 1e-3, or 4e-3
        with ``epsilon``. On credit at ε = 3 with the domain declared
        (``benchmarks/ablation.py --public-domain``), batch 512 / lr 1e-3
        gave quality 0.81 and train-on-synthetic AUC 0.65, batch 1,024 /
        lr 4e-3 gave 0.94 and 0.75: noisy clipped gradients want larger
        batches and steps.
    discrete_columns : list of str, default=None
        Numeric columns to treat as categorical.
    numeric_levels : int, default=0
        With ``n`` > 0, a numeric column of two to ``n`` distinct values, each
        held by 2 % of the rows and 50 rows at least (a rating scale, a small
        count, a 0/1 flag), is modelled as levels rather than one normal
        score, and stays numeric otherwise (dtype, interval conditions,
        imputation's mean); a value outside its levels is then refused at
        ``impute``. Off by default: measured on four real tables it lowered
        the detection AUC on the largest (Fair's survey, 4,456 training
        rows) but brought the rows of 660–1,031-row tables closer to their
        training rows (docs/encoding.md). See
        :class:`~synthaug.encoding.TableEncoder`. Not used with ``epsilon``,
        whose encoder releases no value set.
    epsilon : float or None, default=None
        Differential privacy budget; None trains without DP. With a value,
        the encoder's statistics come from DP releases (10 % of ε and δ) and
        the denoiser is trained with DP-SGD through Opacus (Poisson
        sampling, per-sample clipping, Gaussian noise calibrated by the RDP
        accountant to the other 90 % over the planned steps); the whole fit
        is ``(epsilon, delta)``-DP. See ``docs/privacy.md``.
    delta : float or None, default=None
        δ of the guarantee; None means ``1 / n ** 1.1`` for ``n`` training
        rows (below ``1 / n``).
    max_grad_norm : float, default=1.0
        Per-sample gradient clipping norm of DP-SGD (only with ``epsilon``).
    bounds : dict, default=None
        With ``epsilon``: column → ``(low, high)`` declared public, so no
        budget is spent finding them (values are clipped to them).
    categories : dict, default=None
        With ``epsilon``: column → list of levels declared public, kept even
        when rare. Otherwise only levels frequent enough to pass a DP
        threshold are released; rarer ones never appear in samples.
    warm_start : bool, default=False
        When True, ``fit`` on data of the same columns (or images of the same
        shape and classes) continues training the previous fit's networks,
        optimiser and EMA for ``max_steps`` more steps (a fresh learning-rate
        schedule; the encoder is kept), as scikit-learn's ``warm_start``.
        Not with ``epsilon`` (it would spend the budget again).
    checkpoint : str or path-like, default=None
        A file for the training state. Every ``checkpoint_every`` steps and
        at the end the networks, optimisers, schedule, EMA and random state
        are written to it (atomically); a ``fit`` with the same data and
        parameters whose checkpoint exists resumes from it, so a killed fit
        loses at most ``checkpoint_every`` steps. A checkpoint of another
        fit is refused with an error.
    checkpoint_every : int, default=1000
        Steps between checkpoints.
    precision : {"auto", "fp32", "bf16"}, default="auto"
        Training arithmetic: ``"bf16"`` runs the forward passes under bf16
        autocast (weights and optimiser stay fp32); ``"auto"`` is bf16 on a
        GPU and fp32 on a CPU (where bf16 is slower on most processors) and
        always fp32 under ``epsilon``.
    compile : bool, default=False
        ``torch.compile`` the networks' training forward passes (a one-off
        compile cost; worth it for long GPU fits). Not with ``epsilon``.
    device : str or torch.device, default="auto"
        ``"auto"`` uses CUDA when available, else CPU.
    random_state : int, RandomState or None, default=None
        Seeds every random draw of ``fit`` and the sampling stream. With
        ``epsilon`` the fit's draws come from the OS's entropy instead (a
        released model's seed must not reproduce its privacy noise):
        ``sample(..., random_state=k)`` still repeats.
    verbose : bool, default=True
        Progress bar while training (only on a terminal).

    Attributes
    ----------
    encoder_ : TableEncoder
        The fitted encoder.
    network_ : ResidualMLP
        EMA weights of the denoiser.
    process_ : GaussianDiffusion
        The diffusion process.
    history_ : dict of lists
        Training loss per logged step.
    level_calibration_ : LevelCalibration or None
        Logit offsets that bring the generated level frequencies to the
        training ones (with ``epsilon``, to the encoder's released ones,
        weighed by their noise); see :mod:`synthaug.calibration`. Tables only.
    score_calibration_ : ScoreCalibration or None
        Monotone maps of the generated normal scores onto N(0, 1). Tables only.
    residual_ : GaussianResidual or None
        The Gaussian of the scores behind ``gaussian_residual`` (None when
        off, under DP, or without numeric columns). Tables only.
    linear_imputer_ : LinearImputer or None
        The regression ``impute``'s numeric point estimate is blended with
        (None when ``residual_``'s conditions are not met, and after
        ``fit_resample``, whose model only samples). Tables only.
    density_ratio_ : DensityRatio or None
        Only where ``importance_resampling`` applies (tables; for
        ``"auto"``, after :meth:`fit_resample`): the classifier's estimate of
        real / model density that sampling resamples by (None when
        ``"auto"`` found that it does not help).
    n_iter_ : int
        Optimiser steps taken.
    batch_size_, lr_ : int, float
        The batch size and learning rate used (``"auto"`` resolved).
    privacy_ : dict or None
        With ``epsilon``: ε and δ spent (composed over every part), the noise
        multiplier, sampling rate, DP-SGD steps, clipping norm, accountant,
        and ``parts`` — what each release (encoder statistics per column,
        training) spent. None without ``epsilon``.
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Only when ``X`` is a DataFrame with string column names.
    classes_ : ndarray
        Only when fitted with ``y``.
    sampling_strategy_ : dict
        Only after :meth:`fit_resample`: rows generated per class.
    device_ : torch.device

    Examples
    --------
    >>> from synthaug import DiffusionSampler
    >>> from synthaug.datasets import load_credit
    >>> df = load_credit().head(300)
    >>> model = DiffusionSampler(max_steps=50, random_state=0, verbose=False).fit(df)
    >>> synth = model.sample(5)
    >>> list(synth.columns) == list(df.columns)
    True
    >>> synth = model.sample(5, conditions={"Home": "owner", "Age": (30, 40)})
    >>> bool((synth["Home"] == "owner").all() and synth["Age"].between(30, 40).all())
    True
    """

    _parameter_constraints: dict = {
        **BaseGenerativeSampler._parameter_constraints,
        "n_timesteps": [Interval(Integral, 2, None, closed="left")],
        "sampling_steps": [Interval(Integral, 1, None, closed="left")],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "schedule": [StrOptions(set(SCHEDULES))],
        "solver": [StrOptions({"ddim", "dpm++2m"})],
        "eta": [Interval(Real, 0, 1, closed="both")],
        "point_estimate_steps": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
        "guidance_scale": [Interval(Real, 0, None, closed="left"), StrOptions({"auto"})],
        "label_dropout": [Interval(Real, 0, 1, closed="neither")],
        "gaussian_residual": ["boolean"],
        "timestep_sampling": [StrOptions(set(_TIMESTEP_SAMPLING))],
    }
    _dp_bookkeeping = True
    # tables: at least 1,500 steps without DP (``benchmarks/ablation.py``: depth 2 for 1,500 steps, the
    # compute of depth 3 for 1,000, gave higher quality and train-on-synthetic AUC on credit and
    # breast_cancer, two seeds each); DP-SGD keeps 1,000 (its noise multiplier grows with the steps)
    _auto_min_steps = {False: 1_500, True: 1_000}
    # a table of at most half a batch: each step draws every row twice (own noise, timestep and mask) and the
    # lower bound is 1,500 × √(rows / 512) steps (``benchmarks/ablation.py`` on iris and wine, docs/diffusion.md)
    _small_table_repeats = 2
    # one residual block without DP (``benchmarks/ablation.py``, three seeds each on credit and breast_cancer:
    # quality and train-on-synthetic AUC at least those of two blocks, for about 0.6 of the sampling time);
    # DP keeps two, the network its privacy figures were measured with
    _auto_table_depth = {False: 1, True: 2}
    _level_calibration_rounds = 3
    # images: batch size, learning rate and epochs of "auto"
    _auto_image_batch_size = {False: 128, True: 512}
    _auto_image_lr = {False: 1e-3, True: 2e-3}

    def __init__(self, *, n_timesteps=1000, sampling_steps=9, width="auto", depth="auto", dropout=0.0,
                 schedule="cosine", solver="ddim", eta=1.0, point_estimate_steps="auto", guidance_scale="auto",
                 label_dropout=0.1, ema_decay=0.999, p_unconditional=0.8, gaussian_residual=True,
                 timestep_sampling="logit-normal", sampling_strategy="auto", quality_filter="auto",
                 importance_resampling=None, max_steps="auto",
                 batch_size="auto", lr="auto", discrete_columns=None, numeric_levels=0,
                 epsilon=None, delta=None, max_grad_norm=1.0, bounds=None, categories=None, warm_start=False,
                 checkpoint=None, checkpoint_every=1000, precision="auto", compile=False, device="auto",
                 random_state=None, verbose=True):
        super().__init__(**base_parameters(locals()))
        self.n_timesteps = n_timesteps
        self.sampling_steps = sampling_steps
        self.dropout = dropout
        self.schedule = schedule
        self.solver = solver
        self.eta = eta
        self.point_estimate_steps = point_estimate_steps
        self.guidance_scale = guidance_scale
        self.label_dropout = label_dropout
        self.gaussian_residual = gaussian_residual
        self.timestep_sampling = timestep_sampling

    def _fit_model(self, encoded, generator):
        if self.sampling_steps > self.n_timesteps:
            raise ValueError(f"sampling_steps={self.sampling_steps} exceeds n_timesteps={self.n_timesteps}.")
        self._point_estimate_steps()   # checked against n_timesteps now; resolved when impute uses it
        device = self.device_
        layout = self.encoder_.layout_
        lt = layout.tensors(device)
        self.process_ = GaussianDiffusion(get_betas(self.schedule, self.n_timesteps), layout=layout,
                                          clip=_Z_MAX)
        self.residual_ = self._fit_gaussian_residual(encoded)
        # the Gaussian's predicted log-probabilities of the categorical levels reach their logits
        # through a linear skip that starts as the identity
        skip = {} if self.residual_ is None or not self.residual_.n_features else \
            {"skip_dim": self.residual_.n_features, "skip_outputs": self.residual_.feature_dims_, "skip_init": 1.0}
        network = ResidualMLP(layout.width, layout.width, cond_dim=layout.n_columns, width=self._table_width(),
                              depth=self._table_depth(), dropout=self.dropout, **skip).to(device)
        n_steps = self._n_steps(len(encoded))
        # one fused kernel for all parameters (a loop per tensor on CPU took 27 against 20 ms per step on credit)
        optimizer = Adam(network.parameters(), lr=self.lr_, weight_decay=1e-4, decoupled_weight_decay=True)
        ema = EMA(network, self.ema_decay)
        rate = None
        if self._budget is not None:   # DP-SGD: the denoiser is the private model
            network, optimizer, rate = self._make_private(network, optimizer, len(encoded), n_steps, generator)
        scheduler = WarmupCosine(optimizer, n_steps)
        step = DiffusionStep(self.process_, self._parallel(network), optimizer, scheduler, ema,
                             self._device_data(encoded), lt, generator=generator,
                             p_unconditional=self.p_unconditional, always_column=self._always_column(),
                             residual=self.residual_, logit_normal=_TIMESTEP_SAMPLING[self.timestep_sampling],
                             autocast=self._autocast(), private=rate is not None)
        state = TrainingState(modules={"network": network}, optimizers={"optimizer": optimizer},
                              schedulers={"scheduler": scheduler}, emas={"ema": ema}, generator=generator)
        with quiet_hooks():
            self._run_training(step, len(encoded), n_steps, "diffusion", sample_rate=rate, state=state,
                               data=(encoded.continuous, encoded.discrete),
                               small_table=self._is_small_table(len(encoded)))
        if rate is not None:
            release(network)
        self.network_ = ema.model

    def _fit_image_model(self, images, labels, generator):
        if self.sampling_steps > self.n_timesteps:
            raise ValueError(f"sampling_steps={self.sampling_steps} exceeds n_timesteps={self.n_timesteps}.")
        device = self.device_
        c, h, w = self.image_shape_
        self.process_ = GaussianDiffusion(get_betas(self.schedule, self.n_timesteps), clip=1.0)
        network = UNet(c, (h, w), width=self._image_width(), n_blocks=self._image_depth(),
                       n_classes=self._n_image_classes, dropout=self.dropout).to(device)
        n_steps = self._n_image_steps(len(images))
        optimizer = Adam(network.parameters(), lr=self.lr_, weight_decay=1e-4, decoupled_weight_decay=True)
        ema = EMA(network, self.ema_decay)
        rate = None
        if self._budget is not None:   # DP-SGD: the U-Net is the private model (GroupNorm: per-sample)
            network, optimizer, rate = self._make_private(network, optimizer, len(images), n_steps, generator)
        scheduler = WarmupCosine(optimizer, n_steps)
        step = ImageDiffusionStep(self.process_, self._parallel(network), optimizer, scheduler, ema, images, labels,
                                  n_classes=self._n_image_classes, generator=generator,
                                  label_dropout=self.label_dropout, p_unconditional=self.p_unconditional,
                                  autocast=self._autocast(), private=rate is not None)
        state = TrainingState(modules={"network": network}, optimizers={"optimizer": optimizer},
                              schedulers={"scheduler": scheduler}, emas={"ema": ema}, generator=generator)
        with quiet_hooks():
            self._run_training(step, len(images), n_steps, "diffusion", sample_rate=rate, state=state,
                               data=(images,) if labels is None else (images, labels))
        if rate is not None:
            release(network)
        self.network_ = ema.model

    def _generate_images(self, n, labels, generator, known=None, mask=None):
        shape = (n, *self.image_shape_)
        noise = torch.randn(shape, generator=generator, device=self.device_)
        model = ClassifierFreeGuidance(self.network_, scale=self._guidance_scale(), null_label=self._n_image_classes)
        given = None if mask is None else mask.bool().expand(shape)
        x0, _ = self.process_.sample(model, noise, steps=self.sampling_steps, solver=self.solver, eta=self.eta,
                                     given=given, x_given=known, cond=(labels, mask), generator=generator)
        return x0

    #: candidates per row of a requested class, picked by the model's probability of the class (_picked_class_rows)
    _CLASS_TRIES = 4

    def _generate(self, n, given, x_given, cond, constraints, generator, *, guided=False, steps=None,
                  with_probs=False, pick=False):
        # (pick: the GAN's candidates under a condition; each denoising step honours the constraints here)
        # (guided: every row's class was asked for; w > 0 picks each among candidates, _picked_class_rows)
        if guided and given is not None and self._always_column() is not None and self._guidance_scale() > 0:
            return self._picked_class_rows(n, given, x_given, cond, constraints, generator, steps=steps,
                                           with_probs=with_probs)
        return self._denoised_rows(n, given, x_given, cond, constraints, generator, steps=steps,
                                   with_probs=with_probs)

    def _picked_class_rows(self, n, given, x_given, cond, constraints, generator, *, steps=None, with_probs=False):
        """Rows of requested classes, each the pick of :attr:`_CLASS_TRIES` unguided candidates.

        Candidates are made given their class (w = 0); each is then weighed
        by the model's own probability of that class given the rest of the
        row raised to the guidance scale w (:meth:`_class_log_prob`), and
        one per row is drawn in proportion (sampling-importance resampling
        towards p(row | class)·p(class | row)^w, the target of classifier-free
        guidance, without its extrapolation).
        """
        k = self._CLASS_TRIES
        given, x_given, cond = given.repeat(k, 1), x_given.repeat(k, 1), cond.repeat(k, 1)
        constraints = None if constraints is None else constraints.repeat(k)
        scores, codes, *probs = self._denoised_rows(k * n, given, x_given, cond, constraints, generator,
                                                    steps=steps, with_probs=with_probs)
        log_p = self._class_log_prob(scores, codes, x_given, generator)
        return _pick_consistent((self._guidance_scale() * log_p).view(k, n), generator, scores, codes, *probs)

    def _class_log_prob(self, scores, codes, x_given, generator):
        """``log p(class | rest of the row)`` (B,) under the denoiser, for rows whose class is given in ``x_given``.

        One network call at the last timestep with every column given but
        the class, whose dimensions are pure noise: the prediction of its
        levels is the model's posterior of the class given the rest.
        """
        layout = self.encoder_.layout_
        lt = layout.tensors(self.device_)
        j = self._always_column()
        dims = torch.as_tensor(np.flatnonzero(layout.dim_to_column() == j), device=self.device_)
        x = lt.to_model(scores, codes)
        known = torch.ones(layout.n_columns, dtype=torch.bool, device=self.device_)
        known[j] = False
        cond = known.float().expand(len(x), -1)
        given = known[lt.dim_to_column].expand(len(x), -1)
        residual = getattr(self, "residual_", None)
        if residual is not None:
            cond = torch.cat([cond, residual.moments(x, given, features=True)[2]], dim=1)
        t = torch.full((1,), self.n_timesteps - 1, dtype=torch.long, device=self.device_)
        x_t = torch.where(given, x, randn(x.shape, generator, device=self.device_))
        network = self._inference_cache(self.network_, self.network_.folded)
        out = _with_condition_parts(network, network.condition_part(cond), x_t, t,
                                    offsets=self._logit_offsets(self.device_))
        logits = out.index_select(1, dims).float()
        requested = x_given.index_select(1, dims).argmax(1, keepdim=True)
        return torch.log_softmax(logits, dim=1).gather(1, requested).squeeze(1)

    def _denoised_rows(self, n, given, x_given, cond, constraints, generator, *, steps=None, with_probs=False):
        """``n`` rows from the sampler of ``process_`` with the folded denoiser: ``(scores, codes, *probs)``."""
        width = self.encoder_.layout_.width
        noise = randn((n, width), generator, device=self.device_)
        residual = getattr(self, "residual_", None)
        if residual is not None and given is not None:   # the free scores are generated as residuals
            mu, ratio, predicted = residual.moments(x_given, given, features=True)
            if constraints is not None and constraints.bounded:
                low, high = residual.transform_bounds(*constraints.intervals(), mu, ratio)
                constraints = dataclasses.replace(constraints, low=low, high=high)
            cond = torch.cat([cond, predicted], dim=1)
        elif residual is not None:   # nothing known: the levels' predictions are their frequencies
            cond = torch.cat([cond, residual.prior_features(len(cond), cond.device)], dim=1)
            residual = None
        # the folded denoiser, its condition's part computed once for all steps of this batch
        network = self._inference_cache(self.network_, self.network_.folded)
        offsets = self._logit_offsets(self.device_)

        model = functools.partial(_with_condition_parts, network, network.condition_part(cond), offsets=offsets)
        x0, codes, *probs = self.process_.sample(model, noise, steps=steps or self.sampling_steps,
                                                 solver=self.solver, eta=self.eta, given=given, x_given=x_given,
                                                 cond=None, constraints=constraints, generator=generator,
                                                 return_probs=with_probs)
        if residual is not None:
            return residual.from_residual(x0, given, mu, ratio), codes, *probs
        return x0[:, : self.encoder_.layout_.n_continuous], codes, *probs

    def _point_estimate_steps(self):
        """``point_estimate_steps`` resolved: "auto" is max(25, sampling_steps), at most n_timesteps (checked: it may
        be set after fit)."""
        steps = self.point_estimate_steps
        if isinstance(steps, str) and steps == "auto":
            return min(self.n_timesteps, max(POINT_ESTIMATE_STEPS, self.sampling_steps))
        if isinstance(steps, bool) or not isinstance(steps, Integral) or not 1 <= steps <= self.n_timesteps:
            raise ValueError(f"point_estimate_steps must be 'auto' or an integer in [1, n_timesteps="
                             f"{self.n_timesteps}], got {steps!r}.")
        return int(steps)


class GANSampler(BaseGenerativeSampler):
    """Conditional GAN for mixed-type tables.

    Same encoder, conditioning and surface as :class:`DiffusionSampler`;
    only the generative model differs. The generator (densely connected
    Linear–BatchNorm–ReLU layers) maps noise plus a conditioning input — the
    mask of given columns and their values — to a row in model space:
    continuous scores, and one-hot blocks (Gumbel-softmax while training,
    drawn levels while sampling). The critic
    sees the row and the mask, ``pac`` rows at a time (PacGAN). Part of every
    batch is drawn by training-by-sampling (a column, then one of its levels
    by log-frequency, then a real row with it), so rare levels are learnt;
    the rest has random conditioning masks, so the same generator samples
    unconditionally, conditionally on any columns and per class. One
    forward pass generates a sample, so sampling is fast. An unconditional
    row is generated given one categorical (column, level), as CTGAN
    samples, or (in a table with a categorical column) a numeric column's
    spike or missing mode, so that values such as zeros several columns
    share come together; how often each is used is fitted after training
    so that every anchored column keeps its training frequencies.

    Given images — an array ``(N, C, H, W)`` or ``(N, H, W)`` of uint8 or
    float pixels — it trains a conditional DCGAN
    (:class:`~synthaug.nn.ConvGenerator`: transposed strided convolutions,
    BatchNorm, ReLU, tanh; :class:`~synthaug.nn.ConvCritic`: strided
    convolutions, LeakyReLU(0.2), BatchNorm unless the loss has a gradient
    penalty or DP-SGD is on, a class projection head) with the same losses,
    and :meth:`impute` inpaints by GAN inversion (the latent whose image
    matches the observed pixels fills the missing ones). See
    ``docs/images.md``.

    Parameters
    ----------
    loss : {"auto", "wgan-gp", "hinge", "bce"}, default="auto"
        The GAN game (see :mod:`synthaug.gan.losses`): Wasserstein with
        gradient penalty, hinge, or the original minimax game with the
        non-saturating generator loss. ``"auto"`` is ``"wgan-gp"``, or
        ``"bce"`` with ``epsilon`` (a gradient penalty has no per-sample
        gradient to clip).
    gp_weight : float or None, default=None
        Weight of the gradient penalty; None means 10 for ``"wgan-gp"`` and
        0 for the others.
    n_critic : int or "auto", default="auto"
        Critic updates per generator update. ``"auto"`` is 1 for tables,
        with the faster critic of ``critic_lr`` (the two time-scale update
        rule of Heusel et al. 2017), and 3 with ``epsilon`` and for images.
        The generator learns the columns' dependence only from a
        well-trained critic: at the generator's learning rate one update per
        step is not enough (docs/gan.md, "Parameters and the choices behind
        the defaults").
    critic_lr : float or "auto", default="auto"
        Adam learning rate of the critic. ``"auto"`` is 4 × ``lr`` for a
        table model with one critic update per step, else ``lr``.
    pac : int, default=1
        Rows per critic input (PacGAN); ``batch_size`` is rounded down to a
        multiple of it. On credit, pac 10 / 5 / 2 / 1 gave train-on-synthetic
        ROC AUC 0.58 / 0.72 / 0.77 / 0.78 and detection AUC 0.92 / 0.88 /
        0.79 / 0.76 with full level and mode coverage throughout: packing
        guards against collapse but blurs each row's own dependence, and
        training-by-sampling with the gradient penalty already keeps every
        mode here. Raise it if ``ModeCollapseWarning`` appears.
    spectral_norm : bool, default=False
        Spectral normalisation of the critic's layers.
    noise_dim : int, default=64
    width, depth : int or "auto", default="auto"
        Tables: the generator (:class:`~synthaug.nn.DenseGenerator`), layers
        of Linear–BatchNorm–ReLU, each output concatenated to its input;
        ``"auto"`` = width 128, depth 2. Images: channels of the DCGAN
        generator and critic at full resolution (doubled below it),
        ``"auto"`` = 32; ``depth`` is unused (the image size sets it).
    critic_width, critic_depth : int, default=128, 2
    dropout : float, default=0.0
        Critic dropout (CTGAN uses 0.5; it weakened the critic here).
    tau : float, default=0.2
        Gumbel-softmax temperature of the one-hot blocks while training.
    ema_decay : float, default=0.999
        Decay of the moving average of the generator weights used to sample
        (0 disables it).
    p_unconditional : float, default=0.5
        Share of uniformly drawn training rows with no column given.
    p_conditional_rows : float, default=0.5
        Share of each batch drawn by training-by-sampling.
    consistency : float, default=0.0
        Weight of the level-consistency term while training
        (:class:`~synthaug.gan.LevelConsistency`): the generator's level
        probabilities for a column it generates are pulled toward the level
        predictor's on the generated row (a KL divergence, so the real
        spread is kept). Off by default: its effect was small and mixed
        (docs/gan.md); the sampling sweep below is what tightens how a
        label follows the features. Not available with ``epsilon``.
    energy : float or "auto", default="auto"
        Weight of the generator's energy-score term on tables
        (:func:`~synthaug.gan.energy_score`): each step the generator makes
        a second row under every condition of the batch, and the pair is
        scored against the real row the condition came from, on the cells
        the generator made. The score is strictly proper, so it teaches the
        distribution of the missing cells given the given ones directly
        (the critic judges it only through whole rows) without pulling rows
        toward their mean. ``"auto"`` = 1, or 0 with ``epsilon`` (the score
        reads real rows outside DP-SGD, so a positive weight cannot be
        combined with it).
    gibbs_sweeps : int or "auto", default="auto"
        Sampling: after the generator, every purely categorical column that
        is not given is redrawn, in turn, from a *level predictor* given the
        rest of the row, this many times
        (:func:`~synthaug.gan.consistency.resample_levels`). ``"auto"``: 2,
        or 1 on a table of more than 16 purely categorical columns — each
        column costs one predictor pass per sweep; on a generated table of
        30 such columns a model fitted for one sweep sampled 100,000 rows
        in about two thirds of the time, with quality and detection no
        worse than one fitted for two (``benchmarks/ablation.py
        wide_categorical``, docs/gan.md). The level offsets are fitted for
        the number of sweeps in force at ``fit``. The predictor,
        an MLP with one hidden layer of 64, is trained beside the GAN on
        the real rows to give a hidden column's level probabilities from
        the others; a tenth of the rows (at most 256, none below 50 rows,
        none of a level with fewer than 20) is held out of its loss, and
        the sweep uses the predictor that predicted their categorical cells
        best (early stopping). The
        generator draws a row's levels independently of each other given
        its noise, so a label follows the features only as sharply as the
        generator's logits are; the sweep is one scan of a Gibbs sampler
        with the predictor's conditionals and puts that dependence back.
        0 samples from the generator alone (and, with ``consistency=0``, no
        predictor is trained). No effect with ``epsilon`` (no predictor: it
        would read the rows outside DP-SGD). Can be changed after ``fit``
        when ``predictor_`` is not None.
    gaussian_residual : bool, default=True
        Generate each free score as the residual of its Gaussian conditional
        mean given the row's known scores, as :class:`DiffusionSampler` does
        (:class:`~synthaug.residual.GaussianResidual`): the critic compares
        real and generated rows in that space, and sampled rows are mapped
        back. A numeric column that is close to a linear function of given
        ones then follows them exactly in that part, and the generator
        learns only what is left — conditional sampling and imputation of
        numeric cells. The same Gaussian's linear prediction of each
        categorical column's levels from the known scores ends the
        generator's condition and starts those levels' logits (a trained
        linear skip, as in the denoiser), so a category that follows many
        given numbers is imputed from them. With no score given the map is
        the identity and the predictions are the levels' frequencies. It
        also fits the linear imputer that ``impute``'s numeric point
        estimate is blended with, and enables the nearest rows in that
        blend (as :class:`DiffusionSampler`'s).
        Ignored with ``epsilon``.
    guidance_scale : float or "auto", default="auto"
        Guidance weight w for rows of requested classes of a table (a model
        fitted with ``y``: ``sample(n, y=label)``, :meth:`fit_resample`), with
        the meaning it has in :class:`DiffusionSampler`: rows are drawn in
        proportion to p(row | class)·p(class | row)^w, more typical of their
        class at the cost of diversity. Each such row is picked among
        candidates in proportion to the level predictor's probability of
        the class raised to 1 + w (w = 0: the conditional distribution;
        conditions, ``_generate``). ``"auto"`` is 1.0. In
        ``benchmarks/upsampling.py`` (2026-12-03, docs/resampling.md) w = 1
        against 0 raised credit's and wine's minority figures (credit's
        HistGradientBoosting F1 and both average precisions to the targets)
        and lowered breast_cancer's logistic regression below SMOTE's,
        with credit's synthetic minority a little easier to detect. Tables
        only; ``sample(n)`` (a copy of the table) is never guided.
    sampling_strategy : float, str, dict or callable, default="auto"
        Classes :meth:`fit_resample` up-samples, as in :class:`DiffusionSampler`.
    quality_filter : "auto", float in (0, 1) or None, default="auto"
        As in :class:`DiffusionSampler`.
    importance_resampling : int >= 2, "auto" or None, default="auto"
        As in :class:`DiffusionSampler`, whose ``"auto"`` only resamples the
        rows of :meth:`fit_resample`, and only where a held-out check finds
        that it helps: the default here, which met the minority-detection
        and breast_cancer and wine targets that the plain GAN missed
        (docs/resampling.md), while ``sample`` keeps its speed. None
        turns it off.
    max_steps : int or "auto", default="auto"
        Generator updates; ``"auto"`` scales with the table (100 epochs,
        between 300 — 500 with ``epsilon`` — and 30,000 steps).
    batch_size : int or "auto", default="auto"
        500 rows per step (the expected Poisson batch with ``epsilon``);
        without ``epsilon`` at most half the table's rows, so that a table
        of fewer than 1,000 rows trains on two batches per epoch (on
        breast_cancer's 398 rows: a third of the fit time of 500 steps on
        the whole table, at about the same quality; docs/gan.md).
    lr : float or "auto", default="auto"
        Adam learning rate of both networks (β = (0.5, 0.9)): 6e-4, or 2e-4
        with ``epsilon`` (docs/gan.md: three times CTGAN's 2e-4 raised the
        quality on iris, wine, breast_cancer and credit at the same
        detection AUC).
    discrete_columns, numeric_levels, warm_start, checkpoint, checkpoint_every
        As in :class:`DiffusionSampler`.
    precision, compile, device, random_state, verbose
        As in :class:`DiffusionSampler`.
    epsilon, delta, max_grad_norm, bounds, categories
        Differential privacy, as in :class:`DiffusionSampler`; here the
        critic is the private model (the generator sees the data only
        through it). With ``epsilon``, ``loss="auto"`` is ``"bce"`` (the
        gradient penalty has no per-sample form), ``pac`` must be 1 and
        training-by-sampling is off (it is not a uniform subsample).

    Attributes
    ----------
    encoder_ : TableEncoder
    generator_ : DenseGenerator
        EMA weights of the generator.
    critic_ : PackedCritic
    residual_ : GaussianResidual or None
        The Gaussian of the scores behind ``gaussian_residual`` (None when
        off, under DP, or without numeric columns). Tables only.
    linear_imputer_ : LinearImputer or None
        The regression ``impute``'s numeric point estimate is blended with
        (None when ``residual_``'s conditions are not met, and after
        ``fit_resample``, whose model only samples). Tables only.
    predictor_ : ResidualMLP or None
        The level predictor of ``gibbs_sweeps`` and ``consistency`` (in
        evaluation mode); None when neither uses it, with ``epsilon``, or
        for images.
    loss_ : str
        The GAN loss used (``loss`` with ``"auto"`` resolved).
    n_critic_, critic_lr_ : int, float
        ``n_critic`` and ``critic_lr`` with ``"auto"`` resolved.
    gan_ : TabularGAN
        Input and output heads.
    history_ : dict of lists
        ``critic`` and ``generator`` losses, ``level_coverage`` and
        ``mode_coverage`` (share of frequent levels and numeric deciles the
        generator produces with nothing given) per logged step.
    coverage_ : dict or None
        ``level_coverage`` and ``mode_coverage`` of rows generated as
        :meth:`sample` generates them (anchored, with the calibrated mixture
        and scores), at the end of ``fit``; None with ``epsilon`` (measuring it reads the data)
        and for images.
    score_calibration_ : ScoreCalibration or None
        As in :class:`DiffusionSampler`.
    level_calibration_ : LevelCalibration or None
        Logit offsets on the level predictor's probabilities in the Gibbs
        sweep, which bring the redrawn categorical columns to their
        training frequencies (after the anchor mixture is fitted); None
        without a sweep.
    n_iter_ : int
    density_ratio_, n_features_in_, feature_names_in_, classes_, sampling_strategy_, device_
        As in :class:`DiffusionSampler`.

    Warns
    -----
    ModeCollapseWarning
        When the fitted model's samples miss frequent levels or numeric modes
        (``coverage_`` below 0.9), with what to change.

    Examples
    --------
    >>> from synthaug import GANSampler
    >>> from synthaug.datasets import load_credit
    >>> df = load_credit().head(300)
    >>> model = GANSampler(max_steps=20, random_state=0, verbose=False).fit(df)
    >>> synth = model.sample(5, conditions={"Home": "owner"})
    >>> bool((synth["Home"] == "owner").all())
    True
    """

    _bounds_scores_itself = False   # intervals: free scores, calibrated, then truncated (see the base)
    _parameter_constraints: dict = {
        **BaseGenerativeSampler._parameter_constraints,
        "loss": [StrOptions(set(LOSSES) | {"auto"})],
        "gp_weight": [Interval(Real, 0, None, closed="left"), None],
        "n_critic": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
        "critic_lr": [Interval(Real, 0, None, closed="neither"), StrOptions({"auto"})],
        "pac": [Interval(Integral, 1, None, closed="left")],
        "spectral_norm": ["boolean"],
        "noise_dim": [Interval(Integral, 1, None, closed="left")],
        "critic_width": [Interval(Integral, 1, None, closed="left")],
        "critic_depth": [Interval(Integral, 0, None, closed="left")],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "tau": [Interval(Real, 0, None, closed="neither")],
        "p_conditional_rows": [Interval(Real, 0, 1, closed="both")],
        "consistency": [Interval(Real, 0, None, closed="left")],
        "energy": [Interval(Real, 0, None, closed="left"), StrOptions({"auto"})],
        "gibbs_sweeps": [Interval(Integral, 0, None, closed="left"), StrOptions({"auto"})],
        "gaussian_residual": ["boolean"],
        "guidance_scale": [Interval(Real, 0, None, closed="left"), StrOptions({"auto"})],
    }
    # a table of fewer than 1,000 rows trains on two batches of half its rows, for at least 300 steps (500 with
    # DP): on breast_cancer's 398 rows a third of the fit of one 398-row batch for 500 steps, at about the same
    # quality and with rows a little easier to tell from real ones (docs/gan.md, "Tables smaller than two batches")
    _auto_epochs, _auto_min_steps = 100, {False: 300, True: 500}
    _auto_batch_size, _auto_batches_per_epoch = {False: 500, True: 500}, 2
    _auto_lr = {False: 6e-4, True: 2e-4}

    def __init__(self, *, loss="auto", gp_weight=None, n_critic="auto", critic_lr="auto", pac=1, spectral_norm=False,
                 noise_dim=64, width="auto", depth="auto", critic_width=128, critic_depth=2, dropout=0.0, tau=0.2,
                 ema_decay=0.999, p_unconditional=0.5, p_conditional_rows=0.5, consistency=0.0, energy="auto",
                 gibbs_sweeps="auto", gaussian_residual=True, guidance_scale="auto", sampling_strategy="auto",
                 quality_filter="auto", importance_resampling="auto", max_steps="auto", batch_size="auto", lr="auto",
                 discrete_columns=None, numeric_levels=0,
                 epsilon=None, delta=None, max_grad_norm=1.0, bounds=None, categories=None, warm_start=False,
                 checkpoint=None, checkpoint_every=1000, precision="auto", compile=False, device="auto",
                 random_state=None, verbose=True):
        super().__init__(**base_parameters(locals()))
        self.loss, self.gp_weight, self.n_critic, self.critic_lr, self.pac = loss, gp_weight, n_critic, critic_lr, pac
        self.spectral_norm, self.noise_dim, self.tau = spectral_norm, noise_dim, tau
        self.critic_width, self.critic_depth, self.dropout = critic_width, critic_depth, dropout
        self.p_conditional_rows, self.consistency, self.gibbs_sweeps = p_conditional_rows, consistency, gibbs_sweeps
        self.guidance_scale = guidance_scale
        self.gaussian_residual = gaussian_residual
        self.energy = energy

    def _resolved_loss(self, *, tables=False):
        """``(loss, gp_weight)`` after ``"auto"`` and the privacy constraints (``tables``: with table-only terms)."""
        private = self._budget is not None
        loss = self.loss if self.loss != "auto" else ("bce" if private else "wgan-gp")
        gp = self.gp_weight if self.gp_weight is not None else (10.0 if loss == "wgan-gp" and not private else 0.0)
        if private:
            for bad, why in ((gp > 0 or (loss == "wgan-gp" and self.gp_weight is None), "a gradient penalty"),
                             (self.pac > 1, f"pac={self.pac}"), (self.spectral_norm, "spectral_norm=True")):
                if bad:
                    raise ValueError(f"{why} cannot be combined with epsilon: DP-SGD clips each row's own gradient "
                                     "of the critic. Use loss='auto', 'bce' or 'hinge', pac=1, no spectral norm.")
            for name, what in (("consistency", "its level predictor is trained on"),
                               ("energy", "its score compares generated rows with")):
                if tables and getattr(self, name) != "auto" and getattr(self, name) > 0:
                    raise ValueError(f"{name} cannot be combined with epsilon: {what} the real rows outside "
                                     f"DP-SGD. Use {name}=0.")
        return loss, gp

    def _energy_weight(self):
        """The weight of the energy-score term: ``"auto"`` = 1, and 0 under DP (:meth:`_resolved_loss` refuses more)."""
        if self._budget is not None:
            return 0.0
        return 1.0 if self.energy == "auto" else float(self.energy)

    def _fit_level_calibration(self, encoded, generator):
        """Offsets on the level predictor's logits that give the Gibbs sweep the training frequencies, or None.

        Fitted in one pass (:func:`~synthaug.gan.consistency.fit_level_offsets`)
        on unconditional rows from the generator (anchored, with the fitted
        mixture), block after block as the sweep draws them; held in a
        :class:`~synthaug.calibration.LevelCalibration`. None without a sweep
        (the anchor mixture alone matches the frequencies then).
        """
        _, _, refine = self._sampling_tables()
        if refine is None:
            return None
        layout, blocks = self.encoder_.layout_, self._sweep_blocks()
        targets = {di: f for di, f in level_frequencies(self.encoder_, encoded.discrete).items() if di in blocks}
        n = self._calibration_rows(len(encoded))
        x, codes, _, _, _ = self._generator_rows(n, None, None, torch.zeros((n, layout.n_columns), device=self.device_),
                                              None, generator)
        offsets = fit_level_offsets(self.predictor_.folded(), layout.tensors(self.device_), x, codes, blocks, targets,
                                    generator=generator, sweeps=self._gibbs_sweeps())
        calibration = LevelCalibration(layout, targets)
        calibration.offsets_ = offsets[layout.n_continuous:].double().cpu().numpy()
        return calibration

    #: gibbs_sweeps="auto": two sweeps over at most this many categorical columns, one over more
    _auto_sweep_columns = 16

    def _gibbs_sweeps(self):
        """``gibbs_sweeps`` resolved for the fitted layout: 0 with no categorical column to sweep."""
        n_blocks = len(self._sweep_blocks())
        if not n_blocks:
            return 0
        if self.gibbs_sweeps == "auto":
            return 2 if n_blocks <= self._auto_sweep_columns else 1
        return int(self.gibbs_sweeps)

    def _sweep_blocks(self):
        """Discrete blocks of the purely categorical columns: what the Gibbs sweep redraws."""
        return [di for _, di in self._sweep_columns()]

    def _sweep_columns(self):
        """``(column, discrete block)`` of each purely categorical column (:meth:`_sweep_blocks`)."""
        return [(j, di) for j, (ci, di) in enumerate(self.encoder_.layout_.column_parts)
                if ci is None and di is not None]

    # the level predictor: one hidden layer of 64 (one pass per categorical column and sweep when sampling)
    _predictor_width, _predictor_depth = 64, 0
    # its early stopping (_predictor_validation): share of rows held out, at most, fewest rows, fewest rows of a level
    _predictor_held_out, _predictor_max_held_out, _predictor_min_rows, _predictor_min_level_rows = 0.1, 256, 50, 20

    # n_critic="auto": {private: updates} for tables (images: 3); critic_lr="auto": lr times this with one update
    _auto_n_critic, _auto_image_n_critic, _critic_lr_ratio = {False: 1, True: 3}, 3, 4.0

    def _resolve_critic(self, *, images):
        """``n_critic_`` and ``critic_lr_``: the "auto" values (after ``lr_``)."""
        auto = self._auto_image_n_critic if images else self._auto_n_critic[self._budget is not None]
        self.n_critic_ = auto if self.n_critic == "auto" else int(self.n_critic)
        ratio = self._critic_lr_ratio if not images and self.n_critic_ == 1 else 1.0
        self.critic_lr_ = self.lr_ * ratio if self.critic_lr == "auto" else float(self.critic_lr)

    def _level_consistency(self, layout_tensors, data, generator):
        """``(LevelConsistency, held-out rows)`` of the fit, or ``(None, None)`` (no discrete block, nothing uses
        it, DP).

        Trained beside the GAN for as many steps as the GAN, a small
        table's predictor would learn its rows by heart, so a share
        :attr:`_predictor_held_out` of the rows (at most
        :attr:`_predictor_max_held_out`; none below
        :attr:`_predictor_min_rows` rows) is kept out of its loss, and the
        predictor kept is the one that scored best on them
        (:meth:`_predictor_validation`).
        """
        private = self._budget is not None   # (a consistency weight under DP was refused in _resolved_loss)
        layout = layout_tensors.layout
        if private or not layout.n_discrete or not (self.consistency or self._gibbs_sweeps()):
            return None, None
        predictor = ResidualMLP(layout.width, layout.width, cond_dim=layout.n_columns, width=self._predictor_width,
                                depth=self._predictor_depth, time_dim=0, dropout=0.1).to(self.device_)
        opt = Adam(predictor.parameters(), lr=1e-3, weight_decay=1e-5)
        held_out, validation = self._predictor_validation(layout_tensors, data, generator)
        # without the generator's term only the purely categorical columns are read from it
        columns = None if self.consistency else [j for j, _ in self._sweep_columns()]
        return LevelConsistency(predictor, opt, layout_tensors, weight=self.consistency, generator=generator,
                                validation=validation, columns=columns), held_out

    def _predictor_validation(self, layout_tensors, data, generator):
        """``(held-out rows (N,) bool, (x, hidden))`` the level predictor is stopped on, or ``(None, None)``.

        It is scored on what the sweep and the picks of conditional
        sampling read from it: the level of each purely categorical column
        (:meth:`_sweep_blocks`) given the rest of the row, on held-out rows
        where that cell is present. A numeric column's mode is left out (it
        is not read from the predictor, and where cells are missing at
        random its "missing" mode cannot be predicted: a loss including it
        is lowest before the labels are learnt), and so are the rows of any
        level with fewer than :attr:`_predictor_min_level_rows` rows, which
        the predictor needs all of.
        """
        n = data[0].shape[0]
        swept = self._sweep_columns()
        if n < self._predictor_min_rows or not swept:
            return None, None
        device, codes = self.device_, data[1]
        layout = layout_tensors.layout
        eligible = torch.ones(n, dtype=torch.bool, device=device)
        for _, di in swept:
            counts = torch.bincount(codes[:, di], minlength=layout.cardinalities[di])
            eligible &= counts.index_select(0, codes[:, di]) >= self._predictor_min_level_rows
        candidates = torch.nonzero(eligible).squeeze(1)
        k = min(self._predictor_max_held_out, int(round(self._predictor_held_out * n)), len(candidates))
        if not k:
            return None, None
        rows = candidates[torch.randperm(len(candidates), generator=generator, device=device)[:k]]
        x, held_codes = layout_tensors.gather(*data, rows), codes.index_select(0, rows)
        xs, hidden = [], []
        excluded = torch.zeros(layout.width, dtype=torch.bool, device=device)
        for j, di in swept:
            missing = self.encoder_.encoders_[self.encoder_.columns_[j]].missing_code
            present = held_codes[:, di] != (-1 if missing is None else missing)
            if missing is not None:
                excluded[int(layout.offsets[di]) + missing] = True
            xs.append(x[present])
            hidden.append(torch.nn.functional.one_hot(torch.full((int(present.sum()),), j, device=device),
                                                      layout.n_columns).bool())
        held_out = torch.zeros(n, dtype=torch.bool, device=device).index_fill_(0, rows, True)
        return held_out, (torch.cat(xs), torch.cat(hidden), excluded)

    def _fit_model(self, encoded, generator):
        device = self.device_
        layout = self.encoder_.layout_
        lt = layout.tensors(device)
        loss, gp = self._resolved_loss(tables=True)
        self.loss_ = loss
        pac = min(self.pac, len(encoded))
        self.residual_ = self._fit_gaussian_residual(encoded)
        self.gan_ = TabularGAN(layout, clip=_Z_MAX, tau=self.tau, residual=self.residual_)
        # the residual's level features reach their levels' logits directly, starting as the identity
        g_net = DenseGenerator(self.noise_dim, layout.width, cond_dim=self.gan_.cond_dim, width=self._table_width(),
                               depth=self._table_depth(), skip_outputs=self.gan_.feature_dims).to(device)
        critic = PackedCritic(self.gan_.critic_dim, pac=pac, width=self.critic_width, depth=self.critic_depth,
                              dropout=self.dropout, spectral_norm=self.spectral_norm).to(device)
        self._resolve_critic(images=False)
        opt_g, opt_c = (Adam(net.parameters(), lr=lr, betas=(0.5, 0.9), weight_decay=1e-6)
                        for net, lr in ((g_net, self.lr_), (critic, self.critic_lr_)))
        ema = EMA(g_net, self.ema_decay)
        data = self._device_data(encoded)
        n_steps = self._n_steps(len(encoded))
        private = self._budget is not None
        rate, trained_critic = None, critic
        if private:   # DP-SGD: the critic is the private model; the generator sees data only through it
            critic, opt_c, rate = self._make_private(critic, opt_c, len(encoded), n_steps * self.n_critic_, generator)
        rows = ConditionalRowSampler(data[1], layout.cardinalities) if layout.n_discrete and not private else None
        consistency, held_out = self._level_consistency(lt, data, generator)
        step = GANStep(self.gan_, self._compiled(g_net), self._compiled(critic, double_backward=gp > 0), opt_g, opt_c,
                       ema, data, lt, loss=loss, n_critic=self.n_critic_,
                       gp_weight=gp, noise_dim=self.noise_dim, row_sampler=rows,
                       p_conditional_rows=self.p_conditional_rows, p_unconditional=self.p_unconditional,
                       always_column=self._always_column(), generator=generator,
                       autocast=self._autocast(), sample_rate=rate,
                       # at least 2 generated rows: the generator's BatchNorm needs two per batch
                       fake_batch=max(2, round(rate * len(encoded))) if private else None,
                       consistency=consistency, energy_weight=self._energy_weight(), held_out=held_out)
        monitor = self._coverage = None
        if not private:   # coverage is measured against the training data: not a private release
            coverage = self._coverage = ModeCoverage(*data, layout.cardinalities)   # also for coverage_

            def monitor():
                noise = torch.randn((2048, self.noise_dim), generator=generator, device=device)
                x, codes = self.gan_.sample(ema.model, noise, generator=generator)
                codes = codes if codes is not None else torch.zeros((2048, 0), dtype=torch.long, device=device)
                return coverage(x[:, : layout.n_continuous], codes)

        modules, optimizers = {"generator": g_net, "critic": critic}, {"g": opt_g, "c": opt_c}
        if consistency is not None:
            modules["predictor"], optimizers["p"] = consistency.predictor, consistency.optimizer
            if consistency.best is not None:
                modules["predictor_best"] = consistency.best
        # the best predictor was chosen on this fit's held-out rows: a warm start chooses afresh on its own
        state = TrainingState(modules=modules, optimizers=optimizers, emas={"ema": ema}, generator=generator,
                              per_fit={"predictor_best"})
        with quiet_hooks():
            self._run_training(step, len(encoded), n_steps, "gan", monitor=monitor, sample_rate=rate, state=state,
                               data=(encoded.continuous, encoded.discrete))
        self._anchor_levels = _anchor_table(self.encoder_, None if private else encoded.discrete)
        if private:
            release(critic)   # drop Opacus' hooks: the fitted critic is a plain module
        broadcast_module(ema.model)   # BatchNorm statistics were gathered per process
        self.generator_, self.critic_ = ema.model, trained_critic.eval()
        self.predictor_ = None if consistency is None else consistency.fitted_predictor().eval()
        self.level_calibration_ = None   # (a previous fit's offsets must not reach this fit's anchor weights)
        _, anchors, _ = self._sampling_tables()
        calibrated = anchors.calibrated_weights(generator) if anchors is not None else None
        if calibrated is not None:   # (post-processing of the generator and the released frequencies)
            self._anchor_levels = (*self._anchor_levels, *calibrated)   # kept for copies rebuilt after pickling
            anchors.use_weights(*calibrated, device=self.device_)

    def _fit_table_model(self, encoded, generator):
        """Train and calibrate (see the base class), then check the coverage of what :meth:`sample` gives."""
        super()._fit_table_model(encoded, generator)
        coverage = self.__dict__.pop("_coverage", None)   # built by _fit_model from the training data; None with DP
        self.coverage_ = None if coverage is None else self._release_coverage(coverage, generator)
        if self.coverage_ is not None and world()[0] == 0:   # (one warning for a distributed fit)
            warn_if_collapsed({k: [v] for k, v in self.coverage_.items()})

    def _release_coverage(self, coverage, generator, n=4096):
        """``coverage`` (a :class:`~synthaug.gan.ModeCoverage`) of ``n`` rows generated as :meth:`sample` does."""
        layout = self.encoder_.layout_
        cond = torch.zeros((n, layout.n_columns), device=self.device_)
        scores, codes = self._generate_rows(n, None, None, cond, None, generator)
        codes = codes if codes is not None else torch.zeros((n, 0), dtype=torch.long, device=self.device_)
        return {k: float(v) for k, v in coverage(scores, codes).items()}

    # images: DCGAN sizes, batch, learning rate (Radford et al.: Adam 2e-4, β1 = 0.5)
    _auto_image_width, _auto_image_depth = 32, 1
    _auto_image_batch_size = {False: 64, True: 512}
    _auto_image_lr = {False: 2e-4, True: 2e-4}
    _auto_image_epochs = 90
    _image_label_dropout = 0.1   # "no class" share: the generator also learns p(x) (inpainting, unknown class)

    def _fit_image_model(self, images, labels, generator):
        device = self.device_
        c, h, w = self.image_shape_
        loss, gp = self._resolved_loss()
        self.loss_ = loss
        private = self._budget is not None
        if self.batch_size_ < 2:
            raise ValueError("batch_size must be at least 2 for images: the generator uses BatchNorm.")
        n_classes = self._n_image_classes
        g_net = ConvGenerator(self.noise_dim, c, (h, w), width=self._image_width(), n_classes=n_classes).to(device)
        # BatchNorm in the critic (DCGAN) except where a per-sample critic is needed: gradient penalty or DP-SGD
        norm = "batch" if gp == 0 and not private else "none"
        critic = ConvCritic(c, (h, w), width=self._image_width(), n_classes=n_classes, norm=norm,
                            spectral_norm=self.spectral_norm).to(device)
        self._resolve_critic(images=True)
        opt_g, opt_c = (Adam(net.parameters(), lr=lr, betas=(0.5, 0.999))
                        for net, lr in ((g_net, self.lr_), (critic, self.critic_lr_)))
        ema = EMA(g_net, self.ema_decay)
        n_steps = self._n_image_steps(len(images))
        rate, trained_critic = None, critic
        if private:
            critic, opt_c, rate = self._make_private(critic, opt_c, len(images), n_steps * self.n_critic_, generator)
        prior = None if labels is None else torch.as_tensor(self.class_prior_, dtype=torch.float32, device=device)
        step = ImageGANStep(self._compiled(g_net), self._compiled(critic, double_backward=gp > 0), opt_g, opt_c, ema,
                            images, labels, loss=loss, n_critic=self.n_critic_,
                            gp_weight=gp, noise_dim=self.noise_dim, generator=generator, class_prior=prior,
                            label_dropout=self._image_label_dropout,
                            autocast=self._autocast(), sample_rate=rate,
                            fake_batch=max(1, round(rate * len(images))) if private else None)
        state = TrainingState(modules={"generator": g_net, "critic": critic}, optimizers={"g": opt_g, "c": opt_c},
                              emas={"ema": ema}, generator=generator)
        with quiet_hooks():
            self._run_training(step, len(images), n_steps, "gan", sample_rate=rate, state=state,
                               data=(images,) if labels is None else (images, labels))
        if private:
            release(critic)
        broadcast_module(ema.model)
        self.generator_, self.critic_ = ema.model, trained_critic.eval()
        self.coverage_ = self.predictor_ = None

    def _generate_images(self, n, labels, generator, known=None, mask=None):
        noise = torch.randn((n, self.noise_dim), generator=generator, device=self.device_)
        if mask is None:
            return self.generator_(noise, labels)
        return self._invert(noise, labels, known, mask, generator)

    def _invert(self, noise, labels, known, mask, generator, n_iter=200):
        """Inpainting by GAN inversion: the latent whose image best matches the given pixels fills the rest.

        Starting from ``noise``, Adam minimises the squared error on the given
        pixels plus a Gaussian prior ½‖z‖²/d on the latent; the generated
        image supplies the missing pixels, the given ones are kept.
        """
        with torch.inference_mode(False), torch.enable_grad():
            z = noise.clone().requires_grad_(True)
            known, mask = known.clone(), mask.clone()
            labels = None if labels is None else labels.clone()
            opt = Adam([z], lr=0.05)
            for _ in range(n_iter):
                err = ((self.generator_(z, labels) - known) ** 2 * mask).flatten(1).sum(1)
                loss = (err + 0.5 * z.pow(2).mean(1)).sum()
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
            with torch.no_grad():
                image = self.generator_(z, labels)
        return torch.where(mask.bool(), known, image)

    def _generate(self, n, given, x_given, cond, constraints, generator, *, guided=False, steps=None,
                  with_probs=False, pick=False):
        # (steps: the GAN has none; guided: the rows' class was asked for, see guidance_scale)
        # Under a set or interval condition (including one level or one requested class, _sampling_conditions)
        # each row is the pick of `tries` candidates made under the condition (see _pick_consistent). Not for
        # imputation (pick=False), whose only constraint forbids the "missing" levels: in a development run of
        # benchmarks/imputation.py on breast_cancer the candidates made it much slower for no better cell.
        tries = self._CONDITION_TRIES if pick and constraints is not None and constraints.weighs_levels else 1
        if tries > 1:
            given, x_given = (None if t is None else t.repeat(tries, 1) for t in (given, x_given))
            cond, constraints = cond.repeat(tries, 1), constraints.repeat(tries)
        x, codes, probs, frozen, log_w = self._generator_rows(tries * n, given, x_given, cond, constraints,
                                                              generator, with_probs=with_probs, weigh=tries > 1,
                                                              class_rows=guided)
        _, _, refine = self._sampling_tables()
        if refine is not None:
            x, codes, p, predictor_mass = refine(x, codes, frozen, generator, constraints=constraints,
                                                 probs=probs[0] if probs else None, weigh=tries > 1)
            probs = [p] if probs else probs
        if tries > 1:
            log_mass, log_w = log_w
            # On the blocks the sweep redraws, the predictor's weight replaces the generator's. It is measured
            # on the rows as the generator made them (whose other cells do not depend on a block's drawn
            # level): a candidate weighed by P(allowed | rest) is a draw given the condition, and the sweep,
            # a Gibbs scan under the same constraints, keeps it one. Measured after the sweep, which had
            # already redrawn the other levels given the condition, the weight counted it twice (credit: the
            # rows of a requested class held its telltale levels far more often than its real rows).
            if refine is not None:
                swept = torch.as_tensor(self._sweep_blocks(), device=self.device_)
                log_mass = log_mass.index_copy(1, swept, predictor_mass.index_select(1, swept))
            j = self._always_column()
            if guided and j is not None:   # the requested class's probability, raised to 1 + w
                block = self.encoder_.layout_.column_parts[j][1]
                log_mass[:, block] *= 1.0 + self._guidance_scale()
            x, codes, *probs = _pick_consistent((log_w + log_mass.sum(1)).view(tries, n), generator, x, codes,
                                                *probs)
        return x[:, : self.encoder_.layout_.n_continuous], codes, *probs

    def _generator_rows(self, n, given, x_given, cond, constraints, generator, *, with_probs=False, weigh=False,
                        class_rows=False):
        """Rows from the generator alone: ``(x (n, width), codes, [probs] or [], frozen (n, n_columns), log_w)``.

        ``frozen``: the columns given by the conditions — what the Gibbs
        sweep keeps (not the anchors, which only seed the generator).
        ``log_w`` (``weigh``, else None): ``(generator's (n, n_discrete),
        anchors' (n,))`` log-weights of the rows under ``constraints``: per
        block, the log-probability that the generator's unrestricted level
        meets them (see :meth:`TabularGAN.sample`), and minus the log of how
        much more often the row's anchor was drawn for them (see
        :meth:`_Anchors.draw`). ``class_rows``: rows of a requested class,
        anchored on categorical levels only (:meth:`_Anchors.consistency`).
        """
        network, anchors, _ = self._sampling_tables()
        frozen = cols = cond > 0
        noise = randn((n, self.noise_dim), generator, device=self.device_)
        drawn = None if given is not None or anchors is None else anchors.draw(n, generator, constraints,
                                                                               categorical_only=class_rows)
        ids = consistent = None
        if drawn is not None:
            # Rows with no cell given: each is anchored on one (categorical column, level), as CTGAN samples;
            # the generator is trained to generate the rest given such a column (training-by-sampling).
            # How often each anchor is drawn was fitted after training (_Anchors.calibrated_weights) so
            # that every categorical column, anchored or not, keeps its training frequencies; under a
            # condition each anchor is weighed by how often its rows meet it (_Anchors.draw).
            cols, given, x_given, ids, consistent = drawn
            network = functools.partial(_with_condition_parts, network, anchors.cond_part)
        x, codes, *extra = self.gan_.sample(network, noise, cols=cols, given=given, x_given=x_given, cond=ids,
                                            constraints=constraints, generator=generator, return_probs=with_probs,
                                            return_log_mass=weigh)
        log_w = None
        if weigh:
            log_mass = extra.pop()
            # the anchors were already drawn in proportion to how often their rows meet the constraints
            log_w = log_mass, (log_mass.new_zeros(n) if consistent is None
                               else -consistent.log().index_select(0, ids))
        return x, codes, extra, frozen, log_w

    def _sampling_conditions(self, parsed):
        """A condition on one level of a categorical column is drawn as a set of one level, not given.

        Requested classes become such a condition too (:meth:`_sample_frame`).
        Generated *given* a level, the rest of the row follows the
        generator's conditional, which is less accurate than its anchored
        unconditional rows; as a one-level set the row is picked among
        candidates by how likely the model gives them that level (see
        :meth:`_generate`), as under any set condition. Development check on
        credit: the other columns under `Home=owner`, `parents` or `rent`
        came close to the model's own unconditional rows of that level, where
        given rows had been clearly further from them.
        """
        return exact_levels_as_sets(self.encoder_, parsed)

    def _sample_frame(self, n, parsed, given_frame, rng, *, guided=False):
        """Rows of requested classes (``sample(n, y=...)``, :meth:`fit_resample`, ``sample(n)`` of a model
        fitted with ``y``) are made class by class, the class an exact condition of its rows (drawn as a
        one-level set, :meth:`_sampling_conditions`), and put back in the requested order."""
        if given_frame is None or given_frame.shape[1] != 1 or not len(given_frame):
            return super()._sample_frame(n, parsed, given_frame, rng, guided=guided)
        column = given_frame.iloc[:, 0]
        codes, classes = pd.factorize(column)
        rows = [np.flatnonzero(codes == k) for k in range(len(classes))]
        parts = [super(GANSampler, self)._sample_frame(
            len(r), dataclasses.replace(parsed, exact={**parsed.exact, column.name: c}), None, rng, guided=guided)
            for c, r in zip(classes, rows)]
        if len(parts) == 1:
            return parts[0]
        order = np.argsort(np.concatenate(rows), kind="stable")
        return pd.concat(parts, ignore_index=True).iloc[order].reset_index(drop=True)

    def _second_pass_given(self, parsed, constrained):
        """Only an interval condition's columns are given to the second pass, which keeps the set conditions.

        Under a set condition the candidates of :meth:`_generate` are weighed
        by how likely the model puts them inside it, so the first pass
        already draws rows given the condition; generating their other cells
        again from the generator given the drawn levels would only add its
        conditional errors (development check: credit's other columns under
        ``Home=['owner', 'parents']`` were clearly closer to the real rows
        in one pass). An interval's scores are mapped into it by
        :func:`~synthaug.gan.tabular.truncate_scores`, away from the rest of
        their row, which the second pass regenerates given them.
        """
        parts = self.encoder_.layout_.column_parts
        bounded = np.array([ci is not None and ci in parsed.z_bounds for ci, _ in parts], dtype=bool)
        return constrained & bounded, True

    #: candidates per row of a set or interval condition's first pass (see _pick_consistent)
    _CONDITION_TRIES = 8

    def _sampling_tables(self):
        """``(folded generator, anchors or None, refine or None)`` of the fitted model, built once per generator.

        ``refine(x, codes, frozen, generator, *, constraints=None, probs=None, weigh=False)``
        runs ``gibbs_sweeps`` sweeps (resolved by :meth:`_gibbs_sweeps`) of
        :func:`~synthaug.gan.consistency.resample_levels` with the folded
        predictor over the purely categorical blocks, and returns
        ``(x, codes, probs, mass)``: with ``weigh``, ``mass`` is
        :func:`~synthaug.gan.consistency.constrained_log_mass` of the rows
        it was given, before the sweeps (else None).
        """
        sweeps = self._gibbs_sweeps()

        def build():
            folded = self.generator_.folded()
            refine = None
            layout = self.encoder_.layout_
            blocks = self._sweep_blocks()
            if getattr(self, "predictor_", None) is not None and sweeps:   # (sweeps is 0 without blocks)
                predictor, lt = self.predictor_.folded(), layout.tensors(self.device_)

                def refine(x, codes, frozen, generator, *, constraints=None, probs=None, weigh=False):
                    offsets = self._logit_offsets(self.device_)   # read at each call: fitted after the anchors
                    # with `weigh`: how likely the predictor puts each row's levels inside the constraints given
                    # the rest of the row as the generator made it, before the sweep (see _generate)
                    mass = None if not weigh else constrained_log_mass(predictor, lt, x, codes, blocks, frozen,
                                                                       constraints=constraints, offsets=offsets)
                    x, codes, probs = resample_levels(predictor, lt, x, codes, blocks, frozen, generator=generator,
                                                      constraints=constraints, probs=probs, offsets=offsets,
                                                      sweeps=sweeps)
                    return x, codes, probs, mass

            anchors = None if self._anchor_levels is None else _Anchors(
                self._anchor_levels, layout, self.gan_, folded, self.device_, refine=refine)
            return folded, anchors, refine

        return self._inference_cache(self.generator_, build, key=sweeps)
