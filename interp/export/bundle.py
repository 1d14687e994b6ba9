"""Figures and tables as files: PNG/SVG/PDF through one headless Chromium, HTML, CSV, JSON, zip.

Images come from `interp.export.images`: one browser per process (`shared_exporter`), each figure laid
out once for all its formats, tabs in parallel. A bundle is written by a `BundleWriter`: `export_run`
computes one view after another while the browser renders the figures of earlier ones (each
figure serialised once, in the chosen style of `interp.export.styles`, its JSON feeding both the
browser and the figure's HTML page); its progress counts views against a total known before the
first, then images against a total known once every view is computed, which never grows. The zip
is written only once everything has arrived: a failure leaves no partial zip. A bundle has a folder per view below
`figures/` and `tables/` (`interp.views.entry_path`), an index of every figure and table
(`interp.export.index`), and per-sequence figures for a chosen subset of a large study's sequences
(`interp.export.contents`); docs/design.md §7.7.

Every CSV is written by `table_bytes` through `interp.core.safe_output.csv_text`, so no cell reaches a
spreadsheet as a formula; each table of a run's bundle carries the analysis settings and the run's
provenance (`interp.analysis.envelope`); bundle entry names are unique ignoring case and short enough for any
file system once unzipped (`bundle_names`).
"""

from __future__ import annotations

import atexit
import concurrent.futures
import dataclasses
import hashlib
import html
import io
import json
import os
import re
import shutil
import threading
import zipfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio
from plotly.io.json import to_json_plotly
from plotly.offline import get_plotlyjs

from interp.analysis.envelope import (
    TableHeader,
    analysis_settings,
    json_value,
    results_header,
    table_csv,
    table_json,
)
from interp.analysis.methods import methods_bibtex, methods_markdown
from interp.analysis.results import Results
from interp.core.atomic import check_output_file, write_bytes_atomic
from interp.core.errors import InterpError
from interp.core.safe_output import unique_name
from interp.export.contents import SequenceSubset, choose_sequences, contents_manifest
from interp.export.images import (
    CHROMIUM_MISSING,
    IMAGE_FORMATS,
    FigureExporter,
    figure_job,
)
from interp.export.index import INDEX_FILES, IndexEntry, Source, index_csv, index_html
from interp.export.styles import Style, figure_caption, figure_title, get_style, style_manifest

if TYPE_CHECKING:
    from interp.views import BundleStepOutput

__all__ = ["CHROMIUM_MISSING", "IMAGE_FORMATS", "BundleWriter", "ExportProgress", "FigureExporter", "SequenceSubset",
           "bundle_file_name", "bundle_manifest", "bundle_names", "check_export_options", "choose_sequences",
           "chromium_found", "close_shared_exporter", "count_bundle_entries", "export_run", "figure_bytes",
           "figure_html", "figure_page", "image_formats_available", "methods_files", "shared_exporter", "table_bytes",
           "write_bundle"]

SAFE_NAME = re.compile(r"[A-Za-z0-9_.-]+")
# A name stem in the bundle (the part after the view's folder); with `.html` or `.json` it stays far
# below the 255 bytes of a file name.
MAX_ENTRY_STEM = 150
ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # fixed, so the same content gives the same zip
# Compressed already: deflating them again costs time and saves nothing.
STORED_SUFFIXES = (".png", ".pdf")


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


def close_shared_exporter() -> None:
    """Close the process's browser now, if one was opened (a command that is done with images;
    left to the interpreter's exit, it races the removal of the browser's profile folder)."""
    with _shared_lock:
        if _shared is not None:
            _shared.close()


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
    spec = fig.to_dict()
    return figure_page(spec, figure_title(spec), standalone)


