"""The demo's folders: where a build lives, its manifest (`demo.json`), whether it is finished,
and how a stage is saved and checked. Shared by the miniature (`interp.demo.build`) and the
demo on a real base (`interp.demo.pretrained`).

Layout of a demo folder: `base/`, `cpt/`, `ift/` (each a `save_pretrained` model with its
tokenizer, loadable on its own) and `demo.json`, written last. A stage is written to a temporary
folder and renamed into place, and `demo.json` is removed when a build starts, so an interrupted
build never looks finished.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from interp.core.atomic import replace_folder
from interp.core.errors import InterpError
from interp.core.locks import folder_lock

DEMO_NOTICE = "A miniature trained on generated text for trying the tool; not evidence about real legal models."


STAGES = ("base", "cpt", "ift")


MANIFEST_NAME = "demo.json"


DEMO_PACKAGES = ("python", "torch", "transformers", "tokenizers", "numpy")


FORMAT = "interp-demo-v1"


DEMO_DIR_ENV = "INTERP_DEMO_DIR"


DEFAULT_DEMO_DIR = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "interp" / "demo-v1"


# The miniature trained from scratch; other bases are real models (`interp.demo.pretrained`).
TINY = "tiny"


@dataclass(frozen=True)
class DemoManifest:
    """What `demo.json` records about a build; `folder` is where it lies (not stored in the file)."""

    folder: str
    seed: int
    scale: str
    config: dict[str, Any]
    steps: dict[str, int]
    tokens: dict[str, Any]
    losses: dict[str, dict[str, float]]
    seconds: dict[str, float]
    versions: dict[str, str]
    notice: str = DEMO_NOTICE
    format: str = FORMAT
    stages: tuple[str, ...] = STAGES
    check_training: bool = True
    extra: dict[str, Any] = field(default_factory=dict)
    base: str = TINY

    def stage_path(self, stage: str) -> Path:
        return Path(self.folder) / stage

    def to_json(self) -> dict[str, Any]:
        value = asdict(self)
        del value["folder"]
        value["stages"] = list(self.stages)
        return value


def demo_dir(folder: str | Path | None = None, base: str = TINY) -> Path:
    """The demo folder: `folder`, else `$INTERP_DEMO_DIR`, else `DEFAULT_DEMO_DIR`; absolute.

    The demo on a real base lies beside the tiny one, in `demo-{base}-v1`.
    """
    chosen = Path(folder or os.environ.get(DEMO_DIR_ENV) or DEFAULT_DEMO_DIR).expanduser().resolve()
    return chosen if folder or base == TINY else chosen.parent / f"demo-{base}-v1"


def demo_is_built(folder: str | Path | None = None, base: str = TINY) -> bool:
    """Whether a finished build lies in the folder: `demo.json` and every stage's files."""
    return load_demo_manifest(folder, base) is not None


def load_demo_manifest(folder: str | Path | None = None, base: str = TINY) -> DemoManifest | None:
    """The manifest of a finished build of `base` in the folder, or None when there is none."""
    root = demo_dir(folder, base)
    try:
        value = json.loads((root / MANIFEST_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(value, dict) or value.get("format") != FORMAT or value.get("base", TINY) != base:
        return None
    for stage in STAGES:
        if not all((root / stage / name).is_file() for name in STAGE_FILES):
            return None
    value["stages"] = tuple(value.get("stages", STAGES))
    known = DemoManifest.__dataclass_fields__
    try:
        return DemoManifest(folder=str(root), **{key: item for key, item in value.items() if key in known})
    except TypeError:  # a field missing: not a manifest this version wrote
        return None


STAGE_FILES = ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json")


def build_lock(root: Path, wait: bool) -> contextlib.AbstractContextManager[None]:
    """One build per demo folder at a time, across processes (the app and the CLI may both start one)."""
    return folder_lock(root, ".build.lock", "another process is building the demo lineage here; wait for it to finish",
                       wait=wait)


def save_stage(model, tokenizer, root: Path, stage: str) -> None:
    """Write the stage beside its final place, then swap it in with renames."""
    from transformers.utils import logging as hf_logging

    staging = Path(tempfile.mkdtemp(dir=root, prefix=f".{stage}.", suffix=".tmp"))
    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()  # "Writing model shards" for a single small file
    try:
        model.save_pretrained(staging, safe_serialization=True)
        tokenizer.save_pretrained(staging)
        replace_folder(staging, root / stage)
    finally:
        if bars:
            hf_logging.enable_progress_bar()
        shutil.rmtree(staging, ignore_errors=True)


def training_threads(limit: int) -> int:
    """Up to `limit` threads, but no more than the cores that other processes leave idle.

    Torch's OpenMP threads meet at a barrier in every operation; when another busy process
    takes one of two cores, each step waits on the descheduled thread, and two threads were
    measured 3–9× slower per step than one (0.28–4.4 s against 0.5 s on two shared cores).
    """
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    busy = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    return max(1, min(limit, cores - round(busy)))


def check_training(losses: dict[str, dict[str, float]]) -> None:
    problems = []
    if not losses["cpt"]["legal"] < losses["base"]["legal"]:
        problems.append(f"held-out legal loss cpt {losses['cpt']['legal']:.4f} is not below "
                        f"base {losses['base']['legal']:.4f}")
    if not losses["ift"]["instruction"] < losses["cpt"]["instruction"]:
        problems.append(f"held-out instruction-response loss ift {losses['ift']['instruction']:.4f} "
                        f"is not below cpt {losses['cpt']['instruction']:.4f}")
    if problems:
        raise InterpError("demo build failed its training check: " + "; ".join(problems))


def config_record(model, settings, threads: int) -> dict[str, Any]:
    config = model.config
    keys = ("model_type", "vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers",
            "num_attention_heads", "num_key_value_heads", "max_position_embeddings", "sliding_window",
            "tie_word_embeddings", "bos_token_id", "eos_token_id", "pad_token_id")
    record = {key: getattr(config, key, None) for key in keys}
    record["parameters"] = sum(parameter.numel() for parameter in model.parameters())
    record["training"] = {
        "seq_len": settings.seq_len, "batch_size": settings.batch_size,
        "learning_rate": dict(settings.learning_rate), "optimizer": "AdamW", "dtype": "float32", "threads": threads,
        "general_replay_in_cpt": settings.replay, "loss_in_ift": "response tokens only",
    }
    return record


def file_sha256(path: Path) -> str:
    """A file's SHA-256 as bare hex, as `demo.json` records the tokenizer's."""
    from interp.core.digests import file_digest, hex_of

    return hex_of(file_digest(path))
