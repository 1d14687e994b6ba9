"""Which sequences get per-sequence figures, the command that draws the rest, what the manifest says."""

import shlex
from pathlib import Path
from types import SimpleNamespace

import pytest

from interp.analysis.results import Selection
from interp.concepts.files import ConceptSequence, Span
from interp.core.errors import InterpError
from interp.export.contents import EXAMPLES_PER_TYPE, choose_sequences, contents_manifest, export_command
from interp.views import VIEWS


def run_of(*types: str, selection: Selection = Selection(), partial: bool = False):
    """A stand-in for `Results` with one sequence per entry of `types`, ids `{type}-{n}`."""
    counts: dict[str, int] = {}
    sequences = []
    for concept in types:
        counts[concept] = counts.get(concept, 0) + 1
        sequences.append(ConceptSequence(f"{concept.lower()}-{counts[concept]}", concept, "The lessee shall pay.",
                                         (Span(4, 10, "lessee"),), "tests"))
    return SimpleNamespace(sequences=sequences, selection=selection, partial=partial,
                           store=SimpleNamespace(folder=Path("/runs/study one")))


STUDY = run_of(*(["Role"] * 5 + ["Condition"] * 3 + ["Theft"]))


def test_by_default_the_first_few_of_each_type():
    subset = choose_sequences(STUDY)
    assert EXAMPLES_PER_TYPE == 2
    assert subset.ids == ("role-1", "role-2", "condition-1", "condition-2", "theft-1") and subset.rule == "examples"
    assert choose_sequences(STUDY, per_type=4).ids == ("role-1", "role-2", "role-3", "role-4", "condition-1",
                                                        "condition-2", "condition-3", "theft-1")
    one_per_type = run_of("Role", "Condition", "Theft")  # the demo and the reference study: every figure
    assert choose_sequences(one_per_type).ids == ("role-1", "condition-1", "theft-1")


def test_named_or_all_sequences_in_the_runs_order():
    assert choose_sequences(STUDY, ["theft-1", "role-3", "role-3"]).ids == ("role-3", "theft-1")
    assert choose_sequences(STUDY, all_sequences=True).ids == tuple(s.id for s in STUDY.sequences)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"sequences": ["role-1", "role-9", "nope"]}, r"--sequences: 'role-9', 'nope' are not in the run /runs/study one; "
                                                  r"its sequences: role-1, role-2, role-3, role-4, role-5, … \(9 in all\)"),
    ({"sequences": []}, "name at least one sequence"),
    ({"sequences": ["role-1"], "all_sequences": True}, "give one of them, not both"),
    ({"per_type": 0}, "--examples 0: sequences per concept type must be 1 or more"),
])
def test_bad_choices_are_one_line_errors(kwargs, message):
    with pytest.raises(InterpError, match=message):
        choose_sequences(STUDY, **kwargs)


def test_the_command_that_draws_the_rest_repeats_the_settings():
    default = export_command(STUDY, sequences="--all-sequences")
    assert shlex.split(default) == ["python", "-m", "interp", "export", "/runs/study one", "--out", "FILE.zip",
                                    "--all-sequences"]
    other = run_of("Role", selection=Selection(exclusions=("the", "a"), reference="cpt", n_controls=50, seed=7,
                                               measure="weighted", first_position="first"), partial=True)
    words = shlex.split(export_command(other, sequences="--sequences ID,ID", style="paper", width="page",
                                       image_formats=("pdf",)))
    assert words[7:] == ["--sequences", "ID,ID", "--reference", "cpt", "--exclude", "the,a", "--first-position",
                         "first", "--measure", "weighted", "--controls", "50", "--seed", "7", "--images", "pdf",
                         "--style", "paper", "--width", "page", "--partial"]
    assert "--images none" in export_command(STUDY, sequences="--all-sequences", image_formats=())


def test_the_manifest_lists_what_was_left_out_and_how_to_get_it():
    contents = contents_manifest(STUDY, choose_sequences(STUDY))
    assert contents["per_sequence_views"] == [name for name, view in VIEWS.items() if view.per_sequence]
    assert {"heads", "tokens", "text"} <= set(contents["per_sequence_views"])
    assert not {"overview", "types", "plan"} & set(contents["per_sequence_views"])
    assert contents["sequences_drawn"] == ["role-1", "role-2", "condition-1", "condition-2", "theft-1"]
    left_out = contents["left_out"]
    assert left_out["sequences"] == ["role-3", "role-4", "role-5", "condition-3"] and left_out["count"] == 4
    assert left_out["to_include_all"].endswith("--all-sequences")
    assert "--sequences ID,ID" in left_out["to_include_some"]
    assert contents_manifest(STUDY, choose_sequences(STUDY, all_sequences=True))["left_out"] is None
