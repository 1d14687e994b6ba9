"""Figure styles for export: "screen" (the app's figures as they are) and "paper" (for a journal).

A style is a pure function on a figure's dict (`fig.to_dict()`): the exporter serialises each
figure once and styles that dict, which costs a fraction of building a second `go.Figure`
(plotly validates every property it is given). `paper_figure` wraps the same function for
notebooks: a styled copy, the input left as it was (the app caches and reuses its figures).

The paper style follows what journals ask of figures:

- no title inside the figure: the title goes into the caption (`figure_title` gives it; the
  bundle writes it beside the figure and into the HTML page's title);
- a column (3.5 in) or page (7 in) width, in CSS pixels at 96 per inch as Chromium lays out
  and prints; PNG at 300 dpi (scale 300/96), PDF pages of exactly that width;
- DejaVu Sans, a TrueType font that Chromium embeds (subset, CID TrueType) in PDF; Liberation
  Sans and Arial follow as fallbacks, also TrueType, where DejaVu is not installed;
- the Okabe–Ito palette (Okabe & Ito 2008, "Color Universal Design"), distinguishable under
  the common colour-vision deficiencies, for stage colours: the template's colour way and every
  trace colour drawn from it. The continuous scales (Viridis, RdBu) are colour-blind safe already.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from interp.core.errors import InterpError
from interp.core.palette import CONCEPT_COLOUR, DEFAULT_FIGURE_SIZE, STAGE_PALETTE
from interp.core.registry import Registry

if TYPE_CHECKING:
    import plotly.graph_objects as go


CSS_PX_PER_INCH = 96
PAPER_DPI = 300
PAPER_WIDTHS_IN = {"column": 3.5, "page": 7.0}
PAPER_FONT = "DejaVu Sans, Liberation Sans, Arial, sans-serif"
PAPER_FONT_SIZE = 10  # CSS px: 7.5 pt, the size most journals ask for at least
# Okabe–Ito in the order stages take them on screen too: blue, orange and bluish green first
# (the three stages of a lineage stay apart for every colour vision), yellow and black last.
OKABE_ITO = STAGE_PALETTE
# Fixed colours of the screen figures with their Okabe–Ito counterparts.
FIXED_COLOURS = {CONCEPT_COLOUR: "#D55E00", "#1f77b4": "#0072B2"}
_TAGS = re.compile(r"</?[A-Za-z][^<>]*>")  # plotly's text markup: <b>, <br>, <span style=...>
AXIS = re.compile(r"[xy]axis\d*")


@dataclass(frozen=True)
class Style:
    """How exported figures look: `apply(spec, width)` returns a styled copy of a figure dict;
    `png_scale` multiplies the CSS pixels of a PNG; `widths` are the widths it accepts (the
    first is the default; none when the figure keeps its own)."""

    name: str
    label: str
    apply: Callable[[dict, str | None], dict]
    png_scale: float
    widths: tuple[str, ...] = ()
    describe: Callable[[str | None], dict] = field(default=lambda width: {})

    def resolve_width(self, width: str | None) -> str | None:
        """`width`, or this style's default; an `InterpError` naming the valid widths."""
        if not self.widths:
            if width is not None:
                raise InterpError(f"style {self.name!r} keeps each figure's own width; --width is for: "
                                  f"{', '.join(name for name, style in STYLES.items() if style.widths)}")
            return None
        if width is None:
            return self.widths[0]
        if width not in self.widths:
            raise InterpError(f"width {width!r} is unknown for style {self.name!r}; widths: {', '.join(self.widths)}")
        return width


def figure_title(spec: Mapping[str, Any]) -> str:
    """The title of a figure dict as plain text (markup removed, lines joined), or '' when it has none."""
    title = spec.get("layout", {}).get("title")
    text = title.get("text") if isinstance(title, Mapping) else title
    if not text:
        return ""
    # A title wrapped to the figure's width (`<br>`) is one caption: its lines joined by spaces.
    return " ".join(html.unescape(_TAGS.sub("", re.sub(r"<br\s*/?>", " ", str(text), flags=re.IGNORECASE))).split())


