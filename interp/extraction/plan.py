"""What a run must do, decided once before any model loads: stages prepared, entries keyed, work cut into tasks.

For each stage: tokenize every sequence with the stage's own tokenizer and check its length
(every stage before any is aligned: a refusal costs only the tokenizing), then align the spans,
compute each entry's cache key (weights, tokenizer, text, settings), and look it up in the
results folder, then in the results folders beside it (`ExtractionPlan.reuse_earlier`). What is
missing becomes tasks of (stage, block of sequences) that any executor runs (`interp.extraction.executors`):
in this process, on a Ray cluster, or as one shard of a batch job. A rerun of the same command
finds nothing missing and loads no model. Nothing here imports torch.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from interp.concepts.alignment import (
    AlignedSequence,
    EncodedText,
    align_encoded,
    encode_text,
)
from interp.concepts.files import ConceptSequence
from interp.core.errors import InterpError
from interp.extraction.settings import ExtractionSettings
from interp.models.checkpoints import (
    check_same_architecture,
    checked_stage_model,
    checkpoint_fingerprint,
    load_config,
)
from interp.models.lineage import Lineage, Stage
from interp.models.tokenizers import load_tokenizer
from interp.store.folder import FORMAT_VERSION, ResultsStore
from interp.store.reuse import WantedEntry, reuse_entries


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


@dataclass(frozen=True)
class TaskEntry:
    """One entry a task must write: the sequence as the stage tokenizes it, and its cache key."""

    aligned: AlignedSequence
    key: str


@dataclass(frozen=True)
class StageTask:
    """One unit of work: a stage and a block of its missing entries, with everything a worker
    needs (no tokenizer, no concept file): it loads the checkpoint once for the whole block and
    writes the entries into `folder`. Small and picklable: this is what is sent to a Ray worker."""

    stage: Stage
    folder: str
    entries: tuple[TaskEntry, ...]
    settings: ExtractionSettings
    device: str
    dtype: str
    threads: int

    @property
    def label(self) -> str:
        """What progress and a Ray task are named after: the stage."""
        return self.stage.label

    def written(self) -> list[str]:
        """The ids of the task's sequences whose entries are in the results folder, in the order the
        task writes them, up to the first that is not: how an executor follows a task it cannot
        hear from (a Ray worker writes straight into the folder)."""
        from interp.store.folder import ResultsStore

        store, done = ResultsStore(self.folder), []
        for entry in self.entries:
            aligned = entry.aligned
            if not store.has_entry(self.label, aligned.sequence_id, entry.key, aligned.span_tokens):
                break
            done.append(aligned.sequence_id)
        return done


@dataclass(frozen=True)
class ExtractionPlan:
    """A run decided: the prepared stages, and per stage the indices of the sequences whose
    entries are missing from the results folder. `device`, `dtype` and `threads` are resolved."""

    lineage: Lineage
    sequences: tuple[ConceptSequence, ...]
    stages: tuple[PreparedStage, ...]
    missing: Mapping[str, tuple[int, ...]]
    device: str
    dtype: str
    threads: int
    reused: Mapping[str, tuple[int, ...]] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return len(self.stages) * len(self.sequences)

    def cached(self, label: str) -> int:
        """How many of the stage's entries this results folder held before the run."""
        return len(self.sequences) - len(self.missing[label]) - self.reused_count(label)

    def reused_count(self, label: str) -> int:
        """How many of the stage's entries were linked from other results folders (`reuse_earlier`)."""
        return len(self.reused.get(label, ()))

    def wanted(self) -> list[WantedEntry]:
        """Every missing entry, as `interp.store.reuse` looks for it in other results folders."""
        return [WantedEntry(prepared.stage.label, prepared.fingerprint, prepared.tokenizer_hash, prepared.aligned[i],
                            self.sequences[i].text, prepared.keys[i])
                for prepared in self.stages for i in self.missing[prepared.stage.label]]

    def reuse_earlier(self, store: ResultsStore, places: Sequence[str | Path]) -> ExtractionPlan:
        """This plan after linking into `store` the missing entries that results folders among
        `places` hold (`interp.store.reuse`): those leave `missing` for `reused`."""
        linked = {(entry.stage, entry.aligned.sequence_id) for entry in reuse_entries(store, self.wanted(), places)}
        if not linked:
            return self
        missing, reused = {}, {}
        for prepared in self.stages:
            label = prepared.stage.label
            found = {i for i in self.missing[label] if (label, prepared.aligned[i].sequence_id) in linked}
            missing[label] = tuple(i for i in self.missing[label] if i not in found)
            reused[label] = tuple(sorted(found))
        return dataclasses.replace(self, missing=missing, reused=reused)

    def tasks(self, folder: str | Path, settings: ExtractionSettings, block_size: int | None = None) -> list[StageTask]:
        """The missing work as tasks in lineage order: each stage's missing sequences in blocks of
        `block_size` (None: one block per stage, so each checkpoint loads once)."""
        if block_size is not None and block_size < 1:
            raise InterpError(f"--block-size {block_size}: give at least one sequence per task")
        tasks = []
        for prepared in self.stages:
            missing = self.missing[prepared.stage.label]
            size = block_size or max(len(missing), 1)
            for start in range(0, len(missing), size):
                entries = tuple(TaskEntry(prepared.aligned[i], prepared.keys[i]) for i in missing[start:start + size])
                tasks.append(StageTask(prepared.stage, str(folder), entries, settings, self.device, self.dtype,
                                       self.threads))
        return tasks


