"""Executors: where the tasks of a run execute. One record per executor, found by name.

A run is planned once (`interp.extraction.plan`); an executor only executes its tasks, each a stage and a
block of sequences, and reports what happens. "local" runs them one after another in this
process (the default); plug-ins register more: "ray" (`interp.extraction.ray_executor`, which imports this
base, never the other way) sends them to a Ray cluster. Every executor
runs the same task function (`interp.extraction.tasks.run_task`) with the same cache keys into the same
results folder, so the results are the same bits whichever ran them. The CLI's `--executor`
choices and the tests read `EXECUTORS`. Nothing here imports torch or Ray.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from interp.core.errors import InterpError
from interp.core.registry import Registry
from interp.extraction.settings import ExtractionSettings

if TYPE_CHECKING:
    from interp.extraction.plan import StageTask
    from interp.extraction.tasks import TaskEvent, TaskOutcome
    from interp.models.loader import LoadedStage

StageLoader = Callable[[Any, ExtractionSettings, str, str], "LoadedStage"]


@dataclass(frozen=True)
class ExecutorOptions:
    """How an executor runs tasks. `address`: a Ray cluster ("host:port", "auto"; None: Ray's
    default, a local Ray when none is running); `gpus_per_task`: GPUs Ray reserves for a task
    on CUDA (more than one with `--device-map auto`); `max_retries`: how often Ray reruns a task
    lost with its worker; `stage_loader` (local only): loads a stage, e.g. the app's cached one;
    `task_function`: what each task runs (default `interp.extraction.tasks.run_task`; tests wrap it)."""

    address: str | None = None
    gpus_per_task: float = 1.0
    max_retries: int = 3
    stage_loader: StageLoader | None = None
    task_function: Callable | None = None


class Task(Protocol):
    """What an executor needs of a task, whatever work it does (a stage's extraction, a stage
    pair's causal check): a `label` to name it by, the `device` and `threads` it reserves, and
    `written()`, the ids of the sequences it has written so far, for progress."""

    @property
    def label(self) -> str: ...

    device: str
    threads: int

    def written(self) -> list[str]: ...


class Runner(Protocol):
    """A connected executor: resolves the device its tasks will use, refuses a thread count its
    tasks cannot have, runs tasks (`StageTask`s, or any `Task` with `options.task_function`), lets go."""

    def resolve_device(self, requested: str) -> str: ...

    def check_threads(self, threads: int) -> None: ...

    def run(self, tasks: Sequence[StageTask | Task], on_event: Callable[[TaskEvent], None],
            on_outcome: Callable[[TaskOutcome], None]) -> None: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class Executor:
    """An executor: `connect(options)` gives a `Runner` (for Ray: after connecting to the cluster)."""

    name: str
    description: str
    connect: Callable[[ExecutorOptions], Runner]


EXECUTORS: Registry[Executor] = Registry("executor")


def register_executor(executor: Executor) -> Executor:
    return EXECUTORS.add(executor)


def get_executor(name: str) -> Executor:
    """The executor called `name`, or an `InterpError` listing the valid names."""
    return EXECUTORS.named(name)


def available_cpus() -> int:
    """The CPUs this process may run on (its affinity where the system tells it)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


class LocalRunner:
    """Tasks one after another in this process. Consecutive tasks of one stage share its loaded
    checkpoint, so `--block-size` never loads a stage twice in a row."""

    def __init__(self, options: ExecutorOptions):
        if options.address is not None:
            raise InterpError(f"--address {options.address}: applies to --executor ray, not local")
        self.options = options
        self._loaded: tuple[tuple, LoadedStage] | None = None

    def resolve_device(self, requested: str) -> str:
        from interp.models.loader import resolve_device

        return resolve_device(requested)

    def check_threads(self, threads: int) -> None:
        """More threads than CPUs only queue for them (20,006 threads ran 7× slower): refused."""
        cpus = available_cpus()
        if threads > cpus:
            raise InterpError(f"--threads {threads}: this process may use {cpus} CPU(s) here; give at most {cpus}")

    def run(self, tasks, on_event, on_outcome) -> None:
        from interp.extraction.tasks import run_task

        function = self.options.task_function or run_task
        try:
            for task in tasks:
                on_outcome(function(task, on_event, self._open_stage))
        finally:
            self.close()

    @contextmanager
    def _open_stage(self, task: StageTask) -> Iterator[LoadedStage]:
        from interp.models.loader import load_stage

        if self.options.stage_loader is not None:
            yield self.options.stage_loader(task.stage, task.settings, task.device, task.dtype)
            return
        identity = (task.stage, task.device, task.dtype, task.settings.device_map, task.settings.trust_remote_code)
        if self._loaded is None or self._loaded[0] != identity:
            self.close()
            self._loaded = (identity, load_stage(task.stage, device=task.device, dtype=task.dtype,
                                                 device_map=task.settings.device_map,
                                                 trust_remote_code=task.settings.trust_remote_code))
        yield self._loaded[1]

    def close(self) -> None:
        if self._loaded is not None:
            from interp.models.loader import free_stage

            free_stage(self._loaded[1])
            self._loaded = None


register_executor(Executor("local", "in this process, one stage after another (the default)", LocalRunner))
