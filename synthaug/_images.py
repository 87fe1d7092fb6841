"""Images behind the same estimators: fit, sample, fit_resample and impute on ``(N, C, H, W)`` arrays.

:class:`ImageSamplerMixin` is the image half of
:class:`~synthaug._base.BaseGenerativeSampler`. It validates and scales the
images (:class:`~synthaug.encoding.images.ImageScaler`), indexes the class
labels, and leaves the generative model to two subclass methods:

* ``_fit_image_model(images, labels, generator)`` — images ``(N, C, H, W)``
  in [-1, 1] and labels ``(N,)`` long (or None) on the device;
* ``_generate_images(labels, generator, known=None, mask=None)`` — images in
  [-1, 1] for ``labels`` (long, ``n_classes`` meaning "any class", or
  None); with ``mask`` (1 where a pixel is given) the pixels of ``known``
  are kept and the rest generated given them (inpainting).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from imblearn.utils import check_sampling_strategy

from ._validation import check_target
from .encoding.images import ImageScaler
from .privacy.mechanisms import laplace_histogram

__all__ = ["ImageSamplerMixin"]

# attributes that only one kind of fit sets: a refit of the other kind removes them
_TABLE_ATTRIBUTES = ("encoder_", "schema_", "feature_names_in_", "network_", "process_", "generator_", "critic_",
                     "gan_", "_anchor_levels", "linear_imputer_")
_IMAGE_ATTRIBUTES = ("image_scaler_", "image_shape_", "network_", "process_", "generator_", "critic_",
                     "image_latent_dim_")


class ImageSamplerMixin:
    """Image support of the generative samplers (see the module docstring)."""

    def _fit_images(self, X, y, rng):
        for attr in _TABLE_ATTRIBUTES + ("target_schema_", "classes_", "class_prior_"):
            self.__dict__.pop(attr, None)
        # (categories may declare the classes of a named y, under epsilon)
        columns = set(self.categories or {}) - {getattr(y, "name", None)}
        if self.bounds is not None or columns or self.discrete_columns is not None:
            raise ValueError("bounds, categories and discrete_columns describe table columns; they do not apply "
                             "to images (categories may only declare the classes of a named y).")
        self.image_scaler_ = ImageScaler()
        images = self.image_scaler_.fit_transform(X)
        if len(images) < 2:
            raise ValueError("X holds a single image; a generative model needs at least 2.")
        self.image_shape_ = self.image_scaler_.shape_
        self.n_features_in_ = int(np.prod(self.image_shape_))
        labels = None
        self._budget = self._privacy_budget(len(images))
        if self._budget is not None:   # the pixels' observed range is data: a private model keeps the public scale
            self.image_scaler_.range_ = None
        if y is not None:
            labels = self._index_labels(y, len(images), rng)
        self._resolve_batch_and_lr(images=True)
        return images, labels

    def _index_labels(self, y, n, rng):
        """Class indices of ``y``; sets ``classes_``, ``class_prior_`` (noisy under DP) and ``target_schema_``."""
        y_series, self.target_schema_ = check_target(y, n)
        counts = self._learn_classes(y_series)
        if self._budget is not None:   # the class labels are public (the caller names them); their counts are not
            eps = self._budget.encoder_epsilon
            freq = np.maximum(laplace_histogram(counts, eps, rng), 0.0) + 1e-12
            self._budget.spend("class frequencies", eps, 0.0, f"Laplace histogram, ε = {eps:.4g}")
            self.class_prior_ = freq / freq.sum()
        return pd.Index(self.classes_).get_indexer(y_series.to_numpy()).astype(np.int64)

    @property
    def _n_image_classes(self):
        return len(self.classes_) if hasattr(self, "classes_") else 0

    def _image_label_indices(self, n, y, rng):
        """Long class indices of ``n`` requested images (drawn with the class prior when ``y`` is None)."""
        if not hasattr(self, "classes_"):
            if y is not None:
                raise ValueError("y was given, but the model was fitted without y.")
            return None, None
        labels = self._requested_labels(n, y, rng)
        return pd.Index(self.classes_).get_indexer(labels).astype(np.int64), labels

    # ------------------------------------------------------------------ sample
    @torch.inference_mode()
    def _images_in_batches(self, n, label_idx, rng, *, known=None, mask=None, batch_size=1_000):
        """Model-space images ``(n, C, H, W)`` as a numpy array, generated ``batch_size`` at a time."""
        device = self.device_
        generator = torch.Generator(device=device).manual_seed(int(rng.integers(2**62)))
        out = []
        for start in range(0, n, batch_size):
            sl = slice(start, min(n, start + batch_size))
            labels = None if label_idx is None else torch.as_tensor(label_idx[sl], device=device)
            k = None if known is None else torch.as_tensor(known[sl], device=device)
            m = None if mask is None else torch.as_tensor(mask[sl], device=device)
            out.append(self._generate_images(sl.stop - sl.start, labels, generator, known=k, mask=m).float().cpu())
        return torch.cat(out).numpy() if out else np.zeros((0, *self.image_shape_), np.float32)

    def _sample_images(self, n, y, rng):
        label_idx, labels = self._image_label_indices(n, y, rng)
        images = self.image_scaler_.inverse_transform(self._images_in_batches(n, label_idx, rng))
        if labels is None:
            return images
        return images, self.target_schema_.wrap(labels)

    # ---------------------------------------------------------------- resample
    def _resample_images(self, X, y):
        from .resampling import check_resampling_target

        n_images = ImageScaler().fit(X).n_images_   # validates before anything is trained
        y_series, target_schema = check_target(y, n_images)
        check_resampling_target(y_series)
        labels = y_series.to_numpy()
        strategy = check_sampling_strategy(self.sampling_strategy, labels, self._sampling_type)
        if self.quality_filter is not None and not isinstance(self.quality_filter, str):
            raise ValueError("quality_filter ranks table rows with a gradient-boosting classifier; it does not "
                             "apply to images.")   # ("auto", the tables' neighbourhood check: none for images)
        self._fit(X, y)
        self.sampling_strategy_ = strategy
        images, targets = [np.asarray(X) if not isinstance(X, (list, tuple)) else np.stack(X)], [labels]
        for label, n_new in self.sampling_strategy_.items():
            if n_new > 0:
                new, new_labels = self._sample_images(int(n_new), label, self._sample_rng)
                images.append(new)
                targets.append(np.asarray(new_labels))
        return np.concatenate(images), target_schema.wrap(np.concatenate(targets))

    # ------------------------------------------------------------------ impute
    def _impute_images(self, X, n_draws, rng):
        """Fill NaN pixels given the observed ones (inpainting); observed pixels returned unchanged.

        Float images with NaN, on the fitted scale (0..255 for a model fitted
        on integer images, [0, 1] otherwise); integer images (nothing to
        fill) are returned as copies.
        """
        arr = self.image_scaler_.check(X, allow_nan=True)
        missing = np.isnan(arr)
        rows = np.flatnonzero(missing.reshape(len(arr), -1).any(axis=1))
        known = np.nan_to_num(self.image_scaler_.scale(arr[rows]), nan=0.0)
        # a pixel is given when it is observed in every channel (the mask is shared by the channels)
        mask = (~missing[rows]).all(axis=1, keepdims=True).astype(np.float32)
        label_idx = None
        if hasattr(self, "classes_"):   # the class is unknown: the "no class" prediction
            label_idx = np.full(len(rows), self._n_image_classes, dtype=np.int64)
        holes, squeeze = missing[rows], np.ndim(X) == 3
        draws = []
        for _ in range(n_draws or 1):
            filled = arr.copy()
            if len(rows):
                generated = self.image_scaler_.inverse_transform(
                    self._images_in_batches(len(rows), label_idx, rng, known=known, mask=mask)).astype(arr.dtype)
                part = filled[rows]
                part[holes] = generated.reshape(part.shape)[holes]
                filled[rows] = part
            draws.append(filled[:, 0] if squeeze else filled)
        return draws[0] if n_draws is None else draws
