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
    colour_title,
    finish,
    luminance,
    measured,
    short_number,
)
from interp.views.figures.fitting import FITTERS, Fitter, Room, fit_screen, panels_meta, plain_text, text_width


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
    side = int(np.clip(TOKEN_CELL_PX * (end - start) + TOKEN_MAP_FRAME_PX, 450, 1400))
    cell_px = (side - TOKEN_MAP_FRAME_PX) / len(labels)
    if cells and text_width("0.00", VALUE_FONT) > cell_px:
        cells, note = [], " (cells too small to write values in: the hover gives them)"
    ticktext = [_token_tick(shown[p], concept_mask[p]) for p in positions]
    fig.update_layout(annotations=cell_annotations(cells, colours, size=VALUE_FONT), width=side, height=side,
                      meta={"fit": "token-map", "ticktext": ticktext})
    fig.update_xaxes(type="category", tickangle=-60, side="bottom")
    fig.update_yaxes(type="category", autorange="reversed")
    fig = finish(fig, (title or f"Token {kind}") + note, "key token", "query token")
    layout = fig.layout.to_plotly_json()
    return fig.update_layout(_token_axes(layout, labels, ticktext, side - TOKEN_MAP_FRAME_PX, TOKEN_TICK_FONT,
                                         hover=True))


# A token map's plot is its side less this much: tick labels, colour bar and title around it. Its
# cells are this wide while the map is at most 1400 px, room for a value and a label each.
TOKEN_MAP_FRAME_PX = 260
TOKEN_CELL_PX = 24
TOKEN_TICK_FONT = 11
VALUE_FONT = 9  # a cell's value, written where the cell is wider than the number
# Tick labels one above the other need this many font sizes each (a line and a little air); the
# x axis's labels, turned 60°, need about the same along the axis.
TICK_PITCH_EM = 1.3


def _label_step(tokens: int, plot_px: float, font_size: float) -> int:
    """Label every k-th token: the smallest k whose labels do not overlap at this size, at most
    `MAX_TOKEN_TICKS` labels."""
    fits = max(1, math.ceil(TICK_PITCH_EM * font_size / max(plot_px / max(tokens, 1), 1e-9)))
    return max(fits, math.ceil(tokens / MAX_TOKEN_TICKS))


def _ordinal(step: int) -> str:
    return {2: "2nd", 3: "3rd"}.get(step, f"{step}th")


def _token_axes(layout: dict, labels: Sequence[str], ticktext: Sequence[str], plot_px: float,
                font_size: float, hover: bool = False) -> dict:
    """Layout updates of a token map's axes: every token labelled where the labels fit, else every
    k-th, which the axis titles then say (with `hover`: that the hover still names every token)."""
    step = _label_step(len(labels), plot_px, font_size)
    note = "" if step == 1 else f" (every {_ordinal(step)} labelled{'; the hover names each' if hover else ''})"
    ticks = dict(tickmode="array", tickvals=list(labels[::step]), ticktext=list(ticktext[::step]),
                 tickfont=dict(size=font_size))
    return {"xaxis": {**layout.get("xaxis", {}), **ticks, "title": {"text": "key token" + note}},
            "yaxis": {**layout.get("yaxis", {}), **ticks, "title": {"text": "query token" + note}},
            "meta": {**layout.get("meta", {}),
                     "caption": f"Every {_ordinal(step)} token labelled." if step > 1 else ""}}


def _fit_token_map(spec: dict, room: Room) -> dict:
    """A token map for a narrower page: labels thinned to what fits, cell values left out where a
    cell is narrower than its number (the caption says so)."""
    layout = dict(spec["layout"])
    labels = list(spec["data"][0]["x"])
    ticktext = layout["meta"]["ticktext"]
    longest = max((text_width(text, room.font_size, bold=True) for text in ticktext), default=0.0)
    plot_px = max(room.width - room.margin["l"] - room.margin["r"] - 0.87 * longest - 6 * room.font_size, 40.0)
    layout.update(_token_axes(layout, labels, ticktext, plot_px, room.font_size))
    cell = plot_px / max(len(labels), 1)
    notes = layout.get("annotations") or []
    values = [note for note in notes if note.get("xref", "x") == "x"]
    if values and any(text_width(note["text"], room.font_size) > cell for note in values):
        layout["annotations"] = [note for note in notes if note not in values]
        layout["meta"]["caption"] = " ".join(filter(None, [layout["meta"]["caption"],
                                                           "Cell values left out at this size (they are in the app)."]))
    return {**spec, "layout": layout}


FITTERS.add(Fitter("token-map", _fit_token_map))


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


