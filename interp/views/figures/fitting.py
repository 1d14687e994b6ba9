"""Figures that fit the width they are drawn at: text widths, wrapped titles, panels regridded, and
per-figure fitters that lay a figure out again for a narrower page (docs/design.md §7.3, §7.5).

Everything here works on a figure's dict (`fig.to_dict()`), so that the app's figures (at the
screen's size, through `fit_screen`) and the paper style of `interp.export.styles` (3.5 or 7 in,
through `fit_figure`) are fitted by one code path. Widths are estimated from the advance widths of
DejaVu Sans, the paper font and as wide as the sans-serif fonts a screen falls back to, so an
estimate errs on the side of room; the rendered-PDF test of every view checks the result.
"""

from __future__ import annotations

import html
import math
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

from interp.core.palette import DEFAULT_FIGURE_SIZE
from interp.core.registry import Registry

# Advance widths of DejaVu Sans in em for the characters 32–126 (space to tilde).
_ASCII_EM = (
    0.318, 0.401, 0.46, 0.838, 0.636, 0.95, 0.78, 0.275, 0.39, 0.39, 0.5, 0.838, 0.318, 0.361, 0.318, 0.337,
    0.636, 0.636, 0.636, 0.636, 0.636, 0.636, 0.636, 0.636, 0.636, 0.636, 0.337, 0.337, 0.838, 0.838, 0.838, 0.531,
    1.0, 0.684, 0.686, 0.698, 0.77, 0.632, 0.575, 0.775, 0.752, 0.295, 0.295, 0.656, 0.557, 0.863, 0.748, 0.787,
    0.603, 0.787, 0.695, 0.635, 0.611, 0.732, 0.684, 0.989, 0.685, 0.611, 0.685, 0.39, 0.337, 0.39, 0.838, 0.5,
    0.5, 0.613, 0.635, 0.55, 0.635, 0.615, 0.352, 0.635, 0.634, 0.278, 0.278, 0.579, 0.278, 0.974, 0.634, 0.612,
    0.635, 0.635, 0.411, 0.521, 0.392, 0.634, 0.592, 0.818, 0.592, 0.592, 0.525, 0.636, 0.337, 0.636, 0.838,
)
OTHER_EM = 0.84  # Δ, −, «, ␣ and other letters beyond ASCII: the widest of them
WIDE_EM = 1.0  # East Asian wide and full-width characters
BOLD = 1.13  # DejaVu Sans Bold against Book, over the lower-case letters
LINE_EM = 1.3  # plotly's line height for `<br>`
# Plotly's default margins (l, r, t, b) and font size, which a figure without its own has.
DEFAULT_MARGIN = {"l": 80, "r": 80, "t": 100, "b": 80}
DEFAULT_FONT = 12
TITLE_SIZE = 17  # plotly's title font in the white template
TAGS = re.compile(r"<[^<>]*>")
AXIS = re.compile(r"([xy])axis(\d*)")


def plain_text(text: str) -> str:
    """What a plotly text shows: markup removed, entities decoded, `<br>` as a newline."""
    return html.unescape(TAGS.sub("", re.sub(r"<br\s*/?>", "\n", str(text), flags=re.IGNORECASE)))


def text_width(text: str, size: float, bold: bool = False) -> float:
    """The width in px of the longest line of a plotly text at font size `size`."""
    lines = plain_text(text).split("\n") or [""]
    return max(sum(_em(char) for char in line) for line in lines) * size * (BOLD if bold else 1.0)


def _em(char: str) -> float:
    code = ord(char)
    if 32 <= code <= 126:
        return _ASCII_EM[code - 32]
    return WIDE_EM if unicodedata.east_asian_width(char) in ("W", "F") else OTHER_EM


def wrap_text(text: str, pixels: float, size: float) -> str:
    """`text` broken into lines (`<br>`) of at most `pixels` at font size `size`, at spaces; a word
    longer than a line keeps a line of its own. Line breaks already in `text` are undone first, so
    a title wrapped for the screen wraps again for paper."""
    words = re.sub(r"<br\s*/?>", " ", str(text), flags=re.IGNORECASE).split()
    lines: list[str] = []
    for word in words:
        if lines and text_width(f"{lines[-1]} {word}", size) <= pixels:
            lines[-1] = f"{lines[-1]} {word}"
        else:
            lines.append(word)
    return "<br>".join(lines)


def line_count(text: str) -> int:
    return len(re.split(r"<br\s*/?>", str(text), flags=re.IGNORECASE))


