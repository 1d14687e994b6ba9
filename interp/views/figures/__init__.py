"""Figure builders: arrays and tables in, `plotly` figures out, one module per family (docs/design.md §7).

Every builder is pure (no I/O, no UI), so the app shows and the exporter writes the same figure.
This package is their public face; each builder's home is its family module (`causal` holds the
causal check's, imported by its views directly).
"""

from interp.views.figures.common import (
    CONCEPT_COLOUR,
    DIVERGING_SCALE,
    MANY_STAGES,
    MAX_ANNOTATED_SPANS,
    MAX_ANNOTATIONS,
    MAX_TOKEN_TICKS,
    PANEL_COLUMNS,
    SEQUENTIAL_SCALE,
    STAGE_COLUMNS,
    STAGE_PALETTE,
    TEMPLATE,
    TEXT_CHARACTER_PX,
    TRACE_TYPES,
    clickable_heads,
    mark_head,
    measured,
    short_number,
    stage_colours,
)
from interp.views.figures.concept_types import concept_type_figure, control_notes, missing_controls_caption
from interp.views.figures.heads import (
    first_token_figure,
    head_consistency_figure,
    head_heatmap_figure,
)
from interp.views.figures.planning import power_curve_figure
from interp.views.figures.shifts import (
    control_null_figure,
    layer_profile_figure,
    shift_histogram_figure,
    shift_overview_figure,
    shift_qq_figure,
    stage_layer_figure,
    trajectory_figure,
)
from interp.views.figures.tokens import (
    head_grid_figure,
    span_structure_figure,
    token_attention_figure,
    token_text_figure,
)

__all__ = [
    "TEMPLATE",
    "TRACE_TYPES",
    "SEQUENTIAL_SCALE",
    "DIVERGING_SCALE",
    "CONCEPT_COLOUR",
    "TEXT_CHARACTER_PX",
    "STAGE_PALETTE",
    "MAX_ANNOTATIONS",
    "MAX_ANNOTATED_SPANS",
    "MAX_TOKEN_TICKS",
    "PANEL_COLUMNS",
    "STAGE_COLUMNS",
    "MANY_STAGES",
    "stage_colours",
    "short_number",
    "clickable_heads",
    "mark_head",
    "measured",
    "shift_overview_figure",
    "layer_profile_figure",
    "shift_histogram_figure",
    "shift_qq_figure",
    "control_null_figure",
    "trajectory_figure",
    "stage_layer_figure",
    "head_heatmap_figure",
    "first_token_figure",
    "head_consistency_figure",
    "head_grid_figure",
    "token_attention_figure",
    "span_structure_figure",
    "token_text_figure",
    "concept_type_figure",
    "control_notes",
    "missing_controls_caption",
    "power_curve_figure",
]
