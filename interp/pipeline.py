"""Run a lineage over concept sequences into a results folder, one checkpoint at a time.

For each stage: tokenize every sequence with the stage's own tokenizer, look each entry up in
the store by its cache key, and load the checkpoint only if something is missing. A rerun of
the same command therefore does no forward pass, and says so.
"""

from __future__ import annotations

import fcntl
import hashlib
import importlib.metadata
import json
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path

from interp import __version__
from interp.alignment import AlignedSequence, align_sequence
from interp.errors import InterpError
from interp.extract import extract_sequence
from interp.lineage import Lineage, Stage
from interp.loader import (
    check_checkpoint,
    check_same_architecture,
    free_stage,
    hash_weights,
    hub_revision,
    is_local_model,
    load_config,
    load_stage,
    resolve_device,
    resolve_dtype,
)
from interp.registry import ConceptSequence, concept_set_hash
from interp.store import ResultsStore, RunManifest, StageRecord, sequence_record
from interp.tokenizer import load_tokenizer

PACKAGES = ("interp", "torch", "transformer-lens", "transformers", "tokenizers", "numpy", "scipy")
INPUT_FORMATS = ("raw", "chat")


@dataclass(frozen=True)
class ExtractionSettings:
    """How a lineage is run; everything here except `device` and `device_map` enters the cache key."""

    device: str = "auto"
    dtype: str = "auto"
    device_map: str | None = None
    keep_patterns: bool = True
    input_format: str = "raw"
    trust_remote_code: bool = False


@dataclass
class Progress:
    """What a progress display needs: counts over stage × sequence and a line of news."""

    total: int
    done: int = 0
    stage: str = ""
    message: str = ""
    cached: dict[str, int] = field(default_factory=dict)


ProgressCallback = Callable[[Progress], None]
StageLoader = Callable[[Stage, "ExtractionSettings", str, str], object]


@dataclass(frozen=True)
class PreparedStage:
    """A stage before its model is loaded: tokenizer, aligned sequences and their cache keys."""

    stage: Stage
    tokenizer: object
    fingerprint: str
    tokenizer_hash: str
    aligned: tuple[AlignedSequence, ...]
    char_shifts: tuple[int, ...]
    keys: tuple[str, ...]
    input_format: str


def extract_lineage(
    lineage: Lineage,
    sequences: Sequence[ConceptSequence],
    out: str | Path,
    settings: ExtractionSettings = ExtractionSettings(),
    on_progress: ProgressCallback | None = None,
    stage_loader: StageLoader | None = None,
) -> RunManifest:
    """Every stage over every sequence into `out`; returns the finished manifest.

    `stage_loader(stage, settings, device, dtype)` replaces load-then-free: the app passes one
    that keeps the last checkpoint cached, so a rerun with new sequences does not reload it.
    """
    if settings.input_format not in INPUT_FORMATS:
        raise InterpError(f"input format {settings.input_format!r} is unknown; use one of {', '.join(INPUT_FORMATS)}")
    if not sequences:
        raise InterpError("no concept sequences to run")
    store = ResultsStore(out)
    device = resolve_device(settings.device)
    dtype = str(resolve_dtype(settings.dtype, device)).removeprefix("torch.")
    lineage = resolve_lineage_models(lineage)
    with _exclusive(store.folder):
        configs = {stage.label: load_config(stage, settings.trust_remote_code) for stage in lineage.stages}
        check_same_architecture(configs)
        prepared = [
            _prepare_stage(stage, configs[stage.label], sequences, settings, dtype) for stage in lineage.stages
        ]
        manifest = _new_manifest(store, lineage, sequences, settings)
        progress = Progress(total=len(prepared) * len(sequences))
        records = []
        for stage in prepared:
            records.append(_run_stage(store, stage, settings, device, dtype, progress, on_progress, stage_loader))
            manifest = manifest.model_copy(update={"stages": records, "updated": _now()})
            store.write_manifest(manifest)
        manifest = manifest.model_copy(update={"complete": True, "updated": _now()})
        store.write_manifest(manifest)
    return manifest


