"""Figures of shifts: the Overview, layer profiles, distributions, control spans, trajectories, stages × layers."""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from interp.core.errors import InterpError
from interp.views.figures.common import (
    CONCEPT_COLOUR,
    MANY_STAGES,
    PANEL_COLUMNS,
    STAGE_PALETTE,
    TEMPLATE,
    colour_range,
    colour_title,
    finish,
    finite_values,
    measured,
    narrow_range_note,
    stage_colours,
    stage_scale,
)
from interp.views.figures.fitting import fit_screen, panels_meta


def shift_overview_figure(table: pd.DataFrame, reference: str, all_stages: Sequence[str] = (),
                          measure: str = "attention") -> go.Figure:
    """Mean shift per sequence and stage against the reference, with its interval: the study's
    question at a glance. Zero is marked; a point whose interval stays off zero moved.

    `table` has columns `sequence_id, concept, stage, mean, low, high, control_percentile` (the
    overview table of `interp.views.catalogue`); `low`/`high` may be NaN (no interval drawn). Stages keep
    their run-wide colours (`all_stages`); the title names the `measure` of the shares.
    """
    missing = {"sequence_id", "concept", "stage", "mean", "low", "high", "control_percentile"} - set(table.columns)
    if missing:
        raise InterpError(f"shift table lacks column(s) {', '.join(sorted(missing))}")
    sequences = list(dict.fromkeys(table["sequence_id"]))
    stages = list(dict.fromkeys(table["stage"]))
    if len(stages) > MANY_STAGES:
        return _shift_map(table, sequences, stages, reference, measure)
    colours = stage_colours(all_stages or stages)
    traces = []
    for stage in stages:
        rows = table[table["stage"] == stage].set_index("sequence_id").reindex(sequences)
        has_interval = rows["low"].notna().any()
        traces.append(go.Scatter(
            x=sequences, y=rows["mean"], mode="markers", name=str(stage), offsetgroup=str(stage),
            marker=dict(size=8, color=colours[stage]),
            error_y=dict(type="data", symmetric=False, array=rows["high"] - rows["mean"],
                         arrayminus=rows["mean"] - rows["low"], visible=bool(has_interval)),
            customdata=np.stack([rows["concept"].astype(str), rows["low"], rows["high"],
                                 rows["control_percentile"]], axis=-1),
            hovertemplate="%{x} (%{customdata[0]})<br>stage %{fullData.name}<br>mean shift %{y:.4f}"
                          "<br>95% interval [%{customdata[1]:.4f}, %{customdata[2]:.4f}]"
                          "<br>control percentile %{customdata[3]:.0f}<extra></extra>",
        ))
    fig = go.Figure(traces)
    fig.add_hline(y=0, line=dict(color="grey", width=1, dash="dash"))
    interval = " with its 95% bootstrap interval over heads" if any(
        table["low"].notna()) else ""
    return finish(fig, f"Mean shift of the concept {measured('share', measure)} against {reference}, per sequence"
                   f"{interval}", "sequence", f"mean shift Δ vs {reference}", scattermode="group",
                   legend_title_text="stage")


def _shift_map(table: pd.DataFrame, sequences: list, stages: list, reference: str, measure: str) -> go.Figure:
    """The mean shift of many stages as a sequence × stage map (stages in lineage order), on
    `RdBu_r` around 0: a trajectory of checkpoints reads along each row."""
    values = table.pivot(index="sequence_id", columns="stage", values="mean").reindex(
        index=sequences, columns=stages).to_numpy(dtype=np.float64)
    fig = go.Figure(go.Heatmap(
        z=values, x=[str(stage) for stage in stages], y=[str(s) for s in sequences],
        colorbar=dict(title=colour_title(f"mean shift vs {reference}")), **colour_range(values, diverging=True),
        hovertemplate="sequence %{y}<br>stage %{x}<br>mean shift %{z:.4f}<extra></extra>",
    ))
    fig.update_xaxes(type="category")
    fig.update_yaxes(type="category", autorange="reversed")
    return finish(fig, f"Mean shift of the concept {measured('share', measure)} against {reference}, per sequence "
                   "and stage",
                   "stage (lineage order)", "sequence", height=max(320, 160 + 22 * len(sequences)))


