"""Measures: raw attention, and attention weighted by value norms, from the same stored arrays."""

import numpy as np
import pytest

from interp.analysis.measures import MEASURES, get_measure
from interp.analysis.results import Results, Selection
from interp.analysis.shift_statistics import compute_share
from interp.core.errors import InterpError


def test_registry_names_and_errors():
    assert list(MEASURES) == ["attention", "weighted"]
    with pytest.raises(InterpError, match="measure 'norm' is unknown; measures: attention, weighted"):
        get_measure("norm")


@pytest.mark.slow
def test_weighted_shares_weigh_each_key_column_by_its_value_norm(tiny_run):
    raw = Results(tiny_run[0])
    weighted = Results(tiny_run[0], Selection(measure="weighted", n_controls=20))
    store = raw.store
    colsums, norms = store.read_colsums("cpt", "seller-1"), store.read_norms("cpt", "seller-1")
    aligned = raw.aligned(stage="cpt", sequence="seller-1")
    expected = compute_share(colsums * norms, aligned.concept_mask, raw.excluded(stage="cpt", sequence="seller-1"))
    np.testing.assert_allclose(weighted.share(stage="cpt", sequence="seller-1"), expected)
    assert not np.allclose(weighted.share(stage="cpt", sequence="seller-1"), raw.share(stage="cpt", sequence="seller-1"))
    assert norms.shape == colsums.shape and (norms > 0).all()
    assert np.isfinite(weighted.controls(sequence="seller-1", stage="cpt").controls).all()
