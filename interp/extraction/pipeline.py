"""Run a lineage over concept sequences into a results folder: plan once, then execute the tasks.

The run is planned in this process (`interp.extraction.plan`: every stage tokenized, every entry keyed and
looked up in the store), then its missing entries are written by tasks of (stage, block of
sequences) on an executor (`interp.extraction.executors`: this process, or a Ray cluster). A rerun of the
same command finds every entry and loads no model, and says so. With a shard (`--shard I/N`),
the run covers the I-th of N parts of the sequences; `interp.store.merge` puts the parts together.
This process alone writes the manifest, as stages finish, and holds the folder's lock throughout.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from interp.concepts.files import (
    TEXT_NORMALISATION,
    ConceptSequence,
    concept_set_hash,
    sequence_item,
)
from interp.core.atomic import check_output_folder, remove_stale_temporaries
from interp.core.errors import InterpError
from interp.core.locks import folder_lock
from interp.core.provenance import package_versions, utc_now
from interp.demo.resolve import resolve_lineage_models
from interp.extraction import ray_executor  # noqa: F401  registers the Ray executor
from interp.extraction.executors import ExecutorOptions, StageLoader, get_executor
from interp.extraction.plan import (
    ExtractionPlan,
    PreparedStage,
    StageTask,
    plan_extraction,
)
from interp.extraction.settings import (
    INPUT_FORMATS,
    ExtractionSettings,
    Progress,
    ProgressCallback,
)
from interp.models.checkpoints import checked_stage_model
from interp.models.lineage import Lineage
from interp.store.folder import (
    WRITER_LOCK,
    ResultsStore,
    RunManifest,
    RunSettings,
    ShardOf,
    StageRecord,
)
from interp.store.shards import Shard

if TYPE_CHECKING:
    from interp.extraction.tasks import TaskEvent, TaskOutcome

BUSY = "another extraction is writing to this results folder; wait for it to finish"


def extract_lineage(
    lineage: Lineage,
    sequences: Sequence[ConceptSequence],
    out: str | Path,
    settings: ExtractionSettings = ExtractionSettings(),
    on_progress: ProgressCallback | None = None,
    stage_loader: StageLoader | None = None,
    *,
    executor: str = "local",
    options: ExecutorOptions = ExecutorOptions(),
    shard: Shard | None = None,
    block_size: int | None = None,
    reuse_from: Sequence[str | Path] | None = None,
) -> RunManifest:
    """Every stage over every sequence (or the shard's) into `out`; returns the finished manifest.

    `stage_loader(stage, settings, device, dtype)` replaces load-then-free in the local executor:
    the app passes one that keeps the last checkpoint cached, so a rerun with new sequences does
    not reload it. `block_size` cuts each stage's missing sequences into tasks of that many
    (default: one task per stage, each checkpoint loaded once). Entries that results folders
    among `reuse_from` (default: the folder that holds `out`, as the app's runs folder holds its
    runs; empty: none) made with the same checkpoint, tokenization and settings are linked, not
    extracted again (`interp.store.reuse`).
    """
    if settings.input_format not in INPUT_FORMATS:
        raise InterpError(f"input format {settings.input_format!r} is unknown; use one of {', '.join(INPUT_FORMATS)}")
    if not sequences:
        raise InterpError("no concept sequences to run")
    if shard and shard.count > len(sequences):
        raise InterpError(f"--shard {shard}: {len(sequences)} sequence(s) make at most {len(sequences)} shards, "
                          "each with one sequence or more")
    chosen = shard.select(sequences) if shard else list(sequences)
    connect = get_executor(executor).connect
    if stage_loader is not None:
        options = dataclasses.replace(options, stage_loader=stage_loader)
    store = ResultsStore(check_output_folder(out))
    lineage = resolve_lineage_models(lineage)
    with folder_lock(store.folder, WRITER_LOCK, BUSY):
        remove_stale_temporaries(store.folder)  # of a run that was killed: we hold the lock now
        runner = connect(options)
        try:
            device = runner.resolve_device(settings.device)
            from interp.models.loader import (
                resolve_dtype,  # torch loads here, after the cheap checks
            )

            dtype = str(resolve_dtype(settings.dtype, device)).removeprefix("torch.")
            plan = plan_extraction(lineage, chosen, store, settings, device, dtype)
            plan = plan.reuse_earlier(store, [store.folder.parent] if reuse_from is None else reuse_from)
            runner.check_threads(plan.threads)
            previous = _previous_manifest(store)
            manifest = _new_manifest(plan, settings, previous, executor, shard, sequences)
            tasks = plan.tasks(store.folder, settings, block_size)
            run = _RunTracker(store, plan, tasks, manifest, previous, on_progress)
            runner.run(tasks, run.on_event, run.on_outcome)
        finally:
            runner.close()
        return run.finish()


class _RunTracker:
    """The driver's view of a run: progress from task events, stage records from task outcomes,
    and the manifest rewritten each time a stage has all its entries."""

    def __init__(self, store: ResultsStore, plan: ExtractionPlan, tasks: Sequence[StageTask], manifest: RunManifest,
                 previous: RunManifest | None, on_progress: ProgressCallback | None):
        self.store, self.plan, self.manifest, self.on_progress = store, plan, manifest, on_progress
        self.routes = {record.label: record.route for record in previous.stages} if previous else {}
        self.progress = Progress(total=plan.total)
        self.records: dict[str, StageRecord] = {}
        self.prepared = {stage.stage.label: stage for stage in plan.stages}
        self.remaining = {label: {stage.aligned[i].sequence_id for i in plan.missing[label]}
                          for label, stage in self.prepared.items()}
        self.tasks_left = {label: sum(task.stage.label == label for task in tasks) for label in self.prepared}
        self.outcomes: dict[str, list[TaskOutcome]] = {label: [] for label in self.prepared}
        self.announced: set[str] = set()
        for label, prepared in self.prepared.items():
            self.progress.cached[label] = plan.cached(label)
            self.progress.reused[label] = plan.reused_count(label)
            self.progress.done += plan.cached(label) + plan.reused_count(label)
            if not self.remaining[label]:
                self._announce(label)
                record = store.read_record(label, prepared.aligned[0].sequence_id)
                self.records[label] = _stage_record(prepared, record.layers, record.heads, plan.dtype, plan.device,
                                                    cached=True, route=self.routes.get(label, "lean"))
        self._write_manifest()

    def on_event(self, event: TaskEvent) -> None:
        if event.kind == "start":
            self._announce(event.stage)
        elif event.kind == "entry":
            self._entry_done(event.stage, event.sequence_id)

    def on_outcome(self, outcome: TaskOutcome) -> None:
        """A task finished; once every task of its stage has, the stage is recorded."""
        label = outcome.stage
        self.outcomes[label].append(outcome)
        self.tasks_left[label] -= 1
        for sequence_id in outcome.written:
            self._entry_done(label, sequence_id)
        if self.tasks_left[label]:
            return
        # Entries a lost attempt wrote but could not report, which its retry then skipped.
        prepared = self.prepared[label]
        for item, key in zip(prepared.aligned, prepared.keys):
            if item.sequence_id not in self.remaining[label]:
                continue
            if self.store.has_entry(label, item.sequence_id, key, item.span_tokens):
                self._entry_done(label, item.sequence_id)
        if self.remaining[label]:
            first = sorted(self.remaining[label])[0]
            raise InterpError(f"stage '{label}': its tasks ended without writing {len(self.remaining[label])} "
                              f"entries (first: '{first}'); run the same command again")
        ran = [o for o in self.outcomes[label] if o.route is not None]
        first_outcome = (ran or self.outcomes[label])[0]
        routes = {o.route for o in ran}
        route = "pattern" if "pattern" in routes else "lean" if routes else self.routes.get(label, "lean")
        self.records[label] = _stage_record(prepared, first_outcome.n_layers, first_outcome.n_heads,
                                            first_outcome.dtype, first_outcome.device, cached=False, route=route)
        self._write_manifest()

    def finish(self) -> RunManifest:
        """The manifest marked complete, once every stage has its record."""
        unfinished = [label for label in self.plan.lineage.labels if label not in self.records]
        if unfinished:
            raise InterpError(f"stage '{unfinished[0]}': the executor returned before its tasks finished; "
                              "run the same command again")
        self.manifest = self.manifest.model_copy(update={"complete": True, "updated": utc_now()})
        self.store.write_manifest(self.manifest)
        return self.manifest

    def _entry_done(self, label: str, sequence_id: str) -> None:
        if sequence_id not in self.remaining[label]:
            return
        self.remaining[label].discard(sequence_id)
        self.progress.done += 1
        self.progress.stage = label
        self.progress.message = f"stage '{label}': sequence '{sequence_id}' done"
        self._notify()

    def _announce(self, label: str) -> None:
        if label in self.announced:
            return
        self.announced.add(label)
        self.progress.stage = label
        self.progress.message = f"stage '{label}': {describe_stage_plan(self.plan, label)}"
        self._notify()

    def _write_manifest(self) -> None:
        records = [self.records[label] for label in self.plan.lineage.labels if label in self.records]
        self.manifest = self.manifest.model_copy(update={"stages": records, "updated": utc_now()})
        self.store.write_manifest(self.manifest)

    def _notify(self) -> None:
        if self.on_progress is not None:
            self.on_progress(self.progress)


def describe_stage_plan(plan: ExtractionPlan, label: str) -> str:
    """What a stage's run does: "7 cached, 0 to run (no forward pass)", "10 reused, 4 to run"
    (reused: linked from other results folders; cached: in this one before)."""
    cached, reused, to_run = plan.cached(label), plan.reused_count(label), len(plan.missing[label])
    found = [f"{cached} cached"] if cached or not reused else []
    found += [f"{reused} reused"] if reused else []
    return ", ".join([*found, f"{to_run} to run"]) + ("" if to_run else " (no forward pass)")


def _stage_record(prepared: PreparedStage, n_layers: int, n_heads: int, dtype: str, device: str, cached: bool,
                  route: str) -> StageRecord:
    return StageRecord(
        label=prepared.stage.label, model=prepared.stage.model, revision=prepared.stage.revision,
        checkpoint=checked_stage_model(prepared.stage), fingerprint=prepared.fingerprint,
        tokenizer_hash=prepared.tokenizer_hash, n_layers=n_layers, n_heads=n_heads, dtype=dtype, device=device,
        cached=cached, route=route,
    )


def _previous_manifest(store: ResultsStore) -> RunManifest | None:
    """The folder's manifest from an earlier run, if it can be read (a rerun keeps `created`)."""
    if not store.manifest_path.is_file():
        return None
    try:
        return store.read_manifest()
    except InterpError:
        return None


def _new_manifest(plan: ExtractionPlan, settings: ExtractionSettings, previous: RunManifest | None, executor: str,
                  shard: Shard | None, every_sequence: Sequence[ConceptSequence]) -> RunManifest:
    created = previous.created if previous else utc_now()
    shard_of = None if shard is None else ShardOf(
        index=shard.index, count=shard.count, sequences_in_all=len(every_sequence),
        concept_set_hash_in_all=concept_set_hash(every_sequence))
    return RunManifest(
        lineage=plan.lineage.name, reference=plan.lineage.reference, planned_stages=list(plan.lineage.labels),
        stages=[], sequences=[sequence_item(s) for s in plan.sequences],
        settings=RunSettings(input_format=settings.input_format, patterns=settings.patterns, dtype=settings.dtype,
                             device=settings.device, device_map=settings.device_map, threads=plan.threads),
        concept_set_hash=concept_set_hash(plan.sequences), text_normalisation=TEXT_NORMALISATION,
        packages=package_versions(), created=created, updated=utc_now(), executor=executor, shard=shard_of,
    )
