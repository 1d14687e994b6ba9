"""Choices several views share: options and defaults from the run."""

import pytest

from interp.analysis.results import Results
from interp.views.choices import (
    AGAINST,
    ANY_STAGE,
    COMPARED_STAGE,
    SEQUENCE,
    describe_sequence,
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def results(tiny_run):
    return Results(tiny_run[0])


def test_sequences_and_stages_come_from_the_run(results):
    assert list(SEQUENCE.options(results, {})) == ["lessee-1", "seller-1"]
    assert describe_sequence(results, "lessee-1") == "lessee-1 (Condition)"
    assert list(ANY_STAGE.options(results, {})) == ["base", "cpt", "ift"]
    assert ANY_STAGE.default(results, {}) == "ift"
    assert list(COMPARED_STAGE.options(results, {})) == ["cpt", "ift"]


def test_a_shift_is_taken_against_the_reference_unless_another_stage_is_chosen(results):
    assert AGAINST.default(results, {}) == "base" and list(AGAINST.bundle(results, {})) == ["base"]
    assert AGAINST.slug("cpt") == "vs-cpt"