def flow_tokens(texts: Sequence[str], line_characters: int) -> list[tuple[float, int]]:
    """(column, line) of each token's text laid out like a page: a line breaks before a token that
    starts a word and would pass `line_characters`, or before any token that would pass the slack
    of `LINE_SLACK` characters, so no line is wider than `line_characters + LINE_SLACK`. Tokens are
    `TOKEN_GAP` characters apart, which their backgrounds' padding needs."""
    positions, column, line = [], 0.0, 0
    for text in texts:
        length = max(len(text), 1)
        starts_word = text[:1].isspace() or not text[:1].isalnum()
        past = column + length > line_characters + (0 if starts_word else LINE_SLACK)
        if column and past:
            column, line = 0.0, line + 1
        positions.append((column, line))
        column += length + TOKEN_GAP
    return positions


TEXT_FONT = "DejaVu Sans Mono, monospace"
MONO_EM = TEXT_CHARACTER_PX / 13  # DejaVu Sans Mono's advance: 7.83 px at 13 px
TEXT_FONT_SIZE = 13
LINE_SLACK = 6  # characters a line may run past its length rather than break inside a word
# Characters between two tokens, and how far each background reaches past its text (px): with
# 2 px of padding and border and 0.15 characters apart, a background covered the last letter of
# the token before ("defendani" for "defendant").
TOKEN_GAP = 0.2
TOKEN_PAD = 0
LINE_EM = 2.0  # a text line's height in font sizes


def _place_text(layout: dict, texts: Sequence[str], line_characters: int, font_size: float, frame: dict) -> dict:
    """Layout updates that flow the Text figure's token annotations into lines of
    `line_characters` at `font_size`: positions, sizes, axis ranges and the figure's size around
    the text (`frame`: margins and the room the colour bar takes to the right)."""
    positions = flow_tokens(texts, line_characters)
    lines = positions[-1][1] + 1 if positions else 1
    notes = [{**note, "x": column, "y": line, "font": {**note.get("font", {}), "family": TEXT_FONT, "size": font_size}}
             for note, (column, line) in zip(layout["annotations"], positions)]
    char_px = MONO_EM * font_size
    width = (line_characters + LINE_SLACK + 1) * char_px + frame["l"] + frame["r"]
    # At least a few lines' height: plotly refuses to lay out a plot squeezed by its colour bar.
    text_height = LINE_EM * font_size * max(lines, 3)
    return {"annotations": notes, "width": round(width), "height": round(frame["t"] + frame["b"] + text_height),
            "xaxis": {**layout.get("xaxis", {}), "visible": False, "range": [-0.5, line_characters + LINE_SLACK + 0.5]},
            "yaxis": {**layout.get("yaxis", {}), "visible": False, "range": [max(lines, 3) - 0.5, -0.5]}}


def _fit_token_text(spec: dict, room: Room) -> dict:
    """The Text figure reflowed for a narrower page: as many characters a line as the width holds
    at the room's font size, the colour bar below the text; the caption says how many."""
    layout = dict(spec["layout"])
    texts = [plain_text(note["text"]) for note in layout["annotations"]]
    frame = {"l": 8, "r": 8, "t": 8, "b": 8 + 8 * room.font_size}
    characters = max(20, int((room.width - 16) / (MONO_EM * room.font_size)) - LINE_SLACK - 1)
    layout.update(_place_text(layout, texts, characters, room.font_size, frame), margin={**frame, "pad": 0})
    layout["width"] = round(room.width)
    layout["meta"] = {**layout["meta"],
                      "caption": f"Lines of at most {characters + LINE_SLACK} characters at this width."}
    data = [{**trace, "marker": {**trace["marker"], "colorbar": {
        **trace["marker"].get("colorbar", {}), "orientation": "h", "x": 0, "xanchor": "left",
        "y": -8 / (layout["height"] - frame["t"] - frame["b"]), "yanchor": "top",  # 8 px below the text
        "lenmode": "pixels", "len": 0.5 * room.width,
        "thickness": 10, "title": {"text": plain_text(trace["marker"]["colorbar"]["title"]["text"]).replace("\n", " "),
                                   "side": "top"}}}}
        if "marker" in trace else trace for trace in spec["data"]]
    return {**spec, "data": data, "layout": layout}


FITTERS.add(Fitter("token-text", _fit_token_text))


