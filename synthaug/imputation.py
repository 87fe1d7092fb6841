"""Imputation from a fitted generative model: missing cells generated given the observed ones.

:class:`ImputerMixin` gives an estimator ``impute(X, n_draws=None)``. Each row
is one conditional-sampling problem: its observed cells are *given* (the
conditioning every model is trained with), its missing cells are generated,
and the "missing" level of every column is forbidden, so the draw comes from
p(missing cells | observed cells, the cells are present). A row with every
cell missing is an unconditional sample. Observed cells are copied back from
the input, so they are returned bit for bit.
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn.utils.validation import check_is_fitted

from ._validation import check_same_columns, check_table
from .conditioning import TARGET_COLUMN as _TARGET
from .encoding import EncodedTable
from .encoding.layout import Constraints

__all__ = ["ImputerMixin"]



class ImputerMixin:
    """``impute`` for an estimator with the conditioning of :class:`BaseGenerativeSampler`."""

    def impute(self, X, *, n_draws=None, random_state=None):
        """Fill every missing cell of ``X`` with a draw from the model given the row's observed cells.

        Parameters
        ----------
        X : DataFrame or ndarray of shape (n_samples, n_features)
            The training columns (a DataFrame is aligned by column name);
            NaN/None/NaT mark the cells to fill. Rows may miss any pattern of
            cells, including patterns never seen in training and every cell.
        n_draws : int, default=None
            None returns one completed table; an integer k returns a list of
            k completed tables (multiple imputation) whose spread reflects the
            model's uncertainty.
        random_state : int, RandomState or Generator, default=None
            Seed of this call; None continues the model's own stream.

        Returns
        -------
        X_filled : DataFrame or ndarray, or a list of them
            Same container, columns, index and dtypes as ``X``; observed
            cells unchanged.
        """
        check_is_fitted(self)
        if n_draws is not None and (isinstance(n_draws, bool) or not isinstance(n_draws, (int, np.integer))
                                    or n_draws < 1):
            raise ValueError(f"n_draws must be None or a positive integer, got {n_draws!r}.")
        if hasattr(self, "image_scaler_"):
            return self._impute_images(X, n_draws, self._call_rng(random_state))
        frame, schema = check_table(X, min_rows=1, allow_constant=True)
        if schema.container == "frame" and hasattr(self, "feature_names_in_"):
            frame = check_same_columns(frame, self.feature_names_in_)
        elif frame.shape[1] != self.n_features_in_:
            raise ValueError(f"X has {frame.shape[1]} features, but {type(self).__name__} is expecting "
                             f"{self.n_features_in_} features as input.")
        else:
            frame = frame.set_axis(self.schema_.columns, axis=1)
        rng = self._call_rng(random_state)
        draws = [self._impute_once(frame, rng) for _ in range(n_draws or 1)]
        original_columns = list(X.columns) if schema.container == "frame" else None
        wrapped = [schema.wrap(d[original_columns] if original_columns is not None else d) for d in draws]
        return wrapped[0] if n_draws is None else wrapped

    def _impute_once(self, frame, rng):
        missing = frame.isna()
        rows = np.flatnonzero(missing.to_numpy().any(axis=1))
        out = frame.copy()
        if not len(rows):
            return out
        part = frame.iloc[rows]
        generated = self._generate_missing(part, missing.iloc[rows], rng)
        for col in frame.columns[missing.to_numpy().any(axis=0)]:
            holes = missing[col].to_numpy()
            out.loc[holes, col] = generated[col].to_numpy()[holes[rows]]
        return out

    @torch.inference_mode()
    def _generate_missing(self, part, missing, rng, batch_size=4_096):
        """Decoded rows for ``part`` with its missing cells generated (observed cells given)."""
        encoder, device = self.encoder_, self.device_
        layout = encoder.layout_
        lt = layout.tensors(device)
        # placeholders where cells are missing (never used: those cells are not given)
        table = part.copy()
        valid = self._valid_row()
        for col in part.columns[missing.to_numpy().any(axis=0)]:
            table[col] = table[col].where(~missing[col], valid[col].iloc[0])
        col_given = np.zeros((len(part), layout.n_columns), dtype=bool)
        col_given[:, [encoder.columns_.index(c) for c in part.columns]] = ~missing.to_numpy()
        if _TARGET in encoder.columns_:  # a class-conditional model: the class is generated too
            table[_TARGET] = valid[_TARGET].iloc[0]
        encoded = encoder.transform(table[encoder.columns_], random_state=int(rng.integers(2**31)))
        constraints = Constraints(allowed=self._present_levels(device))
        generator = torch.Generator(device=device).manual_seed(int(rng.integers(2**62)))
        conts, codes = [], []
        for start in range(0, len(part), batch_size):
            sl = slice(start, start + batch_size)
            cols = torch.as_tensor(col_given[sl], device=device)
            x_given = lt.to_model(torch.as_tensor(encoded.continuous[sl], device=device),
                                  torch.as_tensor(encoded.discrete[sl], device=device))
            cont, code = self._generate_rows(len(cols), cols[:, lt.dim_to_column], x_given, cols.float(), constraints,
                                        generator)
            conts.append(cont.cpu().numpy())
            codes.append(code.cpu().numpy() if code is not None else np.zeros((len(cols), 0), np.int64))
        decoded = encoder.inverse_transform(EncodedTable(np.concatenate(conts), np.concatenate(codes)),
                                            random_state=np.random.RandomState(rng.integers(2**31)))
        return decoded.set_axis(part.index, axis=0)

    def _present_levels(self, device):
        """Allowed-levels mask over model space forbidding every column's "missing" level."""
        layout = self.encoder_.layout_
        allowed = torch.ones(layout.width, dtype=torch.bool)
        for name, (_, di) in zip(self.encoder_.columns_, layout.column_parts):
            enc = self.encoder_.encoders_[name]
            if di is not None and getattr(enc, "has_missing_", False) and name != _TARGET:
                allowed[int(layout.offsets[di]) + enc.missing_code] = False
        return allowed.to(device)

    def _valid_row(self):
        """One row of valid training values (every code 0 decoded), as placeholders."""
        layout = self.encoder_.layout_
        zeros = EncodedTable(np.zeros((1, layout.n_continuous), np.float32),
                             np.zeros((1, layout.n_discrete), np.int64))
        return self.encoder_.inverse_transform(zeros, random_state=np.random.RandomState(0))
