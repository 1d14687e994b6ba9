"""Which sequences a bundle draws per-sequence figures for, and what its manifest says it left out.

A study of a thousand sequences has tens of thousands of per-sequence figures; a paper discusses a
few. By default a bundle holds every study-level view and table, and the per-sequence views (those
with a sequence among their choices, `View.per_sequence`) for the first `EXAMPLES_PER_TYPE`
sequences of each concept type in the run's order; `--sequences` names others, `--all-sequences`
draws them all (docs/design.md §7.7). The manifest lists the sequences left out and the command
that draws them.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from interp.core.errors import InterpError

if TYPE_CHECKING:  # the command line's parser reads this module's defaults, without numpy
    from interp.analysis.results import Results

# Per-sequence figures of this many sequences per concept type by default: a run of one sequence per
# type (the demo, the reference study) keeps every figure, a study of 143 per type about 1%.
EXAMPLES_PER_TYPE = 2
# Sequences named in one error message; the rest are counted.
LISTED = 5
ALL_IMAGE_FORMATS = ("png", "svg", "pdf")


@dataclass(frozen=True)
class SequenceSubset:
    """The sequences whose per-sequence views a bundle draws (`ids`, in the run's order), and why:
    `examples` (the first `per_type` of each concept type), `chosen` (named), or `all`."""

    ids: tuple[str, ...]
    rule: str
    per_type: int = EXAMPLES_PER_TYPE

    def describe(self) -> str:
        if self.rule == "examples":
            return f"the first {self.per_type} sequence(s) of each concept type, in the run's order"
        return "every sequence" if self.rule == "all" else "the sequences chosen (--sequences)"


def choose_sequences(results: Results, sequences: Sequence[str] | None = None, all_sequences: bool = False,
                     per_type: int = EXAMPLES_PER_TYPE) -> SequenceSubset:
    """The subset a bundle draws per-sequence figures for: `sequences` when given (each must be in
    the run), every sequence with `all_sequences`, else the first `per_type` of each concept type."""
    run_ids = [sequence.id for sequence in results.sequences]
    if sequences is not None and all_sequences:
        raise InterpError("--sequences and --all-sequences: give one of them, not both")
    if all_sequences:
        return SequenceSubset(tuple(run_ids), "all")
    if sequences is not None:
        return SequenceSubset(_check_chosen(results, sequences, run_ids), "chosen")
    if per_type < 1:
        raise InterpError(f"--examples {per_type}: sequences per concept type must be 1 or more")
    counts: dict[str, int] = {}
    picked = []
    for sequence in results.sequences:
        counts[sequence.concept] = counts.get(sequence.concept, 0) + 1
        if counts[sequence.concept] <= per_type:
            picked.append(sequence.id)
    return SequenceSubset(tuple(picked), "examples", per_type)


def _check_chosen(results: Results, sequences: Sequence[str], run_ids: list[str]) -> tuple[str, ...]:
    known = set(run_ids)
    unknown = [sequence for sequence in dict.fromkeys(sequences) if sequence not in known]
    if unknown:
        named = ", ".join(repr(sequence) for sequence in unknown[:LISTED])
        listed = ", ".join(run_ids[:LISTED]) + (f", … ({len(run_ids):,} in all)" if len(run_ids) > LISTED else "")
        raise InterpError(f"--sequences: {named} {'is' if len(unknown) == 1 else 'are'} not in the run "
                          f"{results.store.folder}; its sequences: {listed}")
    if not sequences:
        raise InterpError("--sequences: name at least one sequence (or give --all-sequences)")
    wanted = set(sequences)
    return tuple(sequence_id for sequence_id in run_ids if sequence_id in wanted)


def export_command(results: Results, *, sequences: str, style: str = "screen", width: str | None = None,
                   image_formats: Sequence[str] = ALL_IMAGE_FORMATS) -> str:
    """The `python -m interp export` command that makes this bundle again with `sequences` (an
    option such as `--all-sequences`): the same run, analysis settings, style and images."""
    selection = results.selection
    words = ["python", "-m", "interp", "export", str(results.store.folder), "--out", "FILE.zip", *shlex.split(sequences)]
    exclusions = selection.exclusions if isinstance(selection.exclusions, str) else ",".join(selection.exclusions)
    options: list[tuple[str, Any, Any]] = [
        ("--reference", selection.reference, None), ("--exclude", exclusions, "paper"),
        ("--first-position", selection.first_position, "bos"), ("--measure", selection.measure, "attention"),
        ("--controls", selection.n_controls, 200), ("--seed", selection.seed, 0),
        ("--images", ",".join(image_formats) or "none", ",".join(ALL_IMAGE_FORMATS)),
        ("--style", style, "screen"), ("--width", width if style != "screen" else None, None),
    ]
    words += [word for flag, value, default in options if value != default for word in (flag, str(value))]
    if results.partial:
        words.append("--partial")
    return shlex.join(words)


def contents_manifest(results: Results, subset: SequenceSubset, *, style: str = "screen", width: str | None = None,
                      image_formats: Sequence[str] = ALL_IMAGE_FORMATS) -> dict[str, Any]:
    """The manifest's `contents`: which views are per-sequence, the sequences they were drawn for,
    and those left out with the command that draws them (None when nothing was left out)."""
    from interp.views import VIEWS

    kept = set(subset.ids)
    left_out = [sequence.id for sequence in results.sequences if sequence.id not in kept]
    contents: dict[str, Any] = {
        "per_sequence_views": [name for name, view in VIEWS.items() if view.per_sequence],
        "sequences_drawn": list(subset.ids), "chosen_by": subset.describe(), "left_out": None,
    }
    if left_out:
        contents["left_out"] = {
            "sequences": left_out, "count": len(left_out),
            "what": "the per-sequence views' figures and tables of these sequences; every study-level view and "
                    "table covers them (tables/overview/shares holds each head's share and first-token share)",
            "to_include_all": export_command(results, sequences="--all-sequences", style=style, width=width,
                                             image_formats=image_formats),
            "to_include_some": export_command(results, sequences="--sequences ID,ID", style=style, width=width,
                                              image_formats=image_formats),
        }
    return contents
