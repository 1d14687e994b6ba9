"""The results folder: a manifest plus, per stage × sequence, an entry (see `interp.store.entries`).

Layout (docs/design.md §6)::

    DIR/manifest.json
    DIR/entries/{stage}/{sequence}.json           tokens, offsets, concept tokens, cache key, digests
    DIR/entries/{stage}/{sequence}.colsums.npy    float32 [layers, heads, keys]
    DIR/entries/{stage}/{sequence}.norms.npy      float32 [layers, heads, keys]
    DIR/entries/{stage}/{sequence}.spans.npy      float32 [layers, heads, spans, spans]
    DIR/entries/{stage}/{sequence}.patterns.npy   float16 window or lower triangle (optional)

Column sums are enough to recompute the share of any span under any exclusion list, so every
view is computed from here without a model. Every array's digest is written with it and checked
when it is read: an array changed or damaged on disk is an error naming the stage and sequence,
never a silently different number. A run that stopped early says what is missing.
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from interp.concepts.alignment import AlignedSequence
from interp.concepts.files import ConceptSequence, sequence_from_item
from interp.core.atomic import write_json_atomic
from interp.core.boundary import is_store_name
from interp.core.digests import bytes_digest, file_digest
from interp.core.errors import InterpError, Where
from interp.core.locks import LOCK_NAME, is_locked
from interp.store.entries import (
    ARRAYS,
    EntryRecord,
    EntryWriter,
    PatternLayout,
    parse_entry_record,
)
from interp.store.shards import MAX_SHARDS

FORMAT_VERSION = 3
# The lock file an extraction or a merge holds while it writes a results folder, and the manifest's name.
WRITER_LOCK = LOCK_NAME
MANIFEST = "manifest.json"
SUFFIXES = {"record": ".json", "colsums": ".colsums.npy", "norms": ".norms.npy", "spans": ".spans.npy",
            "patterns": ".patterns.npy"}


class StageRecord(BaseModel):
    """One stage as it was run: what was asked for, what was loaded, and whether it was.

    `fingerprint` identifies the weights (`sha256:<hex>` for a folder, `<hub id>@<commit>` for
    a hub model); `cached` is true when every entry of the stage came from an earlier run, so
    no model was loaded (then `device` is the device the run would have used); `route` is how
    attention was read ("lean": blockwise, or "pattern": the bridge's hook_pattern).
    """

    model_config = ConfigDict(extra="forbid")
    label: str
    model: str
    revision: str | None = None
    checkpoint: str
    fingerprint: str
    tokenizer_hash: str
    n_layers: int
    n_heads: int
    dtype: str
    device: str
    cached: bool = False
    route: str = "lean"


class RunSettings(BaseModel):
    """The extraction settings a results folder was made with."""

    model_config = ConfigDict(extra="forbid")
    input_format: str
    patterns: str
    dtype: str
    device: str
    device_map: str | None = None
    threads: int | None = None


# ---------------------------------------------------------------- shards (`extract --shard`, `merge`)

class ShardOf(BaseModel):
    """This folder holds shard `index` of `count` (`extract --shard I/N`): the sequences at
    positions `index - 1`, `index - 1 + count`, ... of a concept set of `sequences_in_all`
    sequences whose `concept_set_hash` is `concept_set_hash_in_all`."""

    model_config = ConfigDict(extra="forbid")
    index: int = Field(ge=1)
    count: int = Field(ge=1, le=MAX_SHARDS)
    sequences_in_all: int = Field(ge=1)
    concept_set_hash_in_all: str


class ShardRecord(BaseModel):
    """One shard a merged folder was put together from: where it was, what it held, how it ran."""

    model_config = ConfigDict(extra="forbid")
    index: int = Field(ge=1)
    count: int = Field(ge=1, le=MAX_SHARDS)
    folder: str
    sequences: list[str]
    executor: str
    settings: RunSettings
    devices: dict[str, str]
    packages: dict[str, str]
    created: str
    updated: str


class RunManifest(BaseModel):
    """Provenance of a results folder; `complete` turns true once every entry is written.

    `planned_stages` are the lineage's stages, `stages` those finished so far; `sequences` are
    concept-file items (`interp.concepts.files.sequence_item`), so a folder carries its own concept set,
    in the Unicode normal form `text_normalisation` that the concept files were read in.
    `executor` ran the extraction (`interp.extraction.executors`); `shard` is set in a shard's folder,
    `shards` in a folder merged from shards (`interp.store.merge`).
    """

    model_config = ConfigDict(extra="forbid")
    format_version: int = FORMAT_VERSION
    lineage: str
    reference: str
    planned_stages: list[str]
    stages: list[StageRecord]
    sequences: list[dict[str, Any]]
    settings: RunSettings
    concept_set_hash: str
    text_normalisation: str
    packages: dict[str, str]
    created: str
    updated: str
    complete: bool = False
    executor: str = "local"
    shard: ShardOf | None = None
    shards: list[ShardRecord] = []

    @property
    def stage_labels(self) -> list[str]:
        return [stage.label for stage in self.stages]

    @property
    def sequence_ids(self) -> list[str]:
        return [item["id"] for item in self.sequences]

    def concept_sequences(self, origin: str = "manifest") -> list[ConceptSequence]:
        """The run's sequences; `origin` (the manifest's path) starts any error about one of them."""
        return [sequence_from_item(item, Where(origin, item=f"sequence {number}"))
                for number, item in enumerate(self.sequences, 1)]


@dataclass(frozen=True)
class StoredPatterns:
    """An entry's patterns, memory-mapped: `values` as `PatternLayout` says, for `n` tokens."""

    layout: PatternLayout
    n: int
    values: np.ndarray

    @property
    def extent(self) -> tuple[int, int]:
        """The token positions `[start, end)` whose rows and columns are stored."""
        return (self.layout.start, self.layout.end) if self.layout.kind == "window" else (0, self.n)

    def head(self, layer: int, head: int, window: tuple[int, int] | None = None) -> np.ndarray:
        """One head's pattern as float32 `[w, w]` over token positions `window` (default: the
        whole `extent`), read from the file without unpacking more than those rows."""
        layers, heads = self.values.shape[:2]
        if not (0 <= layer < layers and 0 <= head < heads):
            raise InterpError(f"layer {layer}, head {head} is outside this model ({layers} layers, {heads} heads)")
        low, high = self.extent
        start, end = window or (low, high)
        if not low <= start < end <= high:
            raise InterpError(f"tokens {start}–{end - 1} lie outside the stored patterns (tokens {low}–{high - 1})")
        if self.layout.kind == "window":
            return np.asarray(self.values[layer, head, start - low:end - low, start - low:end - low], dtype=np.float32)
        block = np.zeros((end - start, end - start), dtype=np.float32)
        packed = self.values[layer, head]
        for row in range(start, end):
            offset = row * (row + 1) // 2
            block[row - start, :min(row + 1, end) - start] = packed[offset + start:offset + min(row + 1, end)]
        return block


