"""Figure styles: the paper look (no title, column and page widths, TrueType font, Okabe–Ito)."""

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio
import pytest

from interp.core.errors import InterpError
from interp.export.styles import (
    OKABE_ITO,
    PAPER_FONT,
    STYLES,
    figure_title,
    get_style,
    paper_figure,
    style_manifest,
)
from interp.views.figures import (
    TEMPLATE,
    head_heatmap_figure,
    layer_profile_figure,
    shift_overview_figure,
)

SHIFTS = pd.DataFrame({"sequence_id": ["a", "a", "b", "b"], "concept": ["Role"] * 4, "stage": ["cpt", "ift"] * 2,
                       "mean": [0.01, 0.02, -0.01, 0.0], "low": [0.0, 0.01, -0.02, -0.01],
                       "high": [0.02, 0.03, 0.0, 0.01], "control_percentile": [80.0, 90.0, 10.0, 50.0]})
PROFILES = {"a": {"cpt": np.array([0.1, -0.2]), "ift": np.array([0.0, 0.3])},
            "b": {"cpt": np.array([0.2, 0.1]), "ift": np.array([-0.1, 0.0])}}


def test_paper_figure_has_no_title_and_the_column_or_page_width():
    fig = head_heatmap_figure(np.arange(12.0).reshape(4, 3), "Shift <b>cpt</b> − base", kind="shift")
    column = paper_figure(fig)
    page = paper_figure(fig, width="page")
    assert column.layout.title.text is None and page.layout.title.text is None
    assert (column.layout.width, page.layout.width) == (336, 672)  # 3.5 in and 7 in at 96 px per inch
    assert (column.layout.height, page.layout.height) == (240, 480)  # the screen's 700 × 500, scaled
    assert column.layout.font.family == PAPER_FONT and PAPER_FONT.startswith("DejaVu Sans")
    assert column.data[0].colorbar.thickness == 10
    assert figure_title(fig.to_dict()) == "Shift cpt − base"


def test_paper_height_follows_the_screen_aspect():
    fig = go.Figure(layout=dict(width=1400, height=700, title="wide"))
    assert (paper_figure(fig, "page").layout.width, paper_figure(fig, "page").layout.height) == (672, 336)


def test_paper_figure_leaves_the_input_as_it_was():
    fig = layer_profile_figure(PROFILES, "base")
    before = fig.to_dict()
    paper_figure(fig, "page")
    assert fig.to_dict() == before
    assert fig.layout.title.text.startswith("Mean shift of the concept share (attention) per layer")


def test_stage_colours_are_okabe_ito_on_screen_and_on_paper():
    points = shift_overview_figure(SHIFTS, "base", ["base", "cpt", "ift"])
    paper = paper_figure(points)
    assert list(paper.layout.colorway) == list(OKABE_ITO)
    assert [t.marker.color for t in paper.data] == [t.marker.color for t in points.data] == list(OKABE_ITO[1:3])
    lines = paper_figure(layer_profile_figure(PROFILES, "base"))
    screen = pio.templates[TEMPLATE].layout.colorway
    colours = {trace.name: trace.line.color for trace in lines.data}
    assert colours == {"cpt": OKABE_ITO[0], "ift": OKABE_ITO[1]}
    assert not {c.lower() for c in colours.values()} & {c.lower() for c in screen}
    assert lines.layout.shapes[0].line.color == "grey"  # not a stage colour: kept


def test_panel_titles_keep_room_above_the_plot():
    lines = paper_figure(layer_profile_figure(PROFILES, "base"))
    assert lines.layout.margin.t > 8 and all(note.font.size <= 10 for note in lines.layout.annotations)
    single = paper_figure(head_heatmap_figure(np.ones((2, 2)), "x"))
    assert single.layout.margin.t == 8