def token_text_figure(
    tokens: Sequence[str], values: np.ndarray, concept_mask: np.ndarray, excluded_mask: np.ndarray, title: str,
    kind: str = "attention", first_position: int = 0, line_characters: int = 90, measure: str = "attention",
) -> go.Figure:
    """The text, each token on a background coloured by the attention it receives: read like a
    page, as CircuitsVis shows attention. Concept tokens are bold and underlined; excluded tokens
    (which no share counts) stay grey.

    `tokens` are readable token texts (`interp.concepts.token_text.readable_tokens`, `␣` for a space), `values`
    one number per token, in `measure`; `kind="difference"` uses `RdBu_r` centred on 0. Lines wrap
    after about `line_characters` characters (`flow_tokens`); on a narrower page the paper style
    flows them again (fitter `token-text`).
    """
    check_kind(kind, ("attention", "difference"))
    values = np.asarray(values, dtype=np.float64)
    n = len(tokens)
    if values.shape != (n,) or np.asarray(concept_mask).shape != (n,) or np.asarray(excluded_mask).shape != (n,):
        raise InterpError(f"values, concept and excluded masks must each hold {n} entries")
    counted = values[~np.asarray(excluded_mask, dtype=bool)]
    colours = colour_range(counted if counted.size else values, diverging=kind == "difference")

    low, high = colours["zmin"], colours["zmax"]
    annotations = []
    for index, (token, value) in enumerate(zip(tokens, values)):
        text = token.replace("␣", " ")
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
            x=0, y=0, text=shown, xanchor="left", yanchor="middle", showarrow=False, bgcolor=background,
            font=dict(color=ink), borderpad=TOKEN_PAD, borderwidth=0,
            hovertext=f"token {first_position + index}: {html.escape(token, quote=False)}<br>"
                      f"{measured(kind, measure)} {value:.4f}"
                      + (" (concept)" if concept_mask[index] else "") + (" (excluded)" if excluded_mask[index] else ""),
        ))
    bar = measured("received" if kind == "attention" else "change", measure)
    scale_trace = go.Scatter(
        x=[None], y=[None], mode="markers", showlegend=False, hoverinfo="skip",
        marker=dict(colorscale=colours["colorscale"], cmin=low, cmax=high, color=[low], showscale=True,
                    colorbar=dict(title=dict(text=colour_title(bar)))),
    )
    fig = go.Figure(scale_trace)
    # One x unit is one character of the monospace font (13 px DejaVu Sans Mono: 7.83 px wide), so
    # tokens placed by character count sit side by side; the figure has that width exactly.
    frame = {"l": 20, "r": 140, "t": 80, "b": 20}
    texts = [token.replace("␣", " ") for token in tokens]
    fig.update_layout(template=TEMPLATE, title=dict(text=title), margin=frame, meta={"fit": "token-text"},
                      annotations=annotations)
    fig.update_layout(_place_text(fig.layout.to_plotly_json(), texts, line_characters, TEXT_FONT_SIZE, frame))
    return fit_screen(fig)


def head_grid_figure(patterns: np.ndarray, tokens: Sequence[str], title: str, first_position: int = 0) -> go.Figure:
    """Small multiples of every head of one layer, token × token (BertViz's overview): which heads
    look where, at a glance. `patterns: [heads, w, w]` over tokens `first_position ...`, one shared
    colour scale from 0; click-free, for overview (the Tokens view shows one head in detail)."""
    patterns = np.asarray(patterns, dtype=np.float64)
    if patterns.ndim != 3 or patterns.shape[1] != patterns.shape[2] or patterns.shape[1] != len(tokens):
        raise InterpError(f"patterns must be [heads, w, w] for {len(tokens)} tokens, got {patterns.shape}")
    heads, width = patterns.shape[:2]
    columns = min(heads, GRID_COLUMNS)
    rows = math.ceil(heads / columns)
    fig = make_subplots(rows=rows, cols=columns, subplot_titles=[f"head {h}" for h in range(heads)],
                        horizontal_spacing=0.04, vertical_spacing=0.12 / max(rows, 1) + 0.03)
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
                                     colorbar=dict(title="attention", len=min(1.0, 360 / (140 + GRID_ROW_PX * rows)),
                                                   yanchor="top", y=1)),
                      height=140 + GRID_ROW_PX * rows, template=TEMPLATE, title=dict(text=title),
                      meta=panels_meta(heads, columns, aspect=1.0))
    fig.update_xaxes(showticklabels=False, type="category")
    fig.update_yaxes(showticklabels=False, type="category", autorange="reversed")
    fig.update_annotations(font_size=12)
    return fit_screen(fig)


# The head grid puts this many heads to a row, each map about `GRID_ROW_PX` tall on screen: a
# map of 48 tokens needs that much to show its pattern (8 to a row drew maps 90 px wide).
GRID_COLUMNS = 4
GRID_ROW_PX = 260
