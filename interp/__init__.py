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

# Names that need torch load on first use, so `import interp` (and `python -m interp stats`) stays fast.
_LAZY = {
    "Stage": "interp.lineage", "Lineage": "interp.lineage", "load_lineage": "interp.lineage",
    "list_presets": "interp.lineage", "LoadedStage": "interp.loader", "load_stage": "interp.loader",
    "free_stage": "interp.loader", "SequenceAttention": "interp.extract", "extract_sequence": "interp.extract",
    "unpack_lower_triangle": "interp.extract", "build_tiny_mistral": "interp.checkpoints",
    "ExtractionSettings": "interp.pipeline", "extract_lineage": "interp.pipeline",
    "ResultsStore": "interp.store", "compute_report": "interp.report",
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'interp' has no attribute {name!r}")

__all__ = [
    *_LAZY,
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