def _screen(spec: dict, width: str | None) -> dict:
    return spec


def _colour_map() -> dict[str, str]:
    import plotly.io as pio

    from interp.views.figures.common import TEMPLATE

    screen = pio.templates[TEMPLATE].layout.colorway or ()
    mapping = {colour.lower(): OKABE_ITO[index % len(OKABE_ITO)] for index, colour in enumerate(screen)}
    mapping.update({colour.lower(): paper for colour, paper in FIXED_COLOURS.items()})
    return mapping


def _recolour(node: Any, mapping: Mapping[str, str]) -> Any:
    """Every string colour in a trace (marker, line, error bars, ...) that the screen palette
    uses, replaced by its Okabe–Ito counterpart; other values returned as they are."""
    if isinstance(node, dict):
        return {key: _recolour(value, mapping) for key, value in node.items()}
    if isinstance(node, list):
        return [_recolour(value, mapping) for value in node]
    if isinstance(node, str):
        return mapping.get(node.lower(), node)
    return node


def _paper(spec: dict, width: str | None) -> dict:
    """The paper look of a figure dict: a new dict (arrays shared, never written), `spec` unchanged."""
    pixels = round(PAPER_WIDTHS_IN[width] * CSS_PX_PER_INCH)
    layout = dict(spec.get("layout", {}))
    screen_width = float(layout.get("width") or DEFAULT_FIGURE_SIZE[0])
    screen_height = float(layout.get("height") or DEFAULT_FIGURE_SIZE[1])
    layout.pop("title", None)
    mapping = _colour_map()
    notes = layout.get("annotations") if isinstance(layout.get("annotations"), list) else []
    layout.update(
        width=pixels, height=round(screen_height * pixels / screen_width), autosize=False,
        font=dict(family=PAPER_FONT, size=PAPER_FONT_SIZE, color="#000000"), colorway=list(OKABE_ITO),
        margin=dict(l=8, r=8, t=8, b=8, pad=0),
        legend={**layout.get("legend", {}), "orientation": "h", "x": 0, "xanchor": "left", "y": 1.02,
                "yanchor": "bottom"},
    )
    for key, axis in list(layout.items()):
        if AXIS.fullmatch(key) and isinstance(axis, dict):
            layout[key] = {**axis, "automargin": True}  # tick labels and axis titles push the margin
    if notes:
        # Panel titles and cell values keep their place; a size set for the screen (12 or 13 px)
        # comes down to the paper size, so values fit the narrower cells.
        layout["annotations"] = [
            {**note, "font": {**note.get("font", {}), "family": PAPER_FONT,
                              "size": min(note.get("font", {}).get("size") or PAPER_FONT_SIZE, PAPER_FONT_SIZE)}}
            for note in notes
        ]
    if isinstance(layout.get("shapes"), list):
        layout["shapes"] = _recolour(layout["shapes"], mapping)
    if isinstance(layout.get("coloraxis"), dict):
        layout["coloraxis"] = {**layout["coloraxis"], "colorbar": _thin(layout["coloraxis"].get("colorbar"))}
    data = []
    for trace in spec.get("data", []):
        trace = _recolour(trace, mapping)
        if "colorbar" in trace or trace.get("type") == "heatmap":
            trace["colorbar"] = _thin(trace.get("colorbar"))
        data.append(trace)
    return _fit({**spec, "data": data, "layout": layout}, pixels)


def _fit(spec: dict, pixels: int) -> dict:
    """The styled figure laid out for its width (`interp.views.figures.fitting`): titles wrapped,
    panels regridded, text reflowed; the top margin holds the panel titles' lines."""
    from interp.views.figures.fitting import LINE_EM, fit_figure, line_count

    spec = fit_figure(spec, pixels, spec["layout"]["height"], PAPER_FONT_SIZE)
    layout = spec["layout"]
    top = [note for note in layout.get("annotations") or [] if note.get("yref") == "paper"
           and note.get("yanchor") == "bottom" and float(note.get("y", 0)) >= 0.99]
    above = max((line_count(note.get("text", "")) for note in top), default=0) * LINE_EM * PAPER_FONT_SIZE
    rows = _legend_rows(spec, pixels - 16)
    if rows:
        # At the top of the page, above any panel titles, which the margin makes room for.
        layout["legend"] = {**layout["legend"], "yref": "container", "y": 1, "yanchor": "top"}
    layout["margin"] = {**layout["margin"], "t": round(8 + rows * LEGEND_ROW_EM * PAPER_FONT_SIZE + above
                                                       + (4 if above else 0))}
    return spec


