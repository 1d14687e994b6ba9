"""Figures built from small fixed inputs: trace types, axes, z values and marks match the input."""

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.io as pio
import pytest
import scipy.stats

from interp.core.errors import InterpError
from interp.views.figures import (
    DIVERGING_SCALE,
    MAX_ANNOTATIONS,
    STAGE_PALETTE,
    TEMPLATE,
    concept_type_figure,
    control_null_figure,
    first_token_figure,
    head_consistency_figure,
    head_grid_figure,
    head_heatmap_figure,
    layer_profile_figure,
    shift_histogram_figure,
    shift_overview_figure,
    shift_qq_figure,
    short_number,
    span_structure_figure,
    stage_colours,
    stage_layer_figure,
    token_attention_figure,
    token_text_figure,
    trajectory_figure,
)

SHIFT = np.array([[0.1, -0.3, 0.0], [0.2, 0.05, -0.1]])  # [layers=2, heads=3]
TOKENS = ["<s>", "▁The", "▁tenant", "▁shall", "▁pay", "\n"]
CONCEPT = np.array([False, False, True, False, True, False])


def lower_triangular(n: int, seed: int = 0) -> np.ndarray:
    pattern = np.tril(np.random.default_rng(seed).random((n, n)))
    return pattern / pattern.sum(axis=1, keepdims=True)


def position_of(label: str) -> int:
    """The token position a token-axis category starts with ("12: ▁court")."""
    return int(label.split(":")[0])


def vertical_lines(fig) -> list[float]:
    return [shape.x0 for shape in fig.layout.shapes if shape.x0 == shape.x1]


def assert_common_style(fig, x_axis: str = "xaxis") -> None:
    assert fig.layout.template.to_plotly_json() == pio.templates[TEMPLATE].to_plotly_json()
    assert fig.layout.template.layout.to_plotly_json() == pio.templates["plotly_white"].layout.to_plotly_json()
    assert fig.layout.title.text
    assert fig.layout[x_axis].title.text and fig.layout.yaxis.title.text
    assert all(trace.hovertemplate or trace.hoverinfo == "skip" for trace in fig.data)


SHIFTS = pd.DataFrame({
    "sequence_id": ["role-1", "role-1", "cond-1", "cond-1"], "concept": ["Role", "Role", "Condition", "Condition"],
    "stage": ["cpt", "ift"] * 2, "mean": [0.01, -0.02, 0.03, 0.0], "low": [0.0, -0.03, 0.01, np.nan],
    "high": [0.02, -0.01, 0.05, np.nan], "control_percentile": [80.0, 10.0, 99.0, np.nan],
})


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


def test_stage_colours_are_colour_blind_safe_and_stable():
    assert stage_colours(["a", "b"])["b"] == stage_colours(["a", "b", "c"])["b"] == STAGE_PALETTE[1]
    assert len(set(stage_colours([str(i) for i in range(8)]).values())) == 8


def test_token_text_colours_what_each_token_receives():
    values = np.array([0.5, 0.1, 0.3, 0.05, 0.2, 0.4])
    excluded = np.array([True, False, False, False, False, True])
    fig = token_text_figure(["<s>", "␣The", "␣tenant", "␣shall", "␣pay", "."], values, CONCEPT, excluded, "Text",
                            first_position=10)
    notes = fig.layout.annotations
    assert [n.bgcolor for n in notes if n.font.color == "#9e9e9e"] == ["#eeeeee", "#eeeeee"], "excluded: grey"
    assert notes[2].text == "<b><u>&nbsp;tenant</u></b>" and "(concept)" in notes[2].hovertext
    assert notes[1].hovertext.startswith("token 11: ␣The")
    assert fig.data[0].marker.cmin == 0.0 and fig.data[0].marker.cmax == 0.3, "from 0 up to the largest counted token"
    assert fig.layout.width > 700 and notes[1].x > notes[0].x


def test_short_numbers_never_print_minus_zero():
    assert [short_number(v) for v in (0.1234, -0.0042, 3.2e-05, -3.2e-05, 0.0)] == ["0.123", "-0.004", "3.2e-05",
                                                                                   "-3.2e-05", "0"]


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


def test_stages_have_distinct_colours_however_many():
    few = stage_colours(["cpt", "ift"])
    assert list(few.values()) == list(STAGE_PALETTE[:2])  # Okabe–Ito, as on every view and export
    many = stage_colours([f"step{n}" for n in range(40)])
    assert len(set(many.values())) == 40


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


