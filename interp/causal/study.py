"""A causal run over a results folder: checked before any model loads, then screened and verified.

`prepare_causal` reads the results folder (its sequences and tokens, both stages' records and
configs) and refuses, in one line, what cannot be compared: an unknown stage, stages of other
architectures or tokenizers, sequences tokenized differently, heads out of range. `run_causal`
then loads both stages once and, sequence by sequence, records S's forward pass and runs AtP on
T (phase 1), plans the heads exact patching verifies from every sequence's AtP and the
attention shift, and runs exact patching (phase 2). Every entry is written as it is finished and
skipped when it is there with the same key, so a stopped run resumes and `--shard I/N` parts
write into one folder; a phase that needs every sequence (the plan) says what is missing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from interp.analysis.results import Results, Selection
from interp.causal.heads import Head, parse_heads
from interp.causal.interventions import INTERVENTIONS, Trial
from interp.causal.metrics import METRICS, MetricInput, MetricOptions, Readout
from interp.causal.settings import (
    DEFAULT_BATCH,
    MAX_BATCH,
    MAX_RANDOM_SETS,
    MAX_TOP,
    METHODS,
)
from interp.causal.statistics import (
    atp_effects,
    mean_of_z,
    plan_head_sets,
    verification_plan,
)
from interp.causal.store import (
    AtpRecord,
    CausalManifest,
    CausalSettings,
    CausalStore,
    ExactRecord,
    StageIdentity,
    TrialResult,
    bytes_digest,
    digest_of,
    npy_bytes,
)
from interp.concepts.alignment import AlignedSequence
from interp.core.errors import InterpError
from interp.core.provenance import package_versions, utc_now
from interp.extraction.settings import Progress, ProgressCallback
from interp.models.checkpoints import (
    check_same_architecture,
    checkpoint_fingerprint,
    load_config,
)
from interp.models.lineage import Stage
from interp.store.folder import ResultsStore
from interp.store.shards import Shard

# Fields of two configs that must agree for one stage's activations to stand in another's.
CAUSAL_FIELDS = ("num_key_value_heads", "vocab_size", "head_dim", "sliding_window")


@dataclass(frozen=True)
class RunOptions:
    """How a causal run executes (none of it enters an entry's key). `executor`: "local" runs in
    this process; another (`ray`) sends blocks of `block_size` sequences per phase to its workers
    through `interp.extraction.executors`, each writing into the results folder (a filesystem the
    workers share). `sequences` restricts the run to those ids (a task's block)."""

    method: str = "both"
    device: str = "auto"
    dtype: str = "auto"
    threads: int | None = None
    batch_size: int = DEFAULT_BATCH
    shard: Shard | None = None
    trust_remote_code: bool = False
    executor: str = "local"
    address: str | None = None
    gpus_per_task: float = 1.0
    block_size: int | None = None
    sequences: tuple[str, ...] | None = None


@dataclass(frozen=True)
class CausalJob:
    """A causal run checked and ready: both stages, the sequences with their stored tokens, the
    heads asked for, and the attention shift S → T per sequence `[sequences, layers, heads]`."""

    results_folder: Path
    settings: CausalSettings
    source: Stage
    target: Stage
    identities: tuple[StageIdentity, StageIdentity]
    sequence_ids: tuple[str, ...]
    aligned: dict[str, AlignedSequence]
    answers: dict[str, tuple[str, str]]
    shape: tuple[int, int]
    given: tuple[Head, ...] | None
    shift: np.ndarray
    concept_set_hash: str

    @property
    def store(self) -> CausalStore:
        return CausalStore(self.results_folder, self.settings.source, self.settings.target)


def prepare_causal(results_folder: str | Path, settings: CausalSettings, heads_text: str | None = None) -> CausalJob:
    """Every check that needs no model; raises a one-line `InterpError` for what cannot be run."""
    _check_settings(settings)
    labels = ResultsStore(results_folder).read_manifest().stage_labels
    for option, label in (("--source", settings.source), ("--target", settings.target)):
        if label not in labels:
            raise InterpError(f"{option} {label!r}: no such stage in {results_folder}; stages: {', '.join(labels)}")
    results = Results(results_folder, Selection(exclusions=settings.exclusions, reference=settings.source,
                                                first_position=settings.first_position, measure=settings.measure))
    records = {stage.label: stage for stage in results.manifest.stages}
    source_record, target_record = records[settings.source], records[settings.target]
    # The checkpoint as extracted (a folder's absolute path, or the hub id): demo names are resolved already.
    stages = {label: Stage(label, record.checkpoint, record.revision) for label, record in
              ((settings.source, source_record), (settings.target, target_record))}
    _check_comparable(stages, source_record, target_record)
    sequence_ids = tuple(sequence.id for sequence in results.sequences)
    for sequence_id in sequence_ids:
        if not results.tokens_match(sequence=sequence_id, stage=settings.source, other=settings.target):
            raise InterpError(f"sequence '{sequence_id}': stages '{settings.source}' and '{settings.target}' tokenize "
                              "it differently; the causal check patches one stage into another on the same tokens")
    shape = results.shape
    if heads_text is None and settings.heads:
        heads_text = ",".join(settings.heads)
    # Verifying more than a quarter of the heads is no longer a selection (the demo has 32 heads in all).
    top = min(settings.top, max(1, shape[0] * shape[1] // 4))
    if top != settings.top:
        settings = settings.model_copy(update={"top": top})
    given = parse_heads(heads_text, shape) if heads_text is not None else None
    if given is not None:
        settings = settings.model_copy(update={"heads": tuple(str(head) for head in given)})
    shift = np.stack([results.shift(sequence=s, stage=settings.target, against=settings.source) for s in sequence_ids])
    identities = tuple(StageIdentity(label=r.label, checkpoint=r.checkpoint, fingerprint=r.fingerprint)
                       for r in (source_record, target_record))
    return CausalJob(
        results_folder=Path(results_folder), settings=settings, source=stages[settings.source],
        target=stages[settings.target], identities=identities, sequence_ids=sequence_ids,
        aligned={s: results.aligned(stage=settings.target, sequence=s) for s in sequence_ids},
        answers={s.id: (s.answer, s.contrast) for s in results.sequences},
        shape=shape, given=given, shift=shift, concept_set_hash=results.manifest.concept_set_hash,
    )


def _check_settings(settings: CausalSettings) -> None:
    for name in settings.interventions:
        INTERVENTIONS.named(name)
    for name in settings.metrics:
        METRICS.named(name)
    if not settings.interventions or not settings.metrics:
        raise InterpError("name at least one intervention and one metric")
    if not 1 <= settings.top <= MAX_TOP:
        raise InterpError(f"--top {settings.top}: give a number of heads from 1 to {MAX_TOP}")
    if not 0 <= settings.random_sets <= MAX_RANDOM_SETS:
        raise InterpError(f"--random {settings.random_sets}: give a number of random head sets from 0 to {MAX_RANDOM_SETS}")
    if settings.seed < 0:
        raise InterpError(f"--seed {settings.seed}: give zero or a positive whole number")


def _check_comparable(stages: dict[str, Stage], source, target) -> None:
    """Same architecture and tokenizer, from the results folder's records and the configs."""
    pair = f"stages '{source.label}' and '{target.label}'"
    if (source.n_layers, source.n_heads) != (target.n_layers, target.n_heads):
        raise InterpError(f"{pair}: different shapes ({source.n_layers}×{source.n_heads} vs "
                          f"{target.n_layers}×{target.n_heads} heads); one stage cannot be patched into the other")
    if source.tokenizer_hash != target.tokenizer_hash:
        raise InterpError(f"{pair}: different tokenizers; the causal check needs the same token ids in both")
    configs = {label: load_config(stage) for label, stage in stages.items()}
    check_same_architecture(configs)
    first, second = configs[source.label], configs[target.label]
    for field in CAUSAL_FIELDS:
        if first.get(field) != second.get(field):
            raise InterpError(f"{pair}: different architectures ({field} {first.get(field)!r} vs "
                              f"{second.get(field)!r}); one stage cannot be patched into the other")


# ---------------------------------------------------------------- running

def run_causal(job: CausalJob, options: RunOptions = RunOptions(),
               on_progress: ProgressCallback | None = None) -> CausalManifest:
    """Phase 1 (AtP) and phase 2 (exact) as `options.method` asks; returns the run's manifest."""
    if options.method not in METHODS:
        raise InterpError(f"--method {options.method!r}: use one of {', '.join(METHODS)}")
    if not 1 <= options.batch_size <= MAX_BATCH:
        raise InterpError(f"--batch-size {options.batch_size}: give a number of interventions from 1 to {MAX_BATCH}")
    store = job.store
    chosen = options.shard.select(job.sequence_ids) if options.shard else list(job.sequence_ids)
    if options.sequences is not None:
        chosen = [sequence for sequence in chosen if sequence in set(options.sequences)]
    if not chosen:
        raise InterpError(f"--shard {options.shard}: no sequence falls in this shard")
    manifest = CausalManifest(source=job.identities[0], target=job.identities[1], settings=job.settings,
                              concept_set_hash=job.concept_set_hash, sequences=list(job.sequence_ids),
                              packages=package_versions(), created=utc_now())
    store.write_manifest(manifest)
    if options.executor != "local":
        _run_on_executor(job, options, chosen, on_progress)
        return manifest
    with _Stages(job, options) as stages:
        if options.method in ("atp", "both"):
            _run_atp(job, stages, chosen, on_progress)
        if options.method in ("exact", "both"):
            _run_exact(job, stages, chosen, options.batch_size, on_progress)
    return manifest


class _Stages:
    """Both stages, loaded when an entry is missing (a rerun that finds every entry loads no
    model), checked against the fingerprints the results folder recorded, and freed at the end;
    the target's tokenizer (for answers) without its model."""

    def __init__(self, job: CausalJob, options: RunOptions):
        self.job, self.options = job, options
        self._loaded: dict[str, object] = {}
        self._tokenizer = None

    def __enter__(self) -> _Stages:
        return self

    def tokenizer(self):
        if self._tokenizer is None:
            from interp.models.tokenizers import load_tokenizer

            self._tokenizer = load_tokenizer(self.job.target.model, self.job.target.revision,
                                             self.options.trust_remote_code)
        return self._tokenizer

    def get(self, which: str):
        if which not in self._loaded:
            from interp.models.loader import load_stage

            stage = self.job.source if which == "source" else self.job.target
            identity = self.job.identities[0 if which == "source" else 1]
            if checkpoint_fingerprint(stage) != identity.fingerprint:
                raise InterpError(f"stage '{stage.label}': its checkpoint changed since the results were extracted; "
                                  "run `extract` again first")
            self._loaded[which] = load_stage(stage, device=self.options.device, dtype=self.options.dtype,
                                             trust_remote_code=self.options.trust_remote_code)
        return self._loaded[which]

    def __exit__(self, *exc) -> None:
        from interp.models.loader import free_stage

        for loaded in self._loaded.values():
            free_stage(loaded)
        self._loaded.clear()


def metric_input(job: CausalJob, metric: str, sequence_id: str, tokenizer) -> MetricInput:
    answer, contrast = job.answers.get(sequence_id, ("", ""))

    def encode(text: str) -> tuple[int, ...]:
        return tuple(tokenizer(text, add_special_tokens=False)["input_ids"]) if text else ()

    options = MetricOptions(after=job.settings.after, answer=encode(answer), contrast=encode(contrast))
    return METRICS.named(metric).build(job.aligned[sequence_id], options)


def _entry_key(job: CausalJob, metric_input: MetricInput, *parts: str) -> str:
    readouts = [[list(r.token_ids), list(r.positions), r.weight] for r in metric_input.readouts]
    return digest_of([job.identities[0].fingerprint, job.identities[1].fingerprint, metric_input.metric,
                      readouts, *parts])


def _run_atp(job: CausalJob, stages: _Stages, chosen: Sequence[str], on_progress) -> None:
    store, settings = job.store, job.settings
    todo = [(metric, sequence_id) for metric in settings.metrics for sequence_id in chosen]
    progress = Progress(total=len(todo), stage=f"{settings.source} → {settings.target}")
    for metric, sequence_id in todo:
        inputs = metric_input(job, metric, sequence_id, stages.tokenizer())
        key = _entry_key(job, inputs, settings.atp_fingerprint())
        existing = store.read_atp_record(metric, sequence_id)
        if existing is None or existing.key != key:
            _attribute_one(job, stages, inputs, key)
        _advance(progress, on_progress, f"AtP {metric}: {sequence_id}")


def _attribute_one(job: CausalJob, stages: _Stages, inputs: MetricInput, key: str) -> None:
    """AtP of one sequence and metric: S's forward pass recorded, T's forward and backward."""
    from interp.causal.attribution import attribute
    from interp.causal.forward import metric_batch, record_source

    settings = job.settings
    target = stages.get("target")
    batch = metric_batch(inputs, target.device)
    needs_source = any(INTERVENTIONS[name].needs_source for name in settings.interventions)
    source = record_source(stages.get("source"), batch, "pattern" in settings.interventions) if needs_source else None
    result = attribute(target, source, batch, settings.interventions, inputs.sequence_tokens)
    screened = [name for name in settings.interventions if name != "mean"]
    scores = np.stack([result.scores[name] for name in screened]) if screened else np.zeros((0, *job.shape))
    record = AtpRecord(sequence_id=inputs.sequence_id, metric=inputs.metric, key=key,
                       interventions=settings.interventions, clean=result.clean, positions=result.positions, digests={})
    job.store.write_atp(record, {"scores": scores, "gradient_sum": result.gradient_sum, "baseline": result.baseline,
                                 "z_sum": result.z_sum})


def _plan(job: CausalJob, stages: _Stages, metric: str):
    """The heads and sets to verify for `metric`, chosen from every sequence's AtP and the attention
    shift, and the target's mean of z for the mean ablation (from AtP's sums, or a forward pass of
    the target over every sequence where AtP did not run)."""
    store, settings = job.store, job.settings
    missing = [s for s in job.sequence_ids if store.read_atp_record(metric, s) is None]
    if missing and settings.heads is None:
        raise InterpError(f"{store.folder}: AtP is missing for {len(missing)} sequence(s) (first: '{missing[0]}'), "
                          "which the heads to verify are chosen from; run `causal --method atp` over every shard "
                          "first, or name the heads with --heads")
    atp, mean_z = {}, None
    if not missing:
        mean_z = mean_of_z(store, metric, job.sequence_ids)
        atp = atp_effects(store, metric, job.sequence_ids, mean_z)
    elif "mean" in settings.interventions:
        mean_z = _mean_by_forward(job, stages)
    atp_mean = {name: values.mean(axis=0) for name, values in atp.items()}
    mean_digest = bytes_digest(npy_bytes(mean_z)) if mean_z is not None else None
    plan = verification_plan(settings, job.shape, atp_mean, job.shift.mean(axis=0), job.given, "", mean_digest)
    key = digest_of([settings.plan_fingerprint(), metric, mean_digest, plan.model_dump(mode="json")["sets"]])
    plan = plan.model_copy(update={"key": key})
    return plan, (mean_z.astype(np.float32) if mean_z is not None else None)


def _mean_by_forward(job: CausalJob, stages: _Stages) -> np.ndarray:
    """The target's mean of z `[layers, heads, d]` over every position of every sequence of the
    run, from one forward pass per sequence (every sequence, whichever shard asks)."""
    from interp.causal.forward import metric_batch, record_source

    target = stages.get("target")
    total, positions = None, 0
    for sequence_id in job.sequence_ids:
        aligned = job.aligned[sequence_id]
        readout = MetricInput("z", sequence_id, (Readout(tuple(aligned.token_ids), (aligned.n_tokens - 1,), 1.0),))
        z = record_source(target, metric_batch(readout, target.device), patterns=False).z
        sums = np.stack([layer[0].double().sum(dim=0).cpu().numpy() for layer in z])
        total = sums if total is None else total + sums
        positions += aligned.n_tokens
    return total / positions


def _run_exact(job: CausalJob, stages: _Stages, chosen: Sequence[str], batch_size: int, on_progress) -> None:
    store, settings = job.store, job.settings
    progress = Progress(total=len(settings.metrics) * len(chosen), stage=f"{settings.source} → {settings.target}")
    for metric in settings.metrics:
        plan, mean_z = _plan(job, stages, metric)
        store.write_plan(metric, plan, mean_z)
        trials = tuple(Trial(intervention, heads) for intervention in settings.interventions
                       for heads in plan_head_sets(plan, intervention))
        for sequence_id in chosen:
            inputs = metric_input(job, metric, sequence_id, stages.tokenizer())
            key = _entry_key(job, inputs, plan.key)
            existing = store.read_exact(metric, sequence_id)
            if existing is None or existing.key != key:
                _verify_one(job, stages, inputs, key, trials, mean_z, batch_size)
            _advance(progress, on_progress, f"exact {metric}: {sequence_id}")


def _verify_one(job: CausalJob, stages: _Stages, inputs: MetricInput, key: str, trials: Sequence[Trial],
                mean_z: np.ndarray | None, batch_size: int) -> None:
    """Exact patching of every trial on one sequence and metric."""
    from interp.causal.exact import exact_effects
    from interp.causal.forward import metric_batch, record_source

    target = stages.get("target")
    batch = metric_batch(inputs, target.device)
    needs_source = any(INTERVENTIONS[t.intervention].needs_source for t in trials)
    patterns = any(INTERVENTIONS[t.intervention].needs_patterns for t in trials)
    source = record_source(stages.get("source"), batch, patterns) if needs_source else None
    clean, effects = exact_effects(target, source, batch, trials, mean_z, batch_size)
    results = tuple(TrialResult(intervention=t.intervention, set=t.heads.name, kind=t.heads.kind,
                                heads=tuple(str(h) for h in t.heads.heads), effect=float(e))
                    for t, e in zip(trials, effects, strict=True))
    job.store.write_exact(ExactRecord(sequence_id=inputs.sequence_id, metric=inputs.metric, key=key, clean=clean,
                                      trials=results))


def _advance(progress: Progress, on_progress: Callable | None, message: str) -> None:
    progress.done += 1
    progress.message = message
    if on_progress is not None:
        on_progress(progress)


# The demo's causal run: every consecutive pair of its stages, fewer random sets than a study's
# default (the demo has 32 heads; 20 sets give p-values down to 1/21, enough to read the views).
DEMO_RANDOM_SETS = 20


def run_consecutive_pairs(results_folder: str | Path, on_progress: ProgressCallback | None = None,
                          random_sets: int = DEMO_RANDOM_SETS, device: str = "auto") -> list[CausalManifest]:
    """The causal check for each pair of consecutive stages of a results folder (base → cpt,
    cpt → ift), with the default interventions and metric: what the app runs for the demo so that a
    new user sees the causal views without a GPU. Pairs already computed are read, not recomputed."""
    from interp.store.folder import ResultsStore

    labels = ResultsStore(results_folder).read_manifest().stage_labels
    manifests = []
    for source, target in zip(labels, labels[1:]):
        job = prepare_causal(results_folder, CausalSettings(source=source, target=target, random_sets=random_sets))
        manifests.append(run_causal(job, RunOptions(device=device), on_progress))
    return manifests


# ---------------------------------------------------------------- on an executor (Ray)

@dataclass(frozen=True)
class CausalTask:
    """One phase ("atp" or "exact") of a causal run over a block of sequences: small and picklable,
    what a Ray worker gets. The worker checks and reads the results folder itself, loads both
    stages once for the block, and writes its entries there."""

    folder: str
    settings: CausalSettings
    phase: str
    sequence_ids: tuple[str, ...]
    device: str
    dtype: str
    threads: int
    batch_size: int
    trust_remote_code: bool = False

    @property
    def label(self) -> str:
        return f"{self.settings.source}→{self.settings.target} {self.phase}"

    def written(self) -> list[str]:
        """The block's sequences whose entries (of every metric) are there, in order, up to the
        first that is not."""
        store = CausalStore(self.folder, self.settings.source, self.settings.target)
        read = store.read_atp_record if self.phase == "atp" else store.read_exact
        done = []
        for sequence_id in self.sequence_ids:
            if any(read(metric, sequence_id) is None for metric in self.settings.metrics):
                break
            done.append(sequence_id)
        return done


def run_causal_task(task: CausalTask, on_event=None, open_stage=None) -> dict:
    """What a worker runs for one `CausalTask` (the executors' task function)."""
    from interp.extraction.tasks import pinned_threads

    job = prepare_causal(task.folder, task.settings)
    options = RunOptions(method=task.phase, device=task.device, dtype=task.dtype, batch_size=task.batch_size,
                         trust_remote_code=task.trust_remote_code, sequences=task.sequence_ids)
    with pinned_threads(task.threads):
        run_causal(job, options)
    return {"label": task.label, "sequences": len(task.sequence_ids)}


def _run_on_executor(job: CausalJob, options: RunOptions, chosen: Sequence[str], on_progress) -> None:
    """Each phase as tasks of `block_size` sequences on the executor, the exact phase after every
    AtP task is done (its heads are chosen from all of them)."""
    import os

    from interp.extraction import ray_executor  # noqa: F401  registers the Ray executor
    from interp.extraction.executors import ExecutorOptions, get_executor
    from interp.extraction.settings import Progress as _Progress

    connect = get_executor(options.executor).connect
    runner = connect(ExecutorOptions(address=options.address, gpus_per_task=options.gpus_per_task,
                                     task_function=run_causal_task))
    try:
        device = runner.resolve_device(options.device)
        threads = options.threads or len(os.sched_getaffinity(0))
        runner.check_threads(threads)
        block = options.block_size or len(chosen)
        phases = {"atp": ("atp",), "exact": ("exact",), "both": ("atp", "exact")}[options.method]
        settings = job.settings
        for phase in phases:
            tasks = [CausalTask(str(job.results_folder), settings, phase, tuple(chosen[i:i + block]), device,
                                options.dtype, threads, options.batch_size, options.trust_remote_code)
                     for i in range(0, len(chosen), block)]
            progress = _Progress(total=len(chosen), stage=f"{settings.source} → {settings.target}")

            def on_event(event, progress=progress, phase=phase) -> None:
                if event.kind == "entry":
                    _advance(progress, on_progress, f"{phase} {event.sequence_id}")

            runner.run(tasks, on_event, lambda outcome: None)
    finally:
        runner.close()
