"""One task of a run: load a stage's checkpoint once, extract a block of sequences, write their entries.

The same function runs in this process (the local executor) and on a Ray worker. It writes the
entries into the results folder itself (on a cluster, a filesystem the workers share) and first
skips every entry already there with the same key, so a task retried after its worker was lost
does not redo what the lost attempt finished. Torch's thread count is pinned to the run's for
the task's duration: every executor then sums in the same order, and gives the same bits.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass

import torch

from interp.concepts.alignment import (
    MAX_STRUCTURE_SPANS,
    AlignedSequence,
    concept_window,
)
from interp.core.errors import InterpError
from interp.extraction.extract import ExtractionRequest, extract_sequence
from interp.extraction.plan import StageTask, TaskEntry
from interp.extraction.settings import PATTERN_KINDS
from interp.models.loader import LoadedStage, free_stage, load_stage
from interp.store.entries import PatternLayout
from interp.store.folder import ResultsStore


@dataclass(frozen=True)
class TaskEvent:
    """News from a running task: "start" (it is loading its checkpoint) or "entry" (one
    sequence's entry is written)."""

    kind: str
    stage: str
    sequence_id: str = ""


@dataclass(frozen=True)
class TaskOutcome:
    """What a task reports back: the stage as loaded, and the entries it wrote. `route` is None
    when every entry was already written (a retried task whose lost attempt finished them) and
    no model was loaded."""

    stage: str
    n_layers: int
    n_heads: int
    dtype: str
    device: str
    route: str | None
    written: tuple[str, ...]


EventSink = Callable[[TaskEvent], None]
StageOpener = Callable[[StageTask], AbstractContextManager[LoadedStage]]


def run_task(task: StageTask, on_event: EventSink | None = None, open_stage: StageOpener | None = None) -> TaskOutcome:
    """Write every entry of `task` that the results folder lacks; `open_stage` gives the loaded
    checkpoint (default: load it, and free it afterwards)."""
    store = ResultsStore(task.folder)
    label = task.stage.label
    todo = [entry for entry in task.entries
            if not store.has_entry(label, entry.aligned.sequence_id, entry.key, entry.aligned.span_tokens)]
    if not todo:
        record = store.read_record(label, task.entries[0].aligned.sequence_id)
        return TaskOutcome(label, record.layers, record.heads, task.dtype, task.device, None, ())
    _emit(on_event, TaskEvent("start", label))
    with pinned_threads(task.threads), (open_stage or load_for_task)(task) as loaded:
        route, written = _extract_entries(store, task, todo, loaded, on_event)
    return TaskOutcome(label, loaded.n_layers, loaded.n_heads, loaded.dtype, loaded.device, route, written)


@contextmanager
def load_for_task(task: StageTask) -> Iterator[LoadedStage]:
    """The task's checkpoint, loaded for the task and freed after it."""
    loaded = load_stage(task.stage, device=task.device, dtype=task.dtype, device_map=task.settings.device_map,
                        trust_remote_code=task.settings.trust_remote_code)
    try:
        yield loaded
    finally:
        free_stage(loaded)


@contextmanager
def pinned_threads(threads: int) -> Iterator[None]:
    """Torch's intra-op thread count set to `threads` while the block runs, then restored."""
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def _extract_entries(store: ResultsStore, task: StageTask, todo: list[TaskEntry], loaded: LoadedStage,
                     on_event: EventSink | None) -> tuple[str, tuple[str, ...]]:
    """Run the sequences; each entry's arrays are finished on a writer thread while the next
    sequence's forward pass runs (one write in flight at most)."""
    label, route, written = task.stage.label, "lean", []
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="interp-store") as writer_thread:
        pending: tuple[Future, str] | None = None
        for entry in todo:
            item = entry.aligned
            layout = pattern_layout(task.settings.patterns, item)
            writer = store.entry_writer(label, item, loaded.n_layers, loaded.n_heads, layout)
            structure = item.span_tokens if len(item.span_tokens) <= MAX_STRUCTURE_SPANS else ()
            request = ExtractionRequest(patterns=layout.kind, window=(layout.start, layout.end), spans=structure)
            try:
                attention = extract_sequence(loaded, list(item.token_ids), request,
                                             on_patterns=writer.write_layer if layout.kind != "none" else None)
            except BaseException:
                writer.discard()
                raise
            route = attention.route
            if pending is not None:
                written.append(_finished(pending, label, on_event))
            pending = (writer_thread.submit(writer.finish, attention.colsums, attention.norms,
                                            attention.span_attention, entry.key), item.sequence_id)
        if pending is not None:
            written.append(_finished(pending, label, on_event))
    return route, tuple(written)


def _finished(pending: tuple[Future, str], label: str, on_event: EventSink | None) -> str:
    """Wait for an entry's write (its errors surface here, on the caller's thread) and say so."""
    future, sequence_id = pending
    future.result()
    _emit(on_event, TaskEvent("entry", label, sequence_id))
    return sequence_id


def pattern_layout(patterns: str, aligned: AlignedSequence) -> PatternLayout:
    """What part of each head's pattern to keep for a sequence (`--patterns`)."""
    if patterns == "window":
        return PatternLayout("window", *concept_window(aligned.concept_mask, aligned.n_tokens))
    if patterns in ("full", "none"):
        return PatternLayout(patterns)
    raise InterpError(f"--patterns {patterns!r}: use one of {', '.join(PATTERN_KINDS)}")


def _emit(on_event: EventSink | None, event: TaskEvent) -> None:
    if on_event is not None:
        on_event(event)
