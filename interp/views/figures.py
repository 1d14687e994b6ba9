"""Figures of shares, shifts and attention patterns: arrays in, `plotly` figures out.

Every builder is pure (no I/O, no UI), so the app shows and the exporter writes the same figure.
Conventions shared by all figures:

- template `plotly_white`; every figure has a title, axis titles and hover text with values;
- shares and attention use the sequential `Viridis` scale starting at 0;
- shifts and differences use `RdBu` reversed, centred on 0 with symmetric limits
  `±max|value|`: positive (more attention on the concept than the reference) is red,
  negative is blue;
- head maps put layer 0 at the bottom; token and span maps put the first query at the top,
  so the causally impossible upper triangle (key after query) is the blank upper right.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio
from plotly.colors import sample_colorscale
from plotly.subplots import make_subplots

from interp.concepts.token_text import readable_tokens
from interp.core.errors import InterpError

TEMPLATE = "interp"
TRACE_TYPES = ("bar", "heatmap", "histogram", "scatter")
SEQUENTIAL_SCALE = "Viridis"
DIVERGING_SCALE = "RdBu_r"
CONCEPT_COLOUR = "#d62728"
TEXT_CHARACTER_PX = 7.83
# Okabe & Ito's colour-blind-safe palette: stage i of a run has colour i in every figure and export.
STAGE_PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")
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


def _register_template() -> None:
    """`plotly_white`, cut to the layout and the trace types drawn here.

    Plotly validates a template each time a figure takes it; the full one (24 trace types) cost
    30 ms per figure, a third of a second per view; this one costs a fifth of that.
    """
    white = pio.templates["plotly_white"]
    data = {kind: white.data[kind] for kind in TRACE_TYPES}
    pio.templates[TEMPLATE] = go.layout.Template(layout=white.layout, data=data)


_register_template()


def stage_colours(stages: Sequence[str]) -> dict[str, str]:
    """A colour per stage, by the stage's place in its run (not in one figure), so a stage keeps its
    colour across views whichever stages a figure leaves out: Okabe–Ito for up to `MANY_STAGES`
    stages; beyond, colours along Viridis in lineage order, so that no two stages share one and a
    training trajectory reads as a gradient (`_stage_scale` draws its colour bar)."""
    if len(stages) <= MANY_STAGES:
        return {stage: STAGE_PALETTE[index] for index, stage in enumerate(stages)}
    return dict(zip(stages, sample_colorscale(SEQUENTIAL_SCALE, list(np.linspace(0.0, 0.9, len(stages))))))


def _check_kind(kind: str, allowed: tuple[str, ...]) -> None:
    if kind not in allowed:
        raise InterpError(f"kind must be one of {', '.join(allowed)}, got {kind!r}")


def _finite(values: np.ndarray) -> np.ndarray:
    values = np.asarray(values, dtype=np.float64).ravel()
    return values[np.isfinite(values)]


def _colour_range(values: np.ndarray, diverging: bool, from_zero: bool = True) -> dict:
    """Colour settings: `RdBu_r` on `±max|value|` around 0, or `Viridis` up to the maximum,
    from 0 or (`from_zero=False`) from the minimum, so that close values stay distinguishable."""
    finite = _finite(values)
    if diverging:
        limit = float(np.abs(finite).max()) if finite.size else 0.0
        limit = limit or 1.0  # an all-zero map still needs a drawable scale
        return dict(colorscale=DIVERGING_SCALE, zmid=0.0, zmin=-limit, zmax=limit)
    top = float(finite.max()) if finite.size else 0.0
    bottom = 0.0 if from_zero or not finite.size else float(finite.min())
    if top <= bottom:
        return dict(colorscale=SEQUENTIAL_SCALE, zmin=0.0, zmax=top if top > 0 else 1.0)
    return dict(colorscale=SEQUENTIAL_SCALE, zmin=bottom, zmax=top)


def _finish(fig: go.Figure, title: str, x_title: str, y_title: str, **layout) -> go.Figure:
    fig.update_layout(template=TEMPLATE, title=dict(text=title), **layout)
    fig.update_xaxes(title_text=x_title)
    fig.update_yaxes(title_text=y_title)
    return fig


def _text_colour(value: float, colours: dict) -> str:
    """Black on the light middle of a scale, white on its dark ends (RdBu) or low end (Viridis)."""
    if colours["colorscale"] == DIVERGING_SCALE:
        return "white" if abs(value) > 0.5 * colours["zmax"] else "black"
    return "black" if value > 0.6 * colours["zmax"] else "white"


def short_number(value: float) -> str:
    """A value with enough digits to tell small ones apart: `0.123`, `-0.004`, `3.2e-05`, never `-0.00`."""
    if value == 0 or not math.isfinite(value):
        return f"{value:g}"
    return f"{value:.3f}" if abs(value) >= 0.001 else f"{value:.1e}"


def _cell_annotations(
    cells: list[tuple[float, float, float]], colours: dict, size: int = 9, text=lambda value: f"{value:.2f}",
) -> list[dict]:
    return [
        dict(x=x, y=y, text=text(value), showarrow=False,
             font=dict(size=size, color=_text_colour(value, colours)))
        for x, y, value in cells
    ]


def shift_overview_figure(table: pd.DataFrame, reference: str, all_stages: Sequence[str] = ()) -> go.Figure:
    """Mean shift per sequence and stage against the reference, with its interval: the study's
    question at a glance. Zero is marked; a point whose interval stays off zero moved.

    `table` has columns `sequence_id, concept, stage, mean, low, high, control_percentile` (the
    overview table of `interp.views.catalogue`); `low`/`high` may be NaN (no interval drawn). Stages keep
    their run-wide colours (`all_stages`).
    """
    missing = {"sequence_id", "concept", "stage", "mean", "low", "high", "control_percentile"} - set(table.columns)
    if missing:
        raise InterpError(f"shift table lacks column(s) {', '.join(sorted(missing))}")
    sequences = list(dict.fromkeys(table["sequence_id"]))
    stages = list(dict.fromkeys(table["stage"]))
    if len(stages) > MANY_STAGES:
        return _shift_map(table, sequences, stages, reference)
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
    return _finish(fig, f"Mean shift of the concept share against {reference}, per sequence",
                   "sequence", f"mean shift Δ vs {reference} (95% bootstrap interval over heads)",
                   scattermode="group", legend_title_text="stage")


def _shift_map(table: pd.DataFrame, sequences: list, stages: list, reference: str) -> go.Figure:
    """The mean shift of many stages as a sequence × stage map (stages in lineage order), on
    `RdBu_r` around 0: a trajectory of checkpoints reads along each row."""
    values = table.pivot(index="sequence_id", columns="stage", values="mean").reindex(
        index=sequences, columns=stages).to_numpy(dtype=np.float64)
    fig = go.Figure(go.Heatmap(
        z=values, x=[str(stage) for stage in stages], y=[str(s) for s in sequences],
        colorbar=dict(title=f"shift vs {reference}"), **_colour_range(values, diverging=True),
        hovertemplate="sequence %{y}<br>stage %{x}<br>mean shift %{z:.4f}<extra></extra>",
    ))
    fig.update_xaxes(type="category")
    fig.update_yaxes(type="category", autorange="reversed")
    return _finish(fig, f"Mean shift of the concept share against {reference}, per sequence and stage",
                   "stage (lineage order)", "sequence", height=max(320, 160 + 22 * len(sequences)))


def _stage_scale(stages: Sequence[str]) -> go.Scatter:
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


def layer_profile_figure(
    profiles: Mapping[str, Mapping[str, np.ndarray]],
    reference: str,
    concepts: Mapping[str, str] | None = None,
    all_stages: Sequence[str] = (),
    bands: Mapping[str, Mapping[str, tuple[np.ndarray, np.ndarray]]] | None = None,
) -> go.Figure:
    """Mean shift per layer against `reference`: one panel per sequence (or concept type), one
    line per stage.

    `profiles[panel][stage] = mean shift over heads: [layers]`; `bands[panel][stage] = (low,
    high)`, where given, shades an interval around the line. Panels wrap into at most three
    columns and are titled "panel (concepts[panel])"; a stage has one colour in every panel.
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
        traces.append(_stage_scale(list(all_stages or stages)))
        rows_of.append(1)
        cols_of.append(1)
    fig.add_traces(traces, rows=rows_of, cols=cols_of)
    fig.update_layout(shapes=zero_lines)
    for index in range(len(ids)):
        if index + columns >= len(ids):  # lowest panel of its column
            row, col = divmod(index, columns)
            fig.update_xaxes(title_text="layer", row=row + 1, col=col + 1)
    title = f"Mean shift of the concept share per layer, against {reference}"
    fig.update_layout(template=TEMPLATE, height=120 + 260 * rows, legend_title_text="stage",
                      title=dict(text=title))
    fig.update_yaxes(matches="y")  # one scale for every panel, so sequences compare
    fig.update_annotations(font_size=12)  # panel titles, which are long "id (concept)" labels
    fig.update_yaxes(title_text=f"mean shift vs {reference}", col=1)
    return fig



