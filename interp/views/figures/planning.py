"""The sample-size planner's figure: the probability that the contrast's interval excludes zero,
against the number of sequences per concept type."""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go

from interp.core.errors import InterpError
from interp.views.figures.common import STAGE_PALETTE, finish

# Line styles of the curves, in the order given: the observed effect solid, half of it dashed.
DASHES = ("solid", "dash", "dot", "dashdot")
# The target line starts at the smallest size the planner tries; ticks at 1-2-5 steps.
MIN_X = 5
TICKS = tuple(base * 10 ** power for power in range(6) for base in (1, 2, 5))


def power_curve_figure(curves: Mapping[str, tuple[Sequence[int], Sequence[float], int | None]], target: float,
                       pilot: int, title: str, studies: int, confidence: float = 0.95) -> go.Figure:
    """One line per effect (`label → (sizes, power, needed)`): the power at each size (with a 95%
    binomial band from `studies` pseudo-studies), the `target` as a dashed line, the pilot's own
    size as a dotted one, and the size each effect needs marked (a diamond) where it was reached."""
    if not curves:
        raise InterpError("a power curve figure needs at least one curve")
    fig = go.Figure()
    for index, (label, (sizes, power, needed)) in enumerate(curves.items()):
        sizes, power = np.asarray(sizes, dtype=np.int64), np.asarray(power, dtype=np.float64)
        if sizes.shape != power.shape or not sizes.size:
            raise InterpError(f"curve {label!r}: sizes and power must be equally long and not empty")
        spread = 1.96 * np.sqrt(power * (1 - power) / studies)
        colour = STAGE_PALETTE[index % len(STAGE_PALETTE)]
        name = html.escape(label, quote=False)
        fig.add_trace(go.Scatter(
            x=sizes.tolist(), y=power, mode="lines+markers", name=name, legendgroup=name,
            line=dict(color=colour, dash=DASHES[index % len(DASHES)]),
            error_y=dict(type="data", array=np.minimum(spread, 1 - power), arrayminus=np.minimum(spread, power),
                         thickness=1, width=2),
            hovertemplate="%{x} sequences: probability %{y:.2f}<extra>" + name + "</extra>",
        ))
        if needed is not None:
            fig.add_trace(go.Scatter(
                x=[int(needed)], y=[power[sizes.tolist().index(needed)]], mode="markers", showlegend=False,
                legendgroup=name, marker=dict(color=colour, size=13, symbol="diamond", line=dict(color="white", width=1)),
                hovertemplate=f"needed: {int(needed):,} sequences<extra>{name}</extra>",
            ))
    top = max(max(np.asarray(sizes).max() for sizes, _, _ in curves.values()), pilot)
    fig.add_trace(go.Scatter(x=[MIN_X, top], y=[target, target], mode="lines", name=f"target {target:.0%}",
                             line=dict(color="black", width=1, dash="dash"), hoverinfo="skip"))
    fig.add_trace(go.Scatter(x=[pilot, pilot], y=[0, 1], mode="lines", name=f"pilot: {pilot:,} sequences",
                             line=dict(color="#9e9e9e", width=1.5, dash="dot"), hoverinfo="skip"))
    ticks = [value for value in TICKS if value <= 2 * top]
    fig.update_xaxes(type="log", tickvals=ticks, ticktext=[f"{value:,}" for value in ticks])
    fig.update_yaxes(range=[0, 1.05], tickformat=".0%")
    return finish(fig, title, "sequences per concept type (log scale)",
                  f"probability the {confidence:.0%} interval excludes 0", legend_title_text="effect", height=480)
