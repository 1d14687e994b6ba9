"""Attention to legal concepts across a training lineage (base → continued pretraining → instruction tuning).

The public API: load concept files, align spans to tokens, and compute shares, shifts and their
statistics. Extraction, the results store and the demo lineage live in their own modules.
"""

from interp.alignment import AlignedSequence, align_sequence, compute_excluded_mask, concept_runs
from interp.errors import InterpError
from interp.registry import ConceptSequence, ConceptSet, Span, load_concept_file, load_concepts
from interp.statistics import (
    ControlComparison,
    LayerProfile,
    ShiftStatistics,
    compare_with_controls,
    compute_bootstrap_ci,
    compute_layer_profile,
    compute_share,
    compute_shift,
    compute_shift_statistics,
)

__version__ = "0.1.0"

__all__ = [
    "AlignedSequence",
    "ConceptSequence",
    "ConceptSet",
    "ControlComparison",
    "InterpError",
    "LayerProfile",
    "ShiftStatistics",
    "Span",
    "align_sequence",
    "compare_with_controls",
    "compute_bootstrap_ci",
    "compute_excluded_mask",
    "compute_layer_profile",
    "compute_share",
    "compute_shift",
    "compute_shift_statistics",
    "concept_runs",
    "load_concept_file",
    "load_concepts",
]