def figure_page(spec: dict, title: str, standalone: bool = True, spec_json: str | None = None,
                plotly_src: str = "plotly.min.js") -> bytes:
    """`figure_html` of a figure dict, titled `title`; `spec_json` (the dict as
    `to_json_plotly` writes it) names the page's plot after a hash of the figure; not standalone,
    the page loads plotly.js from `plotly_src` (relative to the page)."""
    # plotly names the page's div with a random uuid; a hash of the figure keeps the same
    # figure's page, and so the bundle, byte-for-byte reproducible.
    spec_json = spec_json if spec_json is not None else to_json_plotly(spec)
    div_id = "figure-" + hashlib.sha256(spec_json.encode("utf-8")).hexdigest()[:16]
    include = True if standalone else plotly_src
    page = pio.to_html(spec, validate=False, include_plotlyjs=include, full_html=True, div_id=div_id)
    # The page's first `<head>` is its own (plotly.js, when embedded, comes after it).
    page = page.replace("<head>", f"<head>\n    <title>{html.escape(title or 'figure')}</title>", 1)
    return page.encode("utf-8")


def table_bytes(frame: pd.DataFrame, fmt: str, header: TableHeader | None = None) -> bytes:
    """The table as UTF-8 CSV (no index; formula cells neutralised) or JSON (NaN as null), with
    `header`'s settings and provenance where given (`interp.analysis.envelope`)."""
    if any(name is not None for name in frame.index.names):
        frame = frame.reset_index()
    if fmt == "csv":
        return table_csv(frame, header).encode("utf-8")
    if fmt == "json":
        return table_json(frame, header).encode("utf-8")
    raise InterpError(f"table format must be csv or json, got {fmt!r}")


def bundle_names(names: Sequence[str]) -> dict[str, str]:
    """A file name stem for each name (`stem` or `folder/stem`): unique ignoring case (`x` and
    `X` would be one file on a case-insensitive file system; the later becomes `X-2`) and a
    stem of at most `MAX_ENTRY_STEM` characters (a longer one is cut and ends in a hash of the
    whole name)."""
    taken: set[str] = set()
    return {name: _claim_stem(name, taken) for name in names}


def _claim_stem(name: str, taken: set[str]) -> str:
    """`bundle_names` one name at a time: its stem, added to `taken` (lower case)."""
    folder, _, stem = name.rpartition("/")
    if len(stem) > MAX_ENTRY_STEM:
        stem = f"{stem[:MAX_ENTRY_STEM - 13]}-{hashlib.sha256(name.encode()).hexdigest()[:12]}"
    return unique_name(f"{folder}/{stem}" if folder else stem, taken)


def _check_names(kind: str, names: Sequence[str]) -> None:
    """Each name is a safe file name, or one safe folder name, `/` and a safe file name."""
    for name in names:
        parts = name.split("/") if isinstance(name, str) else [None]
        if len(parts) > 2 or not all(isinstance(part, str) and SAFE_NAME.fullmatch(part) and not part.startswith(".")
                                     for part in parts):
            raise InterpError(
                f"{kind} name {name!r} is not a safe file name: use letters, digits, '_', '-' "
                "and '.', not starting with '.', in at most one folder"
            )


def check_export_options(image_formats: Sequence[str], style: str = "screen",
                         width: str | None = None) -> tuple[tuple[str, ...], Style, str | None]:
    """The image formats (each once), the style and its width of a bundle, or an `InterpError`
    naming what is valid: checked before any work starts."""
    unknown = [f for f in image_formats if f not in IMAGE_FORMATS]
    if unknown:
        raise InterpError(f"image formats must be among {', '.join(IMAGE_FORMATS)}, got {unknown}")
    chosen = get_style(style)
    return tuple(dict.fromkeys(image_formats)), chosen, chosen.resolve_width(width)


def _check_extra_files(extra_files: Mapping[str, bytes]) -> None:
    _check_names("extra file", list(extra_files))
    clashes = [name for name in extra_files if name.lower() in ("manifest.json", "figures", "tables", *INDEX_FILES)]
    if clashes:
        raise InterpError(f"extra file {clashes[0]!r} would collide with the bundle's manifest, index or folders")
    if len({name.lower() for name in extra_files}) < len(extra_files):
        raise InterpError("extra files: two names differ only in case")


