"""PNG, SVG and PDF from one layout of each figure, in the tabs of one Chromium."""

import re
import struct

import plotly.graph_objects as go
import pytest

from interp.core.errors import InterpError
from interp.export.images import FigureExporter, RenderJob, _ImageCache, figure_job


@pytest.fixture(scope="module")
def exporter():
    exporter = FigureExporter(tabs=2)
    yield exporter
    exporter.close()


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def pdf_media_box(data: bytes) -> list[float]:
    assert data[:5] == b"%PDF-"
    return [float(v) for v in re.search(rb"/MediaBox \[([^\]]*)\]", data).group(1).split()]


def bar(width: int, height: int, title: str = "Bars") -> go.Figure:
    return go.Figure(go.Bar(x=["a", "b"], y=[1, 2]), layout=dict(width=width, height=height, title=title))


@pytest.mark.browser
def test_one_job_gives_all_three_formats_of_one_layout(exporter):
    job = figure_job(bar(400, 300, "Bars & <i>more</i>").to_dict(), ("png", "svg", "pdf"), png_scale=3, name="bars")
    assert job.title == "Bars & more"
    images = exporter.render([job])[0]
    assert set(images) == {"png", "svg", "pdf"}
    assert png_size(images["png"]) == (1200, 900)
    svg = images["svg"].decode("utf-8")
    assert svg.startswith("<svg") and 'width="400"' in svg and "Bars &amp; " in svg
    assert pdf_media_box(images["pdf"]) == pytest.approx([0, 0, 300, 225], abs=0.2)  # 400 × 300 CSS px in points
    assert b"/Title (Bars & more)" in images["pdf"]
    assert b"/FontFile2" in images["pdf"]  # the text stays text, its TrueType font embedded
    assert exporter.starts == 1


@pytest.mark.browser
def test_many_figures_come_back_in_order_from_one_browser(exporter):
    starts = exporter.starts
    widths = [300, 320, 340, 360, 380, 400]
    results = exporter.render([figure_job(bar(w, 200).to_dict(), ("png", "pdf"), png_scale=1) for w in widths])
    assert [png_size(r["png"])[0] for r in results] == widths
    assert [pdf_media_box(r["pdf"])[2] for r in results] == pytest.approx([w * 0.75 for w in widths], abs=0.2)
    assert exporter.starts == starts


@pytest.mark.browser
def test_a_figure_plotly_refuses_is_one_line_and_the_next_call_works(exporter):
    job = RenderJob(go.Figure().to_json(), ("svg",), width=-5, height=100, name="negative")
    with pytest.raises(InterpError) as raised:
        exporter.render([job])
    assert str(raised.value) == "SVG export of figure 'negative' failed: Error: Height and width should be pixel values."
    starts = exporter.starts
    assert exporter.figure_bytes(bar(300, 200), "svg").startswith(b"<svg")
    assert exporter.starts == starts + 1  # the failed browser was closed, a new one opened


@pytest.mark.browser
def test_a_png_too_large_for_a_canvas_is_refused_not_empty(exporter):
    with pytest.raises(InterpError, match=r"'huge' failed: Error: the PNG came out empty \(18000 x 18000 px\)"):
        exporter.render([figure_job(bar(9000, 9000).to_dict(), ("png",), png_scale=2, name="huge")])


def test_formats_are_checked_before_the_browser_starts():
    exporter = FigureExporter()
    with pytest.raises(InterpError, match="png, svg, pdf"):
        exporter.submit(RenderJob("{}", ("gif",), 10, 10))
    with pytest.raises(InterpError, match="png, svg, pdf"):
        exporter.submit(RenderJob("{}", (), 10, 10))
    assert exporter.starts == 0


@pytest.mark.browser
def test_a_figure_asked_for_again_comes_from_the_cache(exporter):
    job = figure_job(bar(310, 210, "cached").to_dict(), ("png", "svg"), png_scale=1)
    first = exporter.render([job])[0]
    rendered = exporter.rendered
    assert exporter.render([job])[0] == first and exporter.rendered == rendered
    exporter.render([figure_job(bar(310, 210, "cached").to_dict(), ("png", "svg"), png_scale=2)])
    assert exporter.rendered == rendered + 1  # another scale is another image


@pytest.mark.parametrize("limit", [10, 25])
def test_the_cache_keeps_the_most_recent_images_within_its_size(limit):
    cache = _ImageCache(limit)
    cache.put("a", {"png": b"x" * 8})
    cache.put("b", {"png": b"y" * 8})
    cache.put("too-big", {"png": b"z" * (limit + 1)})
    assert cache.get("too-big") is None and cache.get("b") == {"png": b"y" * 8}
    assert (cache.get("a") is None) == (limit < 16)


@pytest.mark.browser
def test_cancelled_renders_stop_and_other_renders_go_on(exporter, monkeypatch):
    """A caller that stops cancels its renders and waits until each has ended; nothing is left
    behind, and the browser serves the next caller. Writes are slowed down so that renders are
    in the browser's pipe when they are cancelled (where the browser library turns a cancel into
    its own error, which used to be left unretrieved and printed at exit)."""
    import time

    from choreographer.channels import pipe

    write = pipe.Pipe.write_json

    def slow(self, obj):
        if "interpRender" in str(obj.get("params", {}).get("expression", "")):
            time.sleep(0.3)
        return write(self, obj)

    monkeypatch.setattr(pipe.Pipe, "write_json", slow)
    futures = [exporter.submit(figure_job(bar(300 + i, 200).to_dict(), ("svg",))) for i in range(6)]
    time.sleep(0.5)
    exporter.cancel(futures)
    assert all(future.done() for future in futures) and exporter._tasks == {}
    assert sum(future.cancelled() for future in futures) >= 3
    monkeypatch.setattr(pipe.Pipe, "write_json", write)
    assert exporter.render([figure_job(bar(310, 200).to_dict(), ("svg",))])[0]["svg"].startswith(b"<svg")
