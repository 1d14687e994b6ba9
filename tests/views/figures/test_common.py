"""Conventions every figure shares: stage colours, numbers, the template."""

import numpy as np

from interp.views.figures import (
    STAGE_PALETTE,
    short_number,
    stage_colours,
)


def test_stage_colours_are_colour_blind_safe_and_stable():
    assert stage_colours(["a", "b"])["b"] == stage_colours(["a", "b", "c"])["b"] == STAGE_PALETTE[1]
    assert len(set(stage_colours([str(i) for i in range(8)]).values())) == 8


def test_short_numbers_never_print_minus_zero():
    assert [short_number(v) for v in (0.1234, -0.0042, 3.2e-05, -3.2e-05, 0.0)] == ["0.123", "-0.004", "3.2e-05",
                                                                                   "-3.2e-05", "0"]


def test_stages_have_distinct_colours_however_many():
    few = stage_colours(["cpt", "ift"])
    assert list(few.values()) == list(STAGE_PALETTE[:2])  # Okabe–Ito, as on every view and export
    many = stage_colours([f"step{n}" for n in range(40)])
    assert len(set(many.values())) == 40


def test_measured_names_the_measure_and_narrow_ranges_are_said():
    from interp.views.figures import measured
    from interp.views.figures.common import narrow_range_note

    assert measured("share", "Norm-weighted") == "share (norm-weighted)"
    note = narrow_range_note(np.array([0.1648, 0.1654, 0.1650]), 0.165, "mean share")
    assert note == "narrow axis: 0.1648 to 0.1654, a span of 0.4% of the mean share"
    assert narrow_range_note(np.array([0.10, 0.20]), 0.15, "mean share") == ""
    assert narrow_range_note(np.array([0.1, np.nan]), 0.1, "mean share") == ""


def test_the_selected_head_is_outlined_on_a_copy_of_the_map():
    from interp.views.figures import head_heatmap_figure, mark_head

    fig = head_heatmap_figure(np.arange(12.0).reshape(3, 4), "Share", kind="share")
    marked = mark_head(fig, 2, 1)
    (shape,) = marked.layout.shapes
    assert (shape.x0, shape.x1, shape.y0, shape.y1) == (0.5, 1.5, 1.5, 2.5) and not fig.layout.shapes
    assert not mark_head(fig, 7, 0).layout.shapes and not mark_head(fig, None, None).layout.shapes
    # The clickable markers do not pad the axes past the cells.
    assert list(fig.layout.xaxis.range) == [-0.5, 3.5] and list(fig.layout.yaxis.range) == [-0.5, 2.5]
