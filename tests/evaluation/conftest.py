"""Tables and reports shared by several evaluation tests (see ``_tables.py``)."""

import pytest
from _tables import make_table

from synthaug.evaluation import evaluate, sdmetrics_scores


@pytest.fixture(scope="session")
def train():
    return make_table(seed=0)


@pytest.fixture(scope="session")
def holdout():
    return make_table(seed=1)


@pytest.fixture(scope="session")
def fresh():
    """A third independent sample: what a perfect generator would produce."""
    return make_table(seed=2)


@pytest.fixture(scope="session")
def quick():
    """Shrink sdmetrics' NewRowSynthesis sample (one pandas query per row) for speed."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(sdmetrics_scores, "NEW_ROW_SYNTHESIS_ROWS", 40)
        yield


@pytest.fixture(scope="session")
def good_report(quick, train, holdout, fresh):
    return evaluate(train, fresh, holdout, target="y", sensitive_columns=["color"])


@pytest.fixture(scope="session")
def copy_report(quick, train, holdout):
    return evaluate(train, train.copy(), holdout, target="y")
