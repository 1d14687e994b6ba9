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

import interp.export as export
from interp.errors import InterpError
from interp.export import (
    CHROMIUM_MISSING,
    MAX_ENTRY_STEM,
    FigureExporter,
    bundle_names,
    count_bundle_entries,
    figure_bytes,
    image_formats_available,
    table_bytes,
    write_bundle,
)
from interp.figures import head_heatmap_figure

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
        "manifest.json", "figures/README.txt", "figures/heads_0.html", "figures/heads_1.html",
        "figures/plotly.min.js", "tables/stats.csv", "tables/stats.json", "NOTES.txt",
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


@pytest.mark.parametrize("name", ["../x", "a/b", ".hidden", "", "a b", "..", "é"])
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
    out = write_bundle(tmp_path / "export.zip", small_figures(3), {"stats": TABLE}, {"run": 1},
                       image_formats=("png", "svg", "pdf"))
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