def head_heatmap_figure(values: np.ndarray, title: str, kind: str = "share") -> go.Figure:
    """Heat map of one value per head, `values: [layers, heads]`, layer 0 at the bottom.

    `kind="share"`: sequential scale from the smallest to the largest share (heads of one model
    often differ by a few hundredths; a scale from 0 would paint them alike);
    `kind="shift"`: `RdBu_r` on `±max|shift|`.
    Each cell carries `customdata = [layer, head]` so a selection in the app names the head.
    """
    _check_kind(kind, ("share", "shift"))
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 2:
        raise InterpError(f"head values must have shape [layers, heads], got {values.shape}")
    layers, heads = values.shape
    layer_grid, head_grid = np.meshgrid(np.arange(layers), np.arange(heads), indexing="ij")
    colours = _colour_range(values, diverging=kind == "shift", from_zero=False)
    fig = go.Figure(go.Heatmap(
        z=values, x=np.arange(heads), y=np.arange(layers),
        customdata=np.stack([layer_grid, head_grid], axis=-1), colorbar=dict(title=kind),
        hovertemplate=f"layer %{{customdata[0]}}, head %{{customdata[1]}}<br>{kind} %{{z:.4f}}"
                      "<extra></extra>",
        **colours,
    ))
    fig.update_xaxes(tickmode="linear", tick0=0, dtick=max(1, -(-heads // 16)))
    fig.update_yaxes(tickmode="linear", tick0=0, dtick=max(1, -(-layers // 16)))
    return clickable_heads(_finish(fig, title, "head", "layer (0 = first, at the bottom)"))


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
        trace.update(hoverinfo="skip", hovertemplate=None)
    return fig.update_layout(hoverdistance=-1)


def first_token_figure(values: Mapping[str, np.ndarray], title: str, kind: str = "share") -> go.Figure:
    """Each head's share of attention on the first token, one panel per stage (layer 0 at the
    bottom), at most `STAGE_COLUMNS` to a row.

    `values[stage]: [layers, heads]`. A sink diagnostic: `kind="share"` uses one `Viridis` scale
    fixed to [0, 1] for every panel, so that stages and models compare; `kind="change"` (a stage
    minus the reference) uses `RdBu_r` on `±max|change|` over all panels. Every cell carries
    `customdata = [layer, head]`, so a click selects the head as on `head_heatmap_figure`.
    """
    _check_kind(kind, ("share", "change"))
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
        limit = _colour_range(np.concatenate([a.ravel() for a in arrays.values()]), diverging=True)["zmax"]
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
    fig.update_layout(coloraxis=dict(colorbar=dict(title="on first token" if kind == "share" else "change"), **colours))
    fig.update_xaxes(tickmode="linear", tick0=0, dtick=max(1, -(-heads // 8)), title_text="head")
    fig.update_yaxes(tickmode="linear", tick0=0, dtick=max(1, -(-layers // 16)))
    fig.update_layout(template=TEMPLATE, title=dict(text=title))
    fig.update_yaxes(title_text="layer (0 = first, at the bottom)", col=1)
    return clickable_heads(fig)


def _token_tick(shown: str, is_concept: bool) -> str:
    """Tick label of a token in its readable form (`interp.concepts.token_text`); concept tokens are «bold and red»."""
    shown = html.escape(shown, quote=False)
    if is_concept:
        return f"<b><span style='color:{CONCEPT_COLOUR}'>«{shown}»</span></b>"
    return shown


def token_attention_figure(
    pattern: np.ndarray,
    tokens: Sequence[str],
    concept_mask: np.ndarray,
    *,
    window: tuple[int, int] | None = None,
    threshold: float | None = None,
    title: str = "",
    kind: str = "attention",
    first_position: int = 0,
) -> go.Figure:
    """Token-by-token attention (or its difference between stages), queries × keys.

    `pattern: [n, n]` (rows = queries, columns = keys) over tokens at positions
    `first_position, first_position + 1, ...`, cropped to `window = [start, end)` (indices into
    `pattern`; default: all of it); axes are labelled with the tokens' absolute positions and the
    text they cover (`interp.concepts.token_text.readable_tokens`: `▁shall` and `Ġshall` are `␣shall`), concept
    tokens marked «like this». The upper triangle (a key after its query) is blank.
    Cells with value (|value| for differences) above `threshold` are annotated with their value,
    the largest 400 when more pass.
    """
    _check_kind(kind, ("attention", "difference"))
    pattern = np.asarray(pattern, dtype=np.float64)
    n = len(tokens)
    concept_mask = np.asarray(concept_mask, dtype=bool)
    if pattern.shape != (n, n) or concept_mask.shape != (n,):
        raise InterpError(f"pattern must be [{n}, {n}] and concept_mask [{n}] for {n} tokens, "
                          f"got {pattern.shape} and {concept_mask.shape}")
    start, end = window if window is not None else (0, n)
    if not 0 <= start < end <= n:
        raise InterpError(f"token window must satisfy 0 <= start < end <= {n}, got {window}")
    positions = np.arange(start, end)
    z = pattern[start:end, start:end].copy()
    z[positions[None, :] > positions[:, None]] = np.nan
    colours = _colour_range(z, diverging=kind == "difference")
    # Categories "position: token" carry position, token and concept flag into the hover without
    # a per-cell customdata array (that tripled the figure's size).
    shown = readable_tokens(tokens)
    labels = [_token_label(first_position + p, shown[p], concept_mask[p]) for p in positions]
    fig = go.Figure(go.Heatmap(
        z=z.astype(np.float32), x=labels, y=labels, colorbar=dict(title=kind), hoverongaps=False,
        hovertemplate=f"query %{{y}}<br>key %{{x}}<br>{kind} %{{z:.4f}}<extra></extra>", **colours,
    ))
    cells = []
    note = ""
    if threshold is not None:
        magnitude = np.abs(z) if kind == "difference" else z
        with np.errstate(invalid="ignore"):
            rows, cols = np.nonzero(magnitude > threshold)
        if rows.size > MAX_ANNOTATIONS:
            keep = np.argsort(-np.abs(z[rows, cols]), kind="stable")[:MAX_ANNOTATIONS]
            rows, cols = rows[keep], cols[keep]
            note = f" (values shown for the {MAX_ANNOTATIONS} largest cells)"
        cells = [(labels[c], labels[r], z[r, c]) for r, c in zip(rows, cols)]
    side = int(np.clip(22 * (end - start) + 200, 450, 1400))
    fig.update_layout(annotations=_cell_annotations(cells, colours), width=side, height=side)
    step = max(1, math.ceil(len(labels) / MAX_TOKEN_TICKS))
    ticks = dict(tickmode="array", tickvals=labels[::step],
                 ticktext=[_token_tick(shown[p], concept_mask[p]) for p in positions[::step]])
    fig.update_xaxes(type="category", tickangle=-60, side="bottom", **ticks)
    fig.update_yaxes(type="category", autorange="reversed", **ticks)
    return _finish(fig, (title or f"Token {kind}") + note, "key token", "query token")


def _token_label(position: int, shown: str, is_concept: bool) -> str:
    """A token's category on a token axis: its position and readable text, and whether it is a
    concept token."""
    return f"{position}: {html.escape(shown, quote=False)}" + (" (concept)" if is_concept else "")


def shift_histogram_figure(shift: np.ndarray, title: str) -> go.Figure:
    """Histogram of the L·H head shifts with lines at 0 (grey) and at the mean (red)."""
    values = _finite(shift)
    fig = go.Figure(go.Histogram(
        x=values, marker_color="#7f7f7f", name="heads",
        hovertemplate="shift %{x}<br>%{y} heads<extra></extra>",
    ))
    fig.add_vline(x=0, line=dict(color="black", width=1, dash="dash"))
    if values.size:
        mean = float(values.mean())
        fig.add_vline(x=mean, line=dict(color=CONCEPT_COLOUR, width=2),
                      annotation_text=f"mean {mean:.4f}", annotation_position="top right")
    return _finish(fig, title, "shift (share − reference share)", "number of heads",
                   showlegend=False, bargap=0.05)


def shift_qq_figure(shift: np.ndarray, title: str) -> go.Figure:
    """Normal QQ plot of the head shifts (`scipy.stats.probplot`): points and fitted line."""
    values = _finite(shift)
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
    return _finish(fig, title, "theoretical normal quantile", "ordered shift")


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
        x=_finite(controls), marker_color="#7f7f7f", name="control spans",
        hovertemplate=f"{html.escape(statistic)} %{{x}}<br>%{{y}} control spans<extra></extra>",
    ))
    fig.add_vline(
        x=float(observed), line=dict(color=CONCEPT_COLOUR, width=2),
        annotation_text=f"concept {observed:.4f}<br>percentile {percentile:.1f}, p = {p_value:.3g}",
        annotation_position="top right",
    )
    return _finish(fig, title, f"{statistic} of the shift", "number of control spans",
                   showlegend=False, bargap=0.05)


def span_structure_figure(
    matrix: np.ndarray, labels: Sequence[str], title: str, kind: str = "attention", limit: float | None = None,
) -> go.Figure:
    """Attention from query spans (rows, first at the top) to key spans (columns), each cell's value
    written in it for up to `MAX_ANNOTATED_SPANS` spans (always in the hover).

    `matrix: [spans, spans]` as `Results.span_attention` reads it; NaN cells
    (causally impossible) stay blank. `kind="difference"` uses `RdBu_r` centred on 0. `limit`
    fixes the top of the colour scale (`±limit` for differences), so panels of several stages
    share one scale and compare.
    """
    _check_kind(kind, ("attention", "difference"))
    matrix = np.asarray(matrix, dtype=np.float64)
    size = len(labels)
    if matrix.shape != (size, size):
        raise InterpError(f"span matrix must be [{size}, {size}] for {size} labels, "
                          f"got {matrix.shape}")
    colours = _colour_range(matrix, diverging=kind == "difference")
    if limit:
        colours.update(zmin=-limit if kind == "difference" else 0.0, zmax=limit)
    ticks = [html.escape(label, quote=False) for label in labels]
    names = np.array(ticks, dtype=object)
    customdata = np.stack(np.broadcast_arrays(names[:, None], names[None, :]), axis=-1)
    fig = go.Figure(go.Heatmap(
        z=matrix, x=np.arange(size), y=np.arange(size), customdata=customdata,
        hoverongaps=False, colorbar=dict(title=kind),
        hovertemplate="query span %{customdata[0]}<br>key span %{customdata[1]}"
                      f"<br>{kind} %{{z:.4f}}<extra></extra>",
        **colours,
    ))
    if size <= MAX_ANNOTATED_SPANS:
        rows, cols = np.nonzero(np.isfinite(matrix))
        fig.update_layout(annotations=_cell_annotations(
            [(c, r, matrix[r, c]) for r, c in zip(rows, cols)], colours, size=13, text=short_number))
    fig.update_xaxes(tickmode="array", tickvals=np.arange(size), ticktext=ticks)
    fig.update_yaxes(tickmode="array", tickvals=np.arange(size), ticktext=ticks,
                     autorange="reversed")
    return _finish(fig, title, "key span", "query span")


def concept_type_figure(table: pd.DataFrame, reference: str, measure_label: str = "attention",
                        all_stages: Sequence[str] = ()) -> go.Figure:
    """Forest plot: per concept type (rows) and stage (colours), the mean shift over the type's
    sequences with its interval, and beside it, in grey, the same for their control spans.

    `table` has the columns of `interp.analysis.concept_types.concept_type_table`. A concept whose interval
    lies outside its controls' moved differently from the rest of its text.
    """
    missing = {"concept", "stage", "mean_shift", "low", "high", "control_mean_shift", "control_low",
               "control_high"} - set(table.columns)
    if missing:
        raise InterpError(f"concept type table lacks column(s) {', '.join(sorted(missing))}")
    concepts = list(dict.fromkeys(table["concept"]))
    stages = list(dict.fromkeys(table["stage"]))
    slots = len(stages) + 1
    colours = stage_colours(all_stages or stages)
    traces = []
    for index, stage in enumerate(stages):
        rows = table[table["stage"] == stage].set_index("concept").reindex(concepts)
        position = np.arange(len(concepts)) * slots + index
        counts = rows["sequences"].to_numpy() if "sequences" in rows else np.full(len(concepts), np.nan)
        traces.append(go.Scatter(
            x=rows["control_mean_shift"], y=position + 0.3, mode="markers", name=f"{stage}: controls",
            legendgroup=stage, marker=dict(symbol="line-ns-open", size=10, color="#9e9e9e"),
            error_x=dict(type="data", symmetric=False, array=rows["control_high"] - rows["control_mean_shift"],
                         arrayminus=rows["control_mean_shift"] - rows["control_low"], color="#bdbdbd", thickness=6, width=0),
            hovertemplate="controls<br>mean shift %{x:.4f}<extra></extra>",
        ))
        traces.append(go.Scatter(
            x=rows["mean_shift"], y=position, mode="markers", name=stage, legendgroup=stage,
            marker=dict(size=9, color=colours[stage]), customdata=np.stack(
                [rows["low"], rows["high"], counts], axis=-1),
            error_x=dict(type="data", symmetric=False, array=rows["high"] - rows["mean_shift"],
                         arrayminus=rows["mean_shift"] - rows["low"]),
            hovertemplate=f"stage {html.escape(str(stage))}<br>mean shift %{{x:.4f}}"
                          "<br>95% interval [%{customdata[0]:.4f}, %{customdata[1]:.4f}]"
                          "<br>%{customdata[2]} sequences<extra></extra>",
        ))
    fig = go.Figure(traces)
    fig.add_vline(x=0, line=dict(color="black", width=1, dash="dash"))
    fig.update_yaxes(tickmode="array", tickvals=np.arange(len(concepts)) * slots + (len(stages) - 1) / 2,
                     ticktext=[html.escape(str(c), quote=False) for c in concepts], autorange="reversed")
    return _finish(fig, f"Mean shift of the concept share per concept type ({measure_label}), against {reference}",
                   f"mean shift vs {reference} (95% hierarchical bootstrap interval; grey: control spans)",
                   "concept type", height=140 + 30 * slots * len(concepts), legend_title_text="stage")


def head_consistency_figure(fraction_up: np.ndarray, significant: np.ndarray, title: str) -> go.Figure:
    """Layer × head map of the fraction of sequences in which each head's share rose (`RdBu_r`
    around ½), heads whose direction is significant after false-discovery control marked ✕.
    Cells carry `customdata = [layer, head]`, so a click in the app selects the head."""
    values = np.asarray(fraction_up, dtype=np.float64)
    marks = np.asarray(significant, dtype=bool)
    if values.ndim != 2 or marks.shape != values.shape:
        raise InterpError(f"fractions and marks must both be [layers, heads], got {values.shape} and {marks.shape}")
    layers, heads = values.shape
    layer_grid, head_grid = np.meshgrid(np.arange(layers), np.arange(heads), indexing="ij")
    fig = go.Figure(go.Heatmap(
        z=values, x=np.arange(heads), y=np.arange(layers), zmin=0, zmax=1, zmid=0.5, colorscale=DIVERGING_SCALE,
        customdata=np.stack([layer_grid, head_grid], axis=-1), colorbar=dict(title="share rose in"),
        hovertemplate="layer %{customdata[0]}, head %{customdata[1]}<br>rose in %{z:.0%} of sequences<extra></extra>",
    ))
    rows, cols = np.nonzero(marks)
    fig.add_trace(go.Scatter(
        x=cols, y=rows, mode="markers", name="FDR-significant", marker=dict(symbol="x-thin-open", size=9, color="black"),
        hovertemplate="layer %{y}, head %{x}: significant after FDR control<extra></extra>",
    ))
    fig.update_xaxes(tickmode="linear", tick0=0, dtick=max(1, -(-heads // 16)))
    fig.update_yaxes(tickmode="linear", tick0=0, dtick=max(1, -(-layers // 16)))
    return clickable_heads(_finish(fig, title, "head", "layer (0 = first, at the bottom)", showlegend=True))


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
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.08,
                        subplot_titles=("mean share", f"mean shift vs {reference}"))
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
    fig.update_layout(template=TEMPLATE, title=dict(text=title), height=560, hovermode="closest")
    return fig


def stage_layer_figure(shifts: np.ndarray, stages: Sequence[str], reference: str, title: str) -> go.Figure:
    """Mean shift per stage (columns, lineage order) and layer (rows, layer 0 at the bottom),
    `shifts: [stages, layers]`, on `RdBu_r` around 0: where in the network attention to the
    concept moved, and when in training."""
    values = np.asarray(shifts, dtype=np.float64)
    if values.ndim != 2 or values.shape[0] != len(stages):
        raise InterpError(f"shifts must be [stages, layers] with {len(stages)} stages, got {values.shape}")
    labels = [str(stage) for stage in stages]
    fig = go.Figure(go.Heatmap(
        z=values.T, x=labels, y=np.arange(values.shape[1]), colorbar=dict(title=f"mean shift vs {reference}"),
        **_colour_range(values, diverging=True),
        hovertemplate="stage %{x}<br>layer %{y}<br>mean shift %{z:.4f}<extra></extra>",
    ))
    fig.update_xaxes(type="category", categoryorder="array", categoryarray=labels)
    fig.update_yaxes(tickmode="linear", tick0=0, dtick=max(1, -(-values.shape[1] // 16)))
    return _finish(fig, title, "stage (lineage order)", "layer (0 = first, at the bottom)")


def _luminance(colour: str) -> float:
    """Relative luminance of a colour `#rrggbb` or `rgb(r, g, b)` (0 dark, 1 light)."""
    if colour.startswith("#"):
        channels = [int(colour[i:i + 2], 16) for i in (1, 3, 5)]
    else:
        channels = [float(part) for part in colour[colour.index("(") + 1:colour.index(")")].split(",")[:3]]
    return (0.2126 * channels[0] + 0.7152 * channels[1] + 0.0722 * channels[2]) / 255


def token_text_figure(
    tokens: Sequence[str], values: np.ndarray, concept_mask: np.ndarray, excluded_mask: np.ndarray, title: str,
    kind: str = "attention", first_position: int = 0, line_characters: int = 90,
) -> go.Figure:
    """The text, each token on a background coloured by the attention it receives: read like a
    page, as CircuitsVis shows attention. Concept tokens are bold and underlined; excluded tokens
    (which no share counts) stay grey.

    `tokens` are readable token texts (`interp.concepts.token_text.readable_tokens`, `␣` for a space), `values`
    one number per token; `kind="difference"` uses `RdBu_r` centred on 0. Lines wrap after about
    `line_characters` characters.
    """
    _check_kind(kind, ("attention", "difference"))
    values = np.asarray(values, dtype=np.float64)
    n = len(tokens)
    if values.shape != (n,) or np.asarray(concept_mask).shape != (n,) or np.asarray(excluded_mask).shape != (n,):
        raise InterpError(f"values, concept and excluded masks must each hold {n} entries")
    counted = values[~np.asarray(excluded_mask, dtype=bool)]
    colours = _colour_range(counted if counted.size else values, diverging=kind == "difference")

    low, high = colours["zmin"], colours["zmax"]
    annotations, column, line = [], 0, 0
    for index, (token, value) in enumerate(zip(tokens, values)):
        text = token.replace("␣", " ")
        at_word = text[:1].isspace() or not text[:1].isalnum()
        if column and column + len(text) > line_characters and (at_word or column > line_characters + 12):
            column, line = 0, line + 1
        if excluded_mask[index]:
            background, ink = "#eeeeee", "#9e9e9e"
        else:
            position = 0.5 if high == low else (np.clip(value, low, high) - low) / (high - low)
            background = sample_colorscale(colours["colorscale"], [float(position)])[0]
            ink = "black" if _luminance(background) > 0.5 else "white"
        shown = html.escape(text, quote=False).replace(" ", "&nbsp;")
        if concept_mask[index]:
            shown = f"<b><u>{shown}</u></b>"
        annotations.append(dict(
            x=column, y=line, text=shown, xanchor="left", showarrow=False, bgcolor=background,
            font=dict(family="DejaVu Sans Mono, monospace", size=13, color=ink), borderpad=1,
            hovertext=f"token {first_position + index}: {html.escape(token, quote=False)}<br>{kind} {value:.4f}"
                      + (" (concept)" if concept_mask[index] else "") + (" (excluded)" if excluded_mask[index] else ""),
        ))
        column += max(len(text), 1) + 0.15
    lines = line + 1
    scale_trace = go.Scatter(
        x=[None], y=[None], mode="markers", showlegend=False, hoverinfo="skip",
        marker=dict(colorscale=colours["colorscale"], cmin=low, cmax=high, color=[low], showscale=True,
                    colorbar=dict(title="received" if kind == "attention" else "change")),
    )
    fig = go.Figure(scale_trace)
    # One x unit is one character of the monospace font (13 px DejaVu Sans Mono: 7.83 px wide), so
    # tokens placed by character count sit side by side; the figure has that width exactly.
    plot_width = (line_characters + 17) * TEXT_CHARACTER_PX
    fig.update_layout(annotations=annotations, height=160 + 26 * lines, width=int(plot_width) + 140,
                      margin=dict(l=20, r=120, t=60, b=20))
    fig.update_xaxes(visible=False, range=[-1, line_characters + 16])
    fig.update_yaxes(visible=False, range=[lines, -1])
    fig.update_layout(template=TEMPLATE, title=dict(text=title))
    return fig


def head_grid_figure(patterns: np.ndarray, tokens: Sequence[str], title: str, first_position: int = 0) -> go.Figure:
    """Small multiples of every head of one layer, token × token (BertViz's overview): which heads
    look where, at a glance. `patterns: [heads, w, w]` over tokens `first_position ...`, one shared
    colour scale from 0; click-free, for overview (the Tokens view shows one head in detail)."""
    patterns = np.asarray(patterns, dtype=np.float64)
    if patterns.ndim != 3 or patterns.shape[1] != patterns.shape[2] or patterns.shape[1] != len(tokens):
        raise InterpError(f"patterns must be [heads, w, w] for {len(tokens)} tokens, got {patterns.shape}")
    heads, width = patterns.shape[:2]
    columns = min(heads, 8)
    rows = math.ceil(heads / columns)
    fig = make_subplots(rows=rows, cols=columns, subplot_titles=[f"head {h}" for h in range(heads)],
                        horizontal_spacing=0.02, vertical_spacing=0.06 / max(rows, 1) + 0.02)
    labels = [_token_label(first_position + p, token, False) for p, token in enumerate(tokens)]
    upper = np.triu(np.ones((width, width), dtype=bool), k=1)
    traces, rows_of, cols_of = [], [], []
    for head in range(heads):
        z = patterns[head].copy()
        z[upper] = np.nan
        traces.append(go.Heatmap(z=z, x=labels, y=labels, coloraxis="coloraxis", hoverongaps=False,
                                 hovertemplate=f"head {head}<br>query %{{y}}<br>key %{{x}}<br>attention %{{z:.3f}}"
                                               "<extra></extra>"))
        row, col = divmod(head, columns)
        rows_of.append(row + 1)
        cols_of.append(col + 1)
    fig.add_traces(traces, rows=rows_of, cols=cols_of)
    top = float(np.nanmax(patterns)) if np.isfinite(patterns).any() else 1.0
    fig.update_layout(coloraxis=dict(colorscale=SEQUENTIAL_SCALE, cmin=0, cmax=top or 1.0,
                                     colorbar=dict(title="attention")),
                      height=140 + 150 * rows, template=TEMPLATE, title=dict(text=title))
    fig.update_xaxes(showticklabels=False, type="category")
    fig.update_yaxes(showticklabels=False, type="category", autorange="reversed")
    fig.update_annotations(font_size=10)
    return fig
