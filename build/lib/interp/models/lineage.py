"""Lineages: the ordered checkpoints (base → CPT → IFT, or any other) whose attention is compared.

A lineage is data, never code: a preset shipped in `interp/models/presets/` or a YAML file with
`name`, optional `reference` (a stage label; default the first stage) and `stages`, a list of
`{label, model, revision?}` where model is a hub id or a local folder. A training trajectory
(dozens of checkpoints of one model, as Pythia and OLMo publish them) is named compactly by
`model` and `revisions` instead of `stages`: each revision is a stage, labelled by the revision
made safe as a file name (`step1000`); for a local folder each revision names a subfolder
(`checkpoint-1000/`, as Hugging Face's Trainer saves them).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from interp.core.boundary import (
    describe_validation_error,
    label_problem,
    parse_document,
)
from interp.core.errors import InterpError
from interp.core.safe_output import CONTROL_CHARACTERS

PRESETS_DIR = Path(__file__).parent / "presets"
LINEAGE_SUFFIXES = (".yaml", ".yml")
MAX_FILE_BYTES = 1024 * 1024


DEMO_PREFIX = "demo:"


def is_local_model(model: str) -> bool:
    """A model string names a local folder if it exists or starts like a path (/, ., ~)."""
    return model.startswith(("/", ".", "~")) or Path(model).expanduser().exists()


def is_demo_model(model: str) -> bool:
    """Whether a model names a stage of the offline demo lineage (`demo:base`, ...)."""
    return model.startswith(DEMO_PREFIX)


@dataclass(frozen=True)
class Stage:
    """One checkpoint of a lineage: `model` is a hub id, a local folder or a demo stage."""

    label: str
    model: str
    revision: str | None = None


@dataclass(frozen=True)
class Lineage:
    """Two or more stages of one architecture; shifts are measured against `reference`.

    `reference` is a stage label; left empty it becomes the first stage's label.
    """

    name: str
    stages: tuple[Stage, ...]
    reference: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "stages", tuple(self.stages))
        if not self.reference and self.stages:
            object.__setattr__(self, "reference", self.stages[0].label)
        problems = _lineage_problems(self.stages, self.reference) + _text_problems("field 'name'", self.name)
        if problems:
            raise InterpError(f"lineage {self.name!r}: " + "; ".join(problems))

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(stage.label for stage in self.stages)

    def stage(self, label: str) -> Stage:
        """The stage called `label`."""
        for stage in self.stages:
            if stage.label == label:
                return stage
        raise InterpError(f"lineage {self.name!r}: no stage {label!r} (stages: {', '.join(self.labels)})")

    @property
    def reference_stage(self) -> Stage:
        return self.stage(self.reference)

    @property
    def uses_demo(self) -> bool:
        """Whether any stage is a stage of the offline demo lineage."""
        return any(is_demo_model(stage.model) for stage in self.stages)


class _StageEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    label: str
    model: str
    revision: str | None = None


class _LineageEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    name: str = Field(min_length=1)
    reference: str | None = None
    stages: list[_StageEntry] | None = None
    model: str | None = None
    revisions: list[str] | None = None


def list_presets() -> list[str]:
    """Names of the lineages shipped with the package, sorted."""
    return sorted(path.stem for path in PRESETS_DIR.glob("*.yaml"))


def load_lineage(name_or_path: str | Path) -> Lineage:
    """A preset by name (see `list_presets`) or a lineage YAML file by path."""
    text = str(name_or_path)
    looks_like_file = (
        isinstance(name_or_path, Path)
        or text.lower().endswith(LINEAGE_SUFFIXES)
        or "/" in text
        or "\\" in text
        or Path(text).is_file()
    )
    if looks_like_file:
        return load_lineage_file(Path(text).expanduser())
    if text not in list_presets():
        raise InterpError(
            f"lineage {text!r}: unknown preset (presets: {', '.join(list_presets())}); "
            "or give the path of a lineage YAML file"
        )
    return load_lineage_file(PRESETS_DIR / f"{text}.yaml")


def load_lineage_file(path: str | Path) -> Lineage:
    """Read and validate one lineage YAML file; errors name the file and the field."""
    path = Path(path)
    if not path.is_file():
        raise InterpError(f"{path}: no such lineage file")
    if path.stat().st_size > MAX_FILE_BYTES:
        raise InterpError(f"{path}: file is larger than {MAX_FILE_BYTES // 1024} KB")
    try:
        content = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as error:
        raise InterpError(f"{path}: not UTF-8 text (byte {error.start})") from None
    return parse_lineage(parse_document(content, str(path), "yaml"), str(path))


def parse_lineage(document: Any, origin: str) -> Lineage:
    """Validate a parsed lineage document; `origin` (a file name) prefixes every message."""
    if not isinstance(document, dict):
        raise InterpError(
            f"{origin}: expected a mapping with 'name', 'stages' and optional 'reference', "
            f"found {type(document).__name__}"
        )
    try:
        entry = _LineageEntry.model_validate(document)
    except ValidationError as error:
        raise InterpError(f"{origin}: " + "; ".join(describe_validation_error(e) for e in error.errors())) from None
    trajectory = entry.model is not None or entry.revisions is not None
    if trajectory and entry.stages is not None:
        raise InterpError(f"{origin}: give either 'stages' or 'model' with 'revisions', not both")
    if trajectory:
        stages = trajectory_stages(entry.model, entry.revisions, origin)
    elif entry.stages is None:
        raise InterpError(f"{origin}: field 'stages': is required (or 'model' with 'revisions', the checkpoints of "
                          "one training run)")
    else:
        stages = tuple(
            Stage(label=s.label.strip(), model=s.model.strip(), revision=(s.revision or "").strip() or None)
            for s in entry.stages
        )
    reference = (entry.reference or "").strip() or (stages[0].label if stages else "")
    if trajectory:
        by_revision = {stage.revision or Path(stage.model).name: stage.label for stage in stages}
        reference = by_revision.get(reference, reference)
    problems = _lineage_problems(stages, reference) + _text_problems("field 'name'", entry.name)
    if problems:
        raise InterpError(f"{origin}: " + "; ".join(problems))
    return Lineage(name=entry.name.strip(), stages=stages, reference=reference)


def revision_label(revision: str) -> str:
    """A revision as a stage label: runs of characters a file name should not hold become '-',
    and the label starts with a letter or digit (`refs/pr/7` → `refs-pr-7`)."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", revision).lstrip("-_.")[:100].rstrip("-_.")


