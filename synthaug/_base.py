"""The estimator base shared by :class:`DiffusionSampler` and :class:`GANSampler`.

It owns everything that is not the generative model: parameter and data
validation, the table encoder, the class label, conditioning, devices and
random streams, batching of samples, decoding and pickling. A subclass adds
two methods:

* ``_fit_model(encoded, generator)`` — build and train its networks on the
  encoded table (tensors already on the device);
* ``_generate(n, given, x_given, cond, constraints, generator, *, guided=False, steps=None, with_probs=False,
  pick=False)`` — return ``(continuous, codes)`` tensors for ``n`` rows in model space;
  ``guided``: every row's class was asked for (``sample(n, y=...)``,
  ``fit_resample``), so a model may guide its rows towards it; ``steps``:
  sampler steps for a model that has them (None: its ``sampling_steps``);
  ``with_probs``: a third tensor, the probabilities ``(n, width - n_continuous)``
  each level was drawn with (None without discrete blocks); ``pick``: the
  constraints are a user's conditions, not only imputation's "not missing".
  ``generator`` may be a :class:`~synthaug.noise.Antithetic` one: draw
  through :mod:`synthaug.noise`.
"""

from __future__ import annotations

import copy
import dataclasses
import os
import pickle
import secrets
import warnings
from numbers import Integral, Real

import numpy as np
import pandas as pd
import torch
from sklearn.base import BaseEstimator, OneToOneFeatureMixin, _fit_context
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, check_random_state

from ._atomic import restore_on_failure
from ._images import _IMAGE_ATTRIBUTES, ImageSamplerMixin
from ._validation import check_n_samples, check_table, check_target
from .conditioning import TARGET_COLUMN as _TARGET
from .conditioning import condition_tensors, constrained_columns, enforce_conditions, parse_conditions
from .density_ratio import DensityRatio, importance_resample
from .encoding import EncodedTable, TableEncoder
from .encoding.layout import Constraints
from .encoding.columns import _Z_MAX
from .encoding.images import is_image_input
from .gan.tabular import truncate_scores
from .imputation import ImputerMixin
from .privacy import PrivacyBudget, default_delta, noise_multiplier_for
from .privacy.accounting import epsilon_spent
from .privacy.dp_sgd import make_private
from .resampling import OverSamplerMixin
from .residual import GaussianResidual
from .streaming import StreamingMixin
from .checkpoint import TrainingState, fingerprint
from .distributed import data_parallel, join_streams, shard_rows, shared_seed, split_stream, world
from .calibration import LevelCalibration, ScoreCalibration, level_frequencies, level_frequency_noise
from .training import train

__all__ = ["BaseGenerativeSampler", "base_parameters", "resolve_device", "to_device"]

# guidance_scale="auto" for rows of requested classes of a table. DiffusionSampler (benchmarks/upsampling.py):
# w = 1 raised the minority's classifier figures on breast_cancer and wine, credit's within the spread between
# fits, detection up by at most 0.07; w = 2 and 3 raised detection to 0.69–0.82. GANSampler: see its docstring.
TABLE_GUIDANCE = 1.0

# rows per network batch of sample(): on 2 CPU cores 8,192 sampled 100,000 credit rows from GANSampler a little
# faster than 4,096 (fewer calls of the Gibbs sweep's small per-column products; the diffusion sampler's time
# did not move), at a few MiB of activations
_SAMPLE_BATCH_ROWS = 8_192

# parameters that do not change what a fit learns (a checkpoint written under other values still resumes)
_RUN_PARAMS = {"verbose", "device", "checkpoint", "checkpoint_every", "warm_start",
               # used only after training (sampling, resampling, imputation): a checkpoint still resumes
               "sampling_steps", "point_estimate_steps", "eta", "solver", "guidance_scale", "sampling_strategy",
               "quality_filter", "importance_resampling"}



def base_parameters(arguments):
    """The base's keyword arguments out of a subclass ``__init__``'s ``locals()``."""
    return {name: arguments[name] for name in _BASE_PARAMETERS}


def resolve_device(device):
    """``"auto"`` → CUDA when available, else CPU; anything else is passed to ``torch.device``."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise ValueError(f"device={device!r} is not a torch device; use 'auto', 'cpu', 'cuda' or 'cuda:N'.") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} was requested but CUDA is not available; use device='auto' or 'cpu'.")
    return dev


def to_device(array, device):
    """Copy a numpy array to ``device`` (through pinned memory on CUDA)."""
    tensor = torch.from_numpy(np.ascontiguousarray(array))
    if device.type == "cuda":  # CUDA only: page-locked staging for a fast asynchronous copy
        return tensor.pin_memory().to(device, non_blocking=True)
    return tensor.to(device)


def _check_warm_data(encoder, table):
    """A warm start keeps the first fit's encoder: new levels are an error, values beyond its range a warning."""
    for part, what in ((table.drop(columns=_TARGET, errors="ignore"), None),
                       (table.filter([_TARGET]), "y holds a class the previous fit did not have")):
        try:
            encoder.check_levels(part)
        except ValueError as err:
            raise ValueError(f"warm_start=True keeps the previous fit's encoder: {what or str(err).rstrip('.')}. "
                             "Set warm_start=False to fit the new data afresh.") from None
    beyond = []
    for name in encoder.columns_:
        enc, col = encoder.encoders_[name], table[name]
        if encoder.kinds_[name] == "numeric" and col.notna().any():
            values = pd.to_numeric(col, errors="coerce")
            if values.min() < enc.min_ or values.max() > enc.max_:
                beyond.append(name)
    if beyond:
        warnings.warn(f"warm_start=True keeps the previous fit's encoder, whose range the new values of {beyond} "
                      "exceed: they are learnt as the nearest value in that range. Set warm_start=False to "
                      "fit the new data afresh.", UserWarning, stacklevel=4)


def _what_differs(saved, params):
    """Why a checkpoint is another fit's: the parameters that differ, else its data."""
    before = saved.get("params")
    if before is None:
        return "other data or parameters"
    changed = [f"{k} {before.get(k, '(unset)')} → {params.get(k, '(unset)')}"
               for k in sorted(set(before) | set(params)) if before.get(k) != params.get(k)]
    return "other parameters: " + ", ".join(changed) if changed else "other data"


def _entropy_seed():
    """A seed from the operating system's entropy (what a private fit's noise is drawn from)."""
    return secrets.randbits(128)


def _torch_generator(rng, device):
    """A torch generator on ``device`` seeded from the numpy stream ``rng``."""
    return torch.Generator(device=device).manual_seed(int(rng.integers(2**62)))


def _training_generator(rng, device):
    """The training stream: :func:`_torch_generator`, made distinct per process under ``torch.distributed``."""
    generator = _torch_generator(rng, device)
    rank = world()[0]
    return generator.manual_seed(generator.initial_seed() + rank) if rank else generator


