"""Entries of earlier runs, reused: what was extracted once is linked into a new run, not extracted again (design §6.10).

An entry's key (`interp.extraction.plan`) covers the checkpoint's weights, the tokenizer, the
text and its token ids, the dtype, the input format, the pattern setting and the store's format;
with the same span tokens too, two entries hold the same arrays whatever run, stage label or
sequence id they were made under. A run looks for them in the results folders beside its own (the
app's runs folder; for `extract`, the folder that holds `--out`, or the folders `--reuse` names),
found through their manifests: a stage of the same weights and tokenizer, a sequence of the same
text. Each found entry's arrays are checked against their digests and hard-linked into the new
folder (copied across filesystems, or where the file's mode is not the one the umask gives),
then its record is written under the new run's stage and sequence. A results folder stays whole
on its own: no symbolic link, nothing that breaks when the earlier run is deleted.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from interp.concepts.alignment import AlignedSequence
from interp.core.atomic import link_or_copy, write_json_atomic
from interp.core.digests import file_digest
from interp.core.errors import InterpError
from interp.store.entries import EntryRecord, aligned_record
from interp.store.folder import MANIFEST, SUFFIXES, ResultsStore, RunManifest


@dataclass(frozen=True)
class WantedEntry:
    """An entry a run lacks: its stage (label, weights, tokenizer), the sequence as that stage
    tokenizes it, the text, and the cache key."""

    stage: str
    fingerprint: str
    tokenizer_hash: str
    aligned: AlignedSequence
    text: str
    key: str


@dataclass(frozen=True)
class EarlierRun:
    """A results folder that may hold wanted entries: its stages by (weights, tokenizer), its
    sequence ids by text."""

    store: ResultsStore
    stages: dict[tuple[str, str], str]
    sequences: dict[str, list[str]]

    @classmethod
    def of(cls, store: ResultsStore, manifest: RunManifest) -> EarlierRun:
        sequences: dict[str, list[str]] = {}
        for item in manifest.sequences:
            sequences.setdefault(item["text"], []).append(item["id"])
        stages = {(record.fingerprint, record.tokenizer_hash): record.label for record in manifest.stages}
        return cls(store, stages, sequences)

    def candidates(self, wanted: WantedEntry) -> Iterator[tuple[str, str]]:
        """(stage, sequence) of this run that may hold the wanted entry."""
        label = self.stages.get((wanted.fingerprint, wanted.tokenizer_hash))
        if label is not None:
            for sequence_id in self.sequences.get(wanted.text, ()):
                yield label, sequence_id


def earlier_runs(places: Sequence[str | Path], exclude: Path) -> list[EarlierRun]:
    """The results folders among `places` and in them (one level down), newest first, except
    `exclude` (the run being written); folders whose manifest does not read are passed over."""
    found: dict[Path, float] = {}
    for place in map(Path, places):
        for folder in [place, *_subfolders(place)]:
            manifest = folder / MANIFEST
            try:
                found.setdefault(folder.resolve(), manifest.stat().st_mtime)
            except OSError:
                continue
    found.pop(exclude.resolve(), None)
    runs = []
    for folder in sorted(found, key=found.get, reverse=True):
        store = ResultsStore(folder)
        try:
            runs.append(EarlierRun.of(store, store.read_manifest()))
        except InterpError:
            continue
    return runs


def _subfolders(place: Path) -> list[Path]:
    try:
        return [Path(entry.path) for entry in os.scandir(place) if entry.is_dir() and not entry.name.startswith(".")]
    except OSError:
        return []


def reuse_entries(store: ResultsStore, wanted: Sequence[WantedEntry], places: Sequence[str | Path]) -> list[WantedEntry]:
    """Link every wanted entry that an earlier run among `places` holds into `store`; the ones linked.

    Call it holding `store`'s writer lock. An earlier entry whose files are missing or differ
    from their digests is passed over (the entry is then extracted), never copied."""
    if not wanted:
        return []
    runs = earlier_runs(places, store.folder)
    reused = []
    for entry in wanted:
        for run in runs:
            if any(_reuse(run.store, stage, sequence_id, store, entry) for stage, sequence_id in run.candidates(entry)):
                reused.append(entry)
                break
    return reused


def _reuse(source: ResultsStore, stage: str, sequence_id: str, target: ResultsStore, entry: WantedEntry) -> bool:
    """Link one earlier entry into `target` as `entry`, if it is the same entry and whole."""
    try:
        record = source.read_record(stage, sequence_id)
    except InterpError:
        return False
    if record.key != entry.key or record.span_tokens != [list(run) for run in entry.aligned.span_tokens]:
        return False
    paths = {array: source.entry_path(stage, sequence_id, SUFFIXES[array]) for array in record.digests}
    try:
        if any(file_digest(path) != record.digests[array] for array, path in paths.items()):
            return False
        for array, path in paths.items():
            link_or_copy(path, target.entry_path(entry.stage, entry.aligned.sequence_id, SUFFIXES[array]))
    except OSError:
        return False  # the earlier run was moved or deleted meanwhile
    write_json_atomic(target.entry_path(entry.stage, entry.aligned.sequence_id, SUFFIXES["record"]),
                      _record(entry.aligned, record))
    return True


def _record(aligned: AlignedSequence, earlier: EntryRecord) -> dict:
    """The record of a reused entry: this run's sequence (its id, its spans' straddling tokens),
    the earlier entry's key, shape, pattern layout and digests."""
    return aligned_record(aligned) | {
        "key": earlier.key, "layers": earlier.layers, "heads": earlier.heads,
        "patterns": {"kind": earlier.patterns.kind, "start": earlier.patterns.start, "end": earlier.patterns.end},
        "digests": earlier.digests,
    }
