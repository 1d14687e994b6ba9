"""Choices that several views share: the sequence, the stage, the stage a shift is taken against."""

from __future__ import annotations

from interp.analysis import trajectory
from interp.analysis.results import Results
from interp.views.figures import MANY_STAGES
from interp.views.framework import Choice


def describe_sequence(results: Results, sequence_id: str) -> str:
    return f"{sequence_id} ({results.sequence(sequence_id).concept})"


SEQUENCE = Choice("sequence", "Sequence", lambda r, c: [s.id for s in r.sequences], describe=describe_sequence)
# A long trajectory's bundle draws per-stage figures for evenly spread stages; the Trajectory and
# Stages × layers views cover every stage.
ANY_STAGE = Choice("stage", "Stage", lambda r, c: r.stages, default=lambda r, c: r.stages[-1],
                   bundle=lambda r, c: trajectory.representative_stages(r.stages, MANY_STAGES))
COMPARED_STAGE = Choice("stage", "Stage", lambda r, c: r.compared_stages, default=lambda r, c: r.compared_stages[-1],
                        bundle=lambda r, c: trajectory.representative_stages(r.compared_stages, MANY_STAGES))
AGAINST = Choice(
    "against", "Shift against", lambda r, c: r.stages, default=lambda r, c: r.reference,
    bundle=lambda r, c: [r.reference],
    slug=lambda value: f"vs-{value}",
)