@dataclass(frozen=True)
class Room:
    """The size a figure is drawn at and its font size, with an estimate of its plot area (what the
    margins, tick labels and a colour bar leave)."""

    width: float
    height: float
    font_size: float
    margin: dict

    @property
    def plot_width(self) -> float:
        return max(40.0, self.width - self.margin["l"] - self.margin["r"] - 4 * self.font_size)

    @property
    def plot_height(self) -> float:
        return max(40.0, self.height - self.margin["t"] - self.margin["b"] - 3 * self.font_size)


def room_of(layout: dict, width: float | None = None, height: float | None = None,
            font_size: float | None = None) -> Room:
    margin = {**DEFAULT_MARGIN, **{k: v for k, v in (layout.get("margin") or {}).items() if k in DEFAULT_MARGIN}}
    return Room(float(width or layout.get("width") or DEFAULT_FIGURE_SIZE[0]),
                float(height or layout.get("height") or DEFAULT_FIGURE_SIZE[1]),
                float(font_size or (layout.get("font") or {}).get("size") or DEFAULT_FONT), margin)


def _title_text(title) -> str:
    return (title.get("text") if isinstance(title, dict) else title) or ""


def fit_titles(layout: dict, room: Room) -> dict:
    """Axis titles wrapped to their axis's length, panel titles to their panel's width: a new layout."""
    layout = dict(layout)
    title = layout.get("title")
    if isinstance(title, dict) and title.get("text"):
        size = (title.get("font") or {}).get("size") or TITLE_SIZE
        wrapped = wrap_text(title["text"], room.width - 2 * room.font_size - 60, size)
        lines = line_count(wrapped)
        if lines > 1:
            # Plotly puts a title's first line on the middle of the top margin and the rest below it
            # (its `automargin` and a top anchor put a second line above the page): a margin that
            # holds every line.
            layout["title"] = {**title, "text": wrapped}
            top = 2 * ((lines - 1) * LINE_EM + 0.3) * size + 20
            layout["margin"] = {**(layout.get("margin") or {}), "t": max(room.margin["t"], math.ceil(top))}
    for key, axis in list(layout.items()):
        match = AXIS.fullmatch(key)
        if not match or not isinstance(axis, dict) or not _title_text(axis.get("title")):
            continue
        low, high = axis.get("domain") or (0.0, 1.0)
        # A y axis loses some height to the x axis's tick labels, which the room's estimate leaves in.
        length = (room.plot_width if match.group(1) == "x" else 0.8 * room.plot_height) * (high - low)
        title = axis["title"] if isinstance(axis["title"], dict) else {"text": axis["title"]}
        size = (title.get("font") or {}).get("size") or room.font_size
        layout[key] = {**axis, "title": {**title, "text": wrap_text(title["text"], max(length, 60.0), size)}}
    notes = layout.get("annotations")
    if isinstance(notes, list):
        titles = [note for note in notes if _is_panel_title(note)]
        columns = sorted({round(float(note.get("x", 0.5)), 4) for note in titles})
        spacing = min((b - a for a, b in zip(columns, columns[1:])), default=1.0)
        # A title is centred on its panel, which tick labels push off the page's centre: some spare.
        width = max(0.9 * spacing * room.plot_width, 40.0)
        layout["annotations"] = [{**note, "text": wrap_text(note.get("text", ""), width, _size(note, room))}
                                 if _is_panel_title(note) else note for note in notes]
    return layout


def _size(note: dict, room: Room) -> float:
    return (note.get("font") or {}).get("size") or room.font_size


def _is_panel_title(note: dict) -> bool:
    """Subplot titles as `make_subplots` writes them: above a panel, centred, in paper coordinates."""
    return (note.get("xref") == "paper" and note.get("yref") == "paper" and note.get("showarrow") is False
            and note.get("yanchor") == "bottom" and note.get("xanchor") == "center")


@dataclass(frozen=True)
class Fitter:
    """How one kind of figure lays itself out again for a room: `fit(spec, room) -> spec`, where
    `spec` is the figure's dict (a new one returned, the input unchanged). A figure names its fitter
    in `layout.meta.fit`."""

    name: str
    fit: Callable[[dict, Room], dict]


FITTERS: Registry[Fitter] = Registry("figure fitter")


