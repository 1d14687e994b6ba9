"""What a rendered PDF page shows of its text: each glyph's box (pdfminer.six), and the checks that
a printed figure must pass: every glyph inside the page, no two glyphs on top of each other, and
every title and label of the figure printed whole (Chromium leaves out glyphs past the page)."""

from __future__ import annotations

import html
import io
import re
import unicodedata
from dataclasses import dataclass

import numpy as np
from pdfminer.converter import PDFPageAggregator
from pdfminer.pdfinterp import PDFPageInterpreter, PDFResourceManager
from pdfminer.pdfpage import PDFPage

TAGS = re.compile(r"<[^<>]*>")
# A glyph box is its advance × one em; neighbours in a word touch, kerning lets them overlap a
# little, so each box is shrunk by these fractions before boxes are compared.
SHRINK_ADVANCE = 0.2
SHRINK_HEIGHT = 0.2


@dataclass(frozen=True)
class Glyph:
    text: str
    corners: np.ndarray  # [4, 2]: the glyph's box (advance × em) on the page, in PDF points


@dataclass(frozen=True)
class Page:
    width: float
    height: float
    glyphs: tuple[Glyph, ...]

    @property
    def text(self) -> str:
        """Every glyph's text in the order printed, without spaces, NFKC (ligatures as letters)."""
        return unicodedata.normalize("NFKC", "".join(g.text for g in self.glyphs if not g.text.isspace()))


class _Recorder(PDFPageAggregator):
    """Records each glyph's box as pdfminer's `LTChar` places it, keeping its rotation."""

    def __init__(self, manager: PDFResourceManager) -> None:
        super().__init__(manager, laparams=None)
        self.glyphs: list[Glyph] = []

    def render_char(self, matrix, font, fontsize, scaling, rise, cid, ncs, graphicstate):
        advance = super().render_char(matrix, font, fontsize, scaling, rise, cid, ncs, graphicstate)
        try:
            text = font.to_unichr(cid)
        except Exception:  # noqa: BLE001 - a glyph without a Unicode mapping still has a box
            text = "?"
        low = font.get_descent() * fontsize + rise
        a, b, c, d, e, f = matrix
        box = np.array([[0, low], [advance, low], [advance, low + fontsize], [0, low + fontsize]], dtype=float)
        corners = np.column_stack([a * box[:, 0] + c * box[:, 1] + e, b * box[:, 0] + d * box[:, 1] + f])
        self.glyphs.append(Glyph(text, corners))
        return advance


def read_page(pdf: bytes) -> Page:
    """The first page of a PDF: its size and every glyph on it."""
    manager = PDFResourceManager()
    recorder = _Recorder(manager)
    interpreter = PDFPageInterpreter(manager, recorder)
    page = next(PDFPage.get_pages(io.BytesIO(pdf)))
    interpreter.process_page(page)
    x0, y0, x1, y1 = page.mediabox
    return Page(float(x1 - x0), float(y1 - y0), tuple(recorder.glyphs))


def _shrunk(corners: np.ndarray) -> np.ndarray:
    """The box less `SHRINK_*` of its advance and height on each side (corners in order)."""
    along, up = corners[1] - corners[0], corners[3] - corners[0]
    origin = corners[0] + SHRINK_ADVANCE * along + SHRINK_HEIGHT * up
    along, up = along * (1 - 2 * SHRINK_ADVANCE), up * (1 - 2 * SHRINK_HEIGHT)
    return np.array([origin, origin + along, origin + along + up, origin + up])


def _separated(first: np.ndarray, second: np.ndarray) -> bool:
    """Whether two convex quadrilaterals have a separating axis (they do not overlap)."""
    for quad in (first, second):
        for index in range(4):
            edge = quad[(index + 1) % 4] - quad[index]
            normal = np.array([-edge[1], edge[0]])
            a, b = first @ normal, second @ normal
            if a.max() <= b.min() or b.max() <= a.min():
                return True
    return False


