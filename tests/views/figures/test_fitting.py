"""Figures that fit their width: text widths, wrapped titles, regridded panels, named fitters."""

import numpy as np
import plotly.graph_objects as go
import pytest

from interp.core.errors import InterpError
from interp.views.figures import layer_profile_figure
from interp.views.figures.fitting import (
    fit_figure,
    fit_titles,
    line_count,
    plain_text,
    room_of,
    text_width,
    wrap_text,
)


def test_text_width_follows_the_font_and_counts_the_longest_line():
    assert text_width("iiii", 10) < text_width("MMMM", 10)
    assert text_width("mean", 20) == pytest.approx(2 * text_width("mean", 10))
    assert text_width("ab<br>abcd", 10) == pytest.approx(text_width("abcd", 10))
    assert text_width("<b>Δ</b> &amp;", 10) == pytest.approx(text_width("Δ &", 10))
    assert plain_text("a<br>b &lt;c&gt;") == "a\nb <c>"


def test_wrap_text_keeps_every_word_and_each_line_in_its_room():
    text = "mean shift Δ vs base (95% bootstrap interval over heads)"
    wrapped = wrap_text(text, 120, 10)
    assert wrapped.replace("<br>", " ") == text
    assert all(text_width(line, 10) <= 120 for line in wrapped.split("<br>"))
    assert line_count(wrapped) > 1 and wrap_text(wrapped, 1000, 10) == text  # wraps again from scratch
    assert wrap_text("unbreakable", 5, 10) == "unbreakable"


def test_a_y_title_longer_than_its_axis_wraps_and_a_short_one_stays():
    layout = {"height": 240, "width": 336, "margin": {"l": 8, "r": 8, "t": 8, "b": 8},
              "yaxis": {"title": {"text": "mean shift Δ vs base (95% bootstrap interval over heads)"}},
              "xaxis": {"title": {"text": "sequence"}}}
    fitted = fit_titles(layout, room_of(layout, font_size=10))
    assert line_count(fitted["yaxis"]["title"]["text"]) >= 2 and fitted["xaxis"]["title"]["text"] == "sequence"
    assert layout["yaxis"]["title"]["text"].count("<br>") == 0, "the input is left as it was"


def test_a_long_figure_title_wraps_and_the_top_margin_holds_its_lines():
    layout = {"title": {"text": "Mean shift of the concept share (norm-weighted) against base, per sequence, "
                                "with its 95% bootstrap interval over heads"}, "width": 500}
    fitted = fit_titles(layout, room_of(layout))
    assert line_count(fitted["title"]["text"]) >= 2
    assert fitted["margin"]["t"] >= 2 * (line_count(fitted["title"]["text"]) - 1) * 1.3 * 17


def test_panels_regrid_into_fewer_columns_on_a_narrow_page():
    profiles = {f"sequence-{i}": {"cpt": np.array([0.1, -0.2, 0.0])} for i in range(6)}
    spec = layer_profile_figure(profiles, "base").to_dict()
    assert spec["layout"]["meta"]["columns"] == 3
    spec["layout"]["margin"] = {"l": 8, "r": 8, "t": 8, "b": 8}  # as on paper
    narrow = fit_figure(spec, 336, 400, 10)["layout"]
    starts = sorted({round(narrow[f"xaxis{'' if i == 0 else i + 1}"]["domain"][0], 6) for i in range(6)})
    assert len(starts) == 2, "two columns in a 3.5 in column"
    lowest = [narrow[f"xaxis{i}"]["title"]["text"] for i in (5, 6)]
    assert lowest == ["layer", "layer"] and narrow["xaxis"]["title"]["text"] == ""
    assert plain_text(narrow["yaxis3"]["title"]["text"]).split() == ["mean", "shift", "vs", "base"] and narrow["yaxis2"]["title"]["text"] == ""
    assert narrow["height"] > spec["layout"]["height"] * 336 / 700, "three rows need the room"
    wide = fit_figure(spec, 1400, 1000, 10)["layout"]
    assert len({round(wide[f"xaxis{'' if i == 0 else i + 1}"]["domain"][0], 6) for i in range(6)}) == 3


def test_an_unknown_fitter_is_refused_by_name():
    spec = go.Figure(layout=dict(meta={"fit": "poster"})).to_dict()
    with pytest.raises(InterpError, match="figure fitter 'poster' is unknown"):
        fit_figure(spec, 336, 240, 10)


def test_regridded_panels_keep_tick_labels_off_where_the_figure_had_none():
    from interp.views.figures import head_grid_figure

    patterns = np.stack([np.tril(np.ones((6, 6)))] * 8)
    spec = head_grid_figure(patterns, [f"t{i}" for i in range(6)], "grid").to_dict()
    spec["layout"]["margin"] = {"l": 8, "r": 8, "t": 8, "b": 8}
    narrow = fit_figure(spec, 336, 400, 10)["layout"]
    assert all(narrow[f"yaxis{'' if i == 0 else i + 1}"]["showticklabels"] is False for i in range(8))
    assert len({round(narrow[f"xaxis{'' if i == 0 else i + 1}"]["domain"][0], 6) for i in range(8)}) == 2
