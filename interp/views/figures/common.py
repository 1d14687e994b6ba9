"""Conventions and helpers every figure family shares: the template, the stage palette, colour ranges,
titles, clickable head cells.

Figures of shares, shifts and attention patterns: arrays in, `plotly` figures out.

Every builder is pure (no I/O, no UI), so the app shows and the exporter writes the same figure.
Conventions shared by all figures:

- template `plotly_white`; every figure has a title, axis titles and hover text with values;
- shares and attention use the sequential `Viridis` scale starting at 0;
- shifts and differences use `RdBu` reversed, centred on 0 with symmetric limits
  `±max|value|`: positive (more attention on the concept than the reference) is red,
  negative is blue;
- head maps put layer 0 at the bottom; token and span maps put the first query at the top,
  so the causally impossible upper triangle (key after query) is the blank upper right;
- numbers on axes and colour bars in plain or scientific notation (2e-4), never SI prefixes;
- every figure of a share or a shift names its measure (`measured`) in its title and colour bar,
  and says when an axis spans a range too narrow to read as a change (`narrow_range_note`);
- titles wrap to the room they get (`interp.views.figures.fitting`), on screen as on paper.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio
from plotly.colors import sample_colorscale

from interp.core.errors import InterpError
from interp.core.palette import (
    CONCEPT_COLOUR as CONCEPT_COLOUR,  # the palette is part of every figure family's conventions
)
from interp.core.palette import STAGE_PALETTE as STAGE_PALETTE
from interp.views.figures.fitting import fit_screen, wrap_text

TEMPLATE = "interp"
TRACE_TYPES = ("bar", "heatmap", "histogram", "scatter")
SEQUENTIAL_SCALE = "Viridis"
DIVERGING_SCALE = "RdBu_r"
TEXT_CHARACTER_PX = 7.83
MAX_ANNOTATIONS = 400
# Span × span maps write each cell's value up to this many spans; beyond, cells are too small for
# the numbers (and hundreds of annotations take seconds to lay out), so the hover gives them.
MAX_ANNOTATED_SPANS = 16
# At most this many token labels on an axis; longer windows label every k-th token.
MAX_TOKEN_TICKS = 60
PANEL_COLUMNS = 3
# Stages side by side in the First token view; more wrap into further rows (plotly refuses the
# spacing of 27 columns or more in one row).
STAGE_COLUMNS = 6
# Beyond this many stages (the palette's size) stages take colours along a scale, and the
# Overview's shifts are a sequence × stage map rather than grouped points.
MANY_STAGES = len(STAGE_PALETTE)
# Plotly's default tick labels use SI prefixes (0.0006 reads "600µ"); scientific notation is what a
# paper prints. Set in the template, so every axis and colour bar of every figure has it.
NUMBER_FORMAT = dict(exponentformat="e")
# A colour bar's title stands above a bar 30 px wide; longer titles wrap at this width.
COLOUR_TITLE_PX = 110
# An axis whose values span less than this fraction of the quantity's level (0.1648 to 0.1654 of a
# share near 0.165) draws a change too small to matter as a steep one: the figure says so.
NARROW_RANGE = 0.02


def _register_template() -> None:
    """`plotly_white`, cut to the layout and the trace types drawn here.

    Plotly validates a template each time a figure takes it; the full one (24 trace types) cost
    30 ms per figure, a third of a second per view; this one costs a fifth of that.
    """
    white = pio.templates["plotly_white"]
    data = {kind: white.data[kind] for kind in TRACE_TYPES}
    template = go.layout.Template(layout=white.layout, data=data)
    template.layout.update(xaxis=NUMBER_FORMAT, yaxis=NUMBER_FORMAT, coloraxis=dict(colorbar=NUMBER_FORMAT))
    for trace in template.data.heatmap:
        trace.update(colorbar=NUMBER_FORMAT)
    for trace in template.data.scatter:
        trace.update(marker=dict(colorbar=NUMBER_FORMAT))
    pio.templates[TEMPLATE] = template


_register_template()


def stage_colours(stages: Sequence[str]) -> dict[str, str]:
    """A colour per stage, by the stage's place in its run (not in one figure), so a stage keeps its
    colour across views whichever stages a figure leaves out: Okabe–Ito for up to `MANY_STAGES`
    stages; beyond, colours along Viridis in lineage order, so that no two stages share one and a
    training trajectory reads as a gradient (`stage_scale` draws its colour bar)."""
    if len(stages) <= MANY_STAGES:
        return {stage: STAGE_PALETTE[index] for index, stage in enumerate(stages)}
    return dict(zip(stages, sample_colorscale(SEQUENTIAL_SCALE, list(np.linspace(0.0, 0.9, len(stages))))))


def check_kind(kind: str, allowed: tuple[str, ...]) -> None:
    if kind not in allowed:
        raise InterpError(f"kind must be one of {', '.join(allowed)}, got {kind!r}")


def finite_values(values: np.ndarray) -> np.ndarray:
    values = np.asarray(values, dtype=np.float64).ravel()
    return values[np.isfinite(values)]


def colour_range(values: np.ndarray, diverging: bool, from_zero: bool = True) -> dict:
    """Colour settings: `RdBu_r` on `±max|value|` around 0, or `Viridis` up to the maximum,
    from 0 or (`from_zero=False`) from the minimum, so that close values stay distinguishable."""
    finite = finite_values(values)
    if diverging:
        limit = float(np.abs(finite).max()) if finite.size else 0.0
        limit = limit or 1.0  # an all-zero map still needs a drawable scale
        return dict(colorscale=DIVERGING_SCALE, zmid=0.0, zmin=-limit, zmax=limit)
    top = float(finite.max()) if finite.size else 0.0
    bottom = 0.0 if from_zero or not finite.size else float(finite.min())
    if top <= bottom:
        return dict(colorscale=SEQUENTIAL_SCALE, zmin=0.0, zmax=top if top > 0 else 1.0)
    return dict(colorscale=SEQUENTIAL_SCALE, zmin=bottom, zmax=top)


def finish(fig: go.Figure, title: str, x_title: str, y_title: str, **layout) -> go.Figure:
    """Template, title and axis titles; titles wrapped to the room the figure has (`fit_screen`)."""
    fig.update_layout(template=TEMPLATE, title=dict(text=title), **layout)
    fig.update_xaxes(title_text=x_title)
    fig.update_yaxes(title_text=y_title)
    return fit_screen(fig)


def measured(text: str, measure: str) -> str:
    """`text` naming the measure its shares are in (`interp.analysis.measures`): "share (attention)",
    "share (norm-weighted)". Every title and colour bar of a share or a shift goes through here."""
    return f"{text} ({measure.lower()})"


def colour_title(text: str) -> str:
    """A colour bar's title, wrapped to the room above a colour bar."""
    return wrap_text(text, COLOUR_TITLE_PX, 12)


