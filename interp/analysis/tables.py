"""Tables of a run: the statistics per sequence × stage, per-head shares, mean shares, layer profiles.

Every number comes from a `Results`, so an exclusion list or a reference stage can be changed
after extraction without running a model again. The report's columns are derived from
`ShiftStatistics`: a new statistic added there appears here, in the CLI and in the bundle.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from interp.analysis.across_sequences import benjamini_hochberg
from interp.analysis.results import Results
from interp.analysis.shift_statistics import STATISTIC_NAMES, compute_layer_profile

IDENTITY_COLUMNS = ("sequence_id", "concept", "stage", "reference", "measure")
CONTROL_COLUMNS = ("control_percentile", "control_p", "control_q", "control_note")
REPORT_COLUMNS = (*IDENTITY_COLUMNS, "mean_share", *STATISTIC_NAMES, *CONTROL_COLUMNS)
SHARE_COLUMNS = ("sequence_id", "concept", "stage", "measure", "layer", "head", "share", "first_token_share")
MEAN_SHARE_COLUMNS = ("sequence_id", "concept", "stage", "measure", "mean_share")
LAYER_PROFILE_COLUMNS = ("sequence_id", "stage", "measure", "layer", "mean_shift", "median_shift")


def report_table(results: Results) -> pd.DataFrame:
    """One row per sequence and compared stage: its shift statistics against the reference,
    and where the concept's mean shift falls among control spans: percentile, two-sided p, and
    the BH q-value over the stage's sequences (`control_note` says why they are empty when they are)."""
    rows = []
    for sequence in results.sequences:
        for stage in results.compared_stages:
            placement = results.control_placement(sequence=sequence.id, stage=stage)
            rows.append({
                "sequence_id": sequence.id, "concept": sequence.concept, "stage": stage,
                "reference": results.reference, "measure": results.selection.measure,
                "mean_share": float(results.share(stage=stage, sequence=sequence.id).mean()),
                **results.statistics(sequence=sequence.id, stage=stage).as_dict(),
                "control_percentile": placement.percentile, "control_p": placement.p_value,
                "control_note": placement.reason,
            })
    table = pd.DataFrame(rows, columns=list(REPORT_COLUMNS))
    # q-values control the false discovery rate over the sequences of each stage (Benjamini–Hochberg).
    for _, rows_of_stage in table.groupby("stage", sort=False):
        table.loc[rows_of_stage.index, "control_q"] = benjamini_hochberg(rows_of_stage["control_p"].to_numpy())
    return table


OVERVIEW_COLUMNS = ("sequence_id", "concept", "stage", "mean", "low", "high", "control_percentile")
# Past this many rows the overview leaves intervals out: a BCa bootstrap per row would take minutes
# (the Concept types view gives intervals across sequences instead).
MAX_OVERVIEW_INTERVALS = 100


def overview_table(results: Results) -> pd.DataFrame:
    """Per sequence × compared stage: the mean shift, its BCa bootstrap interval over heads
    (`Results.interval`, for up to `MAX_OVERVIEW_INTERVALS` rows) and its control percentile.

    No p-value stands beside the interval: the control percentile answers another question
    (did the concept move more than random spans of its text, §5.7), not "is the mean 0"."""
    pairs = [(sequence, stage) for sequence in results.sequences for stage in results.compared_stages]
    with_intervals = len(pairs) <= MAX_OVERVIEW_INTERVALS
    rows = []
    for sequence, stage in pairs:
        low, high = results.interval(sequence=sequence.id, stage=stage) if with_intervals else (np.nan, np.nan)
        rows.append({"sequence_id": sequence.id, "concept": sequence.concept, "stage": stage,
                     "mean": results.statistics(sequence=sequence.id, stage=stage).mean, "low": low, "high": high,
                     "control_percentile": results.control_placement(sequence=sequence.id, stage=stage).percentile})
    return pd.DataFrame(rows, columns=list(OVERVIEW_COLUMNS))