def layer_profile_figure(
    profiles: Mapping[str, Mapping[str, np.ndarray]],
    reference: str,
    concepts: Mapping[str, str] | None = None,
    all_stages: Sequence[str] = (),
    bands: Mapping[str, Mapping[str, tuple[np.ndarray, np.ndarray]]] | None = None,
    measure: str = "attention",
) -> go.Figure:
    """Mean shift per layer against `reference`: one panel per sequence (or concept type), one
    line per stage.

    `profiles[panel][stage] = mean shift over heads: [layers]`; `bands[panel][stage] = (low,
    high)`, where given, shades an interval around the line. Panels wrap into at most three
    columns and are titled "panel (concepts[panel])"; a stage has one colour in every panel; the
    title names the `measure`. On a narrower page the panels take fewer columns (`panels_meta`).
    """
    if not profiles:
        raise InterpError("layer profile figure needs at least one sequence")
    concepts = concepts or {}
    ids = list(profiles)
    columns = min(len(ids), PANEL_COLUMNS)
    rows = math.ceil(len(ids) / columns)
    titles = [f"{i} ({concepts[i]})" if concepts.get(i) else i for i in ids]
    fig = make_subplots(rows=rows, cols=columns, subplot_titles=titles, shared_yaxes=True,
                        horizontal_spacing=0.06, vertical_spacing=min(0.12, 0.3 / rows))
    stages = list(dict.fromkeys(stage for by_stage in profiles.values() for stage in by_stage))
    colours = stage_colours(all_stages or stages)
    many = len(all_stages or stages) > MANY_STAGES
    # Traces and zero lines go in with one call each: plotly validates per call, and a call
    # per panel (add_trace, add_hline) cost a second for ten sequences.
    traces, rows_of, cols_of, zero_lines = [], [], [], []
    in_legend: set[str] = set()
    for index, sequence_id in enumerate(ids):
        row, col = divmod(index, columns)
        for stage, profile in profiles[sequence_id].items():
            profile = np.asarray(profile, dtype=np.float64)
            band = (bands or {}).get(sequence_id, {}).get(stage)
            if band is not None:
                layers_axis = np.arange(profile.size)
                traces.append(go.Scatter(
                    x=np.concatenate([layers_axis, layers_axis[::-1]]),
                    y=np.concatenate([np.asarray(band[1]), np.asarray(band[0])[::-1]]),
                    fill="toself", fillcolor=colours[stage], opacity=0.2, line=dict(width=0), mode="lines",
                    legendgroup=stage, showlegend=False, hoverinfo="skip", name=f"{stage} band",
                ))
                rows_of.append(row + 1)
                cols_of.append(col + 1)
            traces.append(go.Scatter(
                x=np.arange(profile.size), y=profile, mode="lines+markers", name=stage,
                legendgroup=stage, showlegend=not many and stage not in in_legend,
                line=dict(color=colours[stage], width=1.5 if many else 2), marker=dict(size=4 if many else 6),
                hovertemplate=f"{html.escape(sequence_id)}<br>stage %{{fullData.name}}"
                              "<br>layer %{x}<br>mean shift %{y:.4f}<extra></extra>",
            ))
            rows_of.append(row + 1)
            cols_of.append(col + 1)
            in_legend.add(stage)
        axis = "" if index == 0 else str(index + 1)
        zero_lines.append(dict(type="line", xref=f"x{axis} domain", yref=f"y{axis}", x0=0, x1=1, y0=0, y1=0,
                               line=dict(color="grey", width=1, dash="dash")))
    if many:
        traces.append(stage_scale(list(all_stages or stages)))
        rows_of.append(1)
        cols_of.append(1)
    fig.add_traces(traces, rows=rows_of, cols=cols_of)
    fig.update_layout(shapes=zero_lines)
    for index in range(len(ids)):
        if index + columns >= len(ids):  # lowest panel of its column
            row, col = divmod(index, columns)
            fig.update_xaxes(title_text="layer", row=row + 1, col=col + 1)
    title = f"Mean shift of the concept {measured('share', measure)} per layer, against {reference}"
    fig.update_layout(template=TEMPLATE, height=120 + 260 * rows, legend_title_text="stage",
                      title=dict(text=title), meta=panels_meta(len(ids), columns, aspect=0.75))
    fig.update_yaxes(matches="y")  # one scale for every panel, so sequences compare
    fig.update_annotations(font_size=12)  # panel titles, which are long "id (concept)" labels
    fig.update_yaxes(title_text=f"mean shift vs {reference}", col=1)
    return fit_screen(fig)


