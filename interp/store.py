"""The results folder: a manifest plus, per stage × sequence, tokens, column sums and patterns.

Layout (DESIGN.md §4)::

    DIR/manifest.json
    DIR/entries/{stage}/{sequence}.colsums.npy    float32 [layers, heads, keys]
    DIR/entries/{stage}/{sequence}.patterns.npz   float16 lower triangles [layers, heads, n(n+1)/2]
    DIR/entries/{stage}/{sequence}.json           tokens, offsets, concept tokens, cache key

Column sums are enough to recompute the share of any span under any exclusion list, so every
view is computed from here without a model. The entry's JSON is written last and carries the
cache key: an entry whose JSON is present and whose key matches is complete and current.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, ValidationError

from interp.alignment import AlignedSequence
from interp.atomic import save_npy_atomic, save_npz_atomic, write_json_atomic
from interp.errors import InterpError
from interp.registry import ConceptSequence, sequence_from_item

SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
FORMAT_VERSION = 2


class StageRecord(BaseModel):
    """One stage as it was run: what was asked for, what was loaded, and whether it was.

    `fingerprint` identifies the weights (`sha256:<hex>` for a folder, `<hub id>@<commit>` for
    a hub model); `cached` is true when every entry of the stage came from an earlier run, so
    no model was loaded (then `device` is the device the run would have used).
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


class RunSettings(BaseModel):
    """The extraction settings a results folder was made with."""

    model_config = ConfigDict(extra="forbid")
    input_format: str
    keep_patterns: bool
    dtype: str
    device: str
    device_map: str | None = None


class RunManifest(BaseModel):
    """Provenance of a results folder; `complete` turns true once every entry is written.

    `sequences` are concept-file items (`interp.registry.sequence_item`), so a results folder
    carries its own concept set.
    """

    model_config = ConfigDict(extra="forbid")
    format_version: int = FORMAT_VERSION
    lineage: str
    reference: str
    stages: list[StageRecord]
    sequences: list[dict[str, Any]]
    settings: RunSettings
    concept_set_hash: str
    packages: dict[str, str]
    created: str
    updated: str
    complete: bool = False

    @property
    def stage_labels(self) -> list[str]:
        return [stage.label for stage in self.stages]

    @property
    def sequence_ids(self) -> list[str]:
        return [item["id"] for item in self.sequences]

    def concept_sequences(self) -> list[ConceptSequence]:
        return [sequence_from_item(item, f"manifest, sequence {number}") for number, item in enumerate(self.sequences, 1)]