def shares_table(results: Results) -> pd.DataFrame:
    """The long table `sequence_id, concept, stage, measure, layer, head, share, first_token_share`,
    one row per head; `share` is in the selection's `measure`, `first_token_share` is the share of
    all raw attention on the first token (a sink diagnostic, nothing excluded, whatever the measure)."""
    layers, heads = results.shape
    pairs = [(sequence, stage) for sequence in results.sequences for stage in results.stages]
    per_entry = layers * heads
    table = pd.DataFrame({
        "sequence_id": np.repeat([sequence.id for sequence, _ in pairs], per_entry),
        "concept": np.repeat([sequence.concept for sequence, _ in pairs], per_entry),
        "stage": np.repeat([stage for _, stage in pairs], per_entry),
        "measure": results.selection.measure,
        "layer": np.tile(np.repeat(np.arange(layers), heads), len(pairs)),
        "head": np.tile(np.arange(heads), layers * len(pairs)),
        "share": np.concatenate([results.share(stage=stage, sequence=sequence.id).ravel() for sequence, stage in pairs] or [[]]),
        "first_token_share": np.concatenate(
            [results.first_token_share(stage=stage, sequence=sequence.id).ravel() for sequence, stage in pairs] or [[]]),
    })
    return table[list(SHARE_COLUMNS)]


def mean_share_table(results: Results) -> pd.DataFrame:
    """`sequence_id, concept, stage, measure, mean_share`: each stage's share averaged over heads."""
    rows = [
        {"sequence_id": sequence.id, "concept": sequence.concept, "stage": stage, "measure": results.selection.measure,
         "mean_share": float(results.share(stage=stage, sequence=sequence.id).mean())}
        for sequence in results.sequences for stage in results.stages
    ]
    return pd.DataFrame(rows, columns=list(MEAN_SHARE_COLUMNS))


def layer_profile_table(results: Results) -> pd.DataFrame:
    """`sequence_id, stage, measure, layer, mean_shift, median_shift` against the reference."""
    rows = []
    for sequence in results.sequences:
        for stage in results.compared_stages:
            profile = compute_layer_profile(results.shift(sequence=sequence.id, stage=stage))
            rows.extend(
                {"sequence_id": sequence.id, "stage": stage, "measure": results.selection.measure, "layer": layer,
                 "mean_shift": float(mean), "median_shift": float(median)}
                for layer, (mean, median) in enumerate(zip(profile.mean, profile.median))
            )
    return pd.DataFrame(rows, columns=list(LAYER_PROFILE_COLUMNS))


def provenance_table(results: Results) -> pd.DataFrame:
    """Each stage as it was run: model, revision, fingerprint of the weights, tokenizer, shape,
    dtype, device, and whether it came from an earlier run's cache."""
    return pd.DataFrame([record.model_dump() for record in results.manifest.stages])


# What each column of the tables means to a reader: a label with its unit, for the app's headers.
COLUMN_LABELS = {
    "sequence_id": "Sequence", "concept": "Concept", "stage": "Stage", "reference": "Reference",
    "mean_share": "Mean share", "mean": "Mean shift Δ", "median": "Median Δ", "frac_positive": "Heads with Δ > 0",
    "skewness": "Skewness", "kurtosis": "Kurtosis", "entropy": "Entropy (nats)",
    "control_percentile": "Control percentile", "control_p": "Control p", "control_q": "Control q (BH)",
    "control_note": "Why no controls", "low": "Interval low", "high": "Interval high",
    "layer": "Layer", "head": "Head", "share": "Share", "mean_shift": "Mean shift Δ", "median_shift": "Median shift Δ",
    "measure": "Measure", "first_token_share": "First-token share (raw)", "sequences": "Sequences",
    "control_mean_shift": "Controls' mean shift Δ", "control_low": "Controls' low", "control_high": "Controls' high",
    "controlled_sequences": "Sequences with controls", "contrast_mean": "Concept − controls Δ",
    "contrast_low": "Contrast low", "contrast_high": "Contrast high", "contrast_p": "Contrast p (bootstrap)",
    "contrast_q": "Contrast q (BH)", "heads_up": "Heads up (FDR)", "heads_down": "Heads down (FDR)",
    "position": "Position", "share_low": "Share, 10th percentile", "share_high": "Share, 90th percentile",
    "shift_low": "Shift, 10th percentile", "shift_high": "Shift, 90th percentile",
}
# How the app prints a column where 4 decimals would mislead: percentiles to one decimal, p- and
# q-values to 3 significant digits (small ones in scientific notation).
COLUMN_FORMATS = {"control_percentile": "{:.1f}", "control_p": "{:.3g}", "control_q": "{:.3g}",
                  "contrast_p": "{:.3g}", "contrast_q": "{:.3g}", "p": "{:.3g}", "q": "{:.3g}",
                  "sign_test_p": "{:.3g}", "sign_test_q": "{:.3g}", "fraction_up": "{:.2f}",
                  "fraction_down": "{:.2f}", "position": "{:g}"}
# Columns whose sign is a direction (attention moved to the concept, or away): coloured by sign.
SIGNED_COLUMNS = ("mean", "median", "mean_shift", "median_shift", "contrast_mean", "low", "high")
