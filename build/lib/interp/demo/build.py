"""Build the offline demo lineage: one tiny Mistral trained base → legal CPT → IFT on this machine.

The three stages are real checkpoints of one model, each continued from the last, so the app can
show attention shifts caused by real training on a fresh machine with no network. They are a
miniature for trying the tool (`DEMO_NOTICE`), not evidence about real legal models.

Where a build lives and how it is saved: `interp.demo.folders`.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path

from interp.core.atomic import write_json_atomic
from interp.core.errors import InterpError
from interp.core.provenance import package_versions
from interp.demo.folders import (
    DEMO_NOTICE,
    DEMO_PACKAGES,
    MANIFEST_NAME,
    STAGES,
    DemoManifest,
    build_lock,
    check_training,
    config_record,
    demo_dir,
    demo_is_built,
    file_sha256,
    save_stage,
    training_threads,
)

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


def ensure_demo(folder: str | Path | None = None, progress: bool = True) -> Path:
    """The demo folder, building the miniature there first when no finished build is found."""
    root = demo_dir(folder)
    if demo_is_built(root):
        return root
    with build_lock(root, wait=True):  # another process building it: wait, then use its build
        if not demo_is_built(root):
            print(f"Building the offline demo lineage in {root} (about two minutes, once). {DEMO_NOTICE}",
                  file=sys.stderr, flush=True)
            _build(root, seed=0, scale="full", progress=progress)
    return root


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
    with build_lock(root, wait=False):
        return _build(root, seed, scale, progress)


def _build(root: Path, seed: int, scale: str, progress: bool) -> DemoManifest:
    import torch

    from interp.demo import training

    settings = SCALES[scale]
    (root / MANIFEST_NAME).unlink(missing_ok=True)
    started = time.perf_counter()
    seconds: dict[str, float] = {}
    threads, limit = torch.get_num_threads(), training_threads(settings.max_threads)
    torch.set_num_threads(limit)
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
                save_stage(model, data.tokenizer, root, stage)
                seconds[stage] = round(time.perf_counter() - begun, 2)
    finally:
        torch.set_num_threads(threads)
    if settings.check_training:
        check_training(losses)
    seconds["total"] = round(time.perf_counter() - started, 2)
    manifest = DemoManifest(
        folder=str(root), seed=seed, scale=scale, config=config_record(model, settings, limit),
        steps=dict(settings.steps), tokens=data.token_counts(settings), losses=losses,
        seconds=seconds, versions=package_versions(DEMO_PACKAGES), check_training=settings.check_training,
        extra={"tokenizer_sha256": file_sha256(root / "base" / "tokenizer.json")},
    )
    write_json_atomic(root / MANIFEST_NAME, manifest.to_json())
    return manifest


