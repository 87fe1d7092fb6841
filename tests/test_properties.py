"""Property tests: random mixed frames through fit → sample (tiny training)."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.pandas import column, data_frames, range_indexes

from synthaug import DiffusionSampler

from _tiny import TINY

frames = data_frames(
    [
        column("i", elements=st.integers(-1000, 1000)),
        column("f", elements=st.one_of(st.floats(-1e6, 1e6, allow_nan=False), st.just(np.nan))),
        column("s", elements=st.one_of(st.sampled_from(["a", "b", "c", "d"]), st.none()), dtype=object),
        column("b", elements=st.booleans()),
    ],
    index=range_indexes(min_size=2, max_size=40),
)


def _degenerate(df):
    """Columns fit must reject: entirely missing or a single value."""
    return [c for c in df.columns if df[c].isna().all() or df[c].nunique(dropna=False) < 2]


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(df=frames)
def test_fit_sample_random_frames(df):
    before = df.copy()
    model = DiffusionSampler(**TINY, random_state=0)
    bad = _degenerate(df)
    if bad:
        with pytest.raises(ValueError, match="|".join(repr(c) for c in bad)):
            model.fit(df)
        return
    synth = model.fit(df).sample(30)
    pd.testing.assert_frame_equal(df, before)                     # input untouched
    assert synth.dtypes.equals(df.dtypes) and list(synth.columns) == list(df.columns)
    assert synth["i"].between(df["i"].min(), df["i"].max()).all()
    f = synth["f"].dropna()
    assert f.between(df["f"].min(), df["f"].max()).all()
    assert set(synth["s"].dropna()) <= set(df["s"].dropna())
    if df["f"].notna().all():
        assert synth["f"].notna().all()                           # no invented missingness
    if df["s"].notna().all():
        assert synth["s"].notna().all()