def fit_figure(spec: dict, width: float, height: float, font_size: float) -> dict:
    """`spec` laid out for `width` × `height` px at `font_size`: its own fitter first (named in
    `layout.meta.fit`), then its titles wrapped to the room they get. A new dict."""
    layout = spec.get("layout", {})
    room = room_of(layout, width, height, font_size)
    name = (layout.get("meta") or {}).get("fit") if isinstance(layout.get("meta"), dict) else None
    if name:
        spec = FITTERS.named(name).fit(spec, room)
        room = room_of(spec["layout"], spec["layout"].get("width") or width, spec["layout"].get("height") or height,
                       font_size)
    return {**spec, "layout": fit_titles(spec.get("layout", {}), room)}


def fit_screen(fig):
    """A `go.Figure`'s titles wrapped to the size it is shown at (its own, else plotly's default):
    the app's figures fit their titles as the paper ones do."""
    layout = fig.layout.to_plotly_json()
    fitted = fit_titles(layout, room_of(layout))
    changes = {key: fitted[key] for key in fitted if fitted[key] is not layout.get(key)}
    return fig.update_layout(changes) if changes else fig


def regrid(spec: dict, panels: int, columns: int, room: Room, row_height: float) -> dict:
    """The `panels` subplots of a `make_subplots` figure (axes x, x2, … and y, y2, …, one title
    each) in `columns` columns: new domains, panel titles moved with their panels, axis titles on the
    lowest panel of each column (x) and the first column (y), and the height `rows × row_height`
    plus the margins. A new dict."""
    layout = dict(spec["layout"])
    rows = math.ceil(panels / columns)
    x_titles = (_title_text(layout.get(f"xaxis{'' if i == 0 else i + 1}", {}).get("title")) for i in range(panels))
    x_title = next((title for title in x_titles if title), "")
    y_title = _title_text(layout.get("yaxis", {}).get("title"))
    gap_x = min(0.08, 3 * room.font_size / room.width)
    title_lines = 2 * LINE_EM * room.font_size  # room for a panel title of two lines above each row
    height = rows * row_height + room.margin["t"] + room.margin["b"]
    gap_y = min(0.3, (title_lines + 2.5 * room.font_size) / max(height, 1.0))
    cell_w = (1 - gap_x * (columns - 1)) / columns
    cell_h = (1 - gap_y * (rows - 1)) / rows
    titles = [note for note in layout.get("annotations", []) if _is_panel_title(note)]
    others = [note for note in layout.get("annotations", []) if not _is_panel_title(note)]
    for index in range(panels):
        row, col = divmod(index, columns)
        suffix = "" if index == 0 else str(index + 1)
        x0 = col * (cell_w + gap_x)
        y1 = 1 - row * (cell_h + gap_y)
        lowest = index + columns >= panels
        layout[f"xaxis{suffix}"] = {**layout.get(f"xaxis{suffix}", {}), "domain": [x0, x0 + cell_w],
                                    "title": {"text": x_title if lowest else ""}}
        y_axis = {**layout.get(f"yaxis{suffix}", {}), "domain": [y1 - cell_h, y1],
                  "title": {"text": y_title if col == 0 else ""}}
        if y_axis.get("matches"):  # a shared scale: tick labels on the first column only
            y_axis["showticklabels"] = col == 0
        layout[f"yaxis{suffix}"] = y_axis
        if index < len(titles):
            titles[index] = {**titles[index], "x": x0 + cell_w / 2, "y": y1}
    layout.update(annotations=others + titles, height=round(height))
    return {**spec, "layout": layout}


# A panel of a grid narrower than this many font sizes has no room for its tick labels and title.
MIN_PANEL_EM = 11


def _fit_panels(spec: dict, room: Room) -> dict:
    """A grid of panels (`layout.meta`: `panels`, `columns`, `aspect` = panel height / width) in as
    many columns as keep each panel `MIN_PANEL_EM` font sizes wide, at most its own."""
    meta = spec["layout"]["meta"]
    usable = room.width - room.margin["l"] - room.margin["r"] - 4 * room.font_size
    columns = max(1, min(meta["columns"], int(usable // (MIN_PANEL_EM * room.font_size))))
    panel_width = usable / columns
    row_height = panel_width * meta["aspect"] + 2 * LINE_EM * room.font_size + 2.5 * room.font_size
    return regrid(spec, meta["panels"], columns, room, row_height)


FITTERS.add(Fitter("panels", _fit_panels))


def panels_meta(panels: int, columns: int, aspect: float) -> dict:
    """`layout.meta` of a figure whose panels may be regridded for a narrower page."""
    return {"fit": "panels", "panels": panels, "columns": columns, "aspect": aspect}
