"""Attention to legal concepts across a training lineage (base → continued pretraining → instruction tuning).

The public API, for notebooks and scripts: load concept files, align spans to tokens, run a
lineage into a results folder, and read the folder back as tables and figures. Names load on
first use, so `import interp` is instant and reading results never imports torch.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_HOMES = {
    "interp.errors": ("InterpError",),
    "interp.registry": ("ConceptSequence", "ConceptSet", "Span", "load_concept_file", "load_concepts"),
    "interp.alignment": ("AlignedSequence", "align_sequence", "compute_excluded_mask", "concept_runs"),
    "interp.tokens": ("readable_tokens", "token_texts"),
    "interp.packaged": ("ensure_packaged",),
    "interp.statistics": (
        "ControlComparison", "LayerProfile", "ShiftStatistics", "compare_with_controls", "compute_bootstrap_ci",
        "compute_layer_profile", "compute_share", "compute_shift", "compute_shift_statistics",
    ),
    "interp.lineage": ("Stage", "Lineage", "load_lineage", "list_presets"),
    "interp.settings": ("ExtractionSettings",),
    "interp.loader": ("LoadedStage", "load_stage", "free_stage"),
    "interp.extract": ("SequenceAttention", "extract_sequence"),
    "interp.tiny": ("build_tiny_mistral",),
    "interp.pipeline": ("extract_lineage",),
    "interp.executors": ("EXECUTORS", "ExecutorOptions", "get_executor"),
    "interp.shards": ("Shard", "parse_shard"),
    "interp.merge": ("merge_shards",),
    "interp.store": ("ResultsStore", "unpack_lower_triangle"),
    "interp.results": ("Results", "Selection"),
    "interp.report": ("report_table", "shares_table"),
    "interp.trajectory": ("trajectory_table", "training_step"),
    "interp.views": ("VIEWS", "View", "get_view"),
    "interp.export": ("export_run",),
}
_LAZY = {name: module for module, names in _HOMES.items() for name in names}


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'interp' has no attribute {name!r}")


__all__ = sorted(_LAZY)
