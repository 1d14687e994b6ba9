"""Figures of the causal check against the arrays and tables they draw."""

import numpy as np
import pandas as pd
import pytest

from interp.core.errors import InterpError
from interp.views.figures.causal import causal_effect_figure, head_sets_figure, shift_effect_figure


def test_the_effect_map_is_diverging_around_zero_and_rings_the_verified_heads():
    effect = np.array([[0.2, -0.5], [0.1, 0.0]])
    verified = np.array([[False, True], [True, False]])
    exact = np.where(verified, effect * 1.1, np.nan)
    fig = causal_effect_figure(effect, verified, exact, "Effect", "effect on concept tokens")
    heat = fig.data[0]
    assert heat.zmid == 0 and heat.zmax == pytest.approx(0.5) == -heat.zmin
    ring = next(trace for trace in fig.data if trace.name == "verified by exact patching")
    assert sorted(zip(ring.y, ring.x)) == [(0, 1), (1, 0)]
    np.testing.assert_allclose(np.asarray(ring.customdata)[:, 2], [-0.55, 0.11])
    with pytest.raises(InterpError, match="share one"):
        causal_effect_figure(effect, verified[:1], exact, "x", "y")


def test_the_scatter_has_a_point_per_head_split_by_verification():
    shift = np.arange(8.0).reshape(2, 4)
    effect = -shift
    verified = np.zeros((2, 4), dtype=bool)
    verified[1, 3] = True
    fig = shift_effect_figure(shift, effect, verified, "t", "shift", "effect")
    screened, checked = fig.data
    assert len(screened.x) == 7 and list(checked.x) == [7.0] and list(checked.y) == [-7.0]
    assert fig.layout.xaxis.title.text == "shift" and fig.layout.yaxis.title.text == "effect"


def test_the_sets_figure_puts_every_random_set_beside_the_chosen_ones():
    table = pd.DataFrame([
        {"set": "concept-heads", "kind": "concept-heads", "heads": "0.1", "mean_effect": -1.0, "low": -1.2, "high": -0.8,
         "random_percentile": 100.0, "random_p": 0.25, "sum_of_singles": -0.7},
        *[{"set": f"random-{i}", "kind": "random", "heads": "0.2", "mean_effect": 0.1 * i, "low": np.nan,
           "high": np.nan, "random_percentile": np.nan, "random_p": np.nan, "sum_of_singles": np.nan} for i in range(3)],
    ])
    fig = head_sets_figure(table, "Sets", "effect")
    randoms = fig.data[0]
    assert len(randoms.x) == 3 and "random sets matched by layer (3)" in randoms.name
    concept = fig.data[1]
    assert list(concept.x) == [-1.0] and list(concept.error_x.array) == pytest.approx([0.2])
    assert concept.name == "concept-heads: joint effect (random p = 0.250)" and fig.data[2].x[0] == -0.7
    assert "percentile 100 of the random sets" in concept.hovertemplate
    with pytest.raises(InterpError, match="lacks columns"):
        head_sets_figure(table.drop(columns=["low"]), "x", "y")
