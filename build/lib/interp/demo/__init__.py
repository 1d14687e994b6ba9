"""The offline demo lineage: a tiny Mistral the project trains itself, base → legal CPT → IFT.

A miniature for trying the tool on a machine with no network (`DEMO_NOTICE`); it is not evidence
about real legal models. `resolve_demo_model("demo:cpt")` gives a stage's folder, building the
lineage on first use.
"""

from interp.demo.build import build_demo, ensure_demo
from interp.demo.folders import (
    DEFAULT_DEMO_DIR,
    DEMO_NOTICE,
    STAGES,
    DemoManifest,
    demo_dir,
    demo_is_built,
    load_demo_manifest,
)
from interp.demo.resolve import resolve_demo_model, resolve_lineage_models

__all__ = [
    "DEFAULT_DEMO_DIR",
    "DEMO_NOTICE",
    "STAGES",
    "DemoManifest",
    "build_demo",
    "demo_dir",
    "demo_is_built",
    "ensure_demo",
    "load_demo_manifest",
    "resolve_demo_model",
    "resolve_lineage_models",
]
