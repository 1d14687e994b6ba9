"""Quantities derived from a results folder, each checked against a direct computation."""

import numpy as np
import pytest

from interp.analysis.exclusions import compute_excluded_mask
from interp.analysis.results import Results, Selection
from interp.analysis.shift_statistics import (
    compute_share_from_patterns,
    compute_shift_statistics,
)
from interp.core.errors import InterpError
from interp.store.folder import ResultsStore
from tests.references import compute_span_attention

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def results(tiny_run):
    return Results(tiny_run[0], Selection(n_controls=30))


def test_shares_equal_shares_from_stored_patterns(results):
    store = results.store
    for sequence in results.sequences:
        aligned = store.read_aligned("cpt", sequence.id)
        stored = store.read_patterns("cpt", sequence.id)
        assert stored.extent == (0, aligned.n_tokens), "short sequences keep their whole pattern"
        patterns = np.asarray(stored.values, dtype=np.float32)
        excluded = compute_excluded_mask(aligned, "paper")
        from_patterns = compute_share_from_patterns(patterns, aligned.concept_mask, excluded)
        np.testing.assert_allclose(results.share(stage="cpt", sequence=sequence.id), from_patterns, atol=2e-3)


def test_shift_and_statistics_against_the_reference(results):
    shift = results.share(stage="ift", sequence="seller-1") - results.share(stage="base", sequence="seller-1")
    np.testing.assert_array_equal(results.shift(sequence="seller-1", stage="ift"), shift)
    np.testing.assert_array_equal(results.shift(sequence="seller-1", stage="ift", against="cpt"),
                                  results.share(stage="ift", sequence="seller-1") - results.share(stage="cpt", sequence="seller-1"))
    assert results.statistics(sequence="seller-1", stage="ift") == compute_shift_statistics(shift)
    assert results.compared_stages == ["cpt", "ift"] and results.shape == (2, 4)


def test_reference_can_be_any_stage_and_must_exist(tiny_run):
    assert Results(tiny_run[0], Selection(reference="cpt")).compared_stages == ["base", "ift"]
    with pytest.raises(InterpError, match="reference stage 'sft' is not in this run; stages: base, cpt, ift"):
        Results(tiny_run[0], Selection(reference="sft"))


def test_exclusions_change_the_share(tiny_run):
    paper = Results(tiny_run[0], Selection(exclusions="paper")).share(stage="cpt", sequence="lessee-1")
    none = Results(tiny_run[0], Selection(exclusions="none")).share(stage="cpt", sequence="lessee-1")
    assert not np.allclose(paper, none)


def test_first_position_rule_decides_about_the_bos(tiny_run):
    bos = Results(tiny_run[0], Selection(exclusions="none", first_position="bos"))
    first = Results(tiny_run[0], Selection(exclusions="none", first_position="first"))
    counted = Results(tiny_run[0], Selection(exclusions="none", first_position="none"))
    np.testing.assert_array_equal(bos.share(stage="cpt", sequence="lessee-1"), first.share(stage="cpt", sequence="lessee-1"))
    assert (counted.share(stage="cpt", sequence="lessee-1") < bos.share(stage="cpt", sequence="lessee-1")).all()
    assert not counted.excluded(stage="cpt", sequence="lessee-1").any()
    colsums = bos.store.read_colsums("cpt", "lessee-1")
    np.testing.assert_allclose(bos.first_token_share(stage="cpt", sequence="lessee-1"), colsums[:, :, 0] / colsums.sum(axis=2), rtol=1e-6)
    with pytest.raises(InterpError, match="first-position rule 'start' is unknown"):
        Results(tiny_run[0], Selection(first_position="start"))


def test_controls_and_their_placement(results):
    comparison = results.controls(sequence="lessee-1", stage="cpt")
    assert comparison.observed == pytest.approx(results.shift(sequence="lessee-1", stage="cpt").mean())
    assert comparison.controls.size == 30
    placement = results.control_placement(sequence="lessee-1", stage="cpt")
    assert (placement.percentile, placement.p_value, placement.reason) == (comparison.percentile, comparison.p_value, "")
    none = Results(results.store, Selection(n_controls=0)).control_placement(sequence="lessee-1", stage="cpt")
    assert np.isnan(none.p_value) and none.reason == "no control spans asked for"


def test_interval_holds_the_mean(results):
    low, high = results.interval(sequence="seller-1", stage="cpt")
    assert low <= results.shift(sequence="seller-1", stage="cpt").mean() <= high


def test_most_shifted_head(results):
    shift = results.shift(sequence="seller-1", stage="ift")
    layer, head = results.most_shifted_head(sequence="seller-1", stage="ift")
    assert abs(shift[layer, head]) == pytest.approx(np.abs(shift).max())
    assert results.most_shifted_head(sequence="seller-1", stage="base") == (layer, head), "the reference shows the last stage's"


def test_head_pattern_and_span_attention(results):
    aligned = results.aligned(stage="base", sequence="seller-1")
    full = np.asarray(results.store.read_patterns("base", "seller-1").values, dtype=np.float32)
    np.testing.assert_array_equal(results.head_pattern(stage="base", sequence="seller-1", layer=1, head=2), full[1, 2])
    np.testing.assert_array_equal(results.head_pattern(stage="base", sequence="seller-1", layer=1, head=2, window=(3, 9)), full[1, 2, 3:9, 3:9])
    assert results.pattern_extent(stage="base", sequence="seller-1") == (0, aligned.n_tokens)
    with pytest.raises(InterpError, match=r"layer 9, head 0 is outside this model \(2 layers, 4 heads\)"):
        results.head_pattern(stage="base", sequence="seller-1", layer=9, head=0)
    expected = compute_span_attention(full, aligned.span_tokens)  # from float16 patterns: 1e-3 apart
    np.testing.assert_allclose(results.span_attention(stage="base", sequence="seller-1"), expected, atol=2e-3, equal_nan=True)
    assert np.isnan(results.span_attention(stage="base", sequence="seller-1")[0, 1]), "the first span cannot see the second"


def test_memo_reads_each_share_once(tiny_run, monkeypatch):
    results = Results(tiny_run[0])
    reads = []
    original = ResultsStore.read_colsums
    monkeypatch.setattr(ResultsStore, "read_colsums", lambda self, *a: reads.append(a) or original(self, *a))
    results.statistics(sequence="lessee-1", stage="cpt")
    results.shift(sequence="lessee-1", stage="cpt")
    results.share(stage="cpt", sequence="lessee-1")
    assert sorted(reads) == [("base", "lessee-1"), ("cpt", "lessee-1")]


def test_unknown_sequence(results):
    with pytest.raises(InterpError, match="sequence 'nope' is not in this run; sequences: lessee-1, seller-1"):
        results.sequence("nope")


def test_a_refusal_is_remembered_like_a_value():
    """Finding that a sequence has no room for control spans is slow: asked again, the same
    refusal comes back without the work."""
    from interp.analysis.results import _memo

    calls = []

    class Probe:
        def __init__(self):
            self._memo = {}

        @_memo
        def controls(self, *, sequence):
            calls.append(sequence)
            raise InterpError(f"sequence '{sequence}': no room for control spans")

    probe = Probe()
    for _ in range(3):
        with pytest.raises(InterpError, match="no room"):
            probe.controls(sequence="s-1")
    assert calls == ["s-1"]