def trajectory_table(positions, stages):
    n = len(stages)
    return pd.DataFrame({"stage": stages, "position": positions, "sequences": [3] * n,
                         "mean_share": np.linspace(0.1, 0.2, n), "share_low": np.linspace(0.05, 0.15, n),
                         "share_high": np.linspace(0.15, 0.25, n), "mean_shift": np.linspace(0, 0.1, n),
                         "shift_low": np.linspace(-0.05, 0.05, n), "shift_high": np.linspace(0.05, 0.15, n)})


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


def test_head_heatmap_share_uses_sequential_scale_over_the_shares():
    share = np.array([[0.1, 0.4, np.nan], [0.2, 0.3, 0.05]])
    fig = head_heatmap_figure(share, "share of role-1, base", kind="share")
    assert_common_style(fig)
    heatmap = fig.data[0]
    assert heatmap.type == "heatmap"
    np.testing.assert_array_equal(np.array(heatmap.z, dtype=float), share)
    assert heatmap.zmin == pytest.approx(0.05) and heatmap.zmax == pytest.approx(0.4)
    assert heatmap.colorscale[0][1] == "#440154"  # Viridis
    assert fig.layout.yaxis.dtick == 1 and fig.layout.xaxis.dtick == 1
    wide = head_heatmap_figure(np.full((32, 32), 0.2), "flat", kind="share")
    assert wide.data[0].zmin == 0 and wide.layout.xaxis.dtick == 2
    np.testing.assert_array_equal(heatmap.x, [0, 1, 2])
    np.testing.assert_array_equal(heatmap.y, [0, 1])
    assert np.array(heatmap.customdata)[1, 2].tolist() == [1, 2]  # [layer, head]
    assert fig.layout.xaxis.title.text == "head" and "layer" in fig.layout.yaxis.title.text


def test_every_head_cell_has_a_clickable_marker_with_the_cell_hover():
    share = np.array([[0.1, 0.4, np.nan], [0.2, 0.3, 0.05]])
    heatmap, cells = head_heatmap_figure(share, "share", kind="share").data
    assert heatmap.hoverinfo == "skip" and cells.type == "scatter" and cells.marker.opacity == 0
    marked = {(int(y), int(x)) for x, y in zip(cells.x, cells.y)}
    assert marked == {(layer, head) for layer in range(2) for head in range(3)}  # (layer, head)
    np.testing.assert_array_equal(np.array(cells.customdata, dtype=float)[:, 2], share.ravel())
    assert "customdata[2]" in cells.hovertemplate and "%{z" not in cells.hovertemplate
    panels = first_token_figure({"base": share, "cpt": share}, "first").data
    assert [(t.type, t.xaxis) for t in panels] == [("heatmap", "x"), ("heatmap", "x2"), ("scatter", "x"),
                                                     ("scatter", "x2")], "one overlay on each panel's axes"


def test_head_heatmap_shift_is_symmetric_around_zero_with_red_positive():
    fig = head_heatmap_figure(SHIFT, "shift", kind="shift")
    heatmap = fig.data[0]
    assert heatmap.zmid == 0
    assert heatmap.zmin == pytest.approx(-0.3) and heatmap.zmax == pytest.approx(0.3)
    reference = head_heatmap_figure(np.zeros((1, 1)), "s", kind="shift").data[0]
    assert reference.zmax == -reference.zmin > 0
    top_colour = heatmap.colorscale[-1][1]
    red, _, blue = (int(c) for c in top_colour[4:-1].split(","))
    assert red > blue  # positive shift (more attention on the concept) is red
    with pytest.raises(InterpError, match="kind"):
        head_heatmap_figure(SHIFT, "s", kind="difference")
    with pytest.raises(InterpError, match="layers, heads"):
        head_heatmap_figure(np.zeros(3), "s", kind="share")


def test_token_attention_blanks_upper_triangle_and_marks_concepts():
    pattern = lower_triangular(6)
    pattern[0, 5] = 0.7  # a non-causal value must not show
    fig = token_attention_figure(pattern, TOKENS, CONCEPT, title="role-1, base, L3H1")
    assert_common_style(fig)
    heatmap = fig.data[0]
    z = np.array(heatmap.z, dtype=float)
    expected = pattern.copy()
    expected[np.triu_indices(6, k=1)] = np.nan
    np.testing.assert_allclose(z, expected, rtol=1e-6)
    assert heatmap.zmin == 0
    assert list(heatmap.x) == ["0: &lt;s&gt;", "1: ␣The", "2: ␣tenant (concept)", "3: ␣shall", "4: ␣pay (concept)", "5: ↵"]
    assert "%{x}" in heatmap.hovertemplate and "%{y}" in heatmap.hovertemplate
    ticks = list(fig.layout.xaxis.ticktext)
    assert ticks == list(fig.layout.yaxis.ticktext)
    assert ["«" in t for t in ticks] == CONCEPT.tolist()
    assert "«␣tenant»" in ticks[2] and "<b>" in ticks[2]
    assert ticks[0] == "&lt;s&gt;" and ticks[5] == "↵"
    assert fig.layout.yaxis.autorange == "reversed"
    assert fig.layout.annotations == ()