def test_style_registry_and_widths():
    assert list(STYLES) == ["screen", "paper"]
    assert get_style("screen").apply({"layout": {"title": {"text": "t"}}}, None) == {"layout": {"title": {"text": "t"}}}
    assert get_style("paper").resolve_width(None) == "column"
    with pytest.raises(InterpError, match="styles: screen, paper"):
        get_style("print")
    with pytest.raises(InterpError, match="widths: column, page"):
        paper_figure(go.Figure(), width="poster")
    with pytest.raises(InterpError, match="keeps each figure's own width"):
        get_style("screen").resolve_width("page")
    assert style_manifest("paper", "page") == {
        "name": "paper", "width": "page", "width_in": 7.0, "png_dpi": 300, "font": PAPER_FONT, "font_size_pt": 7.5,
        "palette": "Okabe-Ito", "titles": "captions"}
    assert style_manifest("screen") == {"name": "screen", "png_scale": 2}
    assert STYLES["paper"].png_scale * 3.5 * 96 == pytest.approx(1050)  # 3.5 in at 300 dpi


@pytest.fixture(scope="module")
def demo_results(micro_demo, tmp_path_factory):
    """The micro demo lineage over the packaged concept sets: the views of `make run`, small."""
    from interp.analysis.results import Results
    from interp.concepts.files import all_sequences, builtin_concepts_dir, load_concepts
    from interp.extraction.pipeline import extract_lineage
    from interp.extraction.settings import ExtractionSettings
    from interp.models.lineage import load_lineage

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("INTERP_DEMO_DIR", str(micro_demo))
        lineage = load_lineage("demo")
    sequences = all_sequences(load_concepts(sorted(builtin_concepts_dir().glob("*.yaml"))))
    out = tmp_path_factory.mktemp("paper-run") / "run"
    extract_lineage(lineage, sequences, out, ExtractionSettings(device="cpu", patterns="full"))
    causal_check(out)
    return Results(out)


def causal_check(folder) -> None:
    """A small causal run base → cpt in `folder`, so the causal views print too (their head-set
    legend was cut at column width while no run here could show them)."""
    from interp.causal.store import CausalSettings
    from interp.causal.study import RunOptions, prepare_causal, run_causal

    run_causal(prepare_causal(folder, CausalSettings(source="base", target="cpt", top=2, random_sets=5)),
               RunOptions(device="cpu"))


def every_view_figure(results):
    """(name, figure) of every view at its default choices, and Tokens over the whole sequence too."""
    from interp import views

    for name, view in views.VIEWS.items():
        if view.unavailable(results):
            continue
        chosen = views.resolve_choices(view, results)
        choices = [chosen]
        if name == "tokens":
            extents = views.get_view("tokens").choices[-1].options(results, chosen)
            choices += [{**chosen, "extent": "whole"}] if "whole" in extents else []
        for index, chosen in enumerate(choices):
            for key, figure in view.compute(results, **chosen).figures.items():
                yield f"{name}-{key}{'-whole' if index else ''}", figure


@pytest.mark.slow
@pytest.mark.browser
def test_every_figure_of_every_view_prints_without_overlaps_in_both_paper_widths_and_on_screen(demo_results):
    """The paper bundle printed the Text view as overlapping glyphs, token labels over each other and
    axis titles cut at both ends: each figure, rendered to PDF by Chromium, has every glyph inside its
    page, no two glyphs on top of each other, and every title and label printed whole."""
    from interp.export.images import FigureExporter, figure_job
    from tests.export.pdf_glyphs import problems, read_page

    specs = {}
    for name, figure in every_view_figure(demo_results):
        original = figure.to_dict()
        specs[f"{name} (screen)"] = original
        for width in ("column", "page"):
            specs[f"{name} ({width})"] = STYLES["paper"].apply(original, width)
    assert len(specs) > 3 * 15
    assert {"causal-map (column)", "shift-effect-scatter (column)", "head-sets-sets (column)"} <= set(specs)
    exporter = FigureExporter(tabs=2)
    try:
        pdfs = [images["pdf"] for images in exporter.render([figure_job(spec, ("pdf",), name=name)
                                                              for name, spec in specs.items()])]
    finally:
        exporter.close()
    found = {}
    for (name, spec), pdf in zip(specs.items(), pdfs):
        wrong = {kind: items[:5] for kind, items in problems(spec, pdf).items() if items}
        if "µ" in read_page(pdf).text:
            wrong["SI prefix"] = ["µ"]
        if wrong:
            found[name] = wrong
    assert found == {}
