"""A stored causal run read back: every table the CLI, the views and the export show."""

import numpy as np
import pytest

from interp.causal.results import SEQUENCE_COLUMNS, CausalResults, causal_pairs
from interp.core.errors import InterpError

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def reader(tiny_causal_run):
    return CausalResults(tiny_causal_run[0], "base", "cpt")


def test_pairs_and_settings(reader, tiny_causal_run):
    assert causal_pairs(tiny_causal_run[0]) == [("base", "cpt")]
    assert reader.interventions == ("patch", "pattern", "mean") and reader.metrics == ("span",)
    assert reader.sequence_ids == ("lessee-1", "seller-1")


def test_the_shift_is_the_attention_shift_of_the_same_selection(reader):
    expected = reader.results.share(sequence="seller-1", stage="cpt") - reader.results.share(sequence="seller-1",
                                                                                              stage="base")
    np.testing.assert_allclose(reader.shift[1], expected, rtol=1e-12, atol=1e-15)


def test_tables(reader):
    heads = reader.heads_table("span")
    assert len(heads) == 3 * 2 * 4 and heads["verified"].sum() >= 3 * 2
    verified = heads[heads["verified"]]
    assert verified["exact"].notna().all() and verified["q"].notna().all()
    rows = reader.sequences_table("span")
    assert list(rows.columns) == list(SEQUENCE_COLUMNS) and {"exact", "atp"} == set(rows["method"])
    sets = reader.sets_table("span")
    assert {"concept-heads", "atp-top"} <= set(sets["set"]) and (sets["kind"] == "random").sum() == 3 * 5
    correlation = reader.correlation_table("span")
    assert set(correlation["concept"]) == {"all", "Condition"} and correlation["spearman"].between(-1, 1).all()
    agreement = reader.agreement_table("span")
    assert list(agreement["intervention"]) == ["patch", "pattern", "mean"]


def test_a_concept_type_not_in_the_run_is_refused(reader):
    with pytest.raises(InterpError, match="concept type 'Role' is not in this causal run"):
        reader.rank_correlation("span", "patch", "Role")