def test_token_axes_read_byte_level_tokens_as_text():
    """GPT-2-style tokens of ` “§ 契”`: the space as ␣, a character split over tokens in each piece."""
    tokens = ["The", "ĠâĢ", "ľ", "Â§", "Ġå¥", "ĳ", "âĢĿ"]
    fig = token_attention_figure(lower_triangular(7), tokens, np.zeros(7, dtype=bool), window=(2, 7))
    assert list(fig.data[0].x) == ["2: “(2/2)", "3: §", "4: ␣契(1/2)", "5: 契(2/2)", "6: ”"]
    assert list(fig.layout.xaxis.ticktext) == ["“(2/2)", "§", "␣契(1/2)", "契(2/2)", "”"]


def test_first_token_figure_has_a_panel_per_stage_on_one_scale():
    base, cpt = np.array([[0.9, 0.1, 0.5], [0.2, 0.05, 0.99]]), np.array([[0.7, 0.3, 0.5], [0.2, 0.5, 0.9]])
    fig = first_token_figure({"base": base, "cpt": cpt}, "First token")
    assert_common_style(fig)
    maps = [trace for trace in fig.data if trace.type == "heatmap"]
    assert [trace.name for trace in maps] == ["base", "cpt"] and [a.text for a in fig.layout.annotations] == ["base", "cpt"]
    np.testing.assert_allclose(np.array(maps[1].z, dtype=float), cpt)
    assert (fig.layout.coloraxis.cmin, fig.layout.coloraxis.cmax) == (0.0, 1.0)
    assert all(trace.coloraxis == "coloraxis" for trace in maps), "one scale for every stage"
    assert np.array(maps[0].customdata).tolist()[1][2] == [1, 2] and "first token" in fig.data[2].hovertemplate
    change = first_token_figure({"cpt − base": cpt - base}, "Change", kind="change")
    assert change.layout.coloraxis.cmid == 0 and change.layout.coloraxis.cmax == pytest.approx(0.45)
    with pytest.raises(InterpError, match="one shape"):
        first_token_figure({"base": base, "cpt": cpt[:1]}, "x")
    with pytest.raises(InterpError, match="kind"):
        first_token_figure({"base": base}, "x", kind="shift")


