"""Export of figures and tables: HTML/CSV/JSON always, PNG/SVG/PDF through one shared Chromium."""

import io
import json
import shutil
import zipfile
from pathlib import Path

import kaleido
import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

import interp.export.bundle as export
from interp.core.errors import InterpError
from interp.export.bundle import (
    CHROMIUM_MISSING,
    MAX_ENTRY_STEM,
    ExportProgress,
    FigureExporter,
    bundle_names,
    count_bundle_entries,
    figure_bytes,
    image_formats_available,
    table_bytes,
    write_bundle,
)
from interp.export.styles import OKABE_ITO
from interp.views.figures import head_heatmap_figure

CHROMIUM_INSTALLED = bool(shutil.which("chromium") or Path("/usr/bin/chromium").is_file())
MAGIC = {"png": (b"\x89PNG",), "svg": (b"<svg", b"<?xml"), "pdf": (b"%PDF",)}


def small_figures(count: int) -> dict[str, go.Figure]:
    rng = np.random.default_rng(0)
    return {f"heads_{i}": head_heatmap_figure(rng.normal(size=(4, 3)), f"shift {i}", "shift")
            for i in range(count)}


def is_html(page: bytes) -> bool:
    return page.lower().startswith((b"<!doctype html>", b"<html")) and page.rstrip().endswith(
        b"</html>")


TABLE = pd.DataFrame({"sequence_id": ["role-1", "cond-1"], "stage": ["cpt", "ift"],
                      "mean": [0.125, np.nan], "heads": np.array([3, 4], dtype=np.int64)})


@pytest.fixture
def no_chromium(monkeypatch):
    """A fresh shared exporter that cannot find a browser, whatever this machine has."""
    monkeypatch.setenv("BROWSER_PATH", "/nonexistent/chromium")
    monkeypatch.setattr(export, "_shared", FigureExporter())


def test_html_is_standalone():
    page = figure_bytes(next(iter(small_figures(1).values())), "html").decode("utf-8")
    assert is_html(page.encode("utf-8"))
    assert 'src="https://cdn.plot.ly' not in page and "plotly.js v" in page  # embedded
    assert "shift 0" in page


def test_table_bytes_csv_and_json():
    csv = table_bytes(TABLE, "csv").decode("utf-8")
    assert csv.splitlines()[0] == "sequence_id,stage,mean,heads"
    pd.testing.assert_frame_equal(pd.read_csv(io.StringIO(csv)), TABLE)
    records = json.loads(table_bytes(TABLE, "json"))
    assert records == [
        {"sequence_id": "role-1", "stage": "cpt", "mean": 0.125, "heads": 3},
        {"sequence_id": "cond-1", "stage": "ift", "mean": None, "heads": 4},
    ]
    indexed = json.loads(table_bytes(TABLE.set_index("sequence_id"), "json"))
    assert indexed[0]["sequence_id"] == "role-1"
    with pytest.raises(InterpError, match="csv or json"):
        table_bytes(TABLE, "xlsx")


def test_unknown_image_format_is_rejected():
    with pytest.raises(InterpError, match="png, svg, pdf"):
        FigureExporter().figure_bytes(go.Figure(), "jpg")


def test_missing_chromium_is_reported_not_hidden(no_chromium):
    assert image_formats_available() == (False, CHROMIUM_MISSING)
    with pytest.raises(InterpError) as raised:
        figure_bytes(go.Figure(), "png")
    assert str(raised.value) == CHROMIUM_MISSING
    assert is_html(figure_bytes(go.Figure(), "html"))


def test_browser_that_fails_to_start_gives_the_reason(monkeypatch, tmp_path):
    fake = tmp_path / "chromium"
    fake.write_text("#!/bin/sh\nexit 1\n")
    fake.chmod(0o755)
    monkeypatch.setenv("BROWSER_PATH", str(fake))
    exporter = FigureExporter(timeout=30)
    available, reason = exporter.available()
    assert not available and reason.startswith("Chromium could not be started")
    assert exporter.available() == (False, reason) and exporter.starts == 1  # not retried
    with pytest.raises(InterpError, match="could not be started"):
        exporter.figure_bytes(go.Figure(), "svg")


