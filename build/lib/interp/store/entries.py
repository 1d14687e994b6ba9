"""One stored entry (a stage × a sequence): its record, its arrays and how they are written.

An entry is a JSON record (tokens, offsets, concept tokens, cache key, what patterns were kept,
the digest of every array) and the arrays beside it:

    {sequence}.colsums.npy    float32 [layers, heads, keys]
    {sequence}.norms.npy      float32 [layers, heads, keys]   ‖v_k W_O^h‖, for norm-weighted shares
    {sequence}.spans.npy      float32 [layers, heads, spans, spans]  span × span attention
    {sequence}.patterns.npy   float16 [layers, heads, w, w] (a window) or [layers, heads, n(n+1)/2]

Patterns are written layer by layer into a memory-mapped file as the model produces them, so no
more than one layer's patterns are ever in memory; the record is written last and marks the
entry complete.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from interp.concepts.alignment import AlignedSequence
from interp.core.atomic import save_npy_atomic, write_json_atomic
from interp.core.digests import file_digest
from interp.core.errors import InterpError

ARRAYS = ("colsums", "norms", "spans", "patterns")


@dataclass(frozen=True)
class PatternLayout:
    """Which part of each head's `[n, n]` pattern an entry keeps: "window" (rows and columns
    `[start, end)`), "full" (the lower triangle) or "none"."""

    kind: str = "none"
    start: int = 0
    end: int = 0

    def shape(self, layers: int, heads: int, n: int) -> tuple[int, ...] | None:
        if self.kind == "window":
            return (layers, heads, self.end - self.start, self.end - self.start)
        if self.kind == "full":
            return (layers, heads, n * (n + 1) // 2)
        return None


class EntryRecord(BaseModel):
    """The JSON record of an entry, checked for consistency when it is read."""

    model_config = ConfigDict(extra="forbid", frozen=True)  # shared by the store's record cache
    sequence_id: str
    tokens: list[str]
    token_ids: list[int]
    offsets: list[tuple[int, int]]
    span_tokens: list[list[int]]
    straddling: list[int]
    has_bos: bool
    key: str
    layers: int
    heads: int
    patterns: PatternLayout
    digests: dict[str, str]

    @model_validator(mode="after")
    def _consistent(self) -> EntryRecord:
        n = len(self.tokens)
        if not n or len(self.token_ids) != n or len(self.offsets) != n:
            raise ValueError(f"tokens, token ids and offsets must be non-empty and of one length, "
                             f"got {n}, {len(self.token_ids)}, {len(self.offsets)}")
        if not self.span_tokens or any(not run or min(run) < 0 or max(run) >= n for run in self.span_tokens):
            raise ValueError(f"span token indices must be non-empty and lie in 0..{n - 1}")
        if any(index < 0 or index >= n for index in self.straddling):
            raise ValueError(f"straddling token indices must lie in 0..{n - 1}")
        layout = self.patterns
        if layout.kind not in ("window", "full", "none") or (
                layout.kind == "window" and not 0 <= layout.start < layout.end <= n):
            raise ValueError(f"pattern layout {layout} does not fit {n} tokens")
        if self.layers < 1 or self.heads < 1:
            raise ValueError("layers and heads must be positive")
        return self

    @property
    def n_tokens(self) -> int:
        return len(self.tokens)

    def expected_shape(self, array: str) -> tuple[int, ...] | None:
        if array in ("colsums", "norms"):
            return (self.layers, self.heads, self.n_tokens)
        if array == "spans":
            return (self.layers, self.heads, len(self.span_tokens), len(self.span_tokens))
        return self.patterns.shape(self.layers, self.heads, self.n_tokens)

    def aligned(self) -> AlignedSequence:
        concept_mask = np.zeros(self.n_tokens, dtype=bool)
        for run in self.span_tokens:
            concept_mask[run] = True
        return AlignedSequence(
            sequence_id=self.sequence_id, tokens=tuple(self.tokens), token_ids=tuple(self.token_ids),
            offsets=tuple(tuple(pair) for pair in self.offsets), concept_mask=concept_mask,
            span_tokens=tuple(tuple(run) for run in self.span_tokens), straddling=tuple(self.straddling),
            has_bos=self.has_bos,
        )


def parse_entry_record(document: Any, path: Path) -> EntryRecord:
    """Validate an entry's JSON; a damaged record is one `InterpError` naming the file."""
    try:
        return EntryRecord.model_validate(document)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "record"
        raise InterpError(f"{path}: damaged entry record, field '{where}': {first['msg'].lower()}") from None


class EntryWriter:
    """Writes one entry while it is produced: patterns layer by layer, then the rest.

    `write_layer` is called from the extraction as each layer finishes; `finish` (which may run
    on another thread, overlapping the next sequence's forward pass) writes the small arrays,
    the digests and, last, the record. `discard` removes what an interrupted entry left.
    """

    def __init__(self, paths: dict[str, Path], record_path: Path, aligned: AlignedSequence,
                 layers: int, heads: int, layout: PatternLayout):
        self.paths, self.record_path, self.aligned = paths, record_path, aligned
        self.layers, self.heads, self.layout = layers, heads, layout
        self._temporary: Path | None = None
        self._patterns: np.memmap | None = None
        shape = layout.shape(layers, heads, aligned.n_tokens)
        if shape is not None:
            target = paths["patterns"]
            target.parent.mkdir(parents=True, exist_ok=True)
            self._temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
            self._patterns = np.lib.format.open_memmap(self._temporary, mode="w+", dtype=np.float16, shape=shape)

    def write_layer(self, layer: int, patterns: np.ndarray) -> None:
        """One layer's patterns `[heads, ...]` float16, as the layout says."""
        if self._patterns is None:
            raise InterpError("this entry keeps no patterns")
        self._patterns[layer] = patterns

    def finish(self, colsums: np.ndarray, norms: np.ndarray, spans: np.ndarray | None, key: str) -> None:
        """Arrays first, the record last: the record marks the entry complete."""
        digests = {"colsums": self._save(self.paths["colsums"], colsums.astype(np.float32)),
                   "norms": self._save(self.paths["norms"], norms.astype(np.float32))}
        if spans is not None:
            digests["spans"] = self._save(self.paths["spans"], spans.astype(np.float32))
        if self._patterns is not None:
            self._patterns.flush()
            del self._patterns
            self._patterns = None
            with open(self._temporary, "rb+") as handle:
                os.fsync(handle.fileno())
            os.replace(self._temporary, self.paths["patterns"])
            self._temporary = None
            digests["patterns"] = file_digest(self.paths["patterns"])
        record = aligned_record(self.aligned) | {
            "key": key, "layers": self.layers, "heads": self.heads,
            "patterns": {"kind": self.layout.kind, "start": self.layout.start, "end": self.layout.end},
            "digests": digests,
        }
        write_json_atomic(self.record_path, record)

    def discard(self) -> None:
        self._patterns = None
        if self._temporary is not None:
            self._temporary.unlink(missing_ok=True)

    @staticmethod
    def _save(path: Path, array: np.ndarray) -> str:
        save_npy_atomic(path, array)
        return file_digest(path)


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