_BASE_PARAMETERS = ("width", "depth", "ema_decay", "p_unconditional", "sampling_strategy", "quality_filter",
                    "importance_resampling", "max_steps", "batch_size", "lr", "discrete_columns", "numeric_levels",
                    "epsilon", "delta", "max_grad_norm",
                    "bounds", "categories", "warm_start", "checkpoint", "checkpoint_every", "precision", "compile",
                    "device", "random_state", "verbose")


class BaseGenerativeSampler(StreamingMixin, ImageSamplerMixin, OverSamplerMixin, ImputerMixin, OneToOneFeatureMixin,
                            BaseEstimator):
    """Shared surface of the generative samplers (not for direct use)."""

    _parameter_constraints: dict = {
        "max_steps": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
        "batch_size": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
        "lr": [Interval(Real, 0, None, closed="neither"), StrOptions({"auto"})],
        "discrete_columns": ["array-like", None],
        "numeric_levels": [Interval(Integral, 0, None, closed="left")],
        "device": [str, torch.device],
        "random_state": ["random_state"],
        "verbose": ["boolean"],
        "width": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
        "depth": [Interval(Integral, 0, None, closed="left"), StrOptions({"auto"})],
        "ema_decay": [Interval(Real, 0, 1, closed="left")],
        "p_unconditional": [Interval(Real, 0, 1, closed="both")],
        # validated by imblearn.utils.check_sampling_strategy in fit_resample
        "sampling_strategy": [Interval(Real, 0, 1, closed="right"), str, dict, callable],
        "quality_filter": [Interval(Real, 0, 1, closed="neither"), StrOptions({"auto"}), None],
        "importance_resampling": [Interval(Integral, 2, None, closed="left"), StrOptions({"auto"}), None],
        "epsilon": [Interval(Real, 0, None, closed="neither"), None],
        "delta": [Interval(Real, 0, 1, closed="neither"), None],
        "max_grad_norm": [Interval(Real, 0, None, closed="neither")],
        "bounds": [dict, None],
        "categories": [dict, None],
        "warm_start": ["boolean"],
        "checkpoint": [str, os.PathLike, None],
        "checkpoint_every": [Interval(Integral, 1, None, closed="left")],
        "precision": [StrOptions({"auto", "fp32", "bf16"})],
        "compile": ["boolean"],
    }

    def __init__(self, *, width, depth, ema_decay, p_unconditional, sampling_strategy, quality_filter,
                 importance_resampling, max_steps, batch_size, lr, discrete_columns, numeric_levels, epsilon, delta,
                 max_grad_norm, bounds, categories, warm_start, checkpoint, checkpoint_every, precision, compile,
                 device, random_state, verbose):
        # parameters every generative model has (network size, EMA, conditioning masks, training, devices)
        self.width = width
        self.depth = depth
        self.ema_decay = ema_decay
        self.p_unconditional = p_unconditional
        self.sampling_strategy = sampling_strategy
        self.quality_filter = quality_filter
        self.importance_resampling = importance_resampling
        self.max_steps = max_steps
        self.batch_size = batch_size
        self.lr = lr
        self.discrete_columns = discrete_columns
        self.numeric_levels = numeric_levels
        self.epsilon = epsilon
        self.delta = delta
        self.max_grad_norm = max_grad_norm
        self.bounds = bounds
        self.categories = categories
        self.warm_start = warm_start
        self.checkpoint = checkpoint
        self.checkpoint_every = checkpoint_every
        self.precision = precision
        self.compile = compile
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    # ------------------------------------------------------------------ fit
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Learn the distribution of ``X`` (and of ``y`` given ``X`` when ``y`` is given).

        Parameters
        ----------
        X : DataFrame or ndarray of shape (n_samples, n_features), or images
            Mixed-type table; NaN/None allowed in any column. Or images:
            an array ``(N, C, H, W)`` or ``(N, H, W)`` of integer pixels in
            0..255 (uint8) or float pixels in [0, 1], which selects the
            image networks.
        y : array-like of shape (n_samples,), default=None
            Class labels. When given, the model is class-conditional and
            :meth:`sample` returns ``(X, y)``.

        Returns
        -------
        self
        """
        with restore_on_failure(self):   # a refused or failed refit keeps the previous model
            return self._fit(X, y)

    def _fit(self, X, y, *, allow_constant=False, resampling=False):
        """``fit``; ``allow_constant``: constant and all-missing columns are learnt as such (``fit_resample``);
        ``resampling``: the fit of :meth:`fit_resample`, whose model only samples (no linear imputer for
        ``impute``'s point estimate) and where ``importance_resampling="auto"`` applies."""
        self.__dict__.pop("_sampling", None)   # inference copies of the previous fit's networks
        self.__dict__.pop("sampling_strategy_", None)   # set by fit_resample after its fit
        self.__dict__.pop("density_ratio_", None)   # (the previous fit's; _sample_table reads it)
        if is_image_input(X):
            return self._fit_image_estimator(X, y)
        for attr in _IMAGE_ATTRIBUTES:
            self.__dict__.pop(attr, None)
        # under DP a refusal would itself disclose that every row holds one value: the column is learnt
        frame, self.schema_ = check_table(X, allow_constant=allow_constant or self.epsilon is not None)
        self.n_features_in_ = frame.shape[1]
        if all(isinstance(c, str) for c in frame.columns) and self.schema_.container == "frame":
            self.feature_names_in_ = np.asarray(frame.columns, dtype=object)
        elif hasattr(self, "feature_names_in_"):
            del self.feature_names_in_
        if _TARGET in frame.columns:
            raise ValueError(f"X has a column named {_TARGET!r}, the name synthaug gives the class column "
                             "of fit(X, y); rename it.")
        table = frame
        discrete = list(self.discrete_columns) if self.discrete_columns is not None else []
        if y is not None:
            y_series, target_schema = check_target(y, len(frame))
            table = frame.reset_index(drop=True).assign(**{_TARGET: y_series})
        keeps_encoder = self.warm_start and getattr(self, "_train_state", None) is not None \
            and hasattr(self, "encoder_") and list(self.encoder_.columns_) == list(table.columns)
        if keeps_encoder:
            _check_warm_data(self.encoder_, table)   # before anything of the previous fit is replaced
        if y is not None:
            self.target_schema_ = target_schema
            discrete.append(_TARGET)
            self._learn_classes(y_series)
        else:
            for attr in ("target_schema_", "classes_", "class_prior_"):
                self.__dict__.pop(attr, None)
        rng = np.random.default_rng(self._fit_seed())
        self.device_ = resolve_device(self.device)
        self._budget = self._privacy_budget(len(table))
        private = self._budget is not None
        self._resolve_batch_and_lr(images=False, n_rows=len(table))
        encoder_seed = int(rng.integers(2**31))
        warm = self._take_warm_state("table")
        if not (warm and keeps_encoder):   # (a warm start keeps the encoder: the networks' inputs mean the same)
            if warm:
                warnings.warn("warm_start=True: the columns differ from the previous fit's, so this fit starts "
                              "afresh.", UserWarning, stacklevel=3)
            self.__dict__.pop("_warm_state", None)
            self.encoder_ = self._new_encoder(discrete, y is not None, table.columns).fit(table,
                                                                                         random_state=encoder_seed)
        if private and y is not None:
            # the class labels are public (the caller names them); their frequencies are noisy
            freq = self.encoder_.encoders_[_TARGET].frequencies_.reindex(self.classes_).to_numpy(np.float64)
            self.class_prior_ = (freq + 1e-12) / (freq + 1e-12).sum()
        encoded = self.encoder_.transform(table, random_state=int(rng.integers(2**31)))
        self.linear_imputer_ = None if resampling else self._fit_linear_imputer(table)
        if self.checkpoint is not None:
            # a checkpoint matches the rows as given (names, dtypes, values) and the fitted encoder, not the
            # encoding, whose dequantisation is random: an unseeded fit resumes when its encoder is the same
            # (not under DP, whose released statistics are drawn afresh, nor beyond the encoder's subsample)
            self._checkpoint_rows = (pd.util.hash_pandas_object(table, index=False).to_numpy(),
                                     np.frombuffer(pickle.dumps((list(map(str, table.columns)),
                                                                 [str(t) for t in table.dtypes], self.encoder_)),
                                                   dtype=np.uint8))
        self._train(rng, "table", lambda generator: self._fit_table_model(encoded, generator))
        if self._candidates_per_row(resampling) > 1:   # (after training, from a stream training does not read)
            self.density_ratio_ = self._fit_density_ratio(table, np.random.default_rng(rng.integers(2**62)))
        return self

    def _fit_table_model(self, encoded, generator):
        """Train the model, then calibrate the marginals of the levels and scores it generates."""
        self._fit_model(encoded, generator)
        self.level_calibration_ = self._fit_level_calibration(encoded, generator)
        self.score_calibration_ = self._fit_score_calibration(len(encoded), generator)

    #: rows of each side the density ratio of ``importance_resampling`` is fitted on, at most
    _DENSITY_RATIO_ROWS = 20_000

    #: candidates per row of ``importance_resampling="auto"``, and the fewest rows of each half it checks on
    _AUTO_CANDIDATES, _MIN_CHECK_ROWS = 4, 20

    def _candidates_per_row(self, resampling):
        """Candidates per sampled row under ``importance_resampling`` (1: none) in ``sample`` / ``sample_to``
        (``resampling=False``) or :meth:`fit_resample` (``resampling=True``).

        ``"auto"`` resamples only the rows of ``fit_resample``, and not with
        ``epsilon`` (an integer is refused with it, :meth:`_privacy_budget`).
        """
        k = self.importance_resampling
        if k == "auto":
            return self._AUTO_CANDIDATES if resampling and self.epsilon is None else 1
        return 1 if k is None else k

    def _fit_density_ratio(self, table, rng):
        """The :class:`~synthaug.density_ratio.DensityRatio` of the training ``table`` to the fitted model's rows.

        Fitted on up to :data:`_DENSITY_RATIO_ROWS` training rows against
        as many unconditional rows of the model (their class with ``y``).
        With ``importance_resampling="auto"``, None unless
        :meth:`_resampling_helps`.
        """
        if self.importance_resampling == "auto" and not self._resampling_helps(table, rng):
            return None
        n = min(len(table), self._DENSITY_RATIO_ROWS)
        real = table if n == len(table) else table.iloc[np.sort(rng.choice(len(table), n, replace=False))]
        return self._ratio_to_model(real.reset_index(drop=True), rng)

    def _ratio_to_model(self, real, rng):
        """The :class:`~synthaug.density_ratio.DensityRatio` of ``real`` rows against as many of the model's."""
        return DensityRatio(real, self._model_rows(len(real), rng), random_state=int(rng.integers(2**31)))

    def _model_rows(self, n, rng):
        """``n`` unconditional rows of the model as a frame of the training table's columns (the class included)."""
        generated, labels = self._sample_table(n, None, None, rng)
        if labels is not None:
            generated[_TARGET] = labels
        return generated

    def _resampling_helps(self, table, rng):
        """Does resampling by a ratio fitted on half the training rows make rows harder to tell from the other half?

        The ratio is fitted on one random half against as many model rows;
        :data:`_AUTO_CANDIDATES` candidates are drawn per row for as many
        rows as the other half holds, and the detection AUC of a classifier
        (:func:`~synthaug.evaluation.metrics.detection_auc`) of that half
        against the first candidate of each row (plain samples) is compared
        with its AUC against the resampled rows. On a small table the ratio
        can follow the training rows' own quirks, which the other half does
        not share (docs/resampling.md).
        """
        from .evaluation.metrics import detection_auc

        k, order = self._AUTO_CANDIDATES, rng.permutation(len(table))
        half = min(len(table) // 2, self._DENSITY_RATIO_ROWS)
        if half < self._MIN_CHECK_ROWS:   # too few rows to tell: no resampling
            return False
        fit_rows = table.iloc[np.sort(order[:half])].reset_index(drop=True)
        check_rows = table.iloc[np.sort(order[half: 2 * half])].reset_index(drop=True)
        ratio = self._ratio_to_model(fit_rows, rng)
        candidates = self._model_rows(k * len(check_rows), rng)
        plain = candidates.iloc[: len(check_rows)].reset_index(drop=True)
        resampled = candidates.iloc[importance_resample(ratio.weights(candidates), k, rng)].reset_index(drop=True)
        seed = int(rng.integers(2**31))
        return detection_auc(check_rows, resampled, random_state=seed) < detection_auc(check_rows, plain,
                                                                                       random_state=seed)

    def _calibration_rows(self, n_rows):
        """Rows of the unconditional samples the calibrations measure: 5 per training row, 2,000 to 20,000."""
        return int(np.clip(5 * n_rows, 2_000, 20_000))

    def _fit_level_calibration(self, encoded, generator):
        """The :class:`~synthaug.calibration.LevelCalibration` of the fitted model, or None.

        Targets are the training level frequencies of every discrete block
        (with ``epsilon``, the encoder's released frequencies of the
        categorical columns, weighed against the model's own by their
        noise). ``_level_calibration_rounds`` rounds, each on a fresh
        unconditional sample; none for a model without logits
        (``_level_calibration_rounds = 0``).
        """
        layout = self.encoder_.layout_
        if not self._level_calibration_rounds or not layout.n_discrete:
            return None
        private = self._budget is not None
        targets = level_frequencies(self.encoder_, None if private else encoded.discrete)
        if not targets:
            return None
        noise = level_frequency_noise(self.encoder_) if private else None
        # the model samples with the offsets as they stand while they are fitted (zero at first)
        calibration = self.level_calibration_ = LevelCalibration(layout, targets, noise=noise)
        n = self._calibration_rows(len(encoded))
        for _ in range(self._level_calibration_rounds):
            calibration.update(self._raw_sample(n, generator).discrete)
        return calibration

    def _raw_sample(self, n, generator):
        """``n`` unconditional rows as generated (scores not calibrated): what the calibrations measure."""
        return self._sample_encoded(n, parse_conditions(self.encoder_, None), None, generator, calibrated=False)

    def _logit_offsets(self, device):
        """The level calibration's ``(width,)`` logit offsets, or None."""
        calibration = getattr(self, "level_calibration_", None)
        return None if calibration is None else calibration.logit_offsets(device)

    def _fit_score_calibration(self, n_rows, generator):
        """The :class:`~synthaug.calibration.ScoreCalibration` of the fitted model's generated scores.

        Measured on an unconditional sample (:meth:`_calibration_rows`),
        each score on the rows generated in its column's continuous mode;
        None for a table without numeric scores.
        """
        layout = self.encoder_.layout_
        if not layout.n_continuous:
            return None
        n = self._calibration_rows(n_rows)
        table = self._raw_sample(n, generator)
        return ScoreCalibration().fit(table.continuous, layout.scores_in_mode(table.discrete))

    #: Whether ``_generate`` keeps interval-bounded scores inside their intervals itself (the diffusion
    #: sampler, at every step). If not (the GAN), the scores are generated free, calibrated, then mapped
    #: into their intervals by their quantile (:func:`~synthaug.gan.tabular.truncate_scores`): the map assumes
    #: standard normal scores, which calibration makes them.
    _bounds_scores_itself = True

    def _generate_rows(self, n, given, x_given, cond, constraints, generator, *, guided=False, steps=None,
                       with_probs=False, pick=False):
        """``_generate`` with the generated scores calibrated (given and interval-bounded scores kept as made).

        ``pick``: the constraints are a user's conditions (a model may then
        pick each row among candidates, :meth:`GANSampler._generate`), not
        only imputation's "not missing".
        """
        bounded = None
        if constraints is not None and constraints.bounded:
            low, high = constraints.intervals()
            bounded = (torch.isfinite(low) | torch.isfinite(high)).any(-1)
            if not self._bounds_scores_itself:
                constraints = dataclasses.replace(constraints, low=None, high=None)
        cont, codes, *probs = self._generate(n, given, x_given, cond, constraints, generator, guided=guided,
                                             steps=steps, with_probs=with_probs, pick=pick)
        calibration = getattr(self, "score_calibration_", None)
        if calibration is not None and cont.shape[1]:
            keep = None if given is None else self._uncalibrated_scores(given, x_given)
            if bounded is not None and self._bounds_scores_itself:
                keep = bounded.expand_as(cont) if keep is None else keep | bounded
            cont = calibration.apply(cont, keep)
        if bounded is not None and not self._bounds_scores_itself:
            cont = torch.where(bounded, truncate_scores(cont, low, high), cont)
        return cont, codes, *probs

    def _uncalibrated_scores(self, given, x_given):
        """Scores the marginal score calibration leaves as generated, ``(B, n_continuous)`` or broadcastable.

        The given ones, and every score of a row with a known score when the
        model generates residuals (``gaussian_residual``): their linear part
        is exact, and a marginal correction would undo it.
        """
        keep = given[:, : self.encoder_.layout_.n_continuous]
        residual = getattr(self, "residual_", None)
        if residual is None:
            return keep
        return keep | residual.known(x_given, given).any(1, keepdim=True)

    def _fit_gaussian_residual(self, encoded):
        """The :class:`~synthaug.residual.GaussianResidual` of the training scores behind ``gaussian_residual``.

        None when off, without numeric columns, or under DP: it is fitted on
        the rows themselves, and a private fit's only access to the data is
        DP-SGD.
        """
        layout = self.encoder_.layout_
        if not (self.gaussian_residual and layout.n_continuous and self._budget is None):
            return None
        return GaussianResidual(layout, clip=_Z_MAX, level_scores=self.encoder_.level_scores()).fit(
            encoded.continuous, encoded.discrete)

    def _train(self, rng, kind, fit_model):
        """Run ``fit_model(generator)`` reproducibly, then set what every fit ends with; returns self.

        Weight initialisation (and dropout) draw from torch's global RNG: they
        run in a forked, seeded scope so fit is reproducible and the caller's
        RNG state is untouched.
        """
        cuda = [self.device_] if self.device_.type == "cuda" else []
        with torch.random.fork_rng(devices=cuda):
            torch.manual_seed(int(rng.integers(2**62)))
            fit_model(_training_generator(rng, self.device_))
        self._sample_rng = np.random.default_rng(rng.integers(2**62))
        self.privacy_ = self._privacy_report()
        self._fitted_kind = kind
        del self._budget
        return self

    def _learn_classes(self, y_series):
        """``classes_`` (sorted when they can be) and ``class_prior_`` from the labels; returns the counts."""
        if self.epsilon is not None:
            return self._learn_declared_classes(y_series)
        counts = y_series.value_counts()
        counts = counts[counts > 0]   # a categorical's unused categories are not classes (as in imbalanced-learn)
        self.classes_ = np.asarray(counts.sort_index().index) if _sortable(counts.index) \
            else np.asarray(counts.index)
        counts = counts.reindex(self.classes_)
        self.class_prior_ = (counts / counts.sum()).to_numpy()
        return counts.to_numpy(np.float64)

    def _learn_declared_classes(self, y_series):
        """Under DP: ``classes_`` as the caller declared them, never read off the labels.

        A label seen once in the data (a patient's code) would otherwise be
        published as a class. Declared by a categorical ``y`` (its
        categories) or by ``categories={y.name: [...]}``; counts of absent
        classes are 0 (their noisy frequencies are the only trace).
        """
        name = y_series.name
        if isinstance(y_series.dtype, pd.CategoricalDtype):
            declared = list(y_series.cat.categories)
        elif self.categories and name is not None and name in self.categories:
            declared = list(self.categories[name])
        else:
            raise ValueError("with epsilon, y's classes must be declared, not read off the labels (a label seen "
                             "once would be released as a class): pass y as a Series of dtype "
                             "pd.CategoricalDtype([classes]), or a named Series with categories={y.name: [classes]}.")
        undeclared = [v for v in pd.unique(y_series.dropna()) if v not in pd.Index(declared)]
        if undeclared:
            raise ValueError(f"y holds {undeclared[0]!r}, which is not among its declared classes {declared}.")
        counts = y_series.value_counts().reindex(pd.Index(declared), fill_value=0)
        self.classes_ = np.asarray(counts.sort_index().index) if _sortable(counts.index) \
            else np.asarray(counts.index)
        counts = counts.reindex(self.classes_)
        self.class_prior_ = (counts / max(counts.sum(), 1)).to_numpy()
        return counts.to_numpy(np.float64)

    def _resolve_batch_and_lr(self, *, images, n_rows=None):
        """``batch_size_`` and ``lr_``: the "auto" values for tables or images, with or without DP.

        A table of ``n_rows`` rows, without DP, is split into at least
        ``_auto_batches_per_epoch`` batches (at least 2 rows each).
        """
        private = self._budget is not None
        sizes, rates = (self._auto_image_batch_size, self._auto_image_lr) if images \
            else (self._auto_batch_size, self._auto_lr)
        self.batch_size_ = sizes[private] if self.batch_size == "auto" else int(self.batch_size)
        if self.batch_size == "auto" and n_rows is not None and not private and self._auto_batches_per_epoch > 1:
            self.batch_size_ = min(self.batch_size_, max(2, n_rows // self._auto_batches_per_epoch))
        self.lr_ = rates[private] if self.lr == "auto" else float(self.lr)

    def _fit_image_estimator(self, X, y):
        rng = np.random.default_rng(self._fit_seed())
        self.device_ = resolve_device(self.device)
        previous = (getattr(self, "image_shape_", None), list(getattr(self, "classes_", [])))
        warm = self._take_warm_state("image")
        images, labels = self._fit_images(X, y, rng)
        if warm and previous != (self.image_shape_, list(getattr(self, "classes_", []))):
            raise ValueError("warm_start=True continues a fit on images of the same shape and classes; these "
                             "differ from the previous fit's. Set warm_start=False.")
        images = to_device(images, self.device_)
        labels = to_device(labels, self.device_) if labels is not None else None
        return self._train(rng, "image", lambda generator: self._fit_image_model(images, labels, generator))

    # -------------------------------------------------------------- privacy
    def _fit_seed(self):
        """Seed of the fit's one generator: from ``random_state``, or with ``epsilon`` from the OS's entropy.

        A private fit's noise must not be reproducible from a public value:
        ``random_state`` is a parameter of the released model (and the CLI's
        default seed is 0), and redrawing the same noise on a neighbouring
        table would tell the two apart. Its seed is kept in the fit's
        checkpoint (as private as the data), so that a resumed fit draws the
        same noise rather than a second release.
        """
        if self.epsilon is None:   # (DP refuses torch.distributed, so its seed need not be shared)
            return shared_seed(int(check_random_state(self.random_state).randint(2**31 - 1)))
        saved = TrainingState.load(self.checkpoint) if self.checkpoint is not None else None
        seed = saved.get("seed") if saved is not None else None
        self._private_seed = _entropy_seed() if seed is None else int(seed)
        return self._private_seed

    def _privacy_budget(self, n_rows):
        """The :class:`~synthaug.privacy.PrivacyBudget` of this fit, or None without ``epsilon``."""
        if self.epsilon is None:
            for name in ("delta", "bounds", "categories"):
                if getattr(self, name) is not None:
                    raise ValueError(f"{name} only applies to differentially private training; set epsilon too.")
            return None
        for name in ("quality_filter", "importance_resampling"):
            if getattr(self, name) not in (None, "auto"):   # ("auto" is off under DP: _candidates_per_row)
                raise ValueError(f"{name} trains a classifier on the real rows outside the privacy budget; "
                                 "it cannot be combined with epsilon.")
        if self.precision == "bf16":
            raise ValueError("precision='bf16' cannot be combined with epsilon: DP-SGD clips per-sample gradient "
                             "norms in fp32. Use precision='auto' or 'fp32'.")
        if self.compile:
            raise ValueError("compile=True cannot be combined with epsilon: Opacus' per-sample hooks need the "
                             "eager module.")
        if world()[1] > 1:
            raise ValueError("epsilon cannot be combined with torch.distributed training: the accountant assumes "
                             "one Poisson sampler over the whole table. Fit a private model in one process.")
        if self.delta is not None and self.delta >= 1 / n_rows:
            raise ValueError(f"delta={self.delta:g} is not below 1/n = {1 / n_rows:.3g} (n = {n_rows} rows): a release "
                             "that publishes one row whole meets it. Choose a delta well below 1/n (the default, "
                             "None, is 1/n**1.1; 1e-5 or smaller is usual).")
        delta = self.delta if self.delta is not None else default_delta(n_rows)
        return PrivacyBudget(float(self.epsilon), float(delta))

    def _new_encoder(self, discrete, with_target, columns):
        if self._budget is None:
            return TableEncoder(discrete_columns=discrete, numeric_levels=self.numeric_levels)
        categories = dict(self.categories or {})
        if with_target:
            name = self.target_schema_.name
            if name is not None and name not in columns:
                categories.pop(name, None)   # y's classes, declared under its name
            categories[_TARGET] = list(self.classes_)
        return TableEncoder(discrete_columns=discrete, epsilon=self._budget.encoder_epsilon,
                            delta=self._budget.encoder_delta, bounds=self.bounds, categories=categories,
                            complete_columns=[_TARGET] if with_target else None)

    def _make_private(self, module, optimizer, n_rows, n_steps, generator):
        """DP-SGD wrappers of ``module`` and ``optimizer`` whose noise spends the training budget in ``n_steps``.

        Returns ``(module, optimizer, sample_rate)``; batches must be Poisson
        samples at ``sample_rate`` and the loss a sum over rows.
        """
        budget = self._budget
        rate = min(1.0, self.batch_size_ / n_rows)
        sigma = noise_multiplier_for(budget.training_epsilon, budget.training_delta, rate, n_steps)
        budget.spend("training", epsilon_spent(sigma, budget.training_delta, rate, n_steps), budget.training_delta,
                     f"DP-SGD: Poisson sampling, per-sample clipping at {self.max_grad_norm:g}, Gaussian noise "
                     f"σ = {sigma:.4g}, RDP accountant")
        self._dp_sgd = {"noise_multiplier": sigma, "sample_rate": rate, "steps": int(n_steps)}
        # (Opacus wraps a torch.optim optimizer)
        wrapped, dp_optimizer = make_private(module, optimizer.to_torch(), noise_multiplier=sigma,
                                             max_grad_norm=self.max_grad_norm,
                                             expected_batch_size=max(1, round(rate * n_rows)), generator=generator,
                                             bookkeeping=self._dp_bookkeeping)
        return wrapped, dp_optimizer, rate

    def _privacy_report(self):
        """``privacy_``: what the fit spent, and where (None without ``epsilon``)."""
        if self._budget is None:
            return None
        budget = self._budget
        spent = self.encoder_.privacy_spent_ if hasattr(self, "encoder_") else {}
        for part, (eps, delta, mechanism) in spent.items():
            budget.spend(f"encoder: {part}", eps, delta, mechanism)
        epsilon, delta = budget.total()
        dp = self.__dict__.pop("_dp_sgd")
        return {"epsilon": epsilon, "delta": delta, "target_epsilon": budget.epsilon, "target_delta": budget.delta,
                **dp, "max_grad_norm": float(self.max_grad_norm), "accountant": "rdp",
                "composition": "basic (sum of the parts' epsilon and delta)",
                "encoder_epsilon": sum(p["epsilon"] for k, p in budget.parts.items() if k.startswith("encoder")),
                "training_epsilon": budget.parts["training"]["epsilon"], "parts": budget.parts}

    # DP-SGD clipping in one backward pass where the private network allows it (see privacy/bookkeeping.py);
    # the GAN critic keeps Opacus' hooks, which its training step switches off for the generator update
    _dp_bookkeeping = False

    # "auto" training length: this many epochs, within these bounds (a subclass may change them);
    # the lower bound is {private: steps}
    _auto_epochs, _auto_min_steps, _auto_max_steps = 20, {False: 1_000, True: 1_000}, 30_000
    # a table whose rows fit in a batch this many times (> 1; without DP): each step draws every row that
    # many times, and the lower bound on "auto" steps is times √(rows / batch size); 1: no such table
    _small_table_repeats = 1
    # "auto" batch size and learning rate: {private: value}; DP-SGD wants larger batches and steps
    _auto_batch_size = {False: 512, True: 1024}
    # without DP, an "auto" batch holds at most 1 / this of the table's rows (1: a small table is one batch)
    _auto_batches_per_epoch = 1
    _auto_lr = {False: 1e-3, True: 4e-3}

    # "auto" network size for tables and for images, and the images' training length
    _auto_table_width, _auto_table_depth = 128, {False: 2, True: 2}   # depth: without / with DP
    # rounds of level calibration after fit (0: the model has no logits to offset, or matches frequencies itself)
    _level_calibration_rounds = 0
    _auto_image_width, _auto_image_depth = 32, 1
    _auto_image_epochs, _auto_image_min_steps, _auto_image_max_steps = 120, 500, 20_000

    def _table_width(self):
        return self._auto_table_width if self.width == "auto" else int(self.width)

    def _table_depth(self):
        return self._auto_table_depth[self._budget is not None] if self.depth == "auto" else int(self.depth)

    def _image_width(self):
        return self._auto_image_width if self.width == "auto" else int(self.width)

    def _image_depth(self):
        return self._auto_image_depth if self.depth == "auto" else int(self.depth)

    def _n_image_steps(self, n_images):
        if self.max_steps != "auto":
            return int(self.max_steps)
        steps = self._auto_image_epochs * n_images / min(self.batch_size_, n_images)
        return int(np.clip(steps, self._auto_image_min_steps, self._auto_image_max_steps))

    def _n_steps(self, n_rows):
        """Training steps: ``max_steps``, or with ``"auto"`` a count that grows with the data."""
        if self.max_steps != "auto":
            return int(self.max_steps)
        private = self._budget is not None
        epochs_steps = self._auto_epochs * n_rows / min(self.batch_size_, n_rows)
        floor = self._auto_min_steps[private]
        if self._is_small_table(n_rows):
            floor = int(round(floor * (n_rows / self.batch_size_) ** 0.5))
        return int(np.clip(epochs_steps, floor, self._auto_max_steps))

    def _is_small_table(self, n_rows):
        """Does a batch hold every row ``_small_table_repeats`` (> 1) times? (Not under DP: Poisson batches.)"""
        repeats = self._small_table_repeats
        return repeats > 1 and self._budget is None and repeats * n_rows <= self.batch_size_

    # ------------------------------------------------- helpers for _fit_model
    def _device_data(self, encoded):
        """The encoded table as ``(continuous, codes)`` tensors on the device."""
        return to_device(encoded.continuous, self.device_), to_device(encoded.discrete, self.device_)

    def _guidance_scale(self):
        """``guidance_scale`` resolved: "auto" is 0 for images, 1 for tables (checked: it may be set after fit)."""
        scale = self.guidance_scale
        if isinstance(scale, str) and scale == "auto":
            return 0.0 if hasattr(self, "image_scaler_") else TABLE_GUIDANCE
        if isinstance(scale, bool) or not isinstance(scale, Real) or not np.isfinite(scale) or scale < 0:
            raise ValueError(f"guidance_scale must be 'auto' or a finite float >= 0, got {scale!r}.")
        return float(scale)

    def _always_column(self):
        """Index of the class column (given in half of the training rows), or None."""
        columns = self.encoder_.columns_
        return columns.index(_TARGET) if _TARGET in columns else None

    def _run_training(self, step, n_rows, n_steps, desc, *, state, data, monitor=None, sample_rate=None,
                      small_table=False):
        """Run the shared loop; sets ``history_`` and ``n_iter_``.

        ``state`` (:class:`~synthaug.checkpoint.TrainingState`) names what the
        fit trains: with ``warm_start`` it starts from the previous fit's
        state; with ``checkpoint`` it resumes from that file when it holds
        this fit (same ``data`` and parameters) and writes it every
        ``checkpoint_every`` steps. With ``small_table`` (see
        :meth:`_is_small_table`) each batch holds every row
        ``_small_table_repeats`` times.
        """
        # hashing the data is only needed to match a checkpoint file
        rows = self.__dict__.pop("_checkpoint_rows", None)
        private_seed = self.__dict__.pop("_private_seed", None)   # never kept on the model
        params = {k: repr(v) for k, v in self.get_params().items() if k not in _RUN_PARAMS}
        key = None if self.checkpoint is None else fingerprint(*(data if rows is None else rows), params=params)
        start, history, before = 0, None, None
        warm = self.__dict__.pop("_warm_state", None)
        if warm is not None:
            try:
                # the networks go on; a fresh schedule, and what the previous run chose on its held-out rows
                state.restore(warm, schedulers=False, generator=False, per_fit=False)
            except (RuntimeError, KeyError) as exc:
                raise ValueError("warm_start=True cannot continue the previous fit: its networks have other "
                                 f"shapes ({str(exc).splitlines()[0]}); set warm_start=False.") from None
            before = warm["history"]
        saved = TrainingState.load(self.checkpoint) if self.checkpoint is not None else None
        if saved is not None and warm is not None and saved.get("complete"):
            saved = None   # the previous fit's final checkpoint: a warm start goes on from it and overwrites it
        if saved is not None:
            if saved.get("fingerprint") != key:
                raise ValueError(f"checkpoint {self.checkpoint} holds another fit ({_what_differs(saved, params)}); "
                                 "delete it or choose another path.")
            state.restore(saved)
            split_stream(state.generator)   # rank 0's stream was saved: one of its own again per process
            start, history = saved["step"], saved["history"]
        if hasattr(step, "steps_done"):   # a step with its own schedule (validation) counts on from the checkpoint
            step.steps_done = start

        rank, size = world()

        def save(steps_done, hist):
            if rank == 0:   # one writer; every process resumes from the same file
                state.save(self.checkpoint, step=steps_done, history=hist, fingerprint=key,
                           complete=steps_done >= n_steps, seed=private_seed, params=params)

        batch_size = max(1, self.batch_size_ // size)
        if small_table:
            batch_size = max(1, self._small_table_repeats * (n_rows // size))
        history = train(step, n_rows=n_rows, batch_size=batch_size, n_steps=n_steps,
                        generator=step.generator, device=self.device_, verbose=self.verbose and rank == 0,
                        desc=desc, monitor=monitor, sample_rate=sample_rate, start_step=start, history=history,
                        checkpoint=save if self.checkpoint is not None else None,
                        checkpoint_every=self.checkpoint_every, rows=shard_rows(n_rows, self.device_),
                        fill_batches=small_table)
        join_streams(state.generator)   # calibrations and anchor weights must agree across processes
        if before is not None and before.get("step"):   # warm start: one history, steps and seconds counted on
            offsets = {k: before[k][-1] for k in ("step", "seconds") if before.get(k)}
            history = {k: list(before.get(k, [])) + [v + offsets.get(k, 0) for v in vals]
                       for k, vals in history.items()}
        if self._budget is not None:
            # a loss measured on real rows is a release of its own, outside DP-SGD's guarantee
            history = {k: v for k, v in history.items() if k in ("step", "seconds")}
        self.history_ = history
        self.n_iter_ = n_steps if before is None else getattr(self, "n_iter_", 0) + n_steps
        self._train_state = state.snapshot(step=n_steps, history=history)

    def _autocast(self):
        """Train under bf16 autocast? ``"auto"``: on CUDA (not under DP-SGD, which needs fp32 per-sample norms)."""
        private = self._budget is not None   # (bf16 with epsilon is refused with the budget)
        if self.precision == "auto":
            return self.device_.type == "cuda" and not private
        return self.precision == "bf16"

    def _parallel(self, module):
        """The training forward of a diffusion denoiser: DDP-wrapped when distributed, then compiled."""
        return self._compiled(data_parallel(module, self.device_))

    def _compiled(self, module, *, double_backward=False):
        """``torch.compile(module)`` with ``compile=True`` (the module itself otherwise).

        The compiled wrapper shares the module's parameters; checkpoints and
        the EMA keep the plain module. A critic differentiated twice (gradient
        penalty) stays eager: compiled graphs have no double backward.
        """
        if not self.compile or double_backward:   # (compile with epsilon is refused with the budget)
            return module
        return torch.compile(module)

    def _take_warm_state(self, kind):
        """With ``warm_start``, keep the previous fit's training state for :meth:`_run_training`."""
        self.__dict__.pop("_warm_state", None)
        if not self.warm_start or getattr(self, "_train_state", None) is None:
            return False
        if self.epsilon is not None:
            raise ValueError("warm_start=True would train on the data again and spend more than epsilon; "
                             "fit a private model in one go.")
        if getattr(self, "_fitted_kind", None) != kind:
            return False
        self._warm_state = self._train_state
        return True

    # --------------------------------------------------------------- sample
    def sample(self, n, *, conditions=None, y=None, random_state=None):
        """Generate ``n`` new rows like the training data.

        Parameters
        ----------
        n : int
            Number of rows.
        conditions : dict, default=None
            Column → a value, a list of allowed values, or a ``(low, high)``
            interval (numeric and datetime columns). Every returned row
            satisfies every condition; the other columns follow the model's
            conditional distribution.
        y : label or array-like of shape (n,), default=None
            Only for a model fitted with ``y``: the class of every row, or of
            each row. By default labels are drawn with the training class
            frequencies.
        random_state : int, RandomState or Generator, default=None
            Seed of this call. None continues the model's own stream (seeded
            by the estimator's ``random_state`` at fit), so successive calls
            give new rows and the whole sequence is reproducible.

        Returns
        -------
        X_new : DataFrame or ndarray
            Same container, columns and dtypes as the training ``X``; for an
            image model, images of the training shape convention and dtype
            (``conditions`` do not apply; condition on the class with ``y``).
        y_new : Series or ndarray
            Only when the model was fitted with ``y``.
        """
        check_is_fitted(self)
        if hasattr(self, "image_scaler_"):
            if conditions is not None:
                raise ValueError("conditions= applies to table columns; an image model is conditioned on the "
                                 "class with y=... (or use impute to fill pixels given the others).")
            return self._sample_images(check_n_samples(n), y, self._call_rng(random_state))
        frame, labels = self._sample_table(check_n_samples(n), conditions, y, self._call_rng(random_state))
        if labels is None:
            return self.schema_.wrap(frame)
        return self.schema_.wrap(frame), self.target_schema_.wrap(labels)

    def _sample_table(self, n, conditions, y, rng, *, resampling=False):
        """``(frame, labels or None)``: decoded rows under the conditions, and their classes (``resampling``:
        the rows of :meth:`fit_resample`, see :meth:`_candidates_per_row`)."""
        parsed = parse_conditions(self.encoder_, conditions)   # the class is not a condition: it is y=
        conditional = hasattr(self, "classes_")
        given_frame = None
        # importance_resampling: k candidates per row (candidate j of row i at j·n + i), one kept
        ratio = getattr(self, "density_ratio_", None)
        k = 1 if ratio is None else self._candidates_per_row(resampling)
        if conditional:
            given_frame = pd.DataFrame({_TARGET: np.tile(self._requested_labels(n, y, rng), k)})
        else:
            self._check_requested_y(y)
        # classes asked for (not drawn with their training frequencies): the model may guide rows towards them
        guided = conditional and y is not None
        frame = self._sample_frame(k * n, parsed, given_frame, rng, guided=guided)
        if k > 1:
            frame = frame.iloc[importance_resample(ratio.weights(frame), k, rng)].reset_index(drop=True)
        frame = enforce_conditions(frame, parsed)
        if not conditional:
            return frame, None
        return frame, frame.pop(_TARGET).to_numpy()

    def _call_rng(self, random_state):
        if random_state is None:
            return self._sample_rng
        if isinstance(random_state, np.random.Generator):
            return random_state
        return np.random.default_rng(check_random_state(random_state).randint(2**31 - 1))

    def _check_requested_y(self, y):
        """Raise if ``y`` (one class or None) cannot be asked of this model."""
        if y is None:
            return
        if not hasattr(self, "classes_"):
            raise ValueError("y was given, but the model was fitted without y.")
        self._requested_labels(1, y, None)

    def _requested_labels(self, n, y, rng):
        if y is None:
            return rng.choice(self.classes_, size=n, p=self.class_prior_)
        if isinstance(y, (set, frozenset, dict)):
            raise TypeError(f"y must be one class or a sequence of n classes (one per row), got a "
                            f"{type(y).__name__}.")
        if np.ndim(y) == 0:
            labels = np.repeat(np.asarray([y], dtype=object), n)
        else:
            labels = np.asarray(y, dtype=object)
            if labels.ndim == 2 and labels.shape[1] == 1:
                labels = labels[:, 0]
            if labels.shape != (n,):
                raise ValueError(f"y must hold one class per requested row: n={n} rows, but y has shape "
                                 f"{labels.shape}.")
        known = pd.Index(self.classes_)   # (tolist() would turn datetime classes into integers)
        unknown = [v for v in pd.unique(labels) if v not in known]
        if unknown:
            raise ValueError(f"y holds class {unknown[0]!r}, which was not seen during fit; "
                             f"classes are {list(known)}.")
        return labels

    def _sample_frame(self, n, parsed, given_frame, rng, *, guided=False):
        table = self._sample_encoded(n, parsed, given_frame, _torch_generator(rng, self.device_), guided=guided)
        return self.encoder_.inverse_transform(table, random_state=np.random.RandomState(rng.integers(2**31)))

    @torch.inference_mode()
    def _sample_encoded(self, n, parsed, given_frame, generator, *, calibrated=True, guided=False,
                        batch_size=_SAMPLE_BATCH_ROWS):
        """``n`` generated rows under the conditions, as an :class:`EncodedTable` (scores calibrated or raw).

        ``guided``: ``given_frame``'s classes were asked for (see ``_generate``).
        Under a set or an interval condition the rows are made in two passes:
        the constrained columns' cells are drawn inside their conditions with
        the rest, then every other free cell is generated again given them
        (the conditioning the model was trained for), so that the other
        columns follow the conditional distribution and not only what the
        masked and bounded generation carried over to them. A model may
        rewrite the conditions first and give the second pass fewer columns
        (:meth:`_sampling_conditions`, :meth:`_second_pass_given`).
        """
        device = self.device_
        layout = self.encoder_.layout_
        lt = layout.tensors(device)
        generate = self._generate_rows if calibrated else self._generate
        parsed = self._sampling_conditions(parsed)
        drawn_first, keep_constraints = self._second_pass_given(parsed, constrained_columns(self.encoder_, parsed))
        two_pass = bool(drawn_first.any())
        drawn_first = torch.as_tensor(drawn_first, device=device)
        # columns as rows: the decoder reads each column from contiguous memory
        conts = np.empty((layout.n_continuous, n), dtype=np.float64)
        codes = np.empty((layout.n_discrete, n), dtype=np.int64)
        for start in range(0, n, batch_size):
            b = min(batch_size, n - start)
            part = None if given_frame is None else given_frame.iloc[start: start + b]
            given, x_given, cond, constraints = condition_tensors(
                self.encoder_, lt, parsed, b, given_frame=part, device=device)
            cont, code = generate(b, given, x_given, cond, constraints, generator, guided=guided, pick=True)
            if two_pass:
                cols = drawn_first | (cond[0] > 0)
                x_given = lt.to_model(cont, code if code is not None else cont.new_zeros((b, 0), dtype=torch.long))
                given, cond = cols[lt.dim_to_column].expand(b, -1), cols.float().expand(b, -1)
                # (the given cells are not constrained again: only the other columns' allowed levels are kept)
                kept = None if not keep_constraints or constraints is None or constraints.allowed is None \
                    else Constraints(allowed=constraints.allowed)
                cont, code = generate(b, given, x_given, cond, kept, generator, guided=guided, pick=True)
            conts[:, start: start + b] = cont.t().cpu().numpy()
            if code is not None:
                codes[:, start: start + b] = code.t().cpu().numpy()
        return EncodedTable(conts.T, codes.T)

    def _sampling_conditions(self, parsed):
        """The conditions as :meth:`_sample_encoded` generates under them (by default ``parsed`` itself)."""
        return parsed

    def _second_pass_given(self, parsed, constrained):
        """``(columns, keep)``: what the second pass of :meth:`_sample_encoded` takes as given, from the
        first pass's rows (none: one pass), and whether it still forbids the levels a set condition forbids.

        By default every ``constrained`` column (n_columns,) is given and the
        rest regenerated: masked and bounded generation makes the
        constrained cells right, not the rest of the row.
        """
        return constrained, False

    def _inference_cache(self, fitted, build, key=None):
        """``build()`` computed once per fitted object ``fitted`` (e.g. a folded network) and ``key``; not pickled.

        ``key``: the sampling parameters ``build`` reads (compared by value).
        """
        cached = self.__dict__.get("_sampling")
        if cached is None or cached[0] is not fitted or cached[1] != key:
            cached = self._sampling = (fitted, key, build())
        return cached[2]

    # ------------------------------------------------------------- pickling
    def __getstate__(self):
        state = super().__getstate__()
        state.pop("_sampling", None)
        return {k: (copy.deepcopy(v).cpu() if isinstance(v, torch.nn.Module) else v) for k, v in state.items()}

    def __setstate__(self, state):
        super().__setstate__(state)
        if getattr(self, "device_", None) is not None and self.device_.type == "cuda" \
                and not torch.cuda.is_available():
            self.device_ = torch.device("cpu")  # a GPU-trained model samples on a CPU-only machine
        for k, v in self.__dict__.items():
            if isinstance(v, torch.nn.Module):
                v.to(self.device_)

    def __sklearn_tags__(self):
        from imblearn.utils._tags import InputTags, SamplerTags, Tags

        base = super().__sklearn_tags__()
        # imbalanced-learn's tags: a sampler (it has fit_resample) taking DataFrames; y stays optional for fit
        fields = {f: getattr(base, f) for f in base.__dataclass_fields__}
        fields["input_tags"] = InputTags(**{f: getattr(base.input_tags, f)
                                            for f in base.input_tags.__dataclass_fields__}, dataframe=True)
        tags = Tags(**fields, sampler_tags=SamplerTags())
        tags.input_tags.allow_nan = True
        tags.input_tags.string = True
        tags.input_tags.categorical = True
        tags.non_deterministic = False
        return tags


def _sortable(index):
    try:
        sorted(index)
        return True
    except TypeError:
        return False
