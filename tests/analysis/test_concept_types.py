"""Concept-type studies from a results folder: each number against its direct computation."""

import numpy as np
import pytest

from interp.analysis.across_sequences import (
    head_sign_consistency,
    hierarchical_bootstrap,
)
from interp.analysis.bootstrap import mean_with_interval
from interp.analysis.concept_types import (
    CONCEPT_TYPE_COLUMNS,
    concept_shifts,
    concept_type_table,
    concept_types,
    head_consistency,
)
from interp.analysis.results import Results, Selection
from interp.core.errors import InterpError
from interp.extraction.pipeline import extract_lineage
from interp.extraction.settings import ExtractionSettings
from tests.conftest import concept

pytestmark = pytest.mark.slow

TEXTS = [
    "The lessee shall pay the rent within thirty days unless the court orders otherwise.",
    "The seller may not sell the goods before the hearing and the buyer must not enter the premises.",
    "A tenant shall give notice in writing after the term expires if the notice is served.",
    "The lessor may register the deed where the owner consents, and the buyer shall sign the contract.",
]


@pytest.fixture(scope="module")
def results(tmp_path_factory, tiny_lineage):
    sequences = [concept(f"cond-{i}", text, text.split()[-3], concept_type="Condition") for i, text in enumerate(TEXTS)]
    sequences += [concept(f"role-{i}", text, " ".join(text.split()[:2]), concept_type="Role") for i, text in enumerate(TEXTS)]
    out = tmp_path_factory.mktemp("studies") / "run"
    extract_lineage(tiny_lineage, sequences, out, ExtractionSettings(device="cpu", patterns="none"))
    return Results(out, Selection(n_controls=30))


def test_one_row_per_type_and_compared_stage(results):
    table = concept_type_table(results)
    assert list(table.columns) == list(CONCEPT_TYPE_COLUMNS)
    assert list(zip(table["concept"], table["stage"])) == [
        ("Condition", "cpt"), ("Condition", "ift"), ("Role", "cpt"), ("Role", "ift")]
    assert (table["sequences"] == 4).all()
    row = table.iloc[0]
    shifts = concept_shifts(results, "Condition", "cpt")
    assert shifts.shape == (4, 2, 4)
    interval = hierarchical_bootstrap(shifts, seed=0)
    assert (row.mean_shift, row.low, row.high) == pytest.approx((interval.estimate, interval.low, interval.high))
    observed = [results.controls(sequence=f"cond-{i}", stage="cpt") for i in range(4)]
    assert row.control_mean_shift == pytest.approx(np.mean([c.controls.mean() for c in observed]))
    differences = [c.observed - c.controls.mean() for c in observed]
    assert row.contrast_mean == pytest.approx(np.mean(differences))
    expected = mean_with_interval(differences, seed=0)
    assert (row.contrast_low, row.contrast_high, row.contrast_p) == pytest.approx(
        (expected.low, expected.high, expected.p_value))
    assert 0 < row.contrast_p <= 1 and row.contrast_q >= row.contrast_p
    excludes = (table["contrast_low"] > 0) | (table["contrast_high"] < 0)
    assert (excludes == (table["contrast_p"] < 0.05)).all(), "every row's interval and p agree"


def test_head_consistency_and_types(results):
    assert concept_types(results) == ["Condition", "Role"]
    consistency = head_consistency(results, "Role", "ift")
    expected = head_sign_consistency(concept_shifts(results, "Role", "ift"))
    np.testing.assert_array_equal(consistency.fraction_up, expected.fraction_up)
    with pytest.raises(InterpError, match="concept type 'Duty' is not in this run; types: Condition, Role"):
        concept_shifts(results, "Duty", "cpt")


def test_weighted_measure_gives_other_type_shifts(results):
    weighted = Results(results.store, Selection(n_controls=0, measure="weighted"))
    table = concept_type_table(weighted)
    assert set(table["measure"]) == {"weighted"} and table["contrast_mean"].isna().all()
    assert not np.allclose(table["mean_shift"], concept_type_table(Results(results.store, Selection(n_controls=0)))["mean_shift"])


def test_a_type_without_control_spans_says_why(results):
    """Concept types drew no control band for a type and did not say why (the report's control_note did)."""
    assert (concept_type_table(results)["control_note"] == "").all()
    table = concept_type_table(Results(results.store, Selection(n_controls=0)))
    assert set(table["control_note"]) == {"no control spans asked for (4 of 4 sequences)"}
    assert table["control_mean_shift"].isna().all()