def shift_histogram_figure(shift: np.ndarray, title: str) -> go.Figure:
    """Histogram of the L·H head shifts with lines at 0 (grey) and at the mean (red)."""
    values = finite_values(shift)
    fig = go.Figure(go.Histogram(
        x=values, marker_color="#7f7f7f", name="heads",
        hovertemplate="shift %{x}<br>%{y} heads<extra></extra>",
    ))
    fig.add_vline(x=0, line=dict(color="black", width=1, dash="dash"))
    if values.size:
        mean = float(values.mean())
        fig.add_vline(x=mean, line=dict(color=CONCEPT_COLOUR, width=2),
                      annotation_text=f"mean {mean:.4f}", annotation_position="top right")
    return finish(fig, title, "shift (share − reference share)", "number of heads",
                   showlegend=False, bargap=0.05)


def shift_qq_figure(shift: np.ndarray, title: str) -> go.Figure:
    """Normal QQ plot of the head shifts (`scipy.stats.probplot`): points and fitted line."""
    values = finite_values(shift)
    if values.size < 2:
        raise InterpError("a QQ plot needs at least two finite shift values")
    import scipy.stats  # deferred: only this figure needs it, and it takes a second to import

    (theoretical, ordered), (slope, intercept, r) = scipy.stats.probplot(values, dist="norm")
    fig = go.Figure([
        go.Scatter(x=theoretical, y=ordered, mode="markers", name="heads",
                   marker=dict(size=4, color="#1f77b4"),
                   hovertemplate="normal quantile %{x:.3f}<br>shift %{y:.4f}<extra></extra>"),
        go.Scatter(x=theoretical[[0, -1]], y=slope * theoretical[[0, -1]] + intercept,
                   mode="lines", name=f"fit (r = {r:.3f})", line=dict(color=CONCEPT_COLOUR),
                   hovertemplate="fit: %{y:.4f} at quantile %{x:.3f}<extra></extra>"),
    ])
    return finish(fig, title, "theoretical normal quantile", "ordered shift")


def control_null_figure(
    controls: np.ndarray,
    observed: float,
    statistic: str,
    percentile: float,
    p_value: float,
    title: str,
) -> go.Figure:
    """Histogram of the control spans' statistic with a red line at the concept's value."""
    fig = go.Figure(go.Histogram(
        x=finite_values(controls), marker_color="#7f7f7f", name="control spans",
        hovertemplate=f"{html.escape(statistic)} %{{x}}<br>%{{y}} control spans<extra></extra>",
    ))
    fig.add_vline(
        x=float(observed), line=dict(color=CONCEPT_COLOUR, width=2),
        annotation_text=f"concept {observed:.4f}<br>percentile {percentile:.1f}, p = {p_value:.3g}",
        annotation_position="top right",
    )
    return finish(fig, title, f"{statistic} of the shift", "number of control spans",
                   showlegend=False, bargap=0.05)


