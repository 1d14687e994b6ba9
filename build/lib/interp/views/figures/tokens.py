"""Figures over tokens and spans: token × token attention, the Text view, the head grid, span × span structure."""

from __future__ import annotations

import html
import math
from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.colors import sample_colorscale
from plotly.subplots import make_subplots

from interp.concepts.token_text import readable_tokens
from interp.core.errors import InterpError
from interp.views.figures.common import (
    CONCEPT_COLOUR,
    MAX_ANNOTATED_SPANS,
    MAX_ANNOTATIONS,
    MAX_TOKEN_TICKS,
    SEQUENTIAL_SCALE,
    TEMPLATE,
    TEXT_CHARACTER_PX,
    cell_annotations,
    check_kind,
    colour_range,
    finish,
    luminance,
    short_number,
)


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
    check_kind(kind, ("attention", "difference"))
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
    colours = colour_range(z, diverging=kind == "difference")
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
    fig.update_layout(annotations=cell_annotations(cells, colours), width=side, height=side)
    step = max(1, math.ceil(len(labels) / MAX_TOKEN_TICKS))
    ticks = dict(tickmode="array", tickvals=labels[::step],
                 ticktext=[_token_tick(shown[p], concept_mask[p]) for p in positions[::step]])
    fig.update_xaxes(type="category", tickangle=-60, side="bottom", **ticks)
    fig.update_yaxes(type="category", autorange="reversed", **ticks)
    return finish(fig, (title or f"Token {kind}") + note, "key token", "query token")


def _token_label(position: int, shown: str, is_concept: bool) -> str:
    """A token's category on a token axis: its position and readable text, and whether it is a
    concept token."""
    return f"{position}: {html.escape(shown, quote=False)}" + (" (concept)" if is_concept else "")


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
    check_kind(kind, ("attention", "difference"))
    matrix = np.asarray(matrix, dtype=np.float64)
    size = len(labels)
    if matrix.shape != (size, size):
        raise InterpError(f"span matrix must be [{size}, {size}] for {size} labels, "
                          f"got {matrix.shape}")
    colours = colour_range(matrix, diverging=kind == "difference")
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
        fig.update_layout(annotations=cell_annotations(
            [(c, r, matrix[r, c]) for r, c in zip(rows, cols)], colours, size=13, text=short_number))
    fig.update_xaxes(tickmode="array", tickvals=np.arange(size), ticktext=ticks)
    fig.update_yaxes(tickmode="array", tickvals=np.arange(size), ticktext=ticks,
                     autorange="reversed")
    return finish(fig, title, "key span", "query span")


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
    check_kind(kind, ("attention", "difference"))
    values = np.asarray(values, dtype=np.float64)
    n = len(tokens)
    if values.shape != (n,) or np.asarray(concept_mask).shape != (n,) or np.asarray(excluded_mask).shape != (n,):
        raise InterpError(f"values, concept and excluded masks must each hold {n} entries")
    counted = values[~np.asarray(excluded_mask, dtype=bool)]
    colours = colour_range(counted if counted.size else values, diverging=kind == "difference")

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
            ink = "black" if luminance(background) > 0.5 else "white"
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