def trajectory_stages(model: str | None, revisions: list[str] | None, origin: str) -> tuple[Stage, ...]:
    """One stage per revision of `model` (a hub id), or per subfolder of `model` (a local folder)."""
    if model is None or not model.strip():
        raise InterpError(f"{origin}: field 'model': is required with 'revisions' (a hub id or a local folder)")
    if revisions is None:
        raise InterpError(f"{origin}: field 'revisions': is required with 'model' (e.g. [step1000, step2000])")
    if len(revisions) < 2:
        raise InterpError(f"{origin}: field 'revisions': needs at least two revisions to compare, found {len(revisions)}")
    model = model.strip()
    local = is_local_model(model)
    stages, seen = [], {}
    for number, revision in enumerate((r.strip() for r in revisions), start=1):
        where = f"{origin}: field 'revisions', item {number}"
        label = revision_label(revision)
        if not label:
            raise InterpError(f"{where}: {revision!r} cannot name a stage (give letters or digits)")
        if local and (Path(revision).is_absolute() or ".." in Path(revision).parts):
            raise InterpError(f"{where}: {revision!r} must name a subfolder of {model}")
        if label.lower() in seen:
            first, other = seen[label.lower()]
            same = "is listed twice" if other == revision else f"and item {first} ({other!r}) give one label {label!r}"
            raise InterpError(f"{where}: {revision!r} {same}")
        seen[label.lower()] = (number, revision)
        stages.append(Stage(label, str(Path(model) / revision)) if local else Stage(label, model, revision))
    return tuple(stages)


def _lineage_problems(stages: tuple[Stage, ...], reference: str) -> list[str]:
    """Labels name folders of a results folder, so they follow the store's rule, and no two
    differ only in case (a case-insensitive file system would give them one folder)."""
    if len(stages) < 2:
        return [f"field 'stages': needs at least two stages to compare, found {len(stages)}"]
    problems = []
    seen: dict[str, str] = {}
    for number, stage in enumerate(stages, start=1):
        where = f"stage {number}"
        problem = label_problem(stage.label)
        if problem:
            problems.append(f"{where}, field 'label': {problem}")
        elif stage.label.lower() in seen:
            same = seen[stage.label.lower()]
            detail = "" if same == stage.label else f" (differs from {same!r} only in case)"
            problems.append(f"{where}, field 'label': duplicate label {stage.label!r}{detail}")
        seen.setdefault(stage.label.lower(), stage.label)
        if not stage.model.strip():
            problems.append(f"{where} ({stage.label!r}), field 'model': is empty (give a hub id or a local folder)")
        problems.extend(_text_problems(f"{where}, field 'model'", stage.model))
        problems.extend(_text_problems(f"{where}, field 'revision'", stage.revision or ""))
    if reference not in {stage.label for stage in stages}:
        labels = ", ".join(stage.label for stage in stages)
        problems.append(f"field 'reference': {reference!r} is not a stage label (labels: {labels})")
    return problems


def _text_problems(where: str, value: str) -> list[str]:
    found = CONTROL_CHARACTERS.search(value)
    if found:
        return [f"{where}: contains the control character U+{ord(found.group()):04X}"]
    return []
