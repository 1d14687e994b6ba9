"""Concept-type studies: statistics across all the sequences of each concept type.

For each concept type and compared stage: the mean shift with a hierarchical bootstrap interval,
the same for the sequences' control spans (the band a concept must leave to mean something),
the concept-versus-control contrast paired within sequences (its mean, interval and p-value from
one set of bootstrap replicates), and how consistently each head moves. All from a `Results`, so
from stored column sums, in either measure (docs/design.md §5.9).
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd

from interp.analysis.across_sequences import (
    HeadConsistency,
    benjamini_hochberg,
    head_sign_consistency,
    hierarchical_bootstrap,
    paired_contrast,
)
from interp.analysis.bootstrap import mean_with_interval
from interp.analysis.results import Results
from interp.core.errors import InterpError

CONCEPT_TYPE_COLUMNS = (
    "concept", "stage", "reference", "measure", "sequences", "mean_shift", "low", "high",
    "control_mean_shift", "control_low", "control_high", "controlled_sequences", "control_note",
    "contrast_mean", "contrast_low", "contrast_high", "contrast_p", "contrast_q", "heads_up", "heads_down",
)
# Columns renamed since a table was first written, old name → new: what a reader of old files maps.
RENAMED_COLUMNS = {"contrast": "contrast_mean"}


def concept_types(results: Results) -> list[str]:
    """The concept types of a run, in the order they first appear."""
    return list(dict.fromkeys(sequence.concept for sequence in results.sequences))


def concept_shifts(results: Results, concept: str, stage: str) -> np.ndarray:
    """Head shifts of every sequence of one type, `[sequences, layers, heads]`."""
    ids = [sequence.id for sequence in results.sequences if sequence.concept == concept]
    if not ids:
        raise InterpError(f"concept type {concept!r} is not in this run; types: {', '.join(concept_types(results))}")
    return np.stack([results.shift(sequence=sequence_id, stage=stage) for sequence_id in ids])


def head_consistency(results: Results, concept: str, stage: str) -> HeadConsistency:
    """Per head, the fraction of the type's sequences in which its share rose, with BH control."""
    return head_sign_consistency(concept_shifts(results, concept, stage))


def concept_type_table(results: Results) -> pd.DataFrame:
    """One row per concept type × compared stage (see the module docstring); `contrast_q` are BH
    q-values over all rows, `heads_up`/`heads_down` count heads whose direction is FDR-significant
    (`HeadConsistency.rising`, `.falling`)."""
    rows = []
    seed = results.selection.seed
    for concept in concept_types(results):
        ids = [sequence.id for sequence in results.sequences if sequence.concept == concept]
        for stage in results.compared_stages:
            shifts = concept_shifts(results, concept, stage)
            interval = hierarchical_bootstrap(shifts, seed=seed)
            observed, controls = _control_means(results, ids, stage)
            control = mean_with_interval(controls, seed=seed) if controls else None
            contrast = paired_contrast(observed, controls, seed=seed) if controls else None
            consistency = head_sign_consistency(shifts)
            rows.append({
                "concept": concept, "stage": stage, "reference": results.reference,
                "measure": results.selection.measure, "sequences": len(ids),
                "mean_shift": interval.estimate, "low": interval.low, "high": interval.high,
                "control_mean_shift": control.estimate if control else np.nan,
                "control_low": control.low if control else np.nan, "control_high": control.high if control else np.nan,
                "controlled_sequences": len(controls), "control_note": _control_note(results, ids, stage),
                "contrast_mean": contrast.interval.estimate if contrast else np.nan,
                "contrast_low": contrast.interval.low if contrast else np.nan,
                "contrast_high": contrast.interval.high if contrast else np.nan,
                "contrast_p": contrast.p_value if contrast else np.nan,
                "heads_up": int(consistency.rising.sum()), "heads_down": int(consistency.falling.sum()),
            })
    table = pd.DataFrame(rows, columns=list(CONCEPT_TYPE_COLUMNS))
    table["contrast_q"] = benjamini_hochberg(table["contrast_p"].to_numpy())
    return table


def _control_note(results: Results, ids: list[str], stage: str) -> str:
    """Why sequences of a type have no control spans (`Results.control_placement`): each reason once,
    with how many of the type's sequences it holds for; '' when every sequence has controls."""
    reasons = Counter(reason for reason in (results.control_placement(sequence=i, stage=stage).reason for i in ids)
                      if reason)
    return "; ".join(f"{reason} ({count} of {len(ids)} sequences)" for reason, count in reasons.items())


def _control_means(results: Results, ids: list[str], stage: str) -> tuple[list[float], list[float]]:
    """Per sequence with control spans: its concept's mean shift and its controls' mean mean shift."""
    observed, controls = [], []
    if results.selection.n_controls <= 0:
        return observed, controls
    for sequence_id in ids:
        try:
            comparison = results.controls(sequence=sequence_id, stage=stage)
        except InterpError:
            continue
        observed.append(comparison.observed)
        controls.append(float(comparison.controls.mean()))
    return observed, controls


def control_means(results: Results, ids: list[str], stage: str) -> tuple[list[float], list[float]]:
    """Per sequence among `ids` with control spans: its concept's mean shift and its controls' mean
    mean shift, the pairs the concept − control contrast compares (§5.8; the sample-size planner
    resamples them)."""
    return _control_means(results, ids, stage)
