"""Head maps: scales, clickable cells, the first token's share."""



import numpy as np
import pytest

from interp.core.errors import InterpError
from interp.views.figures import (
    DIVERGING_SCALE,
    first_token_figure,
    head_consistency_figure,
    head_heatmap_figure,
    token_attention_figure,
)
from tests.views.figures.helpers import (
    CONCEPT,
    SHIFT,
    TOKENS,
    assert_common_style,
    position_of,
)


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


def test_head_maps_name_their_measure_and_consistency_is_a_fraction():
    fig = head_heatmap_figure(np.ones((2, 3)), "Share", kind="share", measure="norm-weighted")
    assert fig.data[0].colorbar.title.text.replace("<br>", " ") == "share (norm-weighted)"
    assert "share (norm-weighted) 0" in fig.data[1].hovertemplate.replace("%{customdata[2]:.4f}", "0")
    consistency = head_consistency_figure(np.array([[1.0, 0.0]]), np.array([[False, False]]), "t", measure="attention")
    assert consistency.data[0].colorbar.title.text.replace("<br>", " ") == "share (attention) rose in"
    assert consistency.data[0].colorbar.tickformat == ".0%", "a fraction of the sequences, in per cent"