def trajectory_figure(table: pd.DataFrame, reference: str, axis_title: str, by_step: bool, title: str) -> go.Figure:
    """A concept type along the stages: its mean share (top) and mean shift against `reference`
    (bottom), each with a band over the middle 80% of its sequences.

    `table` has the columns of `interp.analysis.trajectory.trajectory_table` for one concept type, in
    lineage order. With `by_step` the horizontal axis is the training step (`position`), else
    the stages in lineage order; the hover names the stage either way.
    """
    missing = {"stage", "position", "sequences", "mean_share", "share_low", "share_high", "mean_shift",
               "shift_low", "shift_high"} - set(table.columns)
    if missing:
        raise InterpError(f"trajectory table lacks column(s) {', '.join(sorted(missing))}")
    x = list(table["position"]) if by_step else [str(stage) for stage in table["stage"]]
    stages = np.array([str(stage) for stage in table["stage"]], dtype=object)
    level = float(np.nanmean(table["mean_share"]))
    panels = []
    for name, columns in (("mean share", ("mean_share", "share_low", "share_high")),
                          (f"mean shift vs {reference}", ("mean_shift", "shift_low", "shift_high"))):
        note = narrow_range_note(table[list(columns)].to_numpy(), level, "mean share")
        panels.append(f"{name}<br><i>{note}</i>" if note else name)
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.14, subplot_titles=panels)
    colour = STAGE_PALETTE[0]
    for row, (value, low, high, what) in enumerate((("mean_share", "share_low", "share_high", "mean share"),
                                                    ("mean_shift", "shift_low", "shift_high", "mean shift")), start=1):
        fig.add_trace(go.Scatter(
            x=x + x[::-1], y=list(table[high]) + list(table[low])[::-1], fill="toself", mode="lines",
            line=dict(width=0), fillcolor="rgba(0, 114, 178, 0.18)", name="10th–90th percentile of sequences",
            legendgroup="band", showlegend=row == 1, hoverinfo="skip",
        ), row=row, col=1)
        fig.add_trace(go.Scatter(
            x=x, y=table[value], mode="lines+markers", name="mean over sequences", legendgroup="mean",
            showlegend=row == 1, line=dict(color=colour), marker=dict(size=5), customdata=np.stack(
                [stages, table["sequences"], table[low], table[high]], axis=-1),
            hovertemplate=f"stage %{{customdata[0]}}<br>{what} %{{y:.4f}}<br>%{{customdata[1]}} sequences, "
                          "middle 80% [%{customdata[2]:.4f}, %{customdata[3]:.4f}]<extra></extra>",
        ), row=row, col=1)
    fig.add_hline(y=0, line=dict(color="grey", width=1, dash="dash"), row=2, col=1)
    if not by_step:
        fig.update_xaxes(type="category", categoryorder="array", categoryarray=x)
    fig.update_xaxes(title_text=axis_title, row=2, col=1)
    fig.update_yaxes(title_text="mean share over heads", row=1, col=1)
    fig.update_yaxes(title_text=f"mean shift vs {reference}", row=2, col=1)
    fig.update_layout(template=TEMPLATE, title=dict(text=title), height=600, hovermode="closest")
    return fit_screen(fig)


def stage_layer_figure(shifts: np.ndarray, stages: Sequence[str], reference: str, title: str,
                       measure: str = "attention") -> go.Figure:
    """Mean shift per stage (columns, lineage order) and layer (rows, layer 0 at the bottom),
    `shifts: [stages, layers]`, on `RdBu_r` around 0: where in the network attention to the
    concept moved, and when in training."""
    values = np.asarray(shifts, dtype=np.float64)
    if values.ndim != 2 or values.shape[0] != len(stages):
        raise InterpError(f"shifts must be [stages, layers] with {len(stages)} stages, got {values.shape}")
    labels = [str(stage) for stage in stages]
    fig = go.Figure(go.Heatmap(
        z=values.T, x=labels, y=np.arange(values.shape[1]),
        colorbar=dict(title=colour_title(measured(f"mean shift vs {reference}", measure))),
        **colour_range(values, diverging=True),
        hovertemplate="stage %{x}<br>layer %{y}<br>mean shift %{z:.4f}<extra></extra>",
    ))
    fig.update_xaxes(type="category", categoryorder="array", categoryarray=labels)
    fig.update_yaxes(tickmode="linear", tick0=0, dtick=max(1, -(-values.shape[1] // 16)))
    return finish(fig, title, "stage (lineage order)", "layer (0 = first, at the bottom)")
