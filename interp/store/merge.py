"""Put the results folders of `extract --shard I/N` together into one results folder.

Each shard ran every stage over its part of the sequences (`interp.store.shards`) into its own folder.
The merge checks that the folders are the N shards of one run (one lineage, the same settings
and concept set, each stage from the same weights and tokenizer by their fingerprints), checks
every entry against its digests, and hard-links the entry files into the merged folder (copies
them where a link cannot cross filesystems). The merged manifest lists the sequences in the
order a plain run would and records every shard. An entry already in the merged folder must be
the same entry (key and digests): merging the same shards twice changes nothing, while shards of
another run are refused. No model and no torch are needed.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from interp.concepts.files import concept_set_hash, sequence_item
from interp.core.atomic import (
    STALE_TEMPORARY,
    check_output_folder,
    link_or_copy,
    remove_stale_temporaries,
)
from interp.core.digests import file_digest
from interp.core.errors import InterpError
from interp.core.locks import folder_lock
from interp.core.provenance import utc_now
from interp.store.entries import EntryRecord
from interp.store.folder import (
    SUFFIXES,
    WRITER_LOCK,
    ResultsStore,
    RunManifest,
    ShardRecord,
    StageRecord,
)
from interp.store.shards import interleave

BUSY = "another extraction or merge is writing to this results folder; wait for it to finish"
# What must agree between shards for their entries to belong to one run.
RUN_FIELDS = ("lineage", "reference", "planned_stages", "text_normalisation")
SETTING_FIELDS = ("input_format", "patterns")
STAGE_FIELDS = ("fingerprint", "tokenizer_hash", "n_layers", "n_heads", "dtype")


@dataclass(frozen=True)
class MergeOutcome:
    """The merged manifest, and how many entry files were linked, copied or found in place."""

    manifest: RunManifest
    linked: int
    copied: int
    present: int


def merge_shards(folders: Sequence[str | Path], out: str | Path) -> MergeOutcome:
    """Merge the N shard folders of one run into `out` (new, or an earlier merge of them)."""
    if not folders:
        raise InterpError("merge: give the results folders of the shards")
    check_output_folder(out)
    stores = [ResultsStore(folder) for folder in folders]
    target = ResultsStore(out)
    for store in stores:
        if store.folder.resolve() == target.folder.resolve():
            raise InterpError(f"--out {target.folder}: is one of the shards; merge into a new folder")
    shards = sorted(((store, _shard_manifest(store)) for store in stores), key=lambda pair: pair[1].shard.index)
    _check_one_run(shards)
    first = shards[0][1]
    sequences = interleave([manifest.concept_sequences() for _, manifest in shards])
    if concept_set_hash(sequences) != first.shard.concept_set_hash_in_all:
        raise InterpError("merge: the shards' sequences do not add up to the concept set they were cut from; "
                          "were all shards extracted from the same concept files in the same order?")
    counts = {"linked": 0, "copied": 0, "present": 0}
    if target.folder.is_dir():
        _check_target(target, first)  # before the lock file is made in a folder that is not ours
    with folder_lock(target.folder, WRITER_LOCK, BUSY):
        _check_target(target, first)
        remove_stale_temporaries(target.folder)  # of a merge that was stopped: we hold the lock now
        for store, manifest in shards:
            for stage in manifest.planned_stages:
                for sequence_id in manifest.sequence_ids:
                    _place_entry(store, target, stage, sequence_id, counts)
        merged = RunManifest(
            lineage=first.lineage, reference=first.reference, planned_stages=first.planned_stages,
            stages=[_merged_stage(label, [manifest for _, manifest in shards]) for label in first.planned_stages],
            sequences=[sequence_item(sequence) for sequence in sequences], settings=first.settings,
            concept_set_hash=first.shard.concept_set_hash_in_all, text_normalisation=first.text_normalisation,
            packages=first.packages, created=min(manifest.created for _, manifest in shards), updated=utc_now(),
            complete=True, executor="+".join(sorted({manifest.executor for _, manifest in shards})),
            shards=[_shard_record(store, manifest) for store, manifest in shards],
        )
        target.write_manifest(merged)
    return MergeOutcome(merged, counts["linked"], counts["copied"], counts["present"])


def _shard_manifest(store: ResultsStore) -> RunManifest:
    """A finished shard's manifest (an unfinished one is refused, saying what it lacks)."""
    manifest = store.open()
    if manifest.shard is None:
        raise InterpError(f"{store.folder}: not a shard (extracted without --shard I/N)")
    return manifest


def _check_one_run(shards: list[tuple[ResultsStore, RunManifest]]) -> None:
    """Shards 1..N of one N, each once, of one lineage, settings, concept set and checkpoints."""
    first_store, first = shards[0]
    count = first.shard.count
    seen: dict[int, Path] = {}
    for store, manifest in shards:
        shard = manifest.shard
        if shard.count != count:
            raise InterpError(f"{store.folder}: shard {shard.index}/{shard.count}, but {first_store.folder} is shard "
                              f"{first.shard.index}/{count}; the shards of one run share N")
        if shard.index in seen:
            raise InterpError(f"{store.folder}: shard {shard.index}/{count} is also {seen[shard.index]}; give each "
                              "shard once")
        seen[shard.index] = store.folder
        difference = next(_differences(manifest, first), None)
        if difference is not None:
            where, mine, theirs = difference
            raise InterpError(f"{store.folder}: {where} is {mine!r}, but {first_store.folder} has {theirs!r}: "
                              "not shards of one run")
    if len(seen) < count:
        absent = [str(index) for index in itertools.islice((i for i in range(1, count + 1) if i not in seen), 10)]
        more = f" and {count - len(seen) - len(absent):,} more" if count - len(seen) > len(absent) else ""
        raise InterpError(f"merge: shard(s) {', '.join(absent)}{more} of {count:,} missing; give all {count:,} shard "
                          "folders")