def resolve_lineage_models(lineage: Lineage) -> Lineage:
    """Stages of the demo lineage (`demo:base`, ...) point at its build, built on first use."""
    if not any(stage.model.startswith("demo:") for stage in lineage.stages):
        return lineage
    from interp.demo import resolve_demo_model

    stages = tuple(
        replace(stage, model=resolve_demo_model(stage.model)) if stage.model.startswith("demo:") else stage
        for stage in lineage.stages
    )
    return replace(lineage, stages=stages)


def checkpoint_fingerprint(stage: Stage) -> str:
    """What identifies the weights: a content hash for a folder, the commit or revision for a hub id."""
    checkpoint = check_checkpoint(stage.model, stage.revision)
    if is_local_model(checkpoint):
        return hash_weights(Path(checkpoint))
    return f"{checkpoint}@{hub_revision(checkpoint, stage.revision) or 'main'}"


def _prepare_stage(stage: Stage, config: dict, sequences, settings: ExtractionSettings, dtype: str) -> PreparedStage:
    tokenizer = load_tokenizer(check_checkpoint(stage.model, stage.revision), stage.revision, settings.trust_remote_code)
    input_format = settings.input_format if _has_chat_template(tokenizer) else "raw"
    fingerprint = checkpoint_fingerprint(stage)
    tokenizer_hash = compute_tokenizer_hash(tokenizer)
    context = int(config.get("max_position_embeddings") or 0)
    aligned, shifts, keys = [], [], []
    for sequence in sequences:
        item, shift = _align_for_format(sequence, tokenizer, input_format)
        if context and item.n_tokens > context:
            raise InterpError(
                f"sequence '{sequence.id}': {item.n_tokens} tokens under stage '{stage.label}', "
                f"longer than the model's context of {context}"
            )
        aligned.append(item)
        shifts.append(shift)
        keys.append(_entry_key(fingerprint, tokenizer_hash, item, sequence, settings, dtype, input_format))
    return PreparedStage(stage, tokenizer, fingerprint, tokenizer_hash, tuple(aligned), tuple(shifts), tuple(keys), input_format)


def _run_stage(store, prepared: PreparedStage, settings, device, dtype, progress: Progress, on_progress, stage_loader) -> StageRecord:
    label = prepared.stage.label
    missing = [i for i, (item, key) in enumerate(zip(prepared.aligned, prepared.keys)) if not store.has_entry(label, item.sequence_id, key)]
    cached = len(prepared.aligned) - len(missing)
    progress.stage, progress.cached[label] = label, cached
    progress.done += cached
    progress.message = f"stage '{label}': {cached} cached, {len(missing)} to run" + ("" if missing else " (no forward pass)")
    _notify(on_progress, progress)
    if not missing:
        return _cached_record(store, prepared, dtype, device)
    if stage_loader is not None:
        loaded = stage_loader(prepared.stage, settings, device, dtype)
    else:
        loaded = load_stage(prepared.stage, device=device, dtype=dtype, device_map=settings.device_map,
                            trust_remote_code=settings.trust_remote_code)
    try:
        for index in missing:
            item = prepared.aligned[index]
            attention = extract_sequence(loaded, list(item.token_ids), keep_patterns=settings.keep_patterns)
            store.write_entry(label, item, attention.colsums, attention.patterns, prepared.keys[index], prepared.char_shifts[index])
            progress.done += 1
            progress.message = f"stage '{label}': sequence '{item.sequence_id}' done"
            _notify(on_progress, progress)
        return StageRecord(
            label=label, model=prepared.stage.model, revision=prepared.stage.revision, checkpoint=loaded.checkpoint,
            checkpoint_hash=loaded.revision_or_hash, tokenizer_hash=prepared.tokenizer_hash,
            n_layers=loaded.n_layers, n_heads=loaded.n_heads, dtype=loaded.dtype, device=loaded.device,
        )
    finally:
        if stage_loader is None:
            free_stage(loaded)