@pytest.mark.parametrize("stages", [7, 26, 27, 61, pytest.param(500, marks=pytest.mark.slow)])
def test_first_token_figure_wraps_many_stages_into_rows(stages):
    rng = np.random.default_rng(0)
    values = {f"stage-{i}": rng.random((3, 4)) for i in range(stages)}
    fig = first_token_figure(values, "First token")
    maps = [trace for trace in fig.data if trace.type == "heatmap"]
    assert [trace.name for trace in maps] == list(values) and len(fig.layout.annotations) == stages
    rows = -(-stages // 6)
    anchors = {(trace.xaxis, trace.yaxis) for trace in maps}
    assert len(anchors) == stages, "each stage has a panel of its own"
    domains = sorted({tuple(fig.layout[f"yaxis{'' if i == 1 else i}"].domain) for i in range(1, stages + 1)})
    assert len(domains) == rows and all(low < high for low, high in domains)
    assert all(a[1] <= b[0] for a, b in zip(domains, domains[1:])), "rows do not overlap"
    if rows > 1:
        assert fig.layout.height == 120 + 280 * rows
    np.testing.assert_allclose(np.array(maps[-1].z, dtype=float), values[f"stage-{stages - 1}"])


def test_token_attention_crops_to_window_with_absolute_positions():
    pattern = lower_triangular(6, seed=2)
    fig = token_attention_figure(pattern, TOKENS, CONCEPT, window=(2, 5))
    heatmap = fig.data[0]
    assert [position_of(label) for label in heatmap.x] == [2, 3, 4] == [position_of(label) for label in heatmap.y]
    expected = pattern[2:5, 2:5].copy()
    expected[np.triu_indices(3, k=1)] = np.nan
    np.testing.assert_allclose(np.array(heatmap.z, dtype=float), expected, rtol=1e-6)
    assert len(fig.layout.xaxis.ticktext) == 3 and "«" in fig.layout.xaxis.ticktext[0]
    with pytest.raises(InterpError, match="window"):
        token_attention_figure(pattern, TOKENS, CONCEPT, window=(4, 9))


def test_token_attention_annotates_exactly_the_cells_above_threshold():
    pattern = lower_triangular(6, seed=3)
    fig = token_attention_figure(pattern, TOKENS, CONCEPT, threshold=0.3)
    rows, cols = np.nonzero(np.tril(pattern) > 0.3)
    expected = {(int(c), int(r), f"{pattern[r, c]:.2f}") for r, c in zip(rows, cols)}
    shown = {(position_of(a.x), position_of(a.y), a.text) for a in fig.layout.annotations}
    assert shown == expected and len(fig.layout.annotations) == len(expected) > 0


def test_token_difference_uses_absolute_threshold_and_diverging_scale():
    difference = np.tril(np.full((4, 4), 0.01))
    difference[2, 1], difference[3, 0], difference[1, 1] = -0.5, 0.4, 0.2
    fig = token_attention_figure(difference, TOKENS[:4], CONCEPT[:4], threshold=0.3,
                                 kind="difference")
    heatmap = fig.data[0]
    assert heatmap.zmid == 0 and heatmap.zmin == -0.5 and heatmap.zmax == 0.5
    assert heatmap.colorscale == head_heatmap_figure(SHIFT, "s", "shift").data[0].colorscale
    assert DIVERGING_SCALE == "RdBu_r"
    assert {(position_of(a.x), position_of(a.y), a.text) for a in fig.layout.annotations} == {
        (1, 2, "-0.50"), (0, 3, "0.40")}


def test_long_token_axes_label_every_kth_token():
    n = 150
    fig = token_attention_figure(lower_triangular(n), [f"t{i}" for i in range(n)], np.zeros(n, dtype=bool))
    assert len(fig.layout.xaxis.tickvals) <= 60 and fig.layout.xaxis.tickvals[1] == "3: t3"
    assert len(fig.data[0].x) == n


def test_token_attention_caps_annotations():
    n = 40
    fig = token_attention_figure(lower_triangular(n), [f"t{i}" for i in range(n)],
                                 np.zeros(n, dtype=bool), threshold=0.0)
    assert len(fig.layout.annotations) == MAX_ANNOTATIONS
    assert str(MAX_ANNOTATIONS) in fig.layout.title.text


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


def test_span_structure_figure_annotates_finite_cells():
    matrix = np.array([[0.5, np.nan, np.nan], [0.2, 0.3, np.nan], [0.1, 0.25, 0.6]])
    fig = span_structure_figure(matrix, ["duty", "breach", "remedy"], "spans", "attention")
    assert_common_style(fig)
    np.testing.assert_array_equal(np.array(fig.data[0].z, dtype=float), matrix)
    assert list(fig.layout.xaxis.ticktext) == ["duty", "breach", "remedy"]
    assert {(a.x, a.y, a.text) for a in fig.layout.annotations} == {
        (0, 0, "0.500"), (0, 1, "0.200"), (1, 1, "0.300"), (0, 2, "0.100"), (1, 2, "0.250"),
        (2, 2, "0.600")}
    difference = span_structure_figure(matrix - 0.3, ["a", "b", "c"], "d", "difference").data[0]
    assert difference.zmid == 0 and difference.zmax == -difference.zmin == pytest.approx(0.3)
    with pytest.raises(InterpError, match="labels"):
        span_structure_figure(matrix, ["a", "b"], "x")


def test_span_structure_figure_writes_values_in_cells_only_while_they_fit():
    """Up to `MAX_ANNOTATED_SPANS` spans every finite cell carries its value; beyond, the hover
    alone does (the cells are too small for numbers, and laying out hundreds took seconds)."""
    from interp.views.figures import MAX_ANNOTATED_SPANS

    for size, annotated in ((MAX_ANNOTATED_SPANS, True), (MAX_ANNOTATED_SPANS + 1, False)):
        matrix = np.tril(np.full((size, size), 0.25))
        matrix[np.triu_indices(size, 1)] = np.nan
        fig = span_structure_figure(matrix, [f"s{i}" for i in range(size)], "spans")
        assert len(fig.layout.annotations) == (size * (size + 1) // 2 if annotated else 0)
        assert "%{z:.4f}" in fig.data[0].hovertemplate and len(fig.layout.xaxis.ticktext) == size


# ---------------------------------------------------------------- snapshots

SNAPSHOTS = Path(__file__).resolve().parents[1] / "snapshots" / "figures"


def figure_summary(fig) -> dict:
    """What a figure shows, as plain JSON: title, axis titles, and per trace its type, name and
    values (rounded to 6 decimals, NaN as null). Layout noise (template, sizes) stays out."""

    def values(array):
        if array is None:
            return None
        data = np.asarray(array, dtype=object)
        if data.dtype == object and all(isinstance(v, str) for v in data.ravel()):
            return data.tolist()
        numbers = np.asarray(array, dtype=float)
        return [[None if np.isnan(v) else round(float(v), 6) for v in row] for row in np.atleast_2d(numbers)]

    layout = fig.layout
    axes = {name: layout[name].title.text for name in sorted(layout) if name.startswith(("xaxis", "yaxis"))
            and layout[name].title.text}
    return {
        "title": layout.title.text,
        "axes": axes,
        "traces": [{"type": trace.type, "name": trace.name, "x": values(getattr(trace, "x", None)),
                    "y": values(getattr(trace, "y", None)), "z": values(getattr(trace, "z", None))}
                   for trace in fig.data],
        "shapes": len(layout.shapes),
        "annotations": [a.text for a in layout.annotations],
    }


def snapshot_cases() -> dict:
    return {
        "overview": shift_overview_figure(SHIFTS, "base", ["base", "cpt", "ift"]),
        "text": token_text_figure(["<s>", "␣The", "␣tenant", "␣shall", "␣pay", "."], np.array([0.5, 0.1, 0.3, 0.05, 0.2, 0.4]),
                                  CONCEPT, np.array([True, False, False, False, False, True]), "Text"),
        "head-grid": head_grid_figure(np.stack([lower_triangular(4, seed=s) for s in range(3)]),
                                      ["a", "b", "c", "d"], "Grid"),
        "layer-profile": layer_profile_figure({"a": {"cpt": np.array([0.1, -0.2])}, "b": {"cpt": np.array([0.0, 0.3])}},
                                              "base", {"a": "Role", "b": "Condition"}),
        "head-shift": head_heatmap_figure(SHIFT, "Shift cpt − base", kind="shift"),
        "first-token": first_token_figure({"base": np.abs(SHIFT) * 2, "cpt": np.abs(SHIFT)}, "First token"),
        "tokens": token_attention_figure(lower_triangular(6), TOKENS, CONCEPT, threshold=0.3, title="Tokens"),
        "histogram": shift_histogram_figure(SHIFT, "Head shifts"),
        "controls": control_null_figure(np.array([0.0, 0.1, -0.1, 0.05]), 0.2, "mean", 100.0, 0.4, "Controls"),
        "structure": span_structure_figure(np.array([[0.5, np.nan], [0.2, 0.3]]), ["duty", "breach"], "Spans"),
        "concept-types": concept_type_figure(pd.DataFrame({
            "concept": ["Role", "Role", "Condition", "Condition"], "stage": ["cpt", "ift"] * 2,
            "mean_shift": [0.01, -0.02, 0.0, 0.03], "low": [0.0, -0.03, -0.01, 0.01], "high": [0.02, -0.01, 0.01, 0.05],
            "control_mean_shift": [0.001, 0.0, 0.002, -0.001], "control_low": [0.0, -0.001, 0.0, -0.002],
            "control_high": [0.002, 0.001, 0.004, 0.0], "sequences": [20, 20, 18, 18]}), "base"),
        "head-consistency": head_consistency_figure(np.array([[0.9, 0.5], [0.1, 0.6]]),
                                                    np.array([[True, False], [True, False]]), "Consistency"),
        "trajectory": trajectory_figure(trajectory_table([100, 200, 300], ["step100", "step200", "step300"]),
                                        "step100", "training step", True, "Trajectory"),
        "stage-layers": stage_layer_figure(np.array([[0.0, 0.0], [0.1, -0.2]]), ["step100", "step200"], "step100",
                                           "Stages by layers"),
    }


@pytest.mark.parametrize("name", list(snapshot_cases()))
def test_figure_matches_its_snapshot(name):
    """Figure JSON from fixed input against tests/snapshots/figures/NAME.json; a deliberate change
    of a figure is recorded with `UPDATE_SNAPSHOTS=1 pytest tests/test_figures.py`."""
    summary = json.loads(json.dumps(figure_summary(snapshot_cases()[name])))
    path = SNAPSHOTS / f"{name}.json"
    if os.environ.get("UPDATE_SNAPSHOTS") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(summary, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    assert summary == json.loads(path.read_text(encoding="utf-8"))