def _differences(manifest: RunManifest, first: RunManifest):
    for field in RUN_FIELDS:
        if getattr(manifest, field) != getattr(first, field):
            yield f"field '{field}'", getattr(manifest, field), getattr(first, field)
    for field in SETTING_FIELDS:
        if getattr(manifest.settings, field) != getattr(first.settings, field):
            yield f"setting '{field}'", getattr(manifest.settings, field), getattr(first.settings, field)
    for field in ("sequences_in_all", "concept_set_hash_in_all"):
        if getattr(manifest.shard, field) != getattr(first.shard, field):
            yield f"the concept set's '{field}'", getattr(manifest.shard, field), getattr(first.shard, field)
    theirs = {record.label: record for record in first.stages}
    for record in manifest.stages:
        for field in STAGE_FIELDS:
            if getattr(record, field) != getattr(theirs[record.label], field):
                yield (f"stage '{record.label}', field '{field}'", getattr(record, field),
                       getattr(theirs[record.label], field))


def _check_target(target: ResultsStore, first: RunManifest) -> None:
    """The merged folder is new or empty, an interrupted merge (entries, no manifest yet), or a
    merge of these shards (its entries are then reused). A plain run, a shard, another run or
    anything else of the user's is refused and left as it is."""
    if not target.manifest_path.is_file():
        others = sorted(name for name in os.listdir(target.folder)
                        if name not in (WRITER_LOCK, "entries") and not STALE_TEMPORARY.fullmatch(name))
        if others:
            shown = ", ".join(map(repr, others[:3])) + (f" and {len(others) - 3} more" if others[3:] else "")
            raise InterpError(f"--out {target.folder}: holds other files ({shown}) and no results; merge into a new "
                              "or empty folder")
        return
    existing = target.read_manifest()
    if existing.shard is not None or not existing.shards:
        made = (f"shard {existing.shard.index}/{existing.shard.count} of a run" if existing.shard is not None
                else "a plain run made by extract")
        raise InterpError(f"--out {target.folder}: holds {made} (lineage '{existing.lineage}', "
                          f"{len(existing.sequences)} sequences), not a merge; merge into a new folder")
    if (existing.lineage, existing.planned_stages, existing.concept_set_hash) != (
            first.lineage, first.planned_stages, first.shard.concept_set_hash_in_all):
        raise InterpError(f"--out {target.folder}: holds another run (lineage '{existing.lineage}', "
                          f"{len(existing.sequences)} sequences); merge into a new folder")


def _place_entry(source: ResultsStore, target: ResultsStore, stage: str, sequence_id: str, counts: dict) -> None:
    """One entry's files from a shard into the merged folder, checked, the record last."""
    record = source.read_record(stage, sequence_id)
    where = f"stage '{stage}', sequence '{sequence_id}'"
    for array, digest in record.digests.items():
        path = source.entry_path(stage, sequence_id, SUFFIXES[array])
        if not path.is_file() or file_digest(path) != digest:
            raise InterpError(f"{path}: missing, changed or damaged since it was written ({where}); "
                              "run that shard's extract again")
    if target.has_entry(stage, sequence_id):
        if not _same_entry(target.read_record(stage, sequence_id), record):
            raise InterpError(f"--out {target.folder}: {where} is already there with other contents; "
                              "merge into a new folder")
        counts["present"] += 1
        return
    for name in (*record.digests, "record"):
        _link_or_copy(source.entry_path(stage, sequence_id, SUFFIXES[name]),
                      target.entry_path(stage, sequence_id, SUFFIXES[name]), counts)


def _same_entry(mine: EntryRecord, theirs: EntryRecord) -> bool:
    return mine.key == theirs.key and mine.digests == theirs.digests


def _link_or_copy(source: Path, destination: Path, counts: dict) -> None:
    """A hard link where the filesystem allows one, else a copy (`interp.core.atomic.link_or_copy`)."""
    counts["linked" if link_or_copy(source, destination) else "copied"] += 1


def _merged_stage(label: str, manifests: list[RunManifest]) -> StageRecord:
    records = [next(record for record in manifest.stages if record.label == label) for manifest in manifests]
    route = "pattern" if any(record.route == "pattern" for record in records) else records[0].route
    return records[0].model_copy(update={"cached": all(record.cached for record in records), "route": route})


def _shard_record(store: ResultsStore, manifest: RunManifest) -> ShardRecord:
    return ShardRecord(
        index=manifest.shard.index, count=manifest.shard.count, folder=str(store.folder.resolve()),
        sequences=manifest.sequence_ids, executor=manifest.executor, settings=manifest.settings,
        devices={record.label: record.device for record in manifest.stages}, packages=manifest.packages,
        created=manifest.created, updated=manifest.updated,
    )