LEGEND_ROW_EM = 2.0  # a horizontal legend's row, symbol and air included
LEGEND_SYMBOL_PX = 46  # plotly's symbol and gap before an entry's text


def _legend_rows(spec: dict, width: float) -> int:
    """How many rows the legend takes across `width` px (0 when the figure shows none): its entries
    are the named traces plotly lists, laid left to right after the legend's title."""
    from interp.views.figures.fitting import plain_text, text_width

    layout = spec["layout"]
    entries = [trace.get("name") for trace in spec.get("data", []) if trace.get("showlegend") is not False
               and trace.get("name") and trace.get("visible", True) is not False]
    if layout.get("showlegend") is False or (layout.get("showlegend") is not True and len(entries) < 2):
        return 0
    title = plain_text(((layout.get("legend") or {}).get("title") or {}).get("text") or "")
    rows, used = 1, text_width(title, PAPER_FONT_SIZE) + 10 if title else 0.0
    for name in dict.fromkeys(entries):
        entry = LEGEND_SYMBOL_PX + text_width(name, PAPER_FONT_SIZE)
        if used and used + entry > width:
            rows, used = rows + 1, 0.0
        used += entry
    return rows


def figure_caption(original: Mapping[str, Any], styled: Mapping[str, Any]) -> str:
    """The caption of a styled figure: the original's title, then what the style's layout changed
    that a reader should know (`layout.meta.caption`, e.g. every 4th token labelled)."""
    meta = styled.get("layout", {}).get("meta")
    note = meta.get("caption", "") if isinstance(meta, Mapping) else ""
    title = figure_title(original)
    if title and note and not title.endswith((".", "?", "!")):
        title += "."
    return " ".join(part for part in (title, note) if part)


def _thin(colorbar: Mapping | None) -> dict:
    """A colour bar a third as thick as plotly's 30 px: a 3.5 in figure has little room beside it."""
    return {**(colorbar or {}), "thickness": 10}


def _describe_paper(width: str | None) -> dict:
    return {"width": width, "width_in": PAPER_WIDTHS_IN[width], "png_dpi": PAPER_DPI, "font": PAPER_FONT,
            "font_size_pt": PAPER_FONT_SIZE * 72 / CSS_PX_PER_INCH, "palette": "Okabe-Ito", "titles": "captions"}


STYLES: Registry[Style] = Registry("style")
STYLES.add(Style("screen", "Screen: as in the app, titles inside, PNG at twice the size", _screen, png_scale=2,
                 describe=lambda width: {"png_scale": 2}))
STYLES.add(Style("paper", "Paper: no titles (captions beside), 3.5 or 7 in wide, 300 dpi PNG, TrueType font, "
                 "Okabe–Ito colours", _paper, png_scale=PAPER_DPI / CSS_PX_PER_INCH, widths=tuple(PAPER_WIDTHS_IN),
                 describe=_describe_paper))


def get_style(name: str) -> Style:
    """The style called `name`, or an `InterpError` listing the valid names."""
    return STYLES.named(name)


def style_manifest(name: str, width: str | None = None) -> dict:
    """What the manifest records of a bundle's style: its name and what it set."""
    style = get_style(name)
    width = style.resolve_width(width)
    return {"name": style.name, **style.describe(width)}


def paper_figure(fig: go.Figure, width: str = "column") -> go.Figure:
    """A copy of `fig` in the paper style (column: 3.5 in, page: 7 in wide); `fig` is not changed."""
    import plotly.graph_objects as go

    style = STYLES["paper"]
    return go.Figure(style.apply(fig.to_dict(), style.resolve_width(width)))