@dataclass(frozen=True)
class ExportProgress:
    """How far a bundle is: steps computed (a view with one set of choices each, `steps` known
    before the first), then images rendered (a figure in one format each; `images` is 0 until
    every step is computed, then the total, which does not change). `with_images`: whether
    images are wanted at all."""

    steps_done: int
    steps: int
    images_done: int
    images: int
    with_images: bool = False

    @property
    def fraction(self) -> float:
        """Between 0 and 1, never going back: without images, the steps; with them, half for the
        steps and half for the images."""
        built = self.steps_done / self.steps if self.steps else 1.0
        if not self.with_images:
            return built
        return 0.5 * built + (0.5 * self.images_done / self.images if self.images else 0.0)

    def describe(self) -> str:
        if self.images:
            return f"Rendering images: {self.images_done:,} of {self.images:,} ({self.steps:,} views computed)"
        return f"Computing the views: {self.steps_done:,} of {self.steps:,}"


def _in_background(function: Callable[[], Any]) -> concurrent.futures.Future:
    """Run `function` on a thread of its own; its result or error arrives in the future."""
    future: concurrent.futures.Future = concurrent.futures.Future()

    def run() -> None:
        try:
            future.set_result(function())
        except BaseException as error:  # noqa: BLE001 - handed to whoever waits on the future
            future.set_exception(error)

    threading.Thread(target=run, name="interp-open-browser", daemon=True).start()
    return future