def narrow_range_note(values: np.ndarray, level: float, what: str) -> str:
    """A warning when `values` span less than `NARROW_RANGE` of `level` (the typical size of the
    quantity, e.g. the mean share): plotly stretches any range over the whole axis, so a change of
    0.0006 in a share of 0.165 looks as steep as one of 0.1. '' when the range is wide enough."""
    finite = finite_values(values)
    if finite.size < 2 or not level:
        return ""
    span = float(finite.max() - finite.min())
    if span >= NARROW_RANGE * abs(level):
        return ""
    return (f"narrow axis: {float(finite.min()):.4g} to {float(finite.max()):.4g}, "
            f"a span of {span / abs(level):.1%} of the {what}")


def text_colour(value: float, colours: dict) -> str:
    """Black on the light middle of a scale, white on its dark ends (RdBu) or low end (Viridis)."""
    if colours["colorscale"] == DIVERGING_SCALE:
        return "white" if abs(value) > 0.5 * colours["zmax"] else "black"
    return "black" if value > 0.6 * colours["zmax"] else "white"


def short_number(value: float) -> str:
    """A value with enough digits to tell small ones apart: `0.123`, `-0.004`, `3.2e-05`, never `-0.00`."""
    if value == 0 or not math.isfinite(value):
        return f"{value:g}"
    return f"{value:.3f}" if abs(value) >= 0.001 else f"{value:.1e}"


def cell_annotations(
    cells: list[tuple[float, float, float]], colours: dict, size: int = 9, text=lambda value: f"{value:.2f}",
) -> list[dict]:
    return [
        dict(x=x, y=y, text=text(value), showarrow=False,
             font=dict(size=size, color=text_colour(value, colours)))
        for x, y, value in cells
    ]


