"""Shared helpers of the figure tests."""



import numpy as np
import pandas as pd
import plotly.io as pio

from interp.views.figures import (
    TEMPLATE,
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
    layout = fig.layout.template.layout
    # Numbers in scientific notation, never SI prefixes ("600µ" for 0.0006): plotly_white otherwise.
    assert {layout.xaxis.exponentformat, layout.yaxis.exponentformat, layout.coloraxis.colorbar.exponentformat} == {"e"}
    assert all(trace.colorbar.exponentformat == "e" for trace in fig.layout.template.data.heatmap)
    ours = layout.to_plotly_json()
    for key in ("xaxis", "yaxis"):
        ours[key] = {k: v for k, v in ours[key].items() if k != "exponentformat"}
    ours["coloraxis"]["colorbar"] = {k: v for k, v in ours["coloraxis"]["colorbar"].items() if k != "exponentformat"}
    assert ours == pio.templates["plotly_white"].layout.to_plotly_json()
    assert fig.layout.title.text
    assert fig.layout[x_axis].title.text and fig.layout.yaxis.title.text
    assert all(trace.hovertemplate or trace.hoverinfo == "skip" for trace in fig.data)


SHIFTS = pd.DataFrame({
    "sequence_id": ["role-1", "role-1", "cond-1", "cond-1"], "concept": ["Role", "Role", "Condition", "Condition"],
    "stage": ["cpt", "ift"] * 2, "mean": [0.01, -0.02, 0.03, 0.0], "low": [0.0, -0.03, 0.01, np.nan],
    "high": [0.02, -0.01, 0.05, np.nan], "control_percentile": [80.0, 10.0, 99.0, np.nan],
})


def trajectory_table(positions, stages):
    n = len(stages)
    return pd.DataFrame({"stage": stages, "position": positions, "sequences": [3] * n,
                         "mean_share": np.linspace(0.1, 0.2, n), "share_low": np.linspace(0.05, 0.15, n),
                         "share_high": np.linspace(0.15, 0.25, n), "mean_shift": np.linspace(0, 0.1, n),
                         "shift_low": np.linspace(-0.05, 0.05, n), "shift_high": np.linspace(0.05, 0.15, n)})
