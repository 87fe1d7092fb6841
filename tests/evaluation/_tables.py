"""Small mixed-type tables with known structure for the evaluation tests."""

import numpy as np
import pandas as pd

N_ROWS = 300


def make_table(n=N_ROWS, seed=0):
    """A table with real structure: correlated numerics, a dependent category and target.

    Columns: ``x`` (float), ``z`` (≈ 2x, with 8 % missing), ``count`` (integer,
    many values), ``debt`` (zero-inflated), ``color`` (object, depends on x),
    ``member`` (bool), ``since`` (datetime), ``y`` ("good"/"bad" target).
    """
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    z = 2 * x + rng.normal(0, 0.5, n)
    z[rng.random(n) < 0.08] = np.nan
    color = np.where(x > 0.5, "red", np.where(x < -0.5, "blue", "green")).astype(object)
    flip = rng.random(n) < 0.1
    color[flip] = rng.choice(["red", "blue", "green"], flip.sum())
    color[rng.random(n) < 0.05] = None
    debt = np.where(rng.random(n) < 0.6, 0.0, np.round(rng.lognormal(7, 1, n)))
    y = np.where(x + rng.normal(0, 0.7, n) > 0.3, "bad", "good")
    return pd.DataFrame({
        "x": x,
        "z": z,
        "count": rng.integers(0, 60, n),
        "debt": debt,
        "color": color,
        "member": rng.random(n) < 0.4,
        "since": pd.Timestamp("2015-01-01") + pd.to_timedelta(rng.integers(0, 3000, n), "D"),
        "y": y,
    })


def noise_like(frame, seed=0):
    """Same columns, nothing in common: uniform numbers, a made-up level, shifted dates."""
    rng = np.random.default_rng(seed)
    n = len(frame)
    return pd.DataFrame({
        "x": rng.uniform(-10, 10, n),
        "z": rng.uniform(-50, 50, n),
        "count": rng.integers(500, 900, n),
        "debt": rng.uniform(1, 2, n),
        "color": rng.choice(["purple", "red"], n).astype(object),
        "member": rng.random(n) < 0.9,
        "since": pd.Timestamp("1990-01-01") + pd.to_timedelta(rng.integers(0, 30, n), "D"),
        "y": rng.choice(["good", "bad"], n),
    })


def shuffled_columns(frame, seed=0):
    """Each column permuted independently: marginals kept, every relation destroyed."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame({c: frame[c].to_numpy()[rng.permutation(len(frame))] for c in frame})