def stage_scale(stages: Sequence[str]) -> go.Scatter:
    """An invisible trace that draws the stage colour scale as a colour bar labelled with stages:
    the legend of figures with more than `MANY_STAGES` stages, where a list would run off the page."""
    ticks = np.unique(np.round(np.linspace(0, len(stages) - 1, min(len(stages), 8))).astype(int))
    return go.Scatter(
        x=[None], y=[None], mode="markers", showlegend=False, hoverinfo="skip",
        marker=dict(colorscale=[[0, sample_colorscale(SEQUENTIAL_SCALE, [0.0])[0]],
                                [1, sample_colorscale(SEQUENTIAL_SCALE, [0.9])[0]]],
                    cmin=0, cmax=len(stages) - 1, color=[0], showscale=True,
                    colorbar=dict(title="stage", tickvals=ticks, ticktext=[str(stages[i]) for i in ticks])),
    )


def clickable_heads(fig: go.Figure) -> go.Figure:
    """Lay a transparent marker on every head cell of the figure's heat maps, carrying the
    cell's hover text, so that a click selects the head: heat maps cannot be selected in Plotly
    (Streamlit hears only selections), markers can. The nearest marker answers anywhere in the
    plot (`hoverdistance=-1`)."""
    for trace in [t for t in fig.data if isinstance(t, go.Heatmap) and t.customdata is not None]:
        cells = np.asarray(trace.customdata).reshape(-1, 2)
        values = np.asarray(trace.z, dtype=np.float64).reshape(-1)
        template = (trace.hovertemplate or "").replace("%{z", "%{customdata[2]")
        fig.add_trace(go.Scatter(
            x=cells[:, 1], y=cells[:, 0], customdata=np.column_stack([cells, values]), mode="markers",
            marker=dict(size=6, opacity=0), selected=dict(marker=dict(opacity=0)),
            unselected=dict(marker=dict(opacity=0)), hovertemplate=template, showlegend=False,
            xaxis=trace.xaxis, yaxis=trace.yaxis, name=trace.name,
        ))
        # The markers would pad the axes past the cells (a tick at -1 and one past the last head).
        x_axis, y_axis = (trace.xaxis or "x").replace("x", "xaxis", 1), (trace.yaxis or "y").replace("y", "yaxis", 1)
        fig.layout[x_axis].range = [cells[:, 1].min() - 0.5, cells[:, 1].max() + 0.5]
        fig.layout[y_axis].range = [cells[:, 0].min() - 0.5, cells[:, 0].max() + 0.5]
        trace.update(hoverinfo="skip", hovertemplate=None)
    return fig.update_layout(hoverdistance=-1)


def mark_head(fig: go.Figure, layer: int | None, head: int | None) -> go.Figure:
    """A copy of a head map with the cell of (`layer`, `head`) outlined on every panel, so the head a
    click selected stays visible; `fig` unchanged (the app shares it between sessions). A head the
    figure does not have leaves the copy unmarked."""
    marked = go.Figure(fig)
    for trace in fig.data:
        if not isinstance(trace, go.Heatmap) or trace.customdata is None or layer is None or head is None:
            continue
        cells = np.asarray(trace.customdata).reshape(-1, 2)
        if not ((cells[:, 0] == layer) & (cells[:, 1] == head)).any():
            continue
        marked.add_shape(type="rect", x0=head - 0.5, x1=head + 0.5, y0=layer - 0.5, y1=layer + 0.5,
                         xref=trace.xaxis or "x", yref=trace.yaxis or "y", name="selected head",
                         line=dict(color="black", width=2), fillcolor="rgba(0,0,0,0)")
    return marked


def luminance(colour: str) -> float:
    """Relative luminance of a colour `#rrggbb` or `rgb(r, g, b)` (0 dark, 1 light)."""
    if colour.startswith("#"):
        channels = [int(colour[i:i + 2], 16) for i in (1, 3, 5)]
    else:
        channels = [float(part) for part in colour[colour.index("(") + 1:colour.index(")")].split(",")[:3]]
    return (0.2126 * channels[0] + 0.7152 * channels[1] + 0.0722 * channels[2]) / 255