def outside(page: Page, tolerance: float = 0.5) -> list[str]:
    """Glyphs whose box reaches past the page."""
    return [g.text for g in page.glyphs if not g.text.isspace() and (
        (g.corners[:, 0] < -tolerance).any() or (g.corners[:, 0] > page.width + tolerance).any()
        or (g.corners[:, 1] < -tolerance).any() or (g.corners[:, 1] > page.height + tolerance).any())]


def overlapping(page: Page) -> list[tuple[str, str]]:
    """Pairs of glyphs whose boxes (shrunk by `SHRINK_*`) overlap: text printed over text."""
    inked = [g for g in page.glyphs if not g.text.isspace()]
    if len(inked) < 2:
        return []
    quads = np.stack([_shrunk(g.corners) for g in inked])
    low, high = quads.min(axis=1), quads.max(axis=1)
    touching = ((low[:, None, 0] < high[None, :, 0]) & (low[None, :, 0] < high[:, None, 0])
                & (low[:, None, 1] < high[None, :, 1]) & (low[None, :, 1] < high[:, None, 1]))
    pairs = []
    for i, j in zip(*np.nonzero(np.triu(touching, k=1))):
        if not _separated(quads[i], quads[j]):
            pairs.append((inked[i].text, inked[j].text))
    return pairs


def plain(text: str) -> str:
    """A figure's text as printed: markup and spaces removed, entities decoded, NFKC."""
    return unicodedata.normalize("NFKC", re.sub(r"\s+", "", html.unescape(TAGS.sub("", text))))


def figure_texts(spec: dict) -> list[str]:
    """The titles and notes a figure dict asks to print: its title, axis and colour bar titles, the
    legend's title, and every visible annotation."""
    layout = spec.get("layout", {})
    texts = [_title(layout.get("title"))]
    for key, value in layout.items():
        if re.fullmatch(r"[xy]axis\d*", key) and isinstance(value, dict) and value.get("visible", True):
            texts.append(_title(value.get("title")))
    texts.append(_title(layout.get("legend", {}).get("title")) if layout.get("showlegend", True) else "")
    texts.append(_title(layout.get("coloraxis", {}).get("colorbar", {}).get("title")))
    for trace in spec.get("data", []):
        colorbar = trace.get("colorbar") or trace.get("marker", {}).get("colorbar")
        if colorbar is not None and (trace.get("showscale", True) and trace.get("marker", {}).get("showscale", True)):
            texts.append(_title(colorbar.get("title")))
    texts += [note.get("text", "") for note in layout.get("annotations", []) if note.get("visible", True)]
    texts += legend_entries(spec)
    return [text for text in (plain(t) for t in texts) if text]


LEGEND_TYPES = ("scatter", "scattergl", "bar", "box", "violin", "histogram")


def legend_entries(spec: dict) -> list[str]:
    """The names the legend prints: of traces of a kind that has legend entries, unless hidden
    from it, where the figure shows a legend (explicitly, or by default with two or more traces)."""
    layout, data = spec.get("layout", {}), spec.get("data", [])
    listed = [trace for trace in data if trace.get("type", "scatter") in LEGEND_TYPES
              and trace.get("showlegend", True) and trace.get("visible", True) is True and trace.get("name")
              and not _empty(trace)]
    if not layout.get("showlegend", len(data) > 1):
        return []
    return [trace["name"] for trace in listed]


def _empty(trace: dict) -> bool:
    """A trace with no points, which Plotly leaves out of the legend."""
    values = [trace[key] for key in ("x", "y") if key in trace]
    return bool(values) and all(len(value) == 0 if hasattr(value, "__len__") and not isinstance(value, dict)
                                else False for value in values)


def _title(title) -> str:
    if isinstance(title, dict):
        return title.get("text") or ""
    return title or ""


def missing_texts(spec: dict, page: Page) -> list[str]:
    """The figure's titles and notes (`figure_texts`) that the page does not print whole."""
    printed = page.text
    return [text for text in figure_texts(spec) if text not in printed]


def problems(spec: dict, pdf: bytes) -> dict[str, list]:
    """Everything wrong with a printed figure, by kind (empty lists when it prints well)."""
    page = read_page(pdf)
    return {"outside the page": outside(page), "overlapping": overlapping(page),
            "not printed whole": missing_texts(spec, page)}