class BundleWriter:
    """Collects a bundle's figures and tables and writes them as one zip.

    Each added figure is styled and serialised once, its HTML page made at once and its images
    queued in the shared browser (opened in the background when the writer is made), so images
    render while the caller computes what it adds next. Progress counts the steps added; once
    `finish_adding` (or `write`) says no figure will follow, it counts images against their
    total, which no longer changes. `write` waits for the images and writes the zip atomically
    with `index.html` and `index.csv` (every figure and table, from the `Source` each was added
    with); until then nothing is on disk. `progress` is called from the caller's thread only
    (Streamlit draws from that thread alone). With `table_header`,
    every table file carries the run's settings and provenance, named by its file stem.
    """

    def __init__(self, image_formats: Sequence[str] = IMAGE_FORMATS, style: str = "screen", width: str | None = None,
                 steps: int = 1, progress: Callable[[ExportProgress], None] | None = None,
                 table_header: TableHeader | None = None) -> None:
        self.image_formats, self.style, self.width = check_export_options(image_formats, style, width)
        self.table_header = table_header
        self.figures = self.tables = 0
        self._entries: dict[str, bytes] = {}
        self._index: list[IndexEntry] = []
        self._figure_stems: set[str] = set()
        self._table_stems: set[str] = set()
        self._pending: list[tuple[str, concurrent.futures.Future]] = []
        self._steps, self._steps_done, self._images, self._images_done = steps, 0, 0, 0
        self._submitted = 0  # images queued; `_images` stays 0 until no more can come
        self._images_on = False
        self._progress = progress
        self._exporter = shared_exporter() if self.image_formats else None
        self._opening = _in_background(self._exporter.available) if self._exporter else None
        self._unavailable: str | None = None

    def _images_possible(self) -> bool:
        if self._opening is None:
            return False
        available, reason = self._opening.result(timeout=2 * self._exporter.timeout + 30)
        self._unavailable = None if available else reason
        return available

    def add(self, figures: Mapping[str, go.Figure], tables: Mapping[str, pd.DataFrame], step_done: bool = True,
            sources: Mapping[str, Source] | None = None) -> None:
        """Add figures (rendered in the background) and tables, named `stem` or `folder/stem`;
        `sources` says what made each (by name), for the index."""
        _check_names("figure", list(figures))
        _check_names("table", list(tables))
        sources = sources or {}
        self._images_on = self._images_on or (bool(figures) and self._images_possible())
        for name, fig in figures.items():
            self._add_figure(_claim_stem(name, self._figure_stems), fig, sources.get(name, Source()))
        for name, frame in tables.items():
            stem = _claim_stem(name, self._table_stems)
            header = self.table_header.with_settings(table=stem) if self.table_header is not None else None
            self._entries[f"tables/{stem}.csv"] = table_bytes(frame, "csv", header)
            self._entries[f"tables/{stem}.json"] = table_bytes(frame, "json", header)
            self._index.append(IndexEntry("table", f"tables/{stem}", ("csv", "json"), stem.rpartition("/")[2],
                                          sources.get(name, Source())))
            self.tables += 1
        self._steps_done += step_done
        self._collect(block=False, report=False)
        self._report()

    def _add_figure(self, stem: str, fig: go.Figure, source: Source) -> None:
        original = fig.to_dict()
        spec = self.style.apply(original, self.width)
        title = figure_caption(original, spec)
        spec_json = to_json_plotly(spec)
        plotly_src = "../" * stem.count("/") + "plotly.min.js"
        self._entries[f"figures/{stem}.html"] = figure_page(spec, title, standalone=False, spec_json=spec_json,
                                                            plotly_src=plotly_src)
        files = ["html"]
        if self.style.name != "screen" and title:
            self._entries[f"figures/{stem}.txt"] = (title + "\n").encode("utf-8")
            files.append("txt")
        if self._images_on:
            job = figure_job(spec, self.image_formats, self.style.png_scale, stem, spec_json, title)
            self._pending.append((stem, self._exporter.submit(job)))
            self._submitted += len(self.image_formats)
        self._index.append(IndexEntry("figure", f"figures/{stem}", tuple(files), title, source))
        self.figures += 1

    def finish_adding(self) -> None:
        """No figure follows: from here on the progress counts images against their total."""
        if self._submitted and not self._images:
            self._images = self._submitted
            self._report()

    def _report(self) -> None:
        if self._progress is not None:
            wanted = bool(self.image_formats) and self._unavailable is None
            done = self._images_done if self._images else 0
            self._progress(ExportProgress(self._steps_done, self._steps, done, self._images, wanted))

    def _collect(self, block: bool, report: bool = True) -> None:
        """Move rendered images into the bundle as they arrive; with `block`, until all have."""
        while True:
            finished = [item for item in self._pending if item[1].done()]
            if block and not finished and self._pending:
                futures = [future for _, future in self._pending]
                limit = self._exporter.timeout * (1 + len(futures) / self._exporter.tabs)
                concurrent.futures.wait(futures, timeout=limit, return_when=concurrent.futures.FIRST_COMPLETED)
                # None in time: waiting on the first once more raises the timeout as one line.
                finished = [item for item in self._pending if item[1].done()] or self._pending[:1]
            for stem, future in finished:
                for fmt, data in self._exporter.wait(future, len(self._pending)).items():
                    self._entries[f"figures/{stem}.{fmt}"] = data
                self._images_done += len(self.image_formats)
            done = {id(future) for _, future in finished}
            self._pending = [item for item in self._pending if id(item[1]) not in done]
            if finished and report:
                self._report()
            if not (block and self._pending):
                return

    def abandon(self) -> None:
        """Drop the images still queued (after a failure elsewhere), waiting until their renders
        have stopped; nothing is written."""
        if self._exporter is not None:
            self._exporter.cancel([future for _, future in self._pending])
        self._pending = []

    def write(self, out_zip: str | Path, manifest: Mapping, extra_files: Mapping[str, bytes] | None = None,
              summary: Mapping[str, str] | None = None, remarks: Sequence[str] = ()) -> Path:
        """Wait for the images, then write the zip atomically: manifest first, entries sorted;
        `summary` (label → value) and `remarks` head the index page."""
        extra_files = extra_files or {}
        _check_extra_files(extra_files)
        try:
            self.finish_adding()
            self._collect(block=True)
        except BaseException:
            self.abandon()
            raise
        entries = dict(self._entries)
        entries["manifest.json"] = (json.dumps(json_value(manifest), indent=2, ensure_ascii=False,
                                               allow_nan=False) + "\n").encode("utf-8")
        if self.figures and self.image_formats and self._unavailable:
            entries["figures/README.txt"] = (
                f"No {', '.join(f.upper() for f in self.image_formats)} images in this bundle: "
                f"{self._unavailable}\nThe HTML files open in any browser and can be saved as images there.\n"
            ).encode()
        if self.figures:
            entries["figures/plotly.min.js"] = get_plotlyjs().encode("utf-8")
        if self._index:
            index = [self._with_images(entry, entries) for entry in self._index]
            entries["index.csv"] = index_csv(index)
            entries["index.html"] = index_html(index, summary or {}, remarks)
        entries.update(extra_files)
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as bundle:
            for path in sorted(entries, key=lambda p: (p != "manifest.json", p)):
                info = zipfile.ZipInfo(path, date_time=ZIP_TIME)
                info.compress_type = zipfile.ZIP_STORED if path.endswith(STORED_SUFFIXES) else zipfile.ZIP_DEFLATED
                bundle.writestr(info, entries[path])
        return write_bytes_atomic(out_zip, buffer.getvalue())

    def _with_images(self, entry: IndexEntry, entries: Mapping[str, bytes]) -> IndexEntry:
        """A figure's index entry with the image formats that made it into the bundle."""
        if entry.kind != "figure":
            return entry
        images = tuple(fmt for fmt in self.image_formats if f"{entry.path}.{fmt}" in entries)
        return dataclasses.replace(entry, files=entry.files + images)


