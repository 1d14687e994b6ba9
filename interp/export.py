"""Figures and tables as files: PNG/SVG/PDF through one headless Chromium, HTML, CSV, JSON, zip.

Kaleido 1.x renders images in a Chromium it drives over a pipe. Starting that browser takes
about two seconds, rendering a figure in an open one a fraction of a second, so the process
keeps one browser (a `FigureExporter`) and sends every image to it.

Every CSV is written by `table_bytes` through `interp.output.csv_text`, so no cell reaches a
spreadsheet as a formula; bundle entry names are unique ignoring case and short enough for any
file system once unzipped (`bundle_names`).
"""

from __future__ import annotations

import asyncio
import atexit
import hashlib
import io
import json
import math
import os
import re
import shutil
import threading
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.offline import get_plotlyjs

from interp.atomic import write_bytes_atomic
from interp.errors import InterpError
from interp.output import csv_text
from interp.results import Results

IMAGE_FORMATS = ("png", "svg", "pdf")
PNG_SCALE = 2
CHROMIUM_MISSING = (
    "Chromium not found: install Debian's chromium package (apt-get install chromium), "
    "or point BROWSER_PATH at a Chromium, for PNG/SVG/PDF export"
)
SAFE_NAME = re.compile(r"[A-Za-z0-9_.-]+")
# A name stem in the bundle; with `.html` or `.json` it stays far below the 255 bytes of a file name.
MAX_ENTRY_STEM = 150
ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # fixed, so the same content gives the same zip


async def _cancel_pending() -> None:
    tasks = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


class FigureExporter:
    """One kaleido browser, opened on first use and reused for every image until `close()`.

    The browser lives in an asyncio loop on a daemon thread; calls from any thread (Streamlit
    runs each session in its own) submit to that loop and wait with a timeout, so a browser
    that dies cannot hang the caller. `starts` counts browser launches.
    """

    def __init__(self, tabs: int | None = None, timeout: float = 90.0) -> None:
        self.tabs = tabs or max(1, min(4, os.cpu_count() or 1))
        self.timeout = timeout
        self.starts = 0
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._browser: Any = None
        self._failure: str | None = None

    def _submit(self, coroutine: Any, timeout: float) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout)

    def _start(self) -> str | None:
        """Open the browser unless it is open; return why it cannot be opened, or None."""
        with self._lock:
            if self._browser is not None or self._failure is not None:
                return self._failure
            import kaleido  # deferred: importing it is slow and only images need it
            from choreographer.errors import ChromeNotFoundError

            # mathjax=False: the default loads MathJax from a CDN, a network call per start.
            try:
                browser = kaleido.Kaleido(n=self.tabs, timeout=self.timeout, mathjax=False)
            except ChromeNotFoundError:
                return CHROMIUM_MISSING  # not remembered: Chromium may be installed later
            self._loop = asyncio.new_event_loop()
            self._thread = threading.Thread(
                target=self._loop.run_forever, name="interp-kaleido", daemon=True
            )
            self._thread.start()
            self.starts += 1
            try:
                self._submit(browser.open(), self.timeout)
            except Exception as error:  # noqa: BLE001 - any launch failure is the reason given
                detail = error.args[0] if error.args else error
                try:
                    self._submit(browser.close(), 10)
                except Exception:  # noqa: BLE001 - there may be no process left to close
                    pass
                self._failure = (f"Chromium could not be started for PNG/SVG/PDF export: "
                                 f"{type(error).__name__}: {detail}")
                self._stop_loop()
                return self._failure
            self._browser = browser
            return None

    def _stop_loop(self) -> None:
        """Cancel what still runs on the loop (a failed launch leaves a watchdog), then stop it."""
        if self._loop is not None:
            try:
                self._submit(_cancel_pending(), 10)
            except Exception:  # noqa: BLE001 - the loop is stopped below either way
                pass
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
            self._loop.close()
        self._loop = self._thread = None

    def close(self) -> None:
        """Close the browser; the next image opens a new one."""
        with self._lock:
            if self._browser is not None:
                try:
                    self._submit(self._browser.close(), 30)
                except Exception:  # noqa: BLE001 - a browser that already died needs no closing
                    pass
                self._browser = None
            self._stop_loop()
            self._failure = None

    def available(self) -> tuple[bool, str]:
        """Whether images can be made (opening the browser if needed) and, if not, why."""
        failure = self._start()
        return (False, failure) if failure else (True, "PNG, SVG and PDF export available")

    def figures_bytes(self, figures: Sequence[go.Figure], fmt: str) -> list[bytes]:
        """Render several figures at once, spread over the browser's tabs."""
        if fmt not in IMAGE_FORMATS:
            raise InterpError(
                f"image format must be one of {', '.join(IMAGE_FORMATS)}, got {fmt!r}"
            )
        failure = self._start()
        if failure:
            raise InterpError(failure)
        if not figures:
            return []
        options = {"format": fmt, "scale": PNG_SCALE if fmt == "png" else 1}
        browser = self._browser
        specs = [fig.to_dict() for fig in figures]  # copies made here, not on the browser's loop

        async def render_all() -> list[bytes]:
            return await asyncio.gather(*(browser.calc_fig(s, opts=options) for s in specs))

        try:
            return self._submit(render_all(), self.timeout * (1 + len(figures) / self.tabs))
        except Exception as error:
            self.close()  # a failed browser is replaced on the next call
            raise InterpError(f"{fmt.upper()} export failed: {error!r}") from error

    def figure_bytes(self, fig: go.Figure, fmt: str) -> bytes:
        """One figure as png (scale 2), svg or pdf."""
        return self.figures_bytes([fig], fmt)[0]