def plan_extraction(lineage: Lineage, sequences: Sequence[ConceptSequence], store: ResultsStore,
                    settings: ExtractionSettings, device: str, dtype: str) -> ExtractionPlan:
    """Check the lineage, prepare every stage and find what the results folder lacks.

    `lineage` has its models resolved (`interp.models.checkpoints.resolve_lineage_models`); `device`
    and `dtype` are resolved names ("cpu", "float32"): the dtype enters every cache key.
    """
    configs = {stage.label: load_config(stage, settings.trust_remote_code) for stage in lineage.stages}
    check_same_architecture(configs)
    # Every stage's lengths are checked before any stage is aligned or hashed.
    tokenized = [tokenize_stage(stage, configs[stage.label], sequences, settings) for stage in lineage.stages]
    prepared = tuple(prepare_stage(stage, sequences, settings, dtype) for stage in tokenized)
    missing = {
        stage.stage.label: tuple(i for i, (item, key) in enumerate(zip(stage.aligned, stage.keys))
                                 if not store.has_entry(stage.stage.label, item.sequence_id, key, item.span_tokens))
        for stage in prepared
    }
    return ExtractionPlan(lineage, tuple(sequences), prepared, missing, device, dtype, resolve_threads(settings.threads))


def resolve_threads(threads: int | None) -> int:
    """The torch thread count every task of a run pins (`--threads`; default: the CPUs this
    process may use). Sums reduced by BLAS can differ in their last bits between thread counts,
    so the local run and every Ray worker use the same number, resolved here once."""
    if threads is None:
        return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    if threads < 1:
        raise InterpError(f"--threads {threads}: give at least one thread")
    return threads


@dataclass(frozen=True)
class TokenizedStage:
    """A stage's sequences tokenized as its model will read them, lengths checked, not yet aligned."""

    stage: Stage
    tokenizer: object
    input_format: str
    encoded: tuple[EncodedText, ...]


def tokenize_stage(stage: Stage, config: dict, sequences, settings: ExtractionSettings) -> TokenizedStage:
    """Tokenize every sequence with the stage's tokenizer and refuse one longer than the model's
    context, before any alignment, weight hashing or model load (those cost far more)."""
    tokenizer = load_tokenizer(checked_stage_model(stage), stage.revision, settings.trust_remote_code)
    input_format = settings.input_format if _has_chat_template(tokenizer) else "raw"
    context = int(config.get("max_position_embeddings") or 0)
    encoded = []
    for sequence in sequences:
        item = _encode_for_format(sequence, tokenizer, input_format)
        if context and item.n_tokens > context:
            raise InterpError(
                f"sequence '{sequence.id}': {item.n_tokens} tokens under stage '{stage.label}', "
                f"longer than the model's context of {context}"
            )
        encoded.append(item)
    return TokenizedStage(stage, tokenizer, input_format, tuple(encoded))


def prepare_stage(tokenized: TokenizedStage, sequences, settings: ExtractionSettings, dtype: str) -> PreparedStage:
    """Align every tokenized sequence of one stage, then key each entry."""
    stage, tokenizer, input_format = tokenized.stage, tokenized.tokenizer, tokenized.input_format
    aligned = [align_encoded(sequence, item, tokenizer) for sequence, item in zip(sequences, tokenized.encoded)]
    # Lengths were checked with the tokenizer alone: hashing a 7B checkpoint's weights takes minutes.
    fingerprint = checkpoint_fingerprint(stage)
    tokenizer_hash = compute_tokenizer_hash(tokenizer)
    keys = [_entry_key(fingerprint, tokenizer_hash, item, sequence, settings, dtype, input_format)
            for item, sequence in zip(aligned, sequences)]
    return PreparedStage(stage, tokenizer, fingerprint, tokenizer_hash, tuple(aligned), tuple(keys), input_format)


def _encode_for_format(sequence: ConceptSequence, tokenizer, input_format: str) -> EncodedText:
    """Raw text with BOS, or the text inside the stage's chat template with spans moved along."""
    if input_format == "raw":
        return encode_text(tokenizer, sequence.text)
    rendered = tokenizer.apply_chat_template([{"role": "user", "content": sequence.text}], tokenize=False)
    shift = rendered.find(sequence.text)
    if shift < 0:
        raise InterpError(f"sequence '{sequence.id}': the chat template changes the text, so spans cannot be mapped")
    bos = getattr(tokenizer, "bos_token", None)
    writes_bos = bool(bos) and rendered.startswith(bos)
    return encode_text(tokenizer, rendered, char_shift=shift, add_special_tokens=not writes_bos)


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
