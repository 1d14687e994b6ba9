"""Run a lineage over concept sequences into a results folder, one checkpoint at a time.

For each stage: tokenize every sequence with the stage's own tokenizer, look each entry up in
the store by its cache key, and load the checkpoint only if something is missing. A rerun of
the same command therefore does no forward pass, and says so.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from interp.alignment import AlignedSequence, align_sequence, concept_window
from interp.checkpoints import (
    check_same_architecture,
    checked_stage_model,
    checkpoint_fingerprint,
    load_config,
    resolve_lineage_models,
)
from interp.errors import InterpError
from interp.entries import PatternLayout
from interp.extract import PATTERN_KINDS, ExtractionRequest, extract_sequence
from interp.lineage import Lineage, Stage
from interp.loader import free_stage, load_stage, resolve_device, resolve_dtype
from interp.locks import folder_lock
from interp.provenance import package_versions, utc_now
from interp.registry import TEXT_NORMALISATION, ConceptSequence, concept_set_hash, sequence_item
from interp.settings import INPUT_FORMATS, ExtractionSettings, Progress, ProgressCallback
from interp.store import FORMAT_VERSION, ResultsStore, RunManifest, RunSettings, StageRecord
from interp.tokenizer import load_tokenizer

StageLoader = Callable[[Stage, ExtractionSettings, str, str], object]
LOCK_FILE = ".lock"
BUSY = "another extraction is writing to this results folder; wait for it to finish"


@dataclass(frozen=True)
class PreparedStage:
    """A stage before its model is loaded: tokenizer, aligned sequences and their cache keys."""

    stage: Stage
    tokenizer: object
    fingerprint: str
    tokenizer_hash: str
    aligned: tuple[AlignedSequence, ...]
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
    with folder_lock(store.folder, LOCK_FILE, BUSY):
        configs = {stage.label: load_config(stage, settings.trust_remote_code) for stage in lineage.stages}
        check_same_architecture(configs)
        prepared = [
            _prepare_stage(stage, configs[stage.label], sequences, settings, dtype) for stage in lineage.stages
        ]
        previous = _previous_manifest(store)
        manifest = _new_manifest(lineage, sequences, settings, previous)
        progress = Progress(total=len(prepared) * len(sequences))
        routes = {record.label: record.route for record in previous.stages} if previous else {}
        records = []
        for stage in prepared:
            records.append(_run_stage(store, stage, settings, device, dtype, progress, on_progress, stage_loader,
                                      routes.get(stage.stage.label, "lean")))
            manifest = manifest.model_copy(update={"stages": records, "updated": utc_now()})
            store.write_manifest(manifest)
        manifest = manifest.model_copy(update={"complete": True, "updated": utc_now()})
        store.write_manifest(manifest)
    return manifest


def _prepare_stage(stage: Stage, config: dict, sequences, settings: ExtractionSettings, dtype: str) -> PreparedStage:
    tokenizer = load_tokenizer(checked_stage_model(stage), stage.revision, settings.trust_remote_code)
    input_format = settings.input_format if _has_chat_template(tokenizer) else "raw"
    context = int(config.get("max_position_embeddings") or 0)
    aligned = []
    for sequence in sequences:
        item = _align_for_format(sequence, tokenizer, input_format)
        if context and item.n_tokens > context:
            raise InterpError(
                f"sequence '{sequence.id}': {item.n_tokens} tokens under stage '{stage.label}', "
                f"longer than the model's context of {context}"
            )
        aligned.append(item)
    # Lengths are checked above with the tokenizer alone: hashing a 7B checkpoint's weights takes minutes.
    fingerprint = checkpoint_fingerprint(stage)
    tokenizer_hash = compute_tokenizer_hash(tokenizer)
    keys = [_entry_key(fingerprint, tokenizer_hash, item, sequence, settings, dtype, input_format)
            for item, sequence in zip(aligned, sequences)]
    return PreparedStage(stage, tokenizer, fingerprint, tokenizer_hash, tuple(aligned), tuple(keys), input_format)


def _run_stage(store, prepared: PreparedStage, settings, device, dtype, progress: Progress, on_progress, stage_loader,
               cached_route: str) -> StageRecord:
    label = prepared.stage.label
    missing = [i for i, (item, key) in enumerate(zip(prepared.aligned, prepared.keys)) if not store.has_entry(label, item.sequence_id, key)]
    cached = len(prepared.aligned) - len(missing)
    progress.stage, progress.cached[label] = label, cached
    progress.done += cached
    progress.message = f"stage '{label}': {cached} cached, {len(missing)} to run" + ("" if missing else " (no forward pass)")
    _notify(on_progress, progress)
    if not missing:
        record = store.read_record(label, prepared.aligned[0].sequence_id)
        return _stage_record(prepared, record.layers, record.heads, dtype, device, cached=True, route=cached_route)
    if stage_loader is not None:
        loaded = stage_loader(prepared.stage, settings, device, dtype)
    else:
        loaded = load_stage(prepared.stage, device=device, dtype=dtype, device_map=settings.device_map,
                            trust_remote_code=settings.trust_remote_code)
    try:
        route = _extract_entries(store, prepared, missing, loaded, settings, progress, on_progress)
        return _stage_record(prepared, loaded.n_layers, loaded.n_heads, loaded.dtype, loaded.device, cached=False,
                             route=route)
    finally:
        if stage_loader is None:
            free_stage(loaded)


def _extract_entries(store, prepared: PreparedStage, missing, loaded, settings, progress: Progress, on_progress) -> str:
    """Run the missing sequences; each entry's arrays are finished on a writer thread while the
    next sequence's forward pass runs (one write in flight at most)."""
    label, route = prepared.stage.label, "lean"
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="interp-store") as writer_thread:
        pending: tuple[Future, str] | None = None
        for index in missing:
            item = prepared.aligned[index]
            layout = pattern_layout(settings.patterns, item)
            writer = store.entry_writer(label, item, loaded.n_layers, loaded.n_heads, layout)
            request = ExtractionRequest(patterns=layout.kind, window=(layout.start, layout.end), spans=item.span_tokens)
            try:
                attention = extract_sequence(loaded, list(item.token_ids), request,
                                             on_patterns=writer.write_layer if layout.kind != "none" else None)
            except BaseException:
                writer.discard()
                raise
            route = attention.route
            if pending is not None:
                _finished(pending, label, progress, on_progress)
            pending = (writer_thread.submit(writer.finish, attention.colsums, attention.norms,
                                            attention.span_attention, prepared.keys[index]), item.sequence_id)
        if pending is not None:
            _finished(pending, label, progress, on_progress)
    return route