_shared: FigureExporter | None = None
_shared_lock = threading.Lock()


def shared_exporter() -> FigureExporter:
    """The process's one `FigureExporter`, closed when the interpreter exits."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = FigureExporter()
            atexit.register(_shared.close)
        return _shared


def chromium_found() -> bool:
    """A cheap check, without starting anything, for whether a Chromium is installed."""
    explicit = os.environ.get("BROWSER_PATH")
    if explicit:
        return Path(explicit).is_file()
    return any(shutil.which(name) for name in ("chromium", "chromium-browser", "google-chrome", "chrome"))


def image_formats_available() -> tuple[bool, str]:
    """Whether PNG/SVG/PDF export works here and, if not, why (e.g. Chromium is missing)."""
    return shared_exporter().available()


def figure_bytes(fig: go.Figure, fmt: str) -> bytes:
    """The figure as png/svg/pdf (through the shared browser) or a standalone html page.

    HTML embeds plotly.js, so it opens offline and always works; images raise `InterpError`
    with the reason when no browser is available.
    """
    if fmt == "html":
        return figure_html(fig, standalone=True)
    return shared_exporter().figure_bytes(fig, fmt)


def figure_html(fig: go.Figure, standalone: bool = True) -> bytes:
    """A full HTML page: plotly.js embedded (standalone), or loaded from `plotly.min.js` beside it.

    A bundle of a hundred figures shares one copy of plotly.js (4.8 MB) instead of embedding it
    in every page.
    """
    # plotly names the page's div with a random uuid; a hash of the figure keeps the same
    # figure's page, and so the bundle, byte-for-byte reproducible.
    div_id = "figure-" + hashlib.sha256(fig.to_json().encode("utf-8")).hexdigest()[:16]
    include = True if standalone else "directory"
    return fig.to_html(include_plotlyjs=include, full_html=True, div_id=div_id).encode("utf-8")


def _json_value(value: Any) -> Any:
    """A plain JSON value: numpy scalars unwrapped, NaN and ±inf as null, arrays as lists."""
    if isinstance(value, np.ndarray):
        return [_json_value(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Mapping):
        return {str(k): _json_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_value(v) for v in value]
    if isinstance(value, (Path, pd.Timestamp)):
        return str(value)
    if value is pd.NA or value is pd.NaT:
        return None
    return value


def table_bytes(frame: pd.DataFrame, fmt: str) -> bytes:
    """The table as UTF-8 CSV (no index; formula cells neutralised) or JSON (records, NaN as null)."""
    if any(name is not None for name in frame.index.names):
        frame = frame.reset_index()
    if fmt == "csv":
        return csv_text(frame).encode("utf-8")
    if fmt == "json":
        records = _json_value(frame.to_dict(orient="records"))
        return (json.dumps(records, indent=1, ensure_ascii=False, allow_nan=False) + "\n").encode()
    raise InterpError(f"table format must be csv or json, got {fmt!r}")


def bundle_names(names: Sequence[str]) -> dict[str, str]:
    """A file name stem for each name: unique ignoring case (`x` and `X` would be one file on a
    case-insensitive file system; the later becomes `X-2`) and at most `MAX_ENTRY_STEM`
    characters (a longer one is cut and ends in a hash of the whole name)."""
    stems: dict[str, str] = {}
    taken: set[str] = set()
    for name in names:
        stem = name
        if len(stem) > MAX_ENTRY_STEM:
            stem = f"{stem[:MAX_ENTRY_STEM - 13]}-{hashlib.sha256(name.encode()).hexdigest()[:12]}"
        candidate, number = stem, 1
        while candidate.lower() in taken:
            number += 1
            candidate = f"{stem}-{number}"
        taken.add(candidate.lower())
        stems[name] = candidate
    return stems


def _check_names(kind: str, names: Sequence[str]) -> None:
    for name in names:
        if not isinstance(name, str) or not SAFE_NAME.fullmatch(name) or name.startswith("."):
            raise InterpError(
                f"{kind} name {name!r} is not a safe file name: use letters, digits, '_', '-' "
                "and '.', not starting with '.'"
            )


def write_bundle(
    out_zip: str | Path,
    figures: Mapping[str, go.Figure],
    tables: Mapping[str, pd.DataFrame],
    manifest: Mapping,
    image_formats: Sequence[str] = ("png", "svg"),
    extra_files: Mapping[str, bytes] | None = None,
) -> Path:
    """Write a zip of `manifest.json`, `figures/NAME.{png,svg,html}`, `tables/NAME.{csv,json}`.

    The HTML pages load `figures/plotly.min.js`, stored once in the bundle. Names are made
    unique ignoring case and cut to a safe length by `bundle_names`; extra files must not
    collide (ignoring case) with the manifest or the two folders.

    Images come from the shared browser when it is available; otherwise `figures/README.txt`
    says why they are missing. `extra_files` land at the top level. The zip is built in memory
    and written atomically.
    """
    extra_files = extra_files or {}
    _check_names("figure", list(figures))
    _check_names("table", list(tables))
    _check_names("extra file", list(extra_files))
    unknown = [f for f in image_formats if f not in IMAGE_FORMATS]
    if unknown:
        raise InterpError(f"image formats must be among {', '.join(IMAGE_FORMATS)}, got {unknown}")
    clashes = [name for name in extra_files if name.lower() in ("manifest.json", "figures", "tables")]
    if clashes:
        raise InterpError(f"extra file {clashes[0]!r} would collide with the bundle's manifest or folders")
    if len({name.lower() for name in extra_files}) < len(extra_files):
        raise InterpError("extra files: two names differ only in case")
    figures = {stem: figures[name] for name, stem in bundle_names(list(figures)).items()}
    tables = {stem: tables[name] for name, stem in bundle_names(list(tables)).items()}

    entries: dict[str, bytes] = {
        "manifest.json": (json.dumps(_json_value(manifest), indent=2, ensure_ascii=False,
                                     allow_nan=False) + "\n").encode("utf-8")
    }
    names, figure_list = list(figures), list(figures.values())
    if figure_list and image_formats:
        exporter = shared_exporter()
        available, reason = exporter.available()
        if available:
            for fmt in image_formats:
                for name, data in zip(names, exporter.figures_bytes(figure_list, fmt)):
                    entries[f"figures/{name}.{fmt}"] = data
        else:
            entries["figures/README.txt"] = (
                f"No {', '.join(f.upper() for f in image_formats)} images in this bundle: "
                f"{reason}\nThe HTML files open in any browser and can be saved as images there.\n"
            ).encode("utf-8")
    if figures:
        entries["figures/plotly.min.js"] = get_plotlyjs().encode("utf-8")
    for name, fig in figures.items():
        entries[f"figures/{name}.html"] = figure_html(fig, standalone=False)
    for name, frame in tables.items():
        entries[f"tables/{name}.csv"] = table_bytes(frame, "csv")
        entries[f"tables/{name}.json"] = table_bytes(frame, "json")
    entries.update(extra_files)

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as bundle:
        for path in sorted(entries, key=lambda p: (p != "manifest.json", p)):
            info = zipfile.ZipInfo(path, date_time=ZIP_TIME)
            png = path.endswith(".png")  # already compressed
            info.compress_type = zipfile.ZIP_STORED if png else zipfile.ZIP_DEFLATED
            bundle.writestr(info, entries[path])
    return write_bytes_atomic(out_zip, buffer.getvalue())


def bundle_manifest(results: Results) -> dict[str, Any]:
    """The run's manifest plus every setting of the analysis that shaped the bundle's numbers."""
    manifest = results.manifest.model_dump(mode="json")
    selection = results.selection
    manifest["analysis"] = {
        "exclusions": selection.exclusions if isinstance(selection.exclusions, str) else list(selection.exclusions),
        "reference": results.reference, "controls": selection.n_controls, "seed": selection.seed,
        "measure": selection.measure,
        "first_position": selection.first_position,
    }
    if results.partial:
        manifest["partial"] = results.describe_missing()
    return manifest


def bundle_file_name(results: Results) -> str:
    """A zip name that says which run and which analysis settings: `run-ref-base-paper-c200-s0.zip`."""
    selection = results.selection
    exclusions = selection.exclusions if isinstance(selection.exclusions, str) else "custom"
    first = "" if selection.first_position == "bos" else f"-first-{selection.first_position}"
    return (f"{results.store.folder.name}-ref-{results.reference}-{exclusions}{first}-{selection.measure}"
            f"-c{selection.n_controls}-s{selection.seed}.zip")


def export_run(results: Results, out_zip: str | Path, image_formats: Sequence[str] = ("png", "svg")) -> tuple[Path, int, int]:
    """Every view's figures and tables of a run as one zip; returns the path and how many
    figures and tables it holds, counted in the zip as written."""
    from interp.views import bundle_contents

    figures, tables = bundle_contents(results)
    path = write_bundle(out_zip, figures, tables, bundle_manifest(results), image_formats=image_formats)
    return (path, *count_bundle_entries(path))


def count_bundle_entries(path: str | Path) -> tuple[int, int]:
    """How many figures (`figures/*.html`) and tables (`tables/*.csv`) a bundle holds."""
    with zipfile.ZipFile(path) as bundle:
        names = bundle.namelist()
    return (sum(n.startswith("figures/") and n.endswith(".html") for n in names),
            sum(n.startswith("tables/") and n.endswith(".csv") for n in names))
