"""Figures with one cell per head: head maps, the first token's share, head consistency."""

from __future__ import annotations

import html
import math
from collections.abc import Mapping

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from interp.core.errors import InterpError
from interp.views.figures.common import (
    DIVERGING_SCALE,
    SEQUENTIAL_SCALE,
    STAGE_COLUMNS,
    TEMPLATE,
    check_kind,
    clickable_heads,
    colour_range,
    colour_title,
    finish,
    measured,
)
from interp.views.figures.fitting import fit_screen, panels_meta


def head_heatmap_figure(values: np.ndarray, title: str, kind: str = "share", measure: str = "attention") -> go.Figure:
    """Heat map of one value per head, `values: [layers, heads]`, layer 0 at the bottom.

    `kind="share"`: sequential scale from the smallest to the largest share (heads of one model
    often differ by a few hundredths; a scale from 0 would paint them alike);
    `kind="shift"`: `RdBu_r` on `±max|shift|`. The colour bar and hover name the `measure`.
    Each cell carries `customdata = [layer, head]` so a selection in the app names the head.
    """
    check_kind(kind, ("share", "shift"))
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 2:
        raise InterpError(f"head values must have shape [layers, heads], got {values.shape}")
    layers, heads = values.shape
    layer_grid, head_grid = np.meshgrid(np.arange(layers), np.arange(heads), indexing="ij")
    colours = colour_range(values, diverging=kind == "shift", from_zero=False)
    fig = go.Figure(go.Heatmap(
        z=values, x=np.arange(heads), y=np.arange(layers),
        customdata=np.stack([layer_grid, head_grid], axis=-1),
        colorbar=dict(title=colour_title(measured(kind, measure))),
        hovertemplate=f"layer %{{customdata[0]}}, head %{{customdata[1]}}<br>{measured(kind, measure)} %{{z:.4f}}"
                      "<extra></extra>",
        **colours,
    ))
    fig.update_xaxes(tickmode="linear", tick0=0, dtick=max(1, -(-heads // 16)))
    fig.update_yaxes(tickmode="linear", tick0=0, dtick=max(1, -(-layers // 16)))
    return clickable_heads(finish(fig, title, "head", "layer (0 = first, at the bottom)"))


def first_token_figure(values: Mapping[str, np.ndarray], title: str, kind: str = "share") -> go.Figure:
    """Each head's share of attention on the first token, one panel per stage (layer 0 at the
    bottom), at most `STAGE_COLUMNS` to a row.

    `values[stage]: [layers, heads]`. A sink diagnostic: `kind="share"` uses one `Viridis` scale
    fixed to [0, 1] for every panel, so that stages and models compare; `kind="change"` (a stage
    minus the reference) uses `RdBu_r` on `±max|change|` over all panels. Every cell carries
    `customdata = [layer, head]`, so a click selects the head as on `head_heatmap_figure`.
    """
    check_kind(kind, ("share", "change"))
    if not values:
        raise InterpError("first-token figure needs at least one stage")
    arrays = {stage: np.asarray(array, dtype=np.float64) for stage, array in values.items()}
    shapes = {array.shape for array in arrays.values()}
    if len(shapes) != 1 or len(next(iter(shapes))) != 2:
        raise InterpError(f"first-token shares must share one shape [layers, heads], got {sorted(shapes)}")
    layers, heads = next(iter(shapes))
    if kind == "share":
        colours = dict(colorscale=SEQUENTIAL_SCALE, cmin=0.0, cmax=1.0)
    else:
        limit = colour_range(np.concatenate([a.ravel() for a in arrays.values()]), diverging=True)["zmax"]
        colours = dict(colorscale=DIVERGING_SCALE, cmid=0.0, cmin=-limit, cmax=limit)
    label = "share on the first token" if kind == "share" else "change of the first-token share"
    layer_grid, head_grid = np.meshgrid(np.arange(layers), np.arange(heads), indexing="ij")
    customdata = np.stack([layer_grid, head_grid], axis=-1)
    columns = min(len(arrays), STAGE_COLUMNS)
    rows = math.ceil(len(arrays) / columns)
    fig = make_subplots(rows=rows, cols=columns, subplot_titles=list(arrays), shared_yaxes=True,
                        horizontal_spacing=0.04, vertical_spacing=min(0.1, 0.3 / rows))
    fig.add_traces([
        go.Heatmap(z=array, x=np.arange(heads), y=np.arange(layers), coloraxis="coloraxis", customdata=customdata,
                   name=stage, hovertemplate=f"{html.escape(stage)}<br>layer %{{customdata[0]}}, head "
                                             f"%{{customdata[1]}}<br>{label} %{{z:.4f}}<extra></extra>")
        for stage, array in arrays.items()
    ], rows=[index // columns + 1 for index in range(len(arrays))],
        cols=[index % columns + 1 for index in range(len(arrays))])
    if rows > 1:
        fig.update_layout(height=120 + 280 * rows)
    bar = "share on the first token (raw attention)" if kind == "share" else "change of the share (raw attention)"
    fig.update_layout(coloraxis=dict(colorbar=dict(title=colour_title(bar)), **colours),
                      meta=panels_meta(len(arrays), columns, aspect=1.2))
    fig.update_xaxes(tickmode="linear", tick0=0, dtick=max(1, -(-heads // 8)), title_text="head")
    fig.update_yaxes(tickmode="linear", tick0=0, dtick=max(1, -(-layers // 16)))
    fig.update_layout(template=TEMPLATE, title=dict(text=title))
    fig.update_yaxes(title_text="layer (0 = first, at the bottom)", col=1)
    return clickable_heads(fit_screen(fig))


def head_consistency_figure(fraction_up: np.ndarray, significant: np.ndarray, title: str,
                            measure: str = "attention") -> go.Figure:
    """Layer × head map of the fraction of sequences in which each head's share (in `measure`) rose
    (`RdBu_r` around ½), heads whose direction is significant after false-discovery control marked ✕.
    Cells carry `customdata = [layer, head]`, so a click in the app selects the head."""
    values = np.asarray(fraction_up, dtype=np.float64)
    marks = np.asarray(significant, dtype=bool)
    if values.ndim != 2 or marks.shape != values.shape:
        raise InterpError(f"fractions and marks must both be [layers, heads], got {values.shape} and {marks.shape}")
    layers, heads = values.shape
    layer_grid, head_grid = np.meshgrid(np.arange(layers), np.arange(heads), indexing="ij")
    fig = go.Figure(go.Heatmap(
        z=values, x=np.arange(heads), y=np.arange(layers), zmin=0, zmax=1, zmid=0.5, colorscale=DIVERGING_SCALE,
        customdata=np.stack([layer_grid, head_grid], axis=-1),
        colorbar=dict(title=colour_title(f"{measured('share', measure)} rose in"), tickformat=".0%"),
        hovertemplate=f"layer %{{customdata[0]}}, head %{{customdata[1]}}<br>{measured('share', measure)} rose in "
                      "%{z:.0%} of sequences<extra></extra>",
    ))
    rows, cols = np.nonzero(marks)
    fig.add_trace(go.Scatter(
        x=cols, y=rows, mode="markers", name="FDR-significant", marker=dict(symbol="x-thin-open", size=9, color="black"),
        hovertemplate="layer %{y}, head %{x}: significant after FDR control<extra></extra>",
    ))
    fig.update_xaxes(tickmode="linear", tick0=0, dtick=max(1, -(-heads // 16)))
    fig.update_yaxes(tickmode="linear", tick0=0, dtick=max(1, -(-layers // 16)))
    return clickable_heads(finish(fig, title, "head", "layer (0 = first, at the bottom)", showlegend=True))
