"""The app's views as plain functions: a results folder and a selection in, figures and tables out.

The app draws exactly these figures and the exporter writes exactly these, so what a paper
shows is what the browser showed. Nothing here loads a model: everything comes from the store.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from interp.alignment import compute_excluded_mask, concept_runs
from interp.errors import InterpError
from interp.extract import unpack_lower_triangle
from interp.figures import (
    concept_window,
    control_null_figure,
    head_heatmap_figure,
    layer_profile_figure,
    mean_share_figure,
    shift_histogram_figure,
    shift_qq_figure,
    span_structure_figure,
    token_attention_figure,
)
from interp.report import (
    Selection,
    compute_report,
    compute_shares_table,
    compute_stage_share,
    report_frame,
    resolve_reference,
    tokens_match,
)
from interp.statistics import ControlComparison, compare_with_controls, compute_layer_profile, compute_shift
from interp.store import ResultsStore, RunManifest
from interp.structure import compute_span_attention


def mean_share_table(store: ResultsStore, selection: Selection) -> pd.DataFrame:
    """`sequence_id, concept, stage, mean_share`: the mean over heads of each stage's share."""
    manifest = store.open()
    rows = [
        {"sequence_id": s.id, "concept": s.concept, "stage": stage,
         "mean_share": float(compute_stage_share(store, stage, s.id, selection.exclusions).mean())}
        for s in manifest.concept_sequences() for stage in manifest.stage_labels
    ]
    return pd.DataFrame(rows, columns=["sequence_id", "concept", "stage", "mean_share"])


def statistics_table(store: ResultsStore, selection: Selection) -> pd.DataFrame:
    """The statistics of every non-reference stage against the reference, per sequence."""
    return report_frame(compute_report(store, selection))


def overview_figure(store: ResultsStore, selection: Selection) -> go.Figure:
    return mean_share_figure(mean_share_table(store, selection))


def layer_profile_table(store: ResultsStore, selection: Selection) -> pd.DataFrame:
    """`sequence_id, stage, layer, mean_shift, median_shift` against the reference."""
    manifest = store.open()
    reference = resolve_reference(manifest, selection.reference)
    rows = []
    for sequence in manifest.concept_sequences():
        for stage, shift in _shifts(store, manifest, sequence.id, reference, selection):
            profile = compute_layer_profile(shift)
            for layer, (mean, median) in enumerate(zip(profile.mean, profile.median)):
                rows.append({"sequence_id": sequence.id, "stage": stage, "layer": layer,
                             "mean_shift": float(mean), "median_shift": float(median)})
    return pd.DataFrame(rows, columns=["sequence_id", "stage", "layer", "mean_shift", "median_shift"])


def layer_profiles_figure(store: ResultsStore, selection: Selection) -> go.Figure:
    """Mean shift per layer, one panel per sequence, one line per non-reference stage."""
    manifest = store.open()
    reference = resolve_reference(manifest, selection.reference)
    table = layer_profile_table(store, selection)
    profiles = {
        sequence_id: {stage: group["mean_shift"].to_numpy() for stage, group in rows.groupby("stage", sort=False)}
        for sequence_id, rows in table.groupby("sequence_id", sort=False)
    }
    concepts = {s.id: s.concept for s in manifest.concept_sequences()}
    return layer_profile_figure(profiles, reference, concepts)


def head_share_figure(store: ResultsStore, selection: Selection, sequence_id: str, stage: str) -> go.Figure:
    share = compute_stage_share(store, stage, sequence_id, selection.exclusions)
    return head_heatmap_figure(share, f"Share on the concept, {sequence_id}, stage {stage}", kind="share")


def head_shift_figure(store: ResultsStore, selection: Selection, sequence_id: str, stage: str, against: str) -> go.Figure:
    """Shift of `stage` against `against` (any pair of stages), diverging around 0."""
    shift = _shift(store, sequence_id, stage, against, selection)
    return head_heatmap_figure(shift, f"Shift {stage} − {against}, {sequence_id}", kind="shift")


