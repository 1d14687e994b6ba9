"""Where the tool keeps what a user makes: uploaded concept sets and app runs.

`INTERP_HOME` overrides the default `$XDG_DATA_HOME/interp` (or `~/.local/share/interp`), so
tests and containers can point it anywhere.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path

from interp.lineage import Lineage
from interp.registry import ConceptSequence, concept_set_hash
from interp.settings import ExtractionSettings


def data_home() -> Path:
    explicit = os.environ.get("INTERP_HOME")
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "interp"


def user_concepts_dir() -> Path:
    """Concept sets uploaded or written in the app; they survive restarts."""
    return data_home() / "concepts"


def runs_dir() -> Path:
    """Results folders of runs started from the app."""
    return data_home() / "runs"


def builtin_concepts_dir() -> Path:
    """The concept sets shipped with the project."""
    return Path(__file__).resolve().parent.parent / "concepts"


def app_run_folder(lineage: Lineage, sequences: Sequence[ConceptSequence], settings: ExtractionSettings) -> Path:
    """Where the app keeps a run: one folder per lineage, concept selection and settings, so a
    repeated run (or a reload) opens the same folder and finds its entries cached."""
    material = json.dumps({
        "stages": [(s.label, s.model, s.revision) for s in lineage.stages], "reference": lineage.reference,
        "concepts": concept_set_hash(sequences), "dtype": settings.dtype, "format": settings.input_format,
    }, sort_keys=True)
    return runs_dir() / f"{lineage.name}-{hashlib.sha256(material.encode()).hexdigest()[:12]}"
