"""The Concept types forest plot against the table it is drawn from."""

import numpy as np
import pandas as pd
import pytest

from interp.core.errors import InterpError
from interp.views.figures.common import STAGE_PALETTE
from interp.views.figures.concept_types import concept_type_figure

TABLE = pd.DataFrame({
    "concept": ["Role", "Role", "Condition", "Condition"], "stage": ["cpt", "ift", "cpt", "ift"],
    "sequences": [3, 3, 2, 2], "mean_shift": [0.01, 0.03, -0.02, 0.0], "low": [0.0, 0.02, -0.03, -0.01],
    "high": [0.02, 0.05, -0.01, 0.01], "control_mean_shift": [0.001, 0.002, 0.0, -0.001],
    "control_low": [-0.001, 0.0, -0.002, -0.003], "control_high": [0.003, 0.004, 0.002, 0.001],
})


def test_each_stage_has_its_points_intervals_and_control_band():
    fig = concept_type_figure(TABLE, "base", all_stages=["base", "cpt", "ift"])
    concept = {trace.name: trace for trace in fig.data if not trace.name.endswith("controls")}
    controls = {trace.name: trace for trace in fig.data if trace.name.endswith("controls")}
    assert set(concept) == {"cpt", "ift"} and set(controls) == {"cpt: controls", "ift: controls"}
    ift = concept["ift"]
    np.testing.assert_allclose(ift.x, [0.03, 0.0])
    np.testing.assert_allclose(ift.error_x.array, [0.02, 0.01], rtol=1e-9)
    np.testing.assert_allclose(ift.error_x.arrayminus, [0.01, 0.01], rtol=1e-9)
    assert ift.marker.color == STAGE_PALETTE[2] and concept["cpt"].marker.color == STAGE_PALETTE[1]
    assert list(fig.layout.yaxis.ticktext) == ["Role", "Condition"]
    # A stage's control band sits just below its concept point, on the same concept row.
    np.testing.assert_allclose(np.asarray(controls["cpt: controls"].y) - np.asarray(concept["cpt"].y), 0.3)


def test_a_table_without_its_interval_columns_is_refused():
    with pytest.raises(InterpError, match="lacks column"):
        concept_type_figure(TABLE.drop(columns=["control_low"]), "base")


def test_a_type_without_controls_says_why_and_no_line_crosses_a_row():
    reason = "no room for a control span of 17 tokens (1 of 2 sequences)"
    table = TABLE.assign(control_note=["", "", reason, reason])
    table.loc[table["concept"] == "Condition", ["control_mean_shift", "control_low", "control_high"]] = np.nan
    fig = concept_type_figure(table, "base", measure_label="norm-weighted")
    assert fig.layout.yaxis.zeroline is False, "rows sit at 0, 1, …: a zero line crossed the first row"
    assert list(fig.layout.yaxis.ticktext) == ["Role", "Condition<br><i>no control band</i>"]
    assert fig.layout.meta["caption"] == ("No control band for Condition: no room for a control span of 17 tokens "
                                          "(1 of 2 sequences).")
    assert "share (norm-weighted)" in fig.layout.title.text
    assert fig.layout.xaxis.title.text == "mean shift vs base", "the interval's kind is in the title, not the axis"
    assert list(concept_type_figure(TABLE.assign(control_note=""), "base").layout.yaxis.ticktext) == ["Role", "Condition"]