def head_pattern(store: ResultsStore, stage: str, sequence_id: str, layer: int, head: int) -> np.ndarray:
    """One head's token × token attention `[n, n]` from the stored lower triangle."""
    aligned = store.read_aligned(stage, sequence_id)
    packed = store.read_patterns(stage, sequence_id)
    if not (0 <= layer < packed.shape[0] and 0 <= head < packed.shape[1]):
        raise InterpError(f"layer {layer}, head {head} is outside this model ({packed.shape[0]} layers, {packed.shape[1]} heads)")
    return unpack_lower_triangle(packed[layer, head], aligned.n_tokens)


def token_figure(
    store: ResultsStore, sequence_id: str, stage: str, layer: int, head: int,
    against: str | None = None, threshold: float | None = None, margin: int = 12,
) -> go.Figure:
    """Token × token attention of one head, or its difference `stage − against`, around the concept."""
    aligned = store.read_aligned(stage, sequence_id)
    pattern = head_pattern(store, stage, sequence_id, layer, head)
    kind, title = "attention", f"Attention of layer {layer}, head {head}, stage {stage}, {sequence_id}"
    if against is not None:
        if not tokens_match(aligned, store.read_aligned(against, sequence_id)):
            raise InterpError(
                f"sequence '{sequence_id}': stages '{stage}' and '{against}' tokenize the text differently, "
                "so a token-by-token difference is not defined (shares and shifts still are)"
            )
        pattern = pattern - head_pattern(store, against, sequence_id, layer, head)
        kind, title = "difference", f"Attention {stage} − {against}, layer {layer}, head {head}, {sequence_id}"
    window = concept_window(aligned.concept_mask, aligned.n_tokens, margin)
    return token_attention_figure(pattern, aligned.tokens, aligned.concept_mask, window=window,
                                  threshold=threshold, title=title, kind=kind)


def control_comparison(store: ResultsStore, selection: Selection, sequence_id: str, stage: str) -> ControlComparison:
    """The concept's mean shift among control spans' mean shifts (same keys in both stages)."""
    manifest = store.open()
    reference = resolve_reference(manifest, selection.reference)
    aligned = store.read_aligned(reference, sequence_id)
    if not tokens_match(aligned, store.read_aligned(stage, sequence_id)):
        raise InterpError(f"sequence '{sequence_id}': stages '{stage}' and '{reference}' tokenize differently; control spans need the same tokens")
    excluded = compute_excluded_mask(aligned, selection.exclusions)
    return compare_with_controls(
        store.read_colsums(reference, sequence_id), store.read_colsums(stage, sequence_id),
        aligned.concept_mask, excluded, concept_runs(aligned, excluded),
        n_controls=max(selection.n_controls, 1), seed=selection.seed,
    )


def distribution_figures(store: ResultsStore, selection: Selection, sequence_id: str, stage: str) -> dict[str, go.Figure]:
    """Histogram and QQ plot of the head shifts, and the concept among its control spans."""
    manifest = store.open()
    reference = resolve_reference(manifest, selection.reference)
    shift = _shift(store, sequence_id, stage, reference, selection)
    label = f"{stage} − {reference}, {sequence_id}"
    figures = {
        "histogram": shift_histogram_figure(shift, f"Head shifts {label}"),
        "qq": shift_qq_figure(shift, f"Normal QQ plot of head shifts {label}"),
    }
    try:
        comparison = control_comparison(store, selection, sequence_id, stage)
    except InterpError:
        return figures
    figures["controls"] = control_null_figure(
        comparison.controls, comparison.observed, "mean", comparison.percentile, comparison.p_value,
        f"Concept among {comparison.controls.size} control spans, {label}",
    )
    return figures


def span_labels(store: ResultsStore, sequence_id: str) -> list[str]:
    """A label per span: its role where given, else its text."""
    sequence = next(s for s in store.open().concept_sequences() if s.id == sequence_id)
    return [span.role or span.text for span in sequence.spans]


def span_attention(store: ResultsStore, stage: str, sequence_id: str) -> np.ndarray:
    """Span × span attention `[spans, spans]`, averaged over heads and layers one layer at a time."""
    aligned = store.read_aligned(stage, sequence_id)
    packed = store.read_patterns(stage, sequence_id)
    total = None
    for layer in range(packed.shape[0]):
        mean_pattern = unpack_lower_triangle(packed[layer], aligned.n_tokens).mean(axis=0)
        matrix = compute_span_attention(mean_pattern, aligned.span_tokens)
        total = matrix if total is None else total + matrix
    return total / packed.shape[0]