def write_bundle(
    out_zip: str | Path,
    figures: Mapping[str, go.Figure],
    tables: Mapping[str, pd.DataFrame],
    manifest: Mapping,
    image_formats: Sequence[str] = IMAGE_FORMATS,
    extra_files: Mapping[str, bytes] | None = None,
    style: str = "screen",
    width: str | None = None,
    progress: Callable[[ExportProgress], None] | None = None,
) -> Path:
    """Write a zip of `manifest.json`, `index.html`, `index.csv`, `figures/NAME.{png,svg,pdf,html}`
    and `tables/NAME.{csv,json}`, where NAME is `stem` or `folder/stem`.

    The HTML pages load `figures/plotly.min.js`, stored once in the bundle; in a style other
    than "screen", `figures/NAME.txt` holds the caption (the title taken out of the figure).
    Names are made unique ignoring case and cut to a safe length by `bundle_names`; extra files
    land at the top level and must not collide (ignoring case) with the manifest, the index or
    the two folders. Images come from the shared browser when it is available; otherwise
    `figures/README.txt` says why they are missing. Nothing is written unless all of it is.
    """
    _check_names("figure", list(figures))
    _check_names("table", list(tables))
    _check_extra_files(extra_files or {})
    writer = BundleWriter(image_formats, style, width, progress=progress)
    try:
        writer.add(figures, tables)
    except BaseException:
        writer.abandon()
        raise
    return writer.write(out_zip, manifest, extra_files)


def bundle_manifest(results: Results, style: str = "screen", width: str | None = None,
                    image_formats: Sequence[str] = IMAGE_FORMATS) -> dict[str, Any]:
    """The run's manifest plus every setting of the analysis that shaped the bundle's numbers
    (`interp.analysis.envelope.analysis_settings`), and the style and image formats of its figures."""
    manifest = results.manifest.model_dump(mode="json")
    manifest["analysis"] = analysis_settings(results)
    manifest["figures"] = {"style": style_manifest(style, width), "image_formats": list(image_formats)}
    if results.partial:
        manifest["partial"] = results.describe_missing()
    return manifest


def bundle_file_name(results: Results, style: str = "screen", width: str | None = None) -> str:
    """A zip name that says which run, analysis settings and style:
    `run-ref-base-paper-attention-c200-s0.zip`, `...-s0-paper-column.zip` for paper figures."""
    selection = results.selection
    exclusions = selection.exclusions if isinstance(selection.exclusions, str) else "custom"
    first = "" if selection.first_position == "bos" else f"-first-{selection.first_position}"
    chosen = get_style(style)
    look = "" if chosen.name == "screen" else f"-{chosen.name}-{chosen.resolve_width(width)}"
    return (f"{results.store.folder.name}-ref-{results.reference}-{exclusions}{first}-{selection.measure}"
            f"-c{selection.n_controls}-s{selection.seed}{look}.zip")


