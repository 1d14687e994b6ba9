"""Tables of a run: the statistics per sequence × stage, per-head shares, mean shares, layer profiles.

Every number comes from a `Results`, so an exclusion list or a reference stage can be changed
after extraction without running a model again. The report's columns are derived from
`ShiftStatistics`: a new statistic added there appears here, in the CLI and in the bundle.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from interp.across import benjamini_hochberg
from interp.results import Results
from interp.statistics import STATISTIC_NAMES, compute_layer_profile

IDENTITY_COLUMNS = ("sequence_id", "concept", "stage", "reference")
CONTROL_COLUMNS = ("control_percentile", "control_p", "control_q", "control_note")
REPORT_COLUMNS = (*IDENTITY_COLUMNS, "mean_share", *STATISTIC_NAMES, *CONTROL_COLUMNS)
SHARE_COLUMNS = ("sequence_id", "concept", "stage", "layer", "head", "share", "first_token_share")
MEAN_SHARE_COLUMNS = ("sequence_id", "concept", "stage", "mean_share")
LAYER_PROFILE_COLUMNS = ("sequence_id", "stage", "layer", "mean_shift", "median_shift")


def report_table(results: Results) -> pd.DataFrame:
    """One row per sequence and compared stage: its shift statistics against the reference,
    and where the concept's mean shift falls among control spans: percentile, two-sided p, and
    the BH q-value over the stage's sequences (`control_note` says why they are empty when they are)."""
    rows = []
    for sequence in results.sequences:
        for stage in results.compared_stages:
            placement = results.control_placement(sequence.id, stage)
            rows.append({
                "sequence_id": sequence.id, "concept": sequence.concept, "stage": stage,
                "reference": results.reference, "mean_share": float(results.share(stage, sequence.id).mean()),
                **results.statistics(sequence.id, stage).as_dict(),
                "control_percentile": placement.percentile, "control_p": placement.p_value,
                "control_note": placement.reason,
            })
    table = pd.DataFrame(rows, columns=list(REPORT_COLUMNS))
    # q-values control the false discovery rate over the sequences of each stage (Benjamini–Hochberg).
    for stage, rows_of_stage in table.groupby("stage", sort=False):
        table.loc[rows_of_stage.index, "control_q"] = benjamini_hochberg(rows_of_stage["control_p"].to_numpy())
    return table


def shares_table(results: Results) -> pd.DataFrame:
    """The long table `sequence_id, concept, stage, layer, head, share, first_token_share`, one
    row per head; `first_token_share` is the share of all attention on the first token (a sink
    diagnostic, nothing excluded)."""
    layers, heads = results.shape
    layer_index, head_index = (grid.ravel() for grid in np.indices((layers, heads)))
    frames = [
        pd.DataFrame({"sequence_id": sequence.id, "concept": sequence.concept, "stage": stage,
                      "layer": layer_index, "head": head_index, "share": results.share(stage, sequence.id).ravel(),
                      "first_token_share": results.first_token_share(stage, sequence.id).ravel()})
        for sequence in results.sequences for stage in results.stages
    ]
    return pd.concat(frames, ignore_index=True)[list(SHARE_COLUMNS)]


def mean_share_table(results: Results) -> pd.DataFrame:
    """`sequence_id, concept, stage, mean_share`: each stage's share averaged over heads."""
    rows = [
        {"sequence_id": sequence.id, "concept": sequence.concept, "stage": stage,
         "mean_share": float(results.share(stage, sequence.id).mean())}
        for sequence in results.sequences for stage in results.stages
    ]
    return pd.DataFrame(rows, columns=list(MEAN_SHARE_COLUMNS))


def layer_profile_table(results: Results) -> pd.DataFrame:
    """`sequence_id, stage, layer, mean_shift, median_shift` against the reference."""
    rows = []
    for sequence in results.sequences:
        for stage in results.compared_stages:
            profile = compute_layer_profile(results.shift(sequence.id, stage))
            rows.extend(
                {"sequence_id": sequence.id, "stage": stage, "layer": layer,
                 "mean_shift": float(mean), "median_shift": float(median)}
                for layer, (mean, median) in enumerate(zip(profile.mean, profile.median))
            )
    return pd.DataFrame(rows, columns=list(LAYER_PROFILE_COLUMNS))


def provenance_table(results: Results) -> pd.DataFrame:
    """Each stage as it was run: model, revision, fingerprint of the weights, tokenizer, shape,
    dtype, device, and whether it came from an earlier run's cache."""
    return pd.DataFrame([record.model_dump() for record in results.manifest.stages])
