"""The planner's power curve figure against the curves it is drawn from."""

import numpy as np
import pytest

from interp.core.errors import InterpError
from interp.views.figures.common import STAGE_PALETTE
from interp.views.figures.planning import power_curve_figure

CURVES = {
    "observed effect": ([5, 10, 20, 40], [0.1, 0.4, 0.85, 0.99], 20),
    "half of it": ([20, 40, 80, 160], [0.2, 0.45, 0.7, 0.9], None),
}


def test_each_effect_is_a_line_with_its_band_and_the_size_it_needs():
    fig = power_curve_figure(CURVES, 0.8, 30, "Sequences needed: Role", studies=100)
    lines = [trace for trace in fig.data if trace.mode == "lines+markers"]
    assert [trace.name for trace in lines] == ["observed effect", "half of it"]
    assert list(lines[0].x) == [5, 10, 20, 40] and list(lines[1].line.dash for _ in [0]) == ["dash"]
    np.testing.assert_allclose(lines[0].y, [0.1, 0.4, 0.85, 0.99])
    spread = 1.96 * np.sqrt(0.85 * 0.15 / 100)
    assert lines[0].error_y.array[2] == pytest.approx(spread)
    assert lines[0].error_y.array[3] == pytest.approx(0.01)  # the band stops at 100%
    (needed,) = [trace for trace in fig.data if trace.marker.symbol == "diamond"]
    assert list(needed.x) == [20] and list(needed.y) == [0.85] and needed.marker.color == STAGE_PALETTE[0]
    target = next(trace for trace in fig.data if trace.name == "target 80%")
    pilot = next(trace for trace in fig.data if trace.name == "pilot: 30 sequences")
    assert list(target.y) == [0.8, 0.8] and list(pilot.x) == [30, 30]
    assert fig.layout.xaxis.type == "log" and list(fig.layout.yaxis.range) == [0, 1.05]
    assert 1000 not in fig.layout.xaxis.tickvals and 200 in fig.layout.xaxis.tickvals
    assert fig.layout.yaxis.title.text.replace("<br>", " ") == "probability the 95% interval excludes 0"
    assert fig.layout.title.text == "Sequences needed: Role"


def test_a_curve_needs_points():
    with pytest.raises(InterpError, match="at least one curve"):
        power_curve_figure({}, 0.8, 10, "t", 100)
    with pytest.raises(InterpError, match="equally long"):
        power_curve_figure({"a": ([5, 10], [0.1], None)}, 0.8, 10, "t", 100)