def export_run(results: Results, out_zip: str | Path, image_formats: Sequence[str] = IMAGE_FORMATS,
               style: str = "screen", width: str | None = None,
               progress: Callable[[ExportProgress], None] | None = None,
               sequences: SequenceSubset | None = None) -> tuple[Path, int, int]:
    """The run's study-level views and tables, and its per-sequence views for `sequences`
    (default: `choose_sequences`, a few examples per concept type), as one zip, with `METHODS.md`
    and `references.bib` (`interp.analysis.methods`); returns the path and how many figures and
    tables it holds, counted in the zip as written.

    Steps (a view for one set of choices, `interp.views.bundle_plan`) are computed one at a time
    while the figures of earlier steps render: `progress` hears of each step against a total
    known before the first, then of the rendered images against their total, known once every
    step is computed."""
    from interp.views import bundle_plan, bundle_steps

    check_output_file(out_zip)  # a refusal after the whole bundle is computed would waste it
    subset = sequences or choose_sequences(results)
    manifest = bundle_manifest(results, style, width, image_formats)
    manifest["contents"] = contents_manifest(results, subset, style=style, width=width, image_formats=image_formats)
    plan = bundle_plan(results, subset.ids)
    writer = BundleWriter(image_formats, style, width, steps=len(plan), progress=progress,
                          table_header=results_header(results))
    try:
        for step in bundle_steps(results, plan):
            writer.add(step.figures, step.tables, sources=_step_sources(results, step))
        writer.finish_adding()
    except BaseException:
        writer.abandon()
        raise
    path = writer.write(out_zip, manifest, methods_files(results), summary=_index_summary(results, manifest, subset),
                        remarks=_index_remarks(results, manifest))
    return (path, *count_bundle_entries(path))


def methods_files(results: Results) -> dict[str, bytes]:
    """`METHODS.md` (the run's methods section under the bundle's settings) and `references.bib`."""
    return {"METHODS.md": methods_markdown(results).encode("utf-8"),
            "references.bib": methods_bibtex(results).encode("utf-8")}


def _step_sources(results: Results, step: BundleStepOutput) -> dict[str, Source]:
    """What the index says made each figure and table of a step: the view and the choices it
    depends on (a share map no "shift against")."""
    from interp.views import choice_text, describe_choices, named_choices

    view = step.step.view
    sources = {}
    for path, key in step.keys.items():
        chosen = named_choices(view, key, step.step.chosen)
        sources[path] = Source(view.name, view.label, view.caption, describe_choices(view, results, chosen),
                               {name: choice_text(value) for name, value in chosen.items()}, tuple(step.output.notes))
    return sources


def _index_summary(results: Results, manifest: Mapping[str, Any], subset: SequenceSubset) -> dict[str, str]:
    """The settings the index page opens with (label → value)."""
    analysis, figures = manifest["analysis"], manifest["figures"]
    exclusions = analysis["exclusions"]
    stages = ", ".join(f"{stage} (reference)" if stage == results.reference else stage for stage in results.stages)
    return {
        "Results folder": str(results.store.folder), "Lineage": str(manifest.get("lineage", "")), "Stages": stages,
        "Sequences": f"{len(results.sequences):,}", "Measure": analysis["measure"],
        "Excluded tokens": exclusions if isinstance(exclusions, str) else ", ".join(exclusions),
        "First position": analysis["first_position"], "Control spans per sequence": str(analysis["controls"]),
        "Seed": str(analysis["seed"]), "Style": figures["style"]["name"],
        "Image formats": ", ".join(figures["image_formats"]) or "none (HTML only)",
        "Per-sequence figures": f"{len(subset.ids):,} of {len(results.sequences):,} sequences: {subset.describe()}",
    }


def _index_remarks(results: Results, manifest: Mapping[str, Any]) -> list[str]:
    remarks = []
    left_out = manifest["contents"]["left_out"]
    if left_out:
        remarks.append(f"The per-sequence views ({', '.join(manifest['contents']['per_sequence_views'])}) are drawn "
                       f"here for {len(manifest['contents']['sequences_drawn']):,} sequences; those of the other "
                       f"{left_out['count']:,} are left out (manifest.json, contents.left_out, lists them). "
                       f"Every study-level view and table covers all sequences. To draw them all: "
                       f"{left_out['to_include_all']}")
    if results.partial:
        remarks.append(f"Partial results: {results.describe_missing()}")
    return remarks


def count_bundle_entries(path: str | Path) -> tuple[int, int]:
    """How many figures (`figures/*.html`) and tables (`tables/*.csv`) a bundle holds."""
    with zipfile.ZipFile(path) as bundle:
        names = bundle.namelist()
    return (sum(n.startswith("figures/") and n.endswith(".html") for n in names),
            sum(n.startswith("tables/") and n.endswith(".csv") for n in names))
