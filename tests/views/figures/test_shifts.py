"""Shift figures against what their input implies: Overview, layer profiles, distributions, controls, trajectories."""



import numpy as np
import pandas as pd
import pytest
import scipy.stats

from interp.core.errors import InterpError
from interp.views.figures import (
    control_null_figure,
    layer_profile_figure,
    shift_histogram_figure,
    shift_overview_figure,
    shift_qq_figure,
    stage_colours,
    stage_layer_figure,
    trajectory_figure,
)
from tests.views.figures.helpers import (
    SHIFT,
    SHIFTS,
    assert_common_style,
    trajectory_table,
    vertical_lines,
)


def test_shift_overview_marks_zero_intervals_and_stage_colours():
    fig = shift_overview_figure(SHIFTS, "base", ["base", "cpt", "ift"])
    assert_common_style(fig)
    assert fig.layout.scattermode == "group" and [t.name for t in fig.data] == ["cpt", "ift"]
    colours = stage_colours(["base", "cpt", "ift"])
    assert [t.marker.color for t in fig.data] == [colours["cpt"], colours["ift"]], "run-wide colours, not per figure"
    assert list(fig.data[0].x) == ["role-1", "cond-1"]
    np.testing.assert_allclose(fig.data[0].y, [0.01, 0.03])
    np.testing.assert_allclose(fig.data[0].error_y.array, [0.01, 0.02])
    assert fig.layout.shapes[0].y0 == 0 == fig.layout.shapes[0].y1
    with pytest.raises(InterpError, match="control_percentile"):
        shift_overview_figure(SHIFTS.drop(columns="control_percentile"), "base")


def test_layer_profile_figure_has_one_panel_per_sequence():
    rng = np.random.default_rng(1)
    profiles = {f"seq-{i}": {"cpt": rng.normal(size=4), "ift": rng.normal(size=4)}
                for i in range(7)}
    fig = layer_profile_figure(profiles, "base", {"seq-0": "Role", "seq-3": "Condition"})
    assert_common_style(fig, x_axis="xaxis7")
    titled = [f"xaxis{i}" for i in range(2, 10) if fig.layout[f"xaxis{i}"].title.text == "layer"]
    assert titled == ["xaxis5", "xaxis6", "xaxis7"]  # the lowest panel of each column
    titles = [a.text for a in fig.layout.annotations]
    assert titles == ["seq-0 (Role)", "seq-1", "seq-2", "seq-3 (Condition)", "seq-4", "seq-5",
                      "seq-6"]
    assert len([t for t in fig.data]) == 14 and {t.type for t in fig.data} == {"scatter"}
    np.testing.assert_allclose(fig.data[2].y, profiles["seq-1"]["cpt"])
    np.testing.assert_array_equal(fig.data[2].x, np.arange(4))
    assert [t.showlegend for t in fig.data[:4]] == [True, True, False, False]
    assert fig.data[0].line.color == fig.data[2].line.color != fig.data[1].line.color
    zero_lines = [s for s in fig.layout.shapes if s.y0 == 0 and s.y1 == 0]
    assert len(zero_lines) == 7
    axes = [name for name in fig.layout.to_plotly_json() if name.startswith("xaxis")]
    assert len(axes) == 9  # a 3 × 3 grid, two cells empty
    assert "base" in fig.layout.title.text and "base" in fig.layout.yaxis.title.text


def test_layer_profile_figure_lists_each_stage_once_in_the_legend():
    fig = layer_profile_figure({"a": {"cpt": np.zeros(2)}, "b": {"cpt": np.ones(2),
                                                                 "ift": np.ones(2)}}, "base")
    assert [(t.name, t.showlegend) for t in fig.data] == [
        ("cpt", True), ("cpt", False), ("ift", True)]


def test_many_stages_draw_a_colour_bar_instead_of_a_legend():
    stages = [f"step{n}" for n in range(1, 13)]
    fig = layer_profile_figure({"a": {s: np.full(3, n / 100) for n, s in enumerate(stages)}}, "step0")
    lines = [t for t in fig.data if t.mode == "lines+markers"]
    assert len(lines) == 12 and not any(t.showlegend for t in lines)
    assert [t.line.color for t in lines] == list(stage_colours(stages).values())
    scale = [t for t in fig.data if t.marker.showscale]
    assert len(scale) == 1 and scale[0].marker.colorbar.title.text == "stage"
    assert scale[0].marker.colorbar.ticktext[0] == "step1" and scale[0].marker.colorbar.ticktext[-1] == "step12"


def test_the_shifts_of_many_stages_are_a_map():
    stages = [f"s{n}" for n in range(11)]
    table = pd.DataFrame([{"sequence_id": q, "concept": "Role", "stage": s, "mean": 0.1 * i + 0.01 * n, "low": np.nan,
                           "high": np.nan, "control_percentile": np.nan}
                          for i, q in enumerate(["a", "b"]) for n, s in enumerate(stages)])
    fig = shift_overview_figure(table, "s0")
    assert_common_style(fig)
    assert [t.type for t in fig.data] == ["heatmap"] and list(fig.data[0].x) == stages and list(fig.data[0].y) == ["a", "b"]
    np.testing.assert_allclose(fig.data[0].z[1], 0.1 + 0.01 * np.arange(11))
    assert fig.data[0].zmid == 0, "shifts: diverging around 0"