class ResultsStore:
    """Reads and writes one results folder."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        self._opened: tuple[tuple, RunManifest] | None = None
        self._verified: dict[Path, tuple[int, int]] = {}
        self._entry_paths: dict[tuple[str, str], dict[str, Path]] = {}
        # Parsed records by path, with the (mtime_ns, size) they were read at: a rewritten entry
        # is read again, an unchanged one is parsed once however many readers ask.
        self._records: dict[Path, tuple[tuple[int, int], EntryRecord]] = {}

    @property
    def manifest_path(self) -> Path:
        return self.folder / MANIFEST

    def write_manifest(self, manifest: RunManifest) -> None:
        write_json_atomic(self.manifest_path, manifest.model_dump(mode="json"))
        self._opened = None

    def read_manifest(self) -> RunManifest:
        """The manifest, or a one-line `InterpError` when the folder is not a results folder."""
        if not self.folder.is_dir():
            raise InterpError(f"{self.folder}: no such results folder")
        if not self.manifest_path.is_file():
            # An extraction writes its manifest before any entry, a merge after every entry: entries
            # without a manifest are a merge that is still at work or was stopped.
            if (self.folder / "entries").is_dir():
                if is_locked(self.folder, WRITER_LOCK):
                    raise InterpError(f"{self.folder}: a merge is writing this folder (no manifest.json yet); "
                                      "wait for it to finish")
                raise InterpError(f"{self.folder}: an interrupted merge (entries but no manifest.json): run the same "
                                  "`python -m interp merge` command again")
            raise InterpError(f"{self.folder}: not a results folder (no manifest.json); run `python -m interp extract` first")
        try:
            document = json.loads(self.manifest_path.read_text("utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as error:
            raise InterpError(f"{self.manifest_path}: corrupt manifest ({type(error).__name__})") from None
        version = document.get("format_version") if isinstance(document, dict) else None
        if version != FORMAT_VERSION:
            raise InterpError(
                f"{self.manifest_path}: field 'format_version': {version!r}, but this version of the tool reads "
                f"{FORMAT_VERSION}; run the same `extract` command again to remake the folder"
            )
        try:
            manifest = RunManifest.model_validate(document)
        except ValidationError as error:
            first = error.errors()[0]
            where = ".".join(str(part) for part in first["loc"])
            raise InterpError(f"{self.manifest_path}: field '{where}': {first['msg'].lower()}") from None
        if not manifest.sequences:
            raise InterpError(f"{self.manifest_path}: field 'sequences': the run holds no sequences")
        manifest.concept_sequences(str(self.manifest_path))  # each item checked once, as a concept file would be
        return manifest

    def open(self, partial: bool = False) -> RunManifest:
        """The manifest of a finished run, every entry checked to be there.

        A run that stopped early (`complete` false, or an entry missing) is an error that says
        what is missing, unless `partial`: then the manifest is returned and `missing` lists the
        gaps. The check is remembered until `manifest.json` changes: views call this for each
        figure, and an export builds hundreds of figures from one folder.
        """
        stat = self.manifest_path.stat() if self.manifest_path.is_file() else None
        version = (stat.st_mtime_ns, stat.st_size) if stat else None
        if self._opened is not None and self._opened[0] == (version, partial):
            return self._opened[1]
        manifest = self.read_manifest()
        if not partial:
            gaps = self.missing(manifest)
            if gaps:
                raise InterpError(f"{self.folder}: incomplete results: {describe_missing(gaps)}; run the same "
                                  "`extract` command again to finish it (or read what is there with --partial)")
        self._opened = ((version, partial), manifest)
        return manifest

    def missing(self, manifest: RunManifest) -> list[tuple[str, str]]:
        """(stage, sequence) of every entry the run planned that is not complete."""
        return [(stage, sequence_id) for stage in manifest.planned_stages for sequence_id in manifest.sequence_ids
                if stage not in manifest.stage_labels or not self.has_entry(stage, sequence_id)]

    def entry_path(self, stage: str, sequence_id: str, suffix: str) -> Path:
        for name in (stage, sequence_id):
            if not is_store_name(name):
                raise InterpError(f"{self.folder}: {name!r} cannot name a stored entry (letters, digits, '.', '-', '_', "
                                  "starting with a letter or digit, at most 100 characters)")
        return self.folder / "entries" / stage / f"{sequence_id}{suffix}"

    def _paths(self, stage: str, sequence_id: str) -> dict[str, Path]:
        paths = self._entry_paths.get((stage, sequence_id))
        if paths is None:
            paths = {name: self.entry_path(stage, sequence_id, suffix) for name, suffix in SUFFIXES.items()}
            self._entry_paths[stage, sequence_id] = paths
        return paths

    def has_entry(self, stage: str, sequence_id: str, key: str | None = None,
                  span_tokens: Sequence[Sequence[int]] | None = None) -> bool:
        """True when the entry's record and arrays are there, and (with `key` and `span_tokens`)
        it was made with the same inputs and marks the same tokens as the spans: the key covers
        the text, not the spans, whose tokens fix the span attention and the pattern window.
        Contents are checked when they are read."""
        try:
            record = self.read_record(stage, sequence_id)
        except InterpError:
            return False
        if key is not None and record.key != key:
            return False
        if span_tokens is not None and record.span_tokens != [list(run) for run in span_tokens]:
            return False
        paths = self._paths(stage, sequence_id)
        return all(paths[array].is_file() for array in record.digests)

    def entry_writer(self, stage: str, aligned: AlignedSequence, layers: int, heads: int,
                     layout: PatternLayout) -> EntryWriter:
        """A writer for one entry; its record is written last, by `EntryWriter.finish`."""
        paths = self._paths(stage, aligned.sequence_id)
        return EntryWriter({name: paths[name] for name in ARRAYS}, paths["record"], aligned, layers, heads, layout)

    def read_record(self, stage: str, sequence_id: str) -> EntryRecord:
        path = self._paths(stage, sequence_id)["record"]
        try:
            status = path.stat()
        except OSError:
            raise InterpError(f"{self.folder}: stage '{stage}', sequence '{sequence_id}' is not in this results folder") from None
        version = (status.st_mtime_ns, status.st_size)
        known = self._records.get(path)
        if known is not None and known[0] == version:
            return known[1]
        try:
            document = json.loads(path.read_text("utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as error:
            raise InterpError(f"{path}: damaged entry record ({type(error).__name__})") from None
        except OSError as error:
            raise InterpError(f"{path}: cannot be read: {error.strerror}") from None
        record = parse_entry_record(document, path)
        self._records[path] = (version, record)
        return record

    def read_aligned(self, stage: str, sequence_id: str) -> AlignedSequence:
        return self.read_record(stage, sequence_id).aligned()

    def read_colsums(self, stage: str, sequence_id: str) -> np.ndarray:
        """Column sums `[layers, heads, keys]`, float32, checked against their digest."""
        return self._read_array(stage, sequence_id, "colsums")

    def read_norms(self, stage: str, sequence_id: str) -> np.ndarray:
        """Transformed-value norms `‖v_k W_O^h‖` `[layers, heads, keys]`, float32, checked."""
        return self._read_array(stage, sequence_id, "norms")

    def read_span_attention(self, stage: str, sequence_id: str) -> np.ndarray:
        """Span × span attention `[layers, heads, spans, spans]`, float32, checked."""
        return self._read_array(stage, sequence_id, "spans")

    def has_patterns(self, stage: str, sequence_id: str) -> bool:
        return self.read_record(stage, sequence_id).patterns.kind != "none"

    def read_patterns(self, stage: str, sequence_id: str) -> StoredPatterns:
        """The entry's stored patterns, memory-mapped (checked once per file version)."""
        record = self.read_record(stage, sequence_id)
        if record.patterns.kind == "none":
            raise InterpError(f"{self.folder}: no attention patterns for stage '{stage}', sequence '{sequence_id}' "
                              "(extracted with --patterns none)")
        path = self._paths(stage, sequence_id)["patterns"]
        where = f"stage '{stage}', sequence '{sequence_id}'"
        self._verify(path, record, "patterns", where)
        try:
            values = np.load(path, mmap_mode="r", allow_pickle=False)
        except (OSError, ValueError) as error:
            raise InterpError(f"{path}: damaged patterns ({where}): {error}") from None
        self._check_shape(values, record, "patterns", path, where)
        return StoredPatterns(record.patterns, record.n_tokens, values)

    def bytes_of_entry(self, stage: str, sequence_id: str) -> int:
        return sum(p.stat().st_size for p in self._paths(stage, sequence_id).values() if p.is_file())

    def _read_array(self, stage: str, sequence_id: str, array: str) -> np.ndarray:
        record = self.read_record(stage, sequence_id)
        path = self._paths(stage, sequence_id)[array]
        where = f"stage '{stage}', sequence '{sequence_id}'"
        if array not in record.digests:
            raise InterpError(f"{self.folder}: {where} has no {array} (made by another version of the tool?)")
        try:
            data = path.read_bytes()
        except OSError as error:
            raise InterpError(f"{path}: cannot be read ({where}): {error.strerror}") from None
        if bytes_digest(data) != record.digests[array]:
            raise InterpError(f"{path}: changed or damaged since it was written ({where}); run `extract` again")
        try:
            values = np.load(io.BytesIO(data), allow_pickle=False)
        except (OSError, ValueError) as error:
            raise InterpError(f"{path}: not a readable array ({where}): {error}") from None
        self._check_shape(values, record, array, path, where)
        if not np.isfinite(values).all():
            raise InterpError(f"{path}: holds {int((~np.isfinite(values)).sum())} non-finite values ({where})")
        return values

    def _verify(self, path: Path, record: EntryRecord, array: str, where: str) -> None:
        """Check a large file's digest once per version (size and time) of the file."""
        try:
            stat = path.stat()
        except OSError:
            raise InterpError(f"{path}: missing ({where}); run `extract` again") from None
        version = (stat.st_mtime_ns, stat.st_size)
        if self._verified.get(path) == version:
            return
        if file_digest(path) != record.digests.get(array):
            raise InterpError(f"{path}: changed or damaged since it was written ({where}); run `extract` again")
        self._verified[path] = version

    @staticmethod
    def _check_shape(values: np.ndarray, record: EntryRecord, array: str, path: Path, where: str) -> None:
        expected = record.expected_shape(array)
        if values.shape != expected:
            raise InterpError(f"{path}: shape {values.shape}, expected {expected} ({where})")


def describe_missing(gaps: list[tuple[str, str]]) -> str:
    """A short account of missing entries: per stage, how many sequences and the first one."""
    by_stage: dict[str, list[str]] = {}
    for stage, sequence_id in gaps:
        by_stage.setdefault(stage, []).append(sequence_id)
    return "; ".join(f"stage '{stage}' lacks {len(ids)} sequence(s) (first: '{ids[0]}')" for stage, ids in by_stage.items())


def unpack_lower_triangle(packed: np.ndarray, n: int) -> np.ndarray:
    """`[..., n*(n+1)//2]` lower triangles back to float32 `[..., n, n]` with zeros above."""
    if packed.shape[-1] != n * (n + 1) // 2:
        expected = n * (n + 1) // 2
        raise InterpError(f"packed patterns hold {packed.shape[-1]} values per head, expected {expected} for n={n}")
    square = np.zeros((*packed.shape[:-1], n, n), dtype=np.float32)
    rows, cols = np.tril_indices(n)
    square[..., rows, cols] = packed
    return square