def _finished(pending: tuple[Future, str], label: str, progress: Progress, on_progress) -> None:
    """Wait for an entry's write (its errors surface here, on the caller's thread) and say so."""
    future, sequence_id = pending
    future.result()
    progress.done += 1
    progress.message = f"stage '{label}': sequence '{sequence_id}' done"
    _notify(on_progress, progress)


def pattern_layout(patterns: str, aligned: AlignedSequence) -> PatternLayout:
    """What part of each head's pattern to keep for a sequence (`--patterns`)."""
    if patterns == "window":
        return PatternLayout("window", *concept_window(aligned.concept_mask, aligned.n_tokens))
    if patterns in ("full", "none"):
        return PatternLayout(patterns)
    raise InterpError(f"--patterns {patterns!r}: use one of {', '.join(PATTERN_KINDS)}")


def _stage_record(prepared: PreparedStage, n_layers: int, n_heads: int, dtype: str, device: str, cached: bool,
                  route: str) -> StageRecord:
    return StageRecord(
        label=prepared.stage.label, model=prepared.stage.model, revision=prepared.stage.revision,
        checkpoint=checked_stage_model(prepared.stage), fingerprint=prepared.fingerprint,
        tokenizer_hash=prepared.tokenizer_hash, n_layers=n_layers, n_heads=n_heads, dtype=dtype, device=device,
        cached=cached, route=route,
    )


def _align_for_format(sequence: ConceptSequence, tokenizer, input_format: str) -> AlignedSequence:
    """Raw text with BOS, or the text inside the stage's chat template with spans moved along."""
    if input_format == "raw":
        return align_sequence(sequence, tokenizer)
    rendered = tokenizer.apply_chat_template([{"role": "user", "content": sequence.text}], tokenize=False)
    shift = rendered.find(sequence.text)
    if shift < 0:
        raise InterpError(f"sequence '{sequence.id}': the chat template changes the text, so spans cannot be mapped")
    bos = getattr(tokenizer, "bos_token", None)
    writes_bos = bool(bos) and rendered.startswith(bos)
    return align_sequence(sequence, tokenizer, text=rendered, char_shift=shift, add_special_tokens=not writes_bos)


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
        "dtype": dtype, "format": input_format, "patterns": settings.patterns, "store": FORMAT_VERSION,
    }
    return hashlib.sha256(json.dumps(material, sort_keys=True).encode("utf-8")).hexdigest()


def _previous_manifest(store: ResultsStore) -> RunManifest | None:
    """The folder's manifest from an earlier run, if it can be read (a rerun keeps `created`)."""
    if not store.manifest_path.is_file():
        return None
    try:
        return store.read_manifest()
    except InterpError:
        return None


def _new_manifest(lineage: Lineage, sequences, settings: ExtractionSettings, previous: RunManifest | None) -> RunManifest:
    created = previous.created if previous else utc_now()
    return RunManifest(
        lineage=lineage.name, reference=lineage.reference, planned_stages=list(lineage.labels), stages=[],
        sequences=[sequence_item(s) for s in sequences],
        settings=RunSettings(input_format=settings.input_format, patterns=settings.patterns,
                             dtype=settings.dtype, device=settings.device, device_map=settings.device_map),
        concept_set_hash=concept_set_hash(sequences), text_normalisation=TEXT_NORMALISATION,
        packages=package_versions(), created=created, updated=utc_now(),
    )


def _notify(on_progress: ProgressCallback | None, progress: Progress) -> None:
    if on_progress is not None:
        on_progress(progress)
