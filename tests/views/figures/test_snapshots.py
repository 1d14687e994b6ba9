"""Every figure family against its stored snapshot (key properties of the figure JSON)."""


import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from interp.views.figures import (
    concept_type_figure,
    control_null_figure,
    first_token_figure,
    head_consistency_figure,
    head_grid_figure,
    head_heatmap_figure,
    layer_profile_figure,
    shift_histogram_figure,
    shift_overview_figure,
    span_structure_figure,
    stage_layer_figure,
    token_attention_figure,
    token_text_figure,
    trajectory_figure,
)
from tests.views.figures.helpers import (
    CONCEPT,
    SHIFT,
    SHIFTS,
    TOKENS,
    lower_triangular,
    trajectory_table,
)

SNAPSHOTS = Path(__file__).resolve().parents[2] / "snapshots" / "figures"


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
    of a figure is recorded with `UPDATE_SNAPSHOTS=1 pytest tests/views/figures/test_snapshots.py`."""
    summary = json.loads(json.dumps(figure_summary(snapshot_cases()[name])))
    path = SNAPSHOTS / f"{name}.json"
    if os.environ.get("UPDATE_SNAPSHOTS") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(summary, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    assert summary == json.loads(path.read_text(encoding="utf-8"))
