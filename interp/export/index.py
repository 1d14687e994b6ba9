"""The bundle's index: every figure and table with its view, title, caption and settings.

`index.csv` has one row per figure and table (the choices it was made for in a column each, so a
script can find "the Heads shift map of seller-1 at ift"); `index.html` is the same as a page a
reader opens first: the run's settings, then one section per view with its caption, notes and a
row per figure (links to each format and, where there is a PNG, a thumbnail). Static and inert:
every text is escaped, the page runs no script, and CSV cells go through `csv_text`
(docs/design.md §7.7, §8.4).
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from urllib.parse import quote

import pandas as pd

from interp.core.safe_output import csv_text

INDEX_FILES = ("index.html", "index.csv")
FORMAT_ORDER = ("html", "png", "svg", "pdf", "txt", "csv", "json")


@dataclass(frozen=True)
class Source:
    """What made a figure or table: its view (name, label, caption), the choices it was made for
    as text by name (`choices`) and as a reader reads them (`settings`), and the view's notes."""

    view: str = ""
    view_label: str = ""
    caption: str = ""
    settings: str = ""
    choices: Mapping[str, str] = field(default_factory=dict)
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class IndexEntry:
    """One figure or table: `path` without extension (`figures/heads/share-seller-1-cpt`), the
    `files` written for it (extensions), its title and its `source`."""

    kind: str
    path: str
    files: tuple[str, ...]
    title: str = ""
    source: Source = Source()


def index_frame(entries: Sequence[IndexEntry]) -> pd.DataFrame:
    """One row per entry: kind, view, path, files, title, settings, a column per choice name (in the
    order first met; empty where a view has no such choice), caption, notes."""
    choice_names = list(dict.fromkeys(name for entry in entries for name in entry.source.choices))
    rows = [{
        "kind": entry.kind, "view": entry.source.view, "view_label": entry.source.view_label, "path": entry.path,
        "files": " ".join(_ordered(entry.files)), "title": entry.title, "settings": entry.source.settings,
        **{name: entry.source.choices.get(name, "") for name in choice_names},
        "caption": entry.source.caption, "notes": " ".join(entry.source.notes),
    } for entry in entries]
    columns = ["kind", "view", "view_label", "path", "files", "title", "settings", *choice_names, "caption", "notes"]
    return pd.DataFrame(rows, columns=columns)


def index_csv(entries: Sequence[IndexEntry]) -> bytes:
    """`index_frame` as CSV, formula-like cells neutralised."""
    return csv_text(index_frame(entries)).encode("utf-8")


def index_html(entries: Sequence[IndexEntry], settings: Mapping[str, str], remarks: Sequence[str] = ()) -> bytes:
    """The index page: `settings` (label → value) and `remarks` at the top, then a section per view
    in the order met, its figures as rows and its tables as links."""
    sections: dict[str, list[IndexEntry]] = {}
    for entry in entries:
        sections.setdefault(entry.source.view or "other", []).append(entry)
    body = [
        "<h1>Figures and tables</h1>",
        "<table class='settings'>" + "".join(f"<tr><th>{_text(label)}</th><td>{_text(value)}</td></tr>"
                                             for label, value in settings.items()) + "</table>",
        *[f"<p class='remark'>{_text(remark)}</p>" for remark in remarks],
        "<p>Also here: <a href='index.csv'>index.csv</a> (this list as a table), "
        "<a href='manifest.json'>manifest.json</a> (the run and every setting).</p>",
        "<nav><ul>" + "".join(_contents_line(view, items) for view, items in sections.items()) + "</ul></nav>",
        *[_section(view, items) for view, items in sections.items()],
    ]
    page = ("<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'><title>Index of the bundle</title>"
            f"<style>{STYLE}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n")
    return page.encode("utf-8")


STYLE = (
    "body{font-family:system-ui,sans-serif;margin:2em auto;max-width:70em;padding:0 1em;color:#222}"
    "table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ddd;padding:.3em .5em;"
    "text-align:left;vertical-align:top}table.settings{width:auto}th{font-weight:600}"
    "img{max-width:14em;max-height:10em;border:1px solid #eee}.caption{color:#444}td.links{white-space:nowrap}"
    ".remark{background:#fff6d5;padding:.5em}code{font-size:90%}"
)


def _text(value: str) -> str:
    return html.escape(str(value))


def _ordered(files: Sequence[str]) -> list[str]:
    return sorted(files, key=lambda ext: (FORMAT_ORDER.index(ext) if ext in FORMAT_ORDER else len(FORMAT_ORDER), ext))


def _anchor(view: str) -> str:
    return "view-" + quote(view, safe="")


def _contents_line(view: str, items: list[IndexEntry]) -> str:
    figures = sum(item.kind == "figure" for item in items)
    tables = len(items) - figures
    label = items[0].source.view_label or view
    return (f"<li><a href='#{_anchor(view)}'>{_text(label)}</a>: {figures} figure{'s' * (figures != 1)}, "
            f"{tables} table{'s' * (tables != 1)}</li>")


def _links(entry: IndexEntry) -> str:
    return " ".join(f"<a href='{quote(entry.path)}.{quote(ext)}'>{_text(ext.upper())}</a>"
                    for ext in _ordered(entry.files))


def _figure_row(entry: IndexEntry) -> str:
    thumbnail = (f"<a href='{quote(entry.path)}.html'><img loading='lazy' alt='' src='{quote(entry.path)}.png'></a>"
                 if "png" in entry.files else "")
    notes = "".join(f"<div class='caption'>{_text(note)}</div>" for note in entry.source.notes)
    return (f"<tr><td>{thumbnail}</td><td><b>{_text(entry.title or entry.path)}</b>"
            f"<div>{_text(entry.source.settings)}</div>"
            f"{notes}<div><code>{_text(entry.path)}</code></div></td><td class='links'>{_links(entry)}</td></tr>")


def _section(view: str, items: list[IndexEntry]) -> str:
    first = items[0].source
    figures = [item for item in items if item.kind == "figure"]
    tables = [item for item in items if item.kind != "figure"]
    parts = [f"<h2 id='{_anchor(view)}'>{_text(first.view_label or view)}</h2>"]
    if first.caption:
        parts.append(f"<p class='caption'>{_text(first.caption)}</p>")
    if figures:
        parts.append("<table>" + "".join(_figure_row(item) for item in figures) + "</table>")
    if tables:
        parts.append("<p>Tables:</p><ul>" + "".join(
            f"<li>{_text(item.path)}{_settings_suffix(item)}: {_links(item)}</li>" for item in tables) + "</ul>")
    return "<section>" + "".join(parts) + "</section>"


def _settings_suffix(entry: IndexEntry) -> str:
    return f" ({_text(entry.source.settings)})" if entry.source.settings else ""