def read_zip(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as bundle:
        return {name: bundle.read(name) for name in bundle.namelist()}


def test_bundle_without_images_explains_why(no_chromium, tmp_path):
    out = tmp_path / "export.zip"
    manifest = {"lineage": "demo", "stages": ["base", "cpt"], "count": np.int64(2)}
    assert write_bundle(out, small_figures(2), {"stats": TABLE}, manifest,
                        extra_files={"NOTES.txt": b"hello"}) == out
    entries = read_zip(out)
    assert set(entries) == {
        "manifest.json", "index.html", "index.csv", "figures/README.txt", "figures/heads_0.html",
        "figures/heads_1.html", "figures/plotly.min.js", "tables/stats.csv", "tables/stats.json", "NOTES.txt",
    }
    page = entries["figures/heads_0.html"]
    assert b'src="plotly.min.js"' in page and len(page) < 100_000
    assert len(entries["figures/plotly.min.js"]) > 1_000_000
    assert json.loads(entries["manifest.json"]) == {"lineage": "demo", "stages": ["base", "cpt"],
                                                    "count": 2}
    assert CHROMIUM_MISSING in entries["figures/README.txt"].decode("utf-8")
    assert entries["tables/stats.csv"] == table_bytes(TABLE, "csv")
    assert entries["tables/stats.json"] == table_bytes(TABLE, "json")
    assert is_html(entries["figures/heads_1.html"])
    assert [p.name for p in tmp_path.iterdir()] == ["export.zip"]  # no temporary files left


def test_bundle_is_atomic_and_reproducible(no_chromium, tmp_path):
    out = tmp_path / "export.zip"
    write_bundle(out, small_figures(1), {"stats": TABLE}, {"run": 1})
    first = out.read_bytes()
    write_bundle(out, small_figures(1), {"stats": TABLE}, {"run": 1})
    assert out.read_bytes() == first
    with pytest.raises(InterpError, match="safe file name"):
        write_bundle(out, small_figures(1), {"../stats": TABLE}, {"run": 2})
    assert out.read_bytes() == first
    assert [p.name for p in tmp_path.iterdir()] == ["export.zip"]


@pytest.mark.parametrize("name", ["../x", "a/b/c", "/a", "a/", "a/.x", ".hidden", "", "a b", "..", "é"])
def test_bundle_rejects_unsafe_names(tmp_path, name):
    with pytest.raises(InterpError, match="safe file name"):
        write_bundle(tmp_path / "x.zip", small_figures(1) | {name: go.Figure()}, {}, {})
    with pytest.raises(InterpError, match="safe file name"):
        write_bundle(tmp_path / "x.zip", {}, {}, {}, extra_files={name: b""})
    assert list(tmp_path.iterdir()) == []


def test_bundle_rejects_unknown_image_format(tmp_path):
    with pytest.raises(InterpError, match="image formats"):
        write_bundle(tmp_path / "x.zip", {}, {}, {}, image_formats=("gif",))


@pytest.mark.browser
def test_image_export_works_or_says_why():
    """With Chromium: real PNG/SVG/PDF bytes. Without: (False, reason) and InterpError."""
    fig = next(iter(small_figures(1).values()))
    if CHROMIUM_INSTALLED:
        assert image_formats_available()[0]
        for fmt, magic in MAGIC.items():
            assert figure_bytes(fig, fmt).lstrip().startswith(magic), fmt
    else:
        assert image_formats_available() == (False, CHROMIUM_MISSING)
        with pytest.raises(InterpError, match="Chromium not found"):
            figure_bytes(fig, "png")


@pytest.mark.browser
def test_many_figures_reuse_one_browser(monkeypatch):
    launches = []

    class CountingKaleido(kaleido.Kaleido):
        def __init__(self, *args, **kwargs):
            launches.append(kwargs)
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(kaleido, "Kaleido", CountingKaleido)
    exporter = FigureExporter()
    try:
        figures = list(small_figures(5).values())
        if not CHROMIUM_INSTALLED:
            assert exporter.available() == (False, CHROMIUM_MISSING) and exporter.starts == 0
            return
        images = [exporter.figure_bytes(fig, "png") for fig in figures]
        images += exporter.figures_bytes(figures, "svg")
        assert all(image.startswith(b"\x89PNG") for image in images[:5])
        assert all(image.lstrip().startswith((b"<svg", b"<?xml")) for image in images[5:])
        assert exporter.starts == 1 and len(launches) == 1
        assert launches[0]["mathjax"] is False  # no CDN request when the browser starts
    finally:
        exporter.close()


@pytest.mark.browser
def test_bundle_with_images(tmp_path):
    out = write_bundle(tmp_path / "export.zip", small_figures(3), {"stats": TABLE}, {"run": 1})
    entries = read_zip(out)
    if not CHROMIUM_INSTALLED:
        assert "figures/README.txt" in entries and "figures/heads_0.png" not in entries
        return
    assert "figures/README.txt" not in entries
    for i in range(3):
        for fmt, magic in MAGIC.items():
            assert entries[f"figures/heads_{i}.{fmt}"].lstrip().startswith(magic)
        assert is_html(entries[f"figures/heads_{i}.html"])


# ---------------------------------------------------------------- inert output, unique names

def test_csv_tables_neutralise_formula_cells_and_json_keeps_the_text():
    frame = pd.DataFrame({"concept": ['=HYPERLINK("http://evil.example","x")', "@SUM(A1)", "-x", "Role"],
                          "mean": [-0.5, 0.0, 1.0, 2.0]})
    rows = pd.read_csv(io.StringIO(table_bytes(frame, "csv").decode()), dtype=str)
    assert list(rows["concept"]) == ["'=HYPERLINK(\"http://evil.example\",\"x\")", "'@SUM(A1)", "'-x", "Role"]
    assert list(rows["mean"]) == ["-0.5", "0.0", "1.0", "2.0"]
    assert json.loads(table_bytes(frame, "json"))[0]["concept"] == '=HYPERLINK("http://evil.example","x")'


def test_bundle_names_are_unique_ignoring_case_and_short():
    long = "tokens-difference-" + "s" * 100 + "-" + "L" * 100 + "-vs-" + "B" * 100
    names = bundle_names(["heads-s-x", "heads-s-X", "heads-s-x-2", "HEADS-S-X", long, long.upper()])
    stems = list(names.values())
    assert stems[:4] == ["heads-s-x", "heads-s-X-2", "heads-s-x-2-2", "HEADS-S-X-3"]
    assert len({stem.lower() for stem in stems}) == len(stems) == 6
    assert all(len(stem) <= MAX_ENTRY_STEM + 3 for stem in stems)
    assert names[long] != names[long.upper()].lower()
    assert bundle_names(["a", "b"]) == {"a": "a", "b": "b"}


def test_bundle_keeps_every_figure_whose_names_differ_only_in_case(no_chromium, tmp_path):
    figures = {"heads-s-x": go.Figure(), "heads-s-X": go.Figure(layout_title_text="second"), "t" * 300: go.Figure()}
    tables = {"stats": TABLE, "STATS": TABLE.head(1)}
    out = write_bundle(tmp_path / "b.zip", figures, tables, {})
    entries = read_zip(out)
    assert count_bundle_entries(out) == (3, 2)
    assert len({name.lower() for name in entries}) == len(entries)
    assert b"second" in entries["figures/heads-s-X-2.html"]
    assert entries["tables/STATS-2.csv"] == table_bytes(TABLE.head(1), "csv")
    assert all(len(name.rsplit("/", 1)[-1].encode()) < 255 for name in entries)


@pytest.mark.parametrize("name", ["MANIFEST.json", "figures", "Tables"])
def test_extra_files_may_not_collide_with_the_manifest_or_folders(tmp_path, name):
    with pytest.raises(InterpError, match="would collide"):
        write_bundle(tmp_path / "x.zip", {}, {}, {}, extra_files={name: b""})
    with pytest.raises(InterpError, match="differ only in case"):
        write_bundle(tmp_path / "x.zip", {}, {}, {}, extra_files={"notes.txt": b"", "NOTES.txt": b""})
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------- styles, progress, failures

def test_html_page_is_titled_with_the_escaped_title():
    fig = go.Figure(layout_title_text="Shift < 0 &amp; <b>bold</b><script>alert(1)</script>")
    page = figure_bytes(fig, "html")
    assert b"<title>Shift &lt; 0 &amp; boldalert(1)</title>" in page  # markup removed, the text escaped
    assert b"<script>alert(1)" not in page  # in the figure's JSON it is escaped as \\u003c


def test_paper_bundle_without_images_has_captions_and_no_titles(no_chromium, tmp_path):
    figures = small_figures(2)
    before = {name: fig.to_dict() for name, fig in figures.items()}
    out = write_bundle(tmp_path / "paper.zip", figures, {}, {}, style="paper", width="page")
    entries = read_zip(out)
    assert entries["figures/heads_1.txt"] == b"shift 1\n"
    page = entries["figures/heads_1.html"]
    assert b"<title>shift 1</title>" in page and page.count(b"shift 1") == 1  # not inside the figure
    assert b'"width":672' in page and OKABE_ITO[0].encode() in page
    assert {name: fig.to_dict() for name, fig in figures.items()} == before  # the app's figures stay as they were
    with pytest.raises(InterpError, match="widths: column, page"):
        write_bundle(tmp_path / "x.zip", figures, {}, {}, style="paper", width="a4")
    with pytest.raises(InterpError, match="styles: screen, paper"):
        write_bundle(tmp_path / "x.zip", figures, {}, {}, style="print")
    assert [p.name for p in tmp_path.iterdir()] == ["paper.zip"]


def test_progress_fraction():
    assert ExportProgress(0, 4, 0, 0).fraction == 0
    assert ExportProgress(2, 4, 0, 0).fraction == 0.5
    assert ExportProgress(2, 4, 0, 0, with_images=True).fraction == 0.25  # half for the views, half for the images
    assert ExportProgress(4, 4, 3, 6, with_images=True).fraction == 0.75
    assert ExportProgress(4, 4, 6, 6, with_images=True).fraction == 1
    assert ExportProgress(2, 1_240, 0, 0, True).describe() == "Computing the views: 2 of 1,240"
    assert ExportProgress(4, 4, 6, 6, True).describe() == "Rendering images: 6 of 6 (4 views computed)"


def assert_totals_never_grow(events: list[ExportProgress]) -> None:
    """Each total is known from the first count against it: views from the first event, images
    from the first event that counts any (it does not change afterwards)."""
    assert len({event.steps for event in events}) == 1
    assert all(event.images or not event.images_done for event in events)
    assert len({event.images for event in events if event.images}) <= 1
    fractions = [event.fraction for event in events]
    assert fractions == sorted(fractions)


def test_a_bundle_without_images_counts_views_only(no_chromium, tmp_path):
    events = []
    write_bundle(tmp_path / "b.zip", small_figures(2), {}, {}, image_formats=(), progress=events.append)
    assert events[-1] == ExportProgress(1, 1, 0, 0, False) and events[-1].fraction == 1
    assert_totals_never_grow(events)


@pytest.mark.browser
def test_bundle_reports_progress_per_figure_and_ends_complete(tmp_path):
    events = []
    write_bundle(tmp_path / "b.zip", small_figures(4), {}, {}, progress=events.append)
    assert events[-1] == ExportProgress(1, 1, 12, 12, True)  # 4 figures × PNG, SVG and PDF
    assert_totals_never_grow(events)
    assert events[-1].fraction == 1
    assert {event.images_done for event in events} <= {0, 3, 6, 9, 12}  # a figure's formats arrive together


@pytest.mark.browser
def test_paper_bundle_images_have_the_width_and_embed_a_truetype_font(tmp_path):
    out = write_bundle(tmp_path / "paper.zip", small_figures(1), {}, {}, style="paper")
    entries = read_zip(out)
    png, pdf = entries["figures/heads_0.png"], entries["figures/heads_0.pdf"]
    assert int.from_bytes(png[16:20], "big") == 1050  # 3.5 in at 300 dpi
    assert b"/MediaBox [0 0 252 " in pdf  # 3.5 in at 72 points per inch
    assert b"/FontFile2" in pdf and b"/CIDFontType2" in pdf and b"/Type3" not in pdf
    assert b"DejaVuSans" in pdf or b"LiberationSans" in pdf
    assert b"/Title (shift 0)" in pdf
    assert b"DejaVu Sans" in entries["figures/heads_0.svg"] and b"shift 0" not in entries["figures/heads_0.svg"]


@pytest.mark.browser
def test_a_failed_render_is_one_line_and_leaves_no_zip(tmp_path):
    figures = small_figures(2) | {"huge": go.Figure(go.Bar(y=[1]), layout=dict(width=9000, height=9000))}
    out = tmp_path / "b.zip"
    with pytest.raises(InterpError) as raised:
        write_bundle(out, figures, {"stats": TABLE}, {})
    assert str(raised.value) == ("PNG/SVG/PDF export of figure 'huge' failed: "
                                 "Error: the PNG came out empty (18000 x 18000 px)")
    assert list(tmp_path.iterdir()) == []
    write_bundle(out, small_figures(1), {}, {})  # the next bundle gets a working browser
    assert "figures/heads_0.pdf" in read_zip(out)


@pytest.mark.slow
def test_a_lineage_of_27_stages_exports_and_shows_its_first_token_view(no_chromium, tmp_path, tiny_lineage):
    """Plotly refuses 27 panels in one row at the spacing the First token view used; it wraps them now."""
    from interp.analysis.results import Results, Selection
    from interp.extraction.pipeline import extract_lineage
    from interp.extraction.settings import ExtractionSettings
    from interp.models.lineage import Lineage, Stage
    from interp.views import get_view
    from tests.conftest import TINY_SEQUENCES

    stages = tuple(Stage(f"s{i}", tiny_lineage.stages[i % 3].model) for i in range(27))
    extract_lineage(Lineage("many", stages, reference="s0"), TINY_SEQUENCES[:1], tmp_path / "run",
                    ExtractionSettings(device="cpu", threads=1, patterns="none"))
    results = Results(tmp_path / "run", Selection(n_controls=0))
    first = get_view("first-token").compute(results, sequence=TINY_SEQUENCES[0].id)
    assert [t.name for t in first.figures["share"].data if t.type == "heatmap"] == [f"s{i}" for i in range(27)]
    path, figures, tables = export.export_run(results, tmp_path / "many.zip", ())
    names = read_zip(path)
    assert figures > 0 and tables > 0 and any("first-token" in name for name in names)


def test_a_paper_caption_says_what_the_width_left_out(tmp_path):
    """Views whose content cannot fit a column lay out for it and say so in the caption."""
    from interp.views.figures import token_attention_figure, token_text_figure

    n = 90
    tokens = [f"▁word{i}" for i in range(n)]
    pattern = np.tril(np.ones((n, n))) / np.arange(1, n + 1)[:, None]
    figures = {
        "map": token_attention_figure(pattern, tokens, np.arange(n) % 9 == 0, title="Attention of layer 0"),
        "text": token_text_figure([f"␣{t}" for t in tokens], np.linspace(0, 1, n), np.zeros(n, bool),
                                  np.zeros(n, bool), "Attention each token receives"),
    }
    out = write_bundle(tmp_path / "paper.zip", figures, {}, {}, image_formats=(), style="paper", width="column")
    entries = read_zip(out)
    caption = entries["figures/map.txt"].decode()
    assert caption.startswith("Attention of layer 0") and "th token labelled." in caption
    assert entries["figures/text.txt"].decode().startswith("Attention each token receives. Lines of at most")


# ---------------------------------------------------------------- folders and the index

def test_names_with_a_folder_go_into_it_and_the_index_lists_every_entry(no_chromium, tmp_path):
    from interp.export.index import Source

    figures = {"heads/share-x-cpt": small_figures(1)["heads_0"]}
    source = Source("heads", "Heads", "Layer × head share.", "Sequence: x; Stage: cpt", {"sequence": "x", "stage": "cpt"})
    writer = export.BundleWriter(image_formats=(), steps=1)
    writer.add(figures, {"overview/statistics": TABLE}, sources={"heads/share-x-cpt": source,
                                                                 "overview/statistics": source})
    out = writer.write(tmp_path / "b.zip", {"run": 1}, summary={"Measure": "attention"}, remarks=["Nothing left out."])
    entries = read_zip(out)
    assert {"figures/heads/share-x-cpt.html", "tables/overview/statistics.csv", "tables/overview/statistics.json",
            "figures/plotly.min.js", "index.html", "index.csv"} <= set(entries)
    assert b'src="../plotly.min.js"' in entries["figures/heads/share-x-cpt.html"]  # the one copy, a folder up
    rows = pd.read_csv(io.BytesIO(entries["index.csv"]), keep_default_na=False)
    assert rows[["kind", "view", "path", "files", "title", "sequence", "stage"]].to_dict("records") == [
        {"kind": "figure", "view": "heads", "path": "figures/heads/share-x-cpt", "files": "html", "title": "shift 0",
         "sequence": "x", "stage": "cpt"},
        {"kind": "table", "view": "heads", "path": "tables/overview/statistics", "files": "csv json",
         "title": "statistics", "sequence": "x", "stage": "cpt"},
    ]
    page = entries["index.html"].decode()
    assert "href='figures/heads/share-x-cpt.html'" in page and "href='tables/overview/statistics.csv'" in page
    assert "Nothing left out." in page and "<td>attention</td>" in page and "Layer × head share." in page
    with pytest.raises(InterpError, match="would collide"):
        write_bundle(tmp_path / "c.zip", {}, {}, {}, extra_files={"INDEX.html": b""})


@pytest.mark.browser
def test_the_index_lists_the_image_formats_each_figure_got(tmp_path):
    out = write_bundle(tmp_path / "b.zip", {"heads/a": small_figures(1)["heads_0"]}, {}, {}, image_formats=("svg", "png"))
    rows = pd.read_csv(io.BytesIO(read_zip(out)["index.csv"]))
    expected = "html png svg" if CHROMIUM_INSTALLED else "html"
    assert list(rows["files"]) == [expected]