def structure_figures(store: ResultsStore, selection: Selection, sequence_id: str) -> dict[str, go.Figure]:
    """Span × span attention per stage, and its change against the reference stage."""
    manifest = store.open()
    reference = resolve_reference(manifest, selection.reference)
    labels = span_labels(store, sequence_id)
    if len(labels) < 2:
        raise InterpError(f"sequence '{sequence_id}' has one span; structure needs several labelled spans")
    matrices = {stage: span_attention(store, stage, sequence_id) for stage in manifest.stage_labels}
    figures = {
        f"{stage}": span_structure_figure(matrix, labels, f"Span → span attention, stage {stage}, {sequence_id}")
        for stage, matrix in matrices.items()
    }
    for stage in manifest.stage_labels:
        if stage != reference and tokens_match(store.read_aligned(stage, sequence_id), store.read_aligned(reference, sequence_id)):
            figures[f"{stage}-minus-{reference}"] = span_structure_figure(
                matrices[stage] - matrices[reference], labels,
                f"Change in span → span attention, {stage} − {reference}, {sequence_id}", kind="difference",
            )
    return figures


def most_shifted_head(store: ResultsStore, selection: Selection, sequence_id: str, stage: str) -> tuple[int, int]:
    """The (layer, head) whose share moved most against the reference: a sensible first head to show."""
    reference = resolve_reference(store.open(), selection.reference)
    shift = _shift(store, sequence_id, stage, reference, selection)
    layer, head = np.unravel_index(int(np.argmax(np.abs(shift))), shift.shape)
    return int(layer), int(head)


def bundle_contents(store: ResultsStore, selection: Selection) -> tuple[dict[str, go.Figure], dict[str, pd.DataFrame]]:
    """Every figure and table of a run, named for files: what "Download everything" exports."""
    manifest = store.open()
    reference = resolve_reference(manifest, selection.reference)
    figures = {"overview-mean-share": overview_figure(store, selection), "layer-profiles": layer_profiles_figure(store, selection)}
    tables = {
        "statistics": statistics_table(store, selection),
        "mean-share": mean_share_table(store, selection),
        "layer-profiles": layer_profile_table(store, selection),
        "shares": compute_shares_table(store, selection.exclusions),
    }
    for sequence in manifest.concept_sequences():
        for stage in manifest.stage_labels:
            figures[f"heads-share-{sequence.id}-{stage}"] = head_share_figure(store, selection, sequence.id, stage)
            if stage == reference:
                continue
            figures[f"heads-shift-{sequence.id}-{stage}"] = head_shift_figure(store, selection, sequence.id, stage, reference)
            for name, figure in distribution_figures(store, selection, sequence.id, stage).items():
                figures[f"distribution-{name}-{sequence.id}-{stage}"] = figure
            if store.has_patterns(stage, sequence.id) and store.has_patterns(reference, sequence.id):
                layer, head = most_shifted_head(store, selection, sequence.id, stage)
                figures[f"tokens-{sequence.id}-{stage}-L{layer}H{head}"] = token_figure(store, sequence.id, stage, layer, head, threshold=0.1)
        if len(sequence.spans) > 1 and all(store.has_patterns(stage, sequence.id) for stage in manifest.stage_labels):
            for name, figure in structure_figures(store, selection, sequence.id).items():
                figures[f"structure-{sequence.id}-{name}"] = figure
    return figures, tables


def _shift(store: ResultsStore, sequence_id: str, stage: str, against: str, selection: Selection) -> np.ndarray:
    return compute_shift(
        compute_stage_share(store, stage, sequence_id, selection.exclusions),
        compute_stage_share(store, against, sequence_id, selection.exclusions),
    )


def _shifts(store, manifest: RunManifest, sequence_id: str, reference: str, selection: Selection) -> Iterator[tuple[str, np.ndarray]]:
    for stage in manifest.stage_labels:
        if stage != reference:
            yield stage, _shift(store, sequence_id, stage, reference, selection)
