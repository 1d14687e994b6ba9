"""Attention to legal concepts across a training lineage (base → continued pretraining → instruction tuning).

The public API, for notebooks and scripts: load concept files, align spans to tokens, run a
lineage into a results folder, find the app's runs (`demo_run()`, `latest_run()`), and read a
folder back as tables and figures. Names load on first use, so `import interp` is instant and
reading results never imports torch.
"""

from __future__ import annotations

import importlib

from interp.core.provenance import __version__ as __version__

_HOMES = {
    "interp.core.errors": ("InterpError",),
    "interp.concepts.files": ("ConceptSequence", "ConceptSet", "Span", "load_concept_file", "load_concepts"),
    "interp.concepts.alignment": ("AlignedSequence", "align_sequence"),
    "interp.models.lineage": ("Stage", "Lineage", "load_lineage", "list_presets"),
    "interp.extraction.settings": ("ExtractionSettings",),
    "interp.extraction.pipeline": ("extract_lineage",),
    "interp.analysis.results": ("Results", "Selection"),
    "interp.analysis.shift_statistics": ("compute_shift_statistics",),
    "interp.analysis.tables": ("report_table", "shares_table"),
    "interp.analysis.bootstrap": ("mean_with_interval",),
    "interp.analysis.envelope": ("read_table_csv", "read_table_json"),
    "interp.analysis.methods": ("methods_markdown",),
    "interp.views.framework": ("VIEWS", "get_view"),
    "interp.export.bundle": ("export_run",),
    "interp.store.locations": ("demo_run", "latest_run"),
}
_LAZY = {name: module for module, names in _HOMES.items() for name in names}


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'interp' has no attribute {name!r}")


__all__ = sorted(_LAZY)
