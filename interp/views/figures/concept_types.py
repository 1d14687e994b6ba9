"""The Concept types forest plot: the mean shift of each type with its interval and the control band."""

from __future__ import annotations

import html
from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from interp.core.errors import InterpError
from interp.views.figures.common import finish, measured, stage_colours


def concept_type_figure(table: pd.DataFrame, reference: str, measure_label: str = "attention",
                        all_stages: Sequence[str] = ()) -> go.Figure:
    """Forest plot: per concept type (rows) and stage (colours), the mean shift over the type's
    sequences with its interval, and beside it, in grey, the same for their control spans.

    `table` has the columns of `interp.analysis.concept_types.concept_type_table`. A concept whose interval
    lies outside its controls' moved differently from the rest of its text; a type without controls
    is marked in its row, and the caption (`layout.meta.caption`) says why (`control_note`).
    """
    missing = {"concept", "stage", "mean_shift", "low", "high", "control_mean_shift", "control_low",
               "control_high"} - set(table.columns)
    if missing:
        raise InterpError(f"concept type table lacks column(s) {', '.join(sorted(missing))}")
    concepts = list(dict.fromkeys(table["concept"]))
    stages = list(dict.fromkeys(table["stage"]))
    slots = len(stages) + 1
    colours = stage_colours(all_stages or stages)
    traces = []
    for index, stage in enumerate(stages):
        rows = table[table["stage"] == stage].set_index("concept").reindex(concepts)
        position = np.arange(len(concepts)) * slots + index
        counts = rows["sequences"].to_numpy() if "sequences" in rows else np.full(len(concepts), np.nan)
        traces.append(go.Scatter(
            x=rows["control_mean_shift"], y=position + 0.3, mode="markers", name=f"{stage}: controls",
            legendgroup=stage, marker=dict(symbol="line-ns-open", size=10, color="#9e9e9e"),
            error_x=dict(type="data", symmetric=False, array=rows["control_high"] - rows["control_mean_shift"],
                         arrayminus=rows["control_mean_shift"] - rows["control_low"], color="#bdbdbd", thickness=6, width=0),
            hovertemplate="controls<br>mean shift %{x:.4f}<extra></extra>",
        ))
        traces.append(go.Scatter(
            x=rows["mean_shift"], y=position, mode="markers", name=stage, legendgroup=stage,
            marker=dict(size=9, color=colours[stage]), customdata=np.stack(
                [rows["low"], rows["high"], counts], axis=-1),
            error_x=dict(type="data", symmetric=False, array=rows["high"] - rows["mean_shift"],
                         arrayminus=rows["mean_shift"] - rows["low"]),
            hovertemplate=f"stage {html.escape(str(stage))}<br>mean shift %{{x:.4f}}"
                          "<br>95% interval [%{customdata[0]:.4f}, %{customdata[1]:.4f}]"
                          "<br>%{customdata[2]} sequences<extra></extra>",
        ))
    fig = go.Figure(traces)
    fig.add_vline(x=0, line=dict(color="black", width=1, dash="dash"))
    centres = np.arange(len(concepts)) * slots + (len(stages) - 1) / 2
    missing = control_notes(table)
    # A type without a control band says so under its name (why: in the caption and the view's notes).
    labels = [html.escape(str(c), quote=False) + ("<br><i>no control band</i>" if str(c) in missing else "")
              for c in concepts]
    # Rows sit at 0, 1, …: the y zero line would cross the first row from edge to edge.
    fig.update_yaxes(tickmode="array", tickvals=centres, ticktext=labels, zeroline=False, showgrid=False,
                     autorange="reversed")
    if missing:
        fig.update_layout(meta={"caption": missing_controls_caption(missing)})
    return finish(fig, f"Mean shift of the concept {measured('share', measure_label)} per concept type against "
                   f"{reference}, with 95% hierarchical bootstrap intervals; grey: the same for control spans",
                   f"mean shift vs {reference}", "concept type", height=140 + 30 * slots * len(concepts),
                   legend_title_text="stage")


def control_notes(table: pd.DataFrame) -> dict[str, str]:
    """Why each type without a control band has none (`control_note` of its rows without one)."""
    if "control_note" not in table:
        return {}
    rows = table[table["control_mean_shift"].isna()]
    notes = {}
    for concept, group in rows.groupby("concept", sort=False):
        reasons = [str(note) for note in dict.fromkeys(group["control_note"]) if isinstance(note, str) and note]
        notes[str(concept)] = "; ".join(reasons) or "no control spans"
    return notes


def missing_controls_caption(notes: dict[str, str]) -> str:
    """One sentence per type without a control band, saying why."""
    return " ".join(f"No control band for {concept}: {reason}." for concept, reason in notes.items())
