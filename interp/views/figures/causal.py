"""Figures of the causal check: arrays and tables in, `plotly` figures out (the conventions of
`interp.views.figures`: RdBu reversed around 0 for effects, layer 0 at the bottom of head maps)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from interp.core.errors import InterpError
from interp.views.figures.common import (
    CONCEPT_COLOUR,
    clickable_heads,
    colour_range,
    finish,
    short_number,
)

VERIFIED_COLOUR = "#000000"
RANDOM_COLOUR = "#999999"
SET_COLOURS = {"concept-heads": CONCEPT_COLOUR, "atp-top": "#0072B2", "given": CONCEPT_COLOUR}


def causal_effect_figure(effect: np.ndarray, verified: np.ndarray, exact: np.ndarray, title: str,
                         effect_label: str) -> go.Figure:
    """Each head's causal effect `effect [layers, heads]` (AtP, mean over sequences) as a map,
    the heads exact patching verified ringed, their exact effect `exact [layers, heads]` (NaN
    elsewhere) in the hover. Clicking a cell selects the head."""
    effect = np.asarray(effect, dtype=np.float64)
    if effect.ndim != 2 or effect.shape != np.shape(verified) or effect.shape != np.shape(exact):
        raise InterpError(f"effects, verified flags and exact effects must share one [layers, heads] shape, "
                          f"got {effect.shape}, {np.shape(verified)}, {np.shape(exact)}")
    layers, heads = effect.shape
    layer_grid, head_grid = np.meshgrid(np.arange(layers), np.arange(heads), indexing="ij")
    fig = go.Figure(go.Heatmap(
        z=effect, x=np.arange(heads), y=np.arange(layers), customdata=np.stack([layer_grid, head_grid], axis=-1),
        colorbar=dict(title=dict(text=effect_label, side="right")),
        hovertemplate=f"layer %{{customdata[0]}}, head %{{customdata[1]}}<br>{effect_label} %{{z:.4g}}<extra></extra>",
        **colour_range(effect, diverging=True),
    ))
    clickable_heads(fig)
    rows, cols = np.nonzero(np.asarray(verified, dtype=bool))
    if rows.size:
        fig.add_trace(go.Scatter(
            x=cols, y=rows, mode="markers", name="verified by exact patching",
            marker=dict(symbol="circle-open", size=9, color=VERIFIED_COLOUR, line=dict(width=1.5)),
            customdata=np.column_stack([rows, cols, np.asarray(exact)[rows, cols]]),
            hovertemplate="layer %{customdata[0]}, head %{customdata[1]}<br>exact effect %{customdata[2]:.4g}"
                          "<extra></extra>",
        ))
    fig.update_xaxes(tickmode="linear", tick0=0, dtick=max(1, -(-heads // 16)))
    fig.update_yaxes(tickmode="linear", tick0=0, dtick=max(1, -(-layers // 16)))
    fig.update_layout(legend=dict(orientation="h", yanchor="bottom", y=1.0, x=0))
    return finish(fig, title, "head", "layer (0 = first, at the bottom)")


def shift_effect_figure(shift: np.ndarray, effect: np.ndarray, verified: np.ndarray, title: str,
                        shift_label: str, effect_label: str) -> go.Figure:
    """Every head's attention shift against its causal effect (`[layers, heads]` each, means over
    sequences): a head far right with no effect moved its attention to no end; a head high with
    no shift matters without looking. Verified heads are drawn dark."""
    shift, effect = np.asarray(shift, dtype=np.float64), np.asarray(effect, dtype=np.float64)
    if shift.shape != effect.shape:
        raise InterpError(f"shift and effect must share one [layers, heads] shape, got {shift.shape}, {effect.shape}")
    layers, heads = shift.shape
    layer_grid, head_grid = np.meshgrid(np.arange(layers), np.arange(heads), indexing="ij")
    flags = np.asarray(verified, dtype=bool)
    fig = go.Figure()
    for chosen, name, colour in ((~flags, "screened (AtP)", RANDOM_COLOUR), (flags, "verified by exact patching",
                                                                               VERIFIED_COLOUR)):
        if not chosen.any():
            continue
        fig.add_trace(go.Scatter(
            x=shift[chosen], y=effect[chosen], mode="markers", name=name,
            marker=dict(size=6 if name.startswith("verified") else 4, color=colour, opacity=0.85),
            customdata=np.column_stack([layer_grid[chosen], head_grid[chosen]]),
            hovertemplate=f"layer %{{customdata[0]}}, head %{{customdata[1]}}<br>{shift_label} %{{x:.4g}}"
                          f"<br>{effect_label} %{{y:.4g}}<extra></extra>",
        ))
    fig.add_hline(y=0, line=dict(color="#bbbbbb", width=1))
    fig.add_vline(x=0, line=dict(color="#bbbbbb", width=1))
    fig.update_layout(legend=dict(orientation="h", yanchor="bottom", y=1.0, x=0))
    return finish(fig, title, shift_label, effect_label)


def head_sets_figure(sets: pd.DataFrame, title: str, effect_label: str) -> go.Figure:
    """The chosen head sets' joint effects (with their intervals over sequences) beside the
    random sets matched by layer (one grey point each): a chosen set that lies inside the random
    cloud matters no more than any heads of the same layers. A hollow diamond marks the sum of
    the set's single-head effects: joint ≠ sum is heads compensating (or amplifying) each other."""
    required = {"set", "kind", "mean_effect", "low", "high"}
    if not required <= set(sets.columns):
        raise InterpError(f"head sets table lacks columns {sorted(required - set(sets.columns))}")
    randoms = sets[sets["kind"] == "random"]
    chosen = sets[sets["kind"] != "random"]
    fig = go.Figure()
    if len(randoms):
        jitter = np.random.default_rng(0).uniform(-0.25, 0.25, len(randoms))
        fig.add_trace(go.Scatter(
            x=randoms["mean_effect"], y=jitter, mode="markers", name=f"random sets matched by layer ({len(randoms)})",
            marker=dict(color=RANDOM_COLOUR, size=6, opacity=0.7), customdata=randoms[["set", "heads"]].to_numpy(),
            hovertemplate="%{customdata[0]}: %{customdata[1]}<br>" + effect_label + " %{x:.4g}<extra></extra>",
        ))
    for index, row in enumerate(chosen.itertuples(index=False), start=1):
        colour = SET_COLOURS.get(row.kind, CONCEPT_COLOUR)
        low, high = row.low, row.high
        error = dict(type="data", symmetric=False, array=[high - row.mean_effect], arrayminus=[row.mean_effect - low]) \
            if np.isfinite(low) and np.isfinite(high) else None
        label, among = f"{row.set}: joint effect", ""
        if "random_percentile" in chosen.columns and np.isfinite(getattr(row, "random_percentile", np.nan)):
            label += f" (random p = {short_number(row.random_p)})"  # short enough for a column's legend
            among = f"<br>|effect| at percentile {row.random_percentile:.0f} of the random sets"
        fig.add_trace(go.Scatter(
            x=[row.mean_effect], y=[index], mode="markers", name=label, error_x=error,
            marker=dict(color=colour, size=11, symbol="circle"),
            hovertemplate=f"{row.set}: {row.heads}<br>{effect_label} %{{x:.4g}}{among}<extra></extra>",
        ))
        total = getattr(row, "sum_of_singles", np.nan)
        if np.isfinite(total):
            fig.add_trace(go.Scatter(
                x=[total], y=[index], mode="markers", name=f"{row.set}: sum of single-head effects",
                marker=dict(color=colour, size=10, symbol="diamond-open", line=dict(width=2)),
                hovertemplate=f"sum of the single-head effects of {row.set}: %{{x:.4g}}<extra></extra>",
            ))
    fig.add_vline(x=0, line=dict(color="#bbbbbb", width=1))
    ticks = [0, *range(1, len(chosen) + 1)]
    names = ["random", *chosen["set"].tolist()]
    fig.update_yaxes(tickmode="array", tickvals=ticks, ticktext=names, range=[-0.6, len(chosen) + 0.6])
    fig.update_layout(legend=dict(orientation="h", yanchor="top", y=-0.2, x=0), showlegend=True)
    return finish(fig, title, effect_label, "")