def test_trajectory_figure_follows_the_step_or_the_lineage():
    table = trajectory_table([1000, 2000, 4000], ["step1000", "step2000", "step4000"])
    fig = trajectory_figure(table, "step1000", "training step", True, "Condition")
    assert fig.layout.title.text == "Condition" and fig.layout.xaxis2.title.text == "training step"
    bands = [t for t in fig.data if t.fill == "toself"]
    means = [t for t in fig.data if t.mode == "lines+markers"]
    assert len(bands) == 2 and len(means) == 2
    assert list(means[0].x) == [1000, 2000, 4000] and list(means[1].y) == list(table["mean_shift"])
    assert list(bands[1].y) == [*table["shift_high"], *table["shift_low"][::-1]]
    assert [t.showlegend for t in fig.data] == [True, True, False, False]
    assert "stage %{customdata[0]}" in means[0].hovertemplate and means[0].customdata[2][0] == "step4000"
    assert any(s.y0 == 0 and s.y1 == 0 for s in fig.layout.shapes)
    ordered = trajectory_figure(trajectory_table([0, 1, 2], ["base", "cpt", "ift"]), "base", "stage (lineage order)",
                                False, "Role")
    assert list(ordered.data[1].x) == ["base", "cpt", "ift"] and ordered.layout.xaxis.type == "category"
    with pytest.raises(InterpError, match="trajectory table lacks column"):
        trajectory_figure(table.drop(columns="shift_low"), "step1000", "training step", True, "x")


def test_stage_layer_figure_puts_stages_across_and_layers_up():
    shifts = np.array([[0.0, 0.0], [0.1, -0.2], [0.05, 0.3]])
    fig = stage_layer_figure(shifts, ["a", "b", "c"], "a", "Map")
    assert_common_style(fig)
    heat = fig.data[0]
    assert list(heat.x) == ["a", "b", "c"] and list(heat.y) == [0, 1]
    np.testing.assert_allclose(heat.z, shifts.T)
    assert heat.colorscale and heat.zmid == 0 and heat.zmax == pytest.approx(0.3) == -heat.zmin
    with pytest.raises(InterpError, match=r"shifts must be \[stages, layers\] with 2 stages"):
        stage_layer_figure(shifts, ["a", "b"], "a", "Map")


def test_layer_profile_figure_single_sequence_is_one_panel():
    fig = layer_profile_figure({"role-1": {"base": np.zeros(3), "cpt": np.ones(3)}}, "base")
    assert [a.text for a in fig.layout.annotations] == ["role-1"]
    assert fig.layout.xaxis.title.text == "layer"
    assert "xaxis2" not in fig.layout.to_plotly_json()


def test_shift_histogram_marks_zero_and_mean():
    fig = shift_histogram_figure(SHIFT, "role-1: cpt vs base")
    assert_common_style(fig)
    assert fig.data[0].type == "histogram"
    np.testing.assert_allclose(sorted(fig.data[0].x), sorted(SHIFT.ravel()))
    assert sorted(vertical_lines(fig)) == pytest.approx(sorted([0.0, SHIFT.mean()]))


def test_shift_qq_matches_scipy_probplot():
    fig = shift_qq_figure(SHIFT, "QQ")
    assert_common_style(fig)
    (theoretical, ordered), (slope, intercept, _) = scipy.stats.probplot(SHIFT.ravel())
    points, line = fig.data
    assert points.mode == "markers" and line.mode == "lines"
    np.testing.assert_allclose(points.x, theoretical)
    np.testing.assert_allclose(points.y, ordered)
    np.testing.assert_allclose(line.y, slope * np.array(line.x) + intercept)
    with pytest.raises(InterpError, match="two"):
        shift_qq_figure(np.array([1.0]), "QQ")


def test_control_null_figure_marks_the_concept():
    controls = np.linspace(-0.1, 0.1, 21)
    fig = control_null_figure(controls, 0.08, "mean", 95.2, 0.095, "role-1: concept vs controls")
    assert_common_style(fig)
    np.testing.assert_allclose(fig.data[0].x, controls)
    assert vertical_lines(fig) == [0.08]
    label = fig.layout.annotations[0].text
    assert "95.2" in label and "0.095" in label
    assert "mean" in fig.layout.xaxis.title.text


def test_a_trajectory_says_when_its_axes_span_a_narrow_range():
    """0.1648 to 0.1654 drawn over the whole axis looked like a steep change (and 0.0006 read "600µ")."""
    table = trajectory_table([0, 1, 2], ["base", "cpt", "ift"]).assign(
        mean_share=[0.1648, 0.1653, 0.1654], share_low=[0.1647, 0.1652, 0.1653], share_high=[0.1649, 0.1654, 0.1655],
        mean_shift=[0.0, 0.0005, 0.0006], shift_low=[0.0, 0.0004, 0.0005], shift_high=[0.0, 0.0006, 0.0007])
    fig = trajectory_figure(table, "base", "stage", False, "Negligence")
    titles = [note.text.replace("<br>", " ") for note in fig.layout.annotations]
    assert "narrow axis: 0.1647 to 0.1655" in titles[0] and "of the mean share" in titles[0]
    assert "narrow axis: 0 to 0.0007" in titles[1]
    wide = trajectory_figure(trajectory_table([0, 1, 2], ["base", "cpt", "ift"]), "base", "stage", False, "t")
    assert not any("narrow" in note.text for note in wide.layout.annotations)
    assert fig.layout.template.layout.yaxis.exponentformat == "e", "no SI prefixes"


def test_overview_and_layer_profile_name_the_measure():
    overview = shift_overview_figure(SHIFTS, "base", measure="norm-weighted")
    assert "share (norm-weighted)" in overview.layout.title.text
    assert overview.layout.yaxis.title.text.replace("<br>", " ") == "mean shift Δ vs base"
    profile = layer_profile_figure({"a": {"cpt": np.array([0.1, 0.2])}}, "base", measure="norm-weighted")
    assert "share (norm-weighted)" in profile.layout.title.text