def _cached_record(store: ResultsStore, prepared: PreparedStage, dtype: str, device: str) -> StageRecord:
    colsums = store.read_colsums(prepared.stage.label, prepared.aligned[0].sequence_id)
    return StageRecord(
        label=prepared.stage.label, model=prepared.stage.model, revision=prepared.stage.revision,
        checkpoint=prepared.stage.model, checkpoint_hash=prepared.fingerprint, tokenizer_hash=prepared.tokenizer_hash,
        n_layers=int(colsums.shape[0]), n_heads=int(colsums.shape[1]), dtype=dtype, device=f"{device} (cached)",
    )


def _align_for_format(sequence: ConceptSequence, tokenizer, input_format: str) -> tuple[AlignedSequence, int]:
    """Raw text with BOS, or the text inside the stage's chat template with spans moved along."""
    if input_format == "raw":
        return align_sequence(sequence, tokenizer), 0
    rendered = tokenizer.apply_chat_template([{"role": "user", "content": sequence.text}], tokenize=False)
    shift = rendered.find(sequence.text)
    if shift < 0:
        raise InterpError(f"sequence '{sequence.id}': the chat template changes the text, so spans cannot be mapped")
    bos = getattr(tokenizer, "bos_token", None)
    writes_bos = bool(bos) and rendered.startswith(bos)
    return align_sequence(sequence, tokenizer, text=rendered, char_shift=shift, add_special_tokens=not writes_bos), shift


def _has_chat_template(tokenizer) -> bool:
    return bool(getattr(tokenizer, "chat_template", None))


def compute_tokenizer_hash(tokenizer) -> str:
    """SHA-256 of the tokenizer's full definition (vocabulary, merges, normaliser, chat template)."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    definition = backend.to_str() if backend is not None else json.dumps(tokenizer.get_vocab(), sort_keys=True)
    definition += str(getattr(tokenizer, "chat_template", "") or "")
    return hashlib.sha256(definition.encode("utf-8")).hexdigest()


def _entry_key(fingerprint, tokenizer_hash, item: AlignedSequence, sequence, settings, dtype, input_format) -> str:
    material = {
        "checkpoint": fingerprint, "tokenizer": tokenizer_hash, "text": sequence.text, "token_ids": list(item.token_ids),
        "dtype": dtype, "format": input_format, "patterns": settings.keep_patterns,
    }
    return hashlib.sha256(json.dumps(material, sort_keys=True).encode("utf-8")).hexdigest()


def _new_manifest(store: ResultsStore, lineage: Lineage, sequences, settings: ExtractionSettings) -> RunManifest:
    created = _now()
    if store.manifest_path.is_file():
        try:
            created = store.read_manifest().created
        except InterpError:
            pass
    return RunManifest(
        lineage=lineage.name, reference=lineage.reference, stages=[],
        sequences=[sequence_record(s) for s in sequences],
        settings={"input_format": settings.input_format, "keep_patterns": settings.keep_patterns,
                  "dtype": settings.dtype, "device": settings.device, "device_map": settings.device_map},
        concept_set_hash=concept_set_hash(sequences), packages=_package_versions(), created=created, updated=created,
    )


def _package_versions() -> dict[str, str]:
    versions = {}
    for name in PACKAGES:
        if name == "interp":
            versions[name] = __version__
            continue
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


@contextmanager
def _exclusive(folder: Path) -> Iterator[None]:
    """One extraction per results folder at a time, across processes and app sessions."""
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".lock", "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise InterpError(f"{folder}: another extraction is writing to this results folder; wait for it to finish") from None
        try:
            lock.write(str(os.getpid()))
            lock.flush()
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _notify(on_progress: ProgressCallback | None, progress: Progress) -> None:
    if on_progress is not None:
        on_progress(progress)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
