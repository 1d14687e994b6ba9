"""Trajectories: how a concept type's share and shift move along the many stages of a training run.

With tens of checkpoints (the revisions Pythia and OLMo publish) a stage is a point in training.
Its position is the training step read from its label where every stage has one and the steps
rise along the lineage (`step1000`, `checkpoint-2000`, `global_step300`, `step20000-tokens84B`),
else its place in the lineage. Per concept type and stage: the mean over the type's sequences of
each sequence's mean share over heads, and of its mean shift against the reference, with the
10th–90th percentiles of the sequences as a band (their spread, not a confidence interval); and
the type's mean shift per layer as a stage × layer map. All from a `Results`, in its measure.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from interp.analysis.concept_types import concept_shifts, concept_types
from interp.analysis.results import Results
from interp.analysis.shift_statistics import compute_layer_profile

STEP = re.compile(r"(?:step|checkpoint|ckpt|iter(?:ation)?)[-_]?(\d+)", re.IGNORECASE)
TRAJECTORY_COLUMNS = ("concept", "stage", "position", "measure", "sequences", "mean_share", "share_low",
                      "share_high", "mean_shift", "shift_low", "shift_high")
BAND = (10, 90)


def training_step(label: str) -> int | None:
    """The training step a stage label names (`step1000` → 1000, `checkpoint-2000` → 2000, `300`
    → 300), or None when it names none (`base`, `cpt`)."""
    match = STEP.search(label)
    if match:
        return int(match.group(1))
    return int(label) if label.isdigit() else None


@dataclass(frozen=True)
class StageAxis:
    """Where each stage sits on a trajectory's horizontal axis, and what that axis is."""

    positions: tuple[int, ...]
    title: str
    by_step: bool


def stage_axis(labels: Sequence[str]) -> StageAxis:
    """Training steps when every label names one and they rise along the lineage, else 0, 1, 2, ..."""
    steps = [training_step(label) for label in labels]
    if steps and None not in steps and all(a < b for a, b in zip(steps, steps[1:])):
        return StageAxis(tuple(steps), "training step", True)
    return StageAxis(tuple(range(len(labels))), "stage (lineage order)", False)


def representative_stages(stages: Sequence[str], limit: int) -> list[str]:
    """At most `limit` stages spread evenly over the lineage, the first and last among them:
    what a view with a figure per stage shows of a long trajectory."""
    if len(stages) <= limit:
        return list(stages)
    picks = np.unique(np.round(np.linspace(0, len(stages) - 1, max(limit, 2))).astype(int))
    return [stages[index] for index in picks]


def trajectory_table(results: Results, concept: str | None = None) -> pd.DataFrame:
    """One row per concept type (or only `concept`) and stage, in lineage order: the columns of
    `TRAJECTORY_COLUMNS` (see the module docstring); `position` is the stage's place on `stage_axis`."""
    axis = stage_axis(results.stages)
    rows = []
    for kind in [concept] if concept is not None else concept_types(results):
        ids = [sequence.id for sequence in results.sequences if sequence.concept == kind]
        for stage, position in zip(results.stages, axis.positions):
            shares = np.array([results.share(stage=stage, sequence=sequence_id).mean() for sequence_id in ids])
            shifts = concept_shifts(results, kind, stage).mean(axis=(1, 2))
            rows.append({
                "concept": kind, "stage": stage, "position": position, "measure": results.selection.measure,
                "sequences": len(ids),
                "mean_share": float(shares.mean()), "share_low": float(np.percentile(shares, BAND[0])),
                "share_high": float(np.percentile(shares, BAND[1])), "mean_shift": float(shifts.mean()),
                "shift_low": float(np.percentile(shifts, BAND[0])), "shift_high": float(np.percentile(shifts, BAND[1])),
            })
    return pd.DataFrame(rows, columns=list(TRAJECTORY_COLUMNS))


def stage_layer_shifts(results: Results, concept: str) -> np.ndarray:
    """`[stages, layers]`: per stage, the mean over the type's sequences of each layer's mean
    shift over heads against the reference (its row is zero)."""
    return np.stack([
        np.mean([compute_layer_profile(shift).mean for shift in concept_shifts(results, concept, stage)], axis=0)
        for stage in results.stages
    ])
