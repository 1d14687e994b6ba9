"""Tables computed from a results folder: per-head shares and the statistics per sequence × stage.

Everything here reads column sums from the store, so an exclusion list or a reference stage can
be changed after extraction without running a model again.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from interp.alignment import AlignedSequence, compute_excluded_mask, concept_runs
from interp.errors import InterpError
from interp.statistics import compare_with_controls, compute_share, compute_shift, compute_shift_statistics
from interp.store import ResultsStore, RunManifest

REPORT_COLUMNS = (
    "sequence_id", "concept", "stage", "reference", "mean_share", "mean", "median", "frac_positive",
    "skewness", "kurtosis", "entropy", "control_percentile", "control_p",
)
SHARE_COLUMNS = ("sequence_id", "concept", "stage", "layer", "head", "share")


@dataclass(frozen=True)
class ReportRow:
    """The shift of one stage against the reference for one sequence (DESIGN.md §3)."""

    sequence_id: str
    concept: str
    stage: str
    reference: str
    mean_share: float
    mean: float
    median: float
    frac_positive: float
    skewness: float
    kurtosis: float
    entropy: float
    control_percentile: float
    control_p: float

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True)
class Selection:
    """What a table is computed for: the exclusion list, the reference stage, the controls."""

    exclusions: str | tuple[str, ...] = "paper"
    reference: str | None = None
    n_controls: int = 200
    seed: int = 0


def resolve_reference(manifest: RunManifest, reference: str | None) -> str:
    reference = reference or manifest.reference
    if reference not in manifest.stage_labels:
        raise InterpError(f"reference stage {reference!r} is not in this run; stages: {', '.join(manifest.stage_labels)}")
    return reference


def compute_stage_share(store: ResultsStore, stage: str, sequence_id: str, exclusions="paper") -> np.ndarray:
    """Per-head share `[layers, heads]` of one stage on one sequence, from stored column sums."""
    aligned = store.read_aligned(stage, sequence_id)
    excluded = compute_excluded_mask(aligned, exclusions)
    return compute_share(store.read_colsums(stage, sequence_id), aligned.concept_mask, excluded)


def tokens_match(first: AlignedSequence, second: AlignedSequence) -> bool:
    """Token-by-token views and controls need the same tokenization in both stages."""
    return first.token_ids == second.token_ids


def sequences_tokenized_differently(store: ResultsStore, manifest: RunManifest) -> list[str]:
    """Ids of sequences whose tokens differ between stages: shares compare, token maps do not."""
    differing = []
    for sequence_id in manifest.sequence_ids:
        first, *others = (store.read_aligned(stage, sequence_id) for stage in manifest.stage_labels)
        if any(not tokens_match(first, other) for other in others):
            differing.append(sequence_id)
    return differing


def compute_report(store: ResultsStore, selection: Selection = Selection()) -> list[ReportRow]:
    """One row per sequence and non-reference stage."""
    manifest = store.open()
    reference = resolve_reference(manifest, selection.reference)
    rows = []
    for sequence in manifest.concept_sequences():
        reference_share = compute_stage_share(store, reference, sequence.id, selection.exclusions)
        for stage in manifest.stage_labels:
            if stage == reference:
                continue
            share = compute_stage_share(store, stage, sequence.id, selection.exclusions)
            statistics = compute_shift_statistics(compute_shift(share, reference_share))
            percentile, p_value = _control_placement(store, reference, stage, sequence.id, selection)
            rows.append(ReportRow(
                sequence_id=sequence.id, concept=sequence.concept, stage=stage, reference=reference,
                mean_share=float(share.mean()), **statistics.as_dict(),
                control_percentile=percentile, control_p=p_value,
            ))
    return rows


def _control_placement(store: ResultsStore, reference: str, stage: str, sequence_id: str, selection: Selection) -> tuple[float, float]:
    """Percentile and p-value of the mean shift among control spans.

    NaN where the stages tokenize differently (controls need the same keys in both) or where the
    sequence has no room for control spans outside the concept (too short).
    """
    if selection.n_controls <= 0:
        return math.nan, math.nan
    aligned = store.read_aligned(reference, sequence_id)
    if not tokens_match(aligned, store.read_aligned(stage, sequence_id)):
        return math.nan, math.nan
    excluded = compute_excluded_mask(aligned, selection.exclusions)
    try:
        comparison = compare_with_controls(
            store.read_colsums(reference, sequence_id), store.read_colsums(stage, sequence_id),
            aligned.concept_mask, excluded, concept_runs(aligned, excluded),
            n_controls=selection.n_controls, seed=selection.seed,
        )
    except InterpError:
        return math.nan, math.nan
    return comparison.percentile, comparison.p_value


def report_frame(rows: Sequence[ReportRow]) -> pd.DataFrame:
    return pd.DataFrame([row.as_dict() for row in rows], columns=list(REPORT_COLUMNS))


def compute_shares_table(store: ResultsStore, exclusions="paper") -> pd.DataFrame:
    """The long table `sequence_id, concept, stage, layer, head, share`, one row per head."""
    manifest = store.open()
    frames = []
    for sequence in manifest.concept_sequences():
        for stage in manifest.stage_labels:
            share = compute_stage_share(store, stage, sequence.id, exclusions)
            layers, heads = np.indices(share.shape)
            frames.append(pd.DataFrame({
                "sequence_id": sequence.id, "concept": sequence.concept, "stage": stage,
                "layer": layers.ravel(), "head": heads.ravel(), "share": share.ravel(),
            }))
    return pd.concat(frames, ignore_index=True)[list(SHARE_COLUMNS)]