class ResultsStore:
    """Reads and writes one results folder."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        self._opened: tuple[int, RunManifest] | None = None

    @property
    def manifest_path(self) -> Path:
        return self.folder / "manifest.json"

    def write_manifest(self, manifest: RunManifest) -> None:
        write_json_atomic(self.manifest_path, manifest.model_dump(mode="json"))
        self._opened = None

    def read_manifest(self) -> RunManifest:
        """The manifest, or a one-line `InterpError` when the folder is not a results folder."""
        if not self.folder.is_dir():
            raise InterpError(f"{self.folder}: no such results folder")
        if not self.manifest_path.is_file():
            raise InterpError(f"{self.folder}: not a results folder (no manifest.json); run `python -m interp extract` first")
        try:
            document = json.loads(self.manifest_path.read_text("utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise InterpError(f"{self.manifest_path}: corrupt manifest ({error})") from None
        version = document.get("format_version") if isinstance(document, dict) else None
        if version != FORMAT_VERSION:
            raise InterpError(
                f"{self.manifest_path}: field 'format_version': {version!r}, but this version of the tool reads "
                f"{FORMAT_VERSION}; run the same `extract` command again to remake the folder"
            )
        try:
            return RunManifest.model_validate(document)
        except ValidationError as error:
            first = error.errors()[0]
            where = ".".join(str(part) for part in first["loc"])
            raise InterpError(f"{self.manifest_path}: field '{where}': {first['msg'].lower()}") from None

    def open(self) -> RunManifest:
        """The manifest of a finished run; names the first missing entry of an unfinished one.

        The check of every entry is remembered until `manifest.json` changes: views call this
        for each figure, and an export builds a hundred figures from one folder.
        """
        version = self.manifest_path.stat().st_mtime_ns if self.manifest_path.is_file() else None
        if self._opened is not None and self._opened[0] == version:
            return self._opened[1]
        manifest = self.read_manifest()
        for stage in manifest.stage_labels:
            for sequence_id in manifest.sequence_ids:
                if not self.has_entry(stage, sequence_id):
                    raise InterpError(
                        f"{self.folder}: incomplete results: stage '{stage}', sequence '{sequence_id}' is missing "
                        "or damaged; run the same `extract` command again to finish it"
                    )
        self._opened = (version, manifest)
        return manifest

    def entry_path(self, stage: str, sequence_id: str, suffix: str) -> Path:
        for name in (stage, sequence_id):
            if not SAFE_NAME.fullmatch(name):
                raise InterpError(f"{self.folder}: {name!r} cannot name a stored entry (use letters, digits, '.', '-', '_')")
        return self.folder / "entries" / stage / f"{sequence_id}{suffix}"

    def has_entry(self, stage: str, sequence_id: str, key: str | None = None) -> bool:
        """True when the entry is complete, and (with `key`) was made with the same inputs."""
        record = self._read_entry_json(stage, sequence_id)
        if record is None or (key is not None and record.get("key") != key):
            return False
        if not self.entry_path(stage, sequence_id, ".colsums.npy").is_file():
            return False
        return not record.get("has_patterns") or self.entry_path(stage, sequence_id, ".patterns.npz").is_file()

    def write_entry(
        self, stage: str, aligned: AlignedSequence, colsums: np.ndarray, patterns: np.ndarray | None, key: str,
    ) -> None:
        """Arrays first, the JSON last: the JSON marks the entry complete."""
        sequence_id = aligned.sequence_id
        save_npy_atomic(self.entry_path(stage, sequence_id, ".colsums.npy"), colsums.astype(np.float32))
        if patterns is not None:
            save_npz_atomic(self.entry_path(stage, sequence_id, ".patterns.npz"), lower=patterns.astype(np.float16))
        record = aligned_record(aligned) | {"key": key, "has_patterns": patterns is not None}
        write_json_atomic(self.entry_path(stage, sequence_id, ".json"), record)

    def read_aligned(self, stage: str, sequence_id: str) -> AlignedSequence:
        record = self._read_entry_json(stage, sequence_id)
        if record is None:
            raise InterpError(f"{self.folder}: stage '{stage}', sequence '{sequence_id}' is not in this results folder")
        return aligned_from_record(record)

    def read_colsums(self, stage: str, sequence_id: str) -> np.ndarray:
        """Column sums `[layers, heads, keys]`, float32."""
        return self._load_npy(self.entry_path(stage, sequence_id, ".colsums.npy"))

    def has_patterns(self, stage: str, sequence_id: str) -> bool:
        record = self._read_entry_json(stage, sequence_id)
        return bool(record and record.get("has_patterns"))

    def read_patterns(self, stage: str, sequence_id: str) -> np.ndarray:
        """Packed lower triangles `[layers, heads, n(n+1)/2]`, float16 (see `unpack_lower_triangle`)."""
        path = self.entry_path(stage, sequence_id, ".patterns.npz")
        if not path.is_file():
            raise InterpError(f"{self.folder}: no attention patterns for stage '{stage}', sequence '{sequence_id}' (extracted with --no-patterns?)")
        try:
            with np.load(path, allow_pickle=False) as archive:
                return archive["lower"]
        except (OSError, ValueError, KeyError) as error:
            raise InterpError(f"{path}: damaged patterns file ({error})") from None

    def bytes_of_entry(self, stage: str, sequence_id: str) -> int:
        suffixes = (".colsums.npy", ".patterns.npz", ".json")
        return sum(p.stat().st_size for p in (self.entry_path(stage, sequence_id, s) for s in suffixes) if p.is_file())

    def _read_entry_json(self, stage: str, sequence_id: str) -> dict[str, Any] | None:
        path = self.entry_path(stage, sequence_id, ".json")
        if not path.is_file():
            return None
        try:
            return json.loads(path.read_text("utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError):
            return None

    def _load_npy(self, path: Path) -> np.ndarray:
        try:
            return np.load(path, allow_pickle=False)
        except (OSError, ValueError) as error:
            raise InterpError(f"{path}: damaged or missing array ({error})") from None


def aligned_record(aligned: AlignedSequence) -> dict[str, Any]:
    return {
        "sequence_id": aligned.sequence_id,
        "tokens": list(aligned.tokens),
        "token_ids": list(aligned.token_ids),
        "offsets": [list(pair) for pair in aligned.offsets],
        "span_tokens": [list(run) for run in aligned.span_tokens],
        "straddling": list(aligned.straddling),
        "has_bos": aligned.has_bos,
    }


def aligned_from_record(record: dict[str, Any]) -> AlignedSequence:
    tokens = tuple(record["tokens"])
    concept_mask = np.zeros(len(tokens), dtype=bool)
    for run in record["span_tokens"]:
        concept_mask[run] = True
    return AlignedSequence(
        sequence_id=record["sequence_id"],
        tokens=tokens,
        token_ids=tuple(record["token_ids"]),
        offsets=tuple(tuple(pair) for pair in record["offsets"]),
        concept_mask=concept_mask,
        span_tokens=tuple(tuple(run) for run in record["span_tokens"]),
        straddling=tuple(record["straddling"]),
        has_bos=record["has_bos"],
    )


def unpack_lower_triangle(packed: np.ndarray, n: int) -> np.ndarray:
    """`[..., n*(n+1)//2]` lower triangles back to float32 `[..., n, n]` with zeros above."""
    if packed.shape[-1] != n * (n + 1) // 2:
        expected = n * (n + 1) // 2
        raise InterpError(f"packed patterns hold {packed.shape[-1]} values per head, expected {expected} for n={n}")
    square = np.zeros((*packed.shape[:-1], n, n), dtype=np.float32)
    rows, cols = np.tril_indices(n)
    square[..., rows, cols] = packed
    return square
