"""The Ray executor: the tasks of a run on a Ray cluster (`--address`), or on a local Ray.

What is sent where: this process (the driver) plans the run and sends each task to the cluster:
the stage (label, model, revision), the settings, its block of tokenized sequences with their
cache keys and the results folder's path, a few kilobytes, together with the `interp` package
itself (Ray's `py_modules`, so workers run the driver's code). A worker loads the checkpoint
(from the hub, its own cache or a folder it can read), writes the entries straight into the
results folder, which must be a filesystem shared with the driver at the same path, and returns
a few numbers. The driver follows progress in that folder: each task writes its entries in order,
so a glance at the next entry of each running task tells what is done, with no channel to keep
(an actor for progress cost a process start, 1–3 s, per command). Ray reruns a task lost with its
worker (`max_retries`); the rerun skips the entries the lost attempt wrote.
Ray is imported only here and only when this executor is chosen: it is an optional extra.
"""

from __future__ import annotations

import logging
import os
import re
import socket
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from interp.core.boundary import first_line
from interp.core.errors import InterpError
from interp.extraction.executors import Executor, ExecutorOptions, register_executor

if TYPE_CHECKING:
    from interp.extraction.plan import StageTask

PACKAGE = Path(__file__).resolve().parents[1]  # the whole `interp` package goes to the workers
CONNECT_TIMEOUT_S = 5.0
POLL_S = 0.5
INSTALL = "pip install -r requirements-ray.txt (ray==2.60.0)"
USAGE_STATS = "RAY_USAGE_STATS_ENABLED"
AUTH_MODE = "RAY_AUTH_MODE"
HOST_PORT = re.compile(r"\[?([^\[\]]+?)\]?:(\d{1,5})")


def import_ray():
    """The `ray` module, or a one-line `InterpError` saying how to install it."""
    try:
        import ray
    except ImportError:
        raise InterpError(f"--executor ray: Ray is not installed; {INSTALL}") from None
    return ray


def connect_ray(options: ExecutorOptions) -> RayRunner:
    """Connect to the cluster at `options.address` (None: Ray's default, which starts a local Ray
    when none runs on this machine), unless this process is connected already."""
    ray = import_ray()
    if options.gpus_per_task <= 0:
        raise InterpError(f"--gpus-per-task {options.gpus_per_task:g}: give a positive number")
    if options.max_retries < 0:
        raise InterpError(f"max_retries {options.max_retries}: give zero or more")
    if ray.is_initialized():
        return RayRunner(ray, options, started=False)
    check_address(options.address)
    # A Ray this command starts sends no usage statistics (nor does the app); the user's own setting wins.
    os.environ.setdefault(USAGE_STATS, "0")
    try:
        ray.init(address=options.address, runtime_env={"py_modules": [str(PACKAGE)]}, include_dashboard=False,
                 logging_level=logging.WARNING)
    except (ConnectionError, ValueError, RuntimeError) as error:
        where = f"--address {options.address}" if options.address else "--executor ray"
        hint = "" if os.environ.get(AUTH_MODE) else (
            "; a cluster with token authentication (Ray's default) also needs RAY_AUTH_MODE=token and its token "
            "in ~/.ray/auth_token or RAY_AUTH_TOKEN")
        raise InterpError(f"{where}: cannot connect to a Ray cluster ({first_line(error)}){hint}") from None
    return RayRunner(ray, options, started=True)


def check_address(address: str | None) -> None:
    """A `host:port` must answer before Ray is asked: Ray itself retries a silent address for
    minutes. `auto`, `local` and `ray://` addresses are left to Ray, which answers at once."""
    if address is None or address in ("auto", "local") or address.startswith("ray://"):
        return
    match = HOST_PORT.fullmatch(address.strip())
    if not match:
        raise InterpError(f"--address {address}: expected host:port (the head node's GCS, e.g. 10.0.0.5:6379), "
                          "'auto' or ray://host:10001")
    host, port = match.group(1), int(match.group(2))
    try:
        with socket.create_connection((host, port), timeout=CONNECT_TIMEOUT_S):
            pass
    except OSError as error:
        reason = error.strerror or type(error).__name__
        raise InterpError(f"--address {address}: no Ray cluster answers there ({reason})") from None


class RayRunner:
    """Tasks as Ray tasks, each reserving `--threads` CPUs and, on CUDA, `--gpus-per-task` GPUs."""

    def __init__(self, ray, options: ExecutorOptions, started: bool):
        self.ray, self.options, self.started = ray, options, started

    def resolve_device(self, requested: str) -> str:
        """The device the workers use: "auto" is CUDA when a node of the cluster has a GPU
        (the driver may have none), else the CPU."""
        name = requested.strip().lower()
        gpus = self._largest("GPU")
        if name == "auto":
            return "cuda" if gpus else "cpu"
        if name == "cpu":
            return name
        if name == "cuda":
            if not gpus:
                raise InterpError("--device cuda: no node of the Ray cluster has a GPU")
            return name
        if re.fullmatch(r"cuda:\d+", name):
            raise InterpError(f"--device {requested}: under Ray each task uses the GPUs Ray gives it; use --device cuda")
        raise InterpError(f"--device {requested}: with --executor ray use auto, cpu or cuda")

    def check_threads(self, threads: int) -> None:
        """Ray would wait forever for a task with more CPUs than any node has: refused at once."""
        largest = self._largest("CPU")
        if threads > largest:
            raise InterpError(f"--threads {threads}: no node of the Ray cluster has {threads} CPUs "
                              f"(the largest has {largest:g}); ask for fewer")

    def run(self, tasks: Sequence[StageTask], on_event: Callable, on_outcome: Callable) -> None:
        if not tasks:
            return
        from interp.extraction.tasks import TaskEvent

        ray = self.ray
        largest = {kind: self._largest(kind) for kind in ("CPU", "GPU")}
        for task in tasks:
            self._check_fits(task, largest)
        remote = ray.remote(run_on_worker)
        pending = {
            remote.options(max_retries=self.options.max_retries, retry_exceptions=False,
                           name=f"interp-{task.label}", **self._resources(task))
            .remote(self.options.task_function, task): _Follower(task)
            for task in tasks
        }
        for label in dict.fromkeys(task.label for task in tasks):
            on_event(TaskEvent("start", label))
        try:
            while pending:
                ready, _ = ray.wait(list(pending), num_returns=len(pending), timeout=POLL_S)
                for follower in pending.values():
                    follower.report(on_event)
                for ref in ready:
                    on_outcome(self._outcome(ref, pending.pop(ref).task))
        finally:
            for ref in pending:
                ray.cancel(ref)

    def close(self) -> None:
        if self.started and self.ray.is_initialized():
            self.ray.shutdown()
        self.started = False

    def _outcome(self, ref, task: StageTask):
        ray = self.ray
        try:
            return ray.get(ref)
        except ray.exceptions.RayTaskError as error:
            if isinstance(error.cause, InterpError):
                raise InterpError(str(error.cause)) from None
            raise
        except ray.exceptions.RayError as error:
            raise InterpError(
                f"stage '{task.label}': a task was lost {self.options.max_retries + 1} time(s) "
                f"({type(error).__name__}); the entries written are kept: run the same command again to finish"
            ) from None

    def _resources(self, task: StageTask) -> dict[str, float]:
        """A task reserves the CPUs its pinned threads use, and on CUDA `--gpus-per-task` GPUs."""
        if task.device.startswith("cuda"):
            return {"num_cpus": task.threads, "num_gpus": self.options.gpus_per_task}
        return {"num_cpus": task.threads}

    def _check_fits(self, task: StageTask, largest: dict[str, float]) -> None:
        """Ray waits forever for a task no node can hold; say so at once instead."""
        for resource, amount in self._resources(task).items():
            kind = {"num_gpus": "GPU", "num_cpus": "CPU"}[resource]
            if amount > largest[kind]:
                option = "--gpus-per-task" if kind == "GPU" else "--threads"
                raise InterpError(f"{option} {amount:g}: no node of the Ray cluster has {amount:g} {kind}s "
                                  f"(the largest has {largest[kind]:g}); ask for fewer")

    def _largest(self, kind: str) -> float:
        return max((node["Resources"].get(kind, 0.0) for node in self.ray.nodes() if node.get("Alive")), default=0.0)


def run_on_worker(function: Callable | None, task):
    """What a Ray worker runs: the task function (default `interp.extraction.tasks.run_task`; the
    causal check passes its own)."""
    if function is None:
        from interp.extraction.tasks import run_task as function
    return function(task, None)


class _Follower:
    """Follows one task's progress in the results folder (`task.written()`), reporting each
    sequence once, in the order the task writes them."""

    def __init__(self, task):
        self.task, self.next = task, 0

    def report(self, on_event: Callable) -> None:
        from interp.extraction.tasks import TaskEvent

        written = self.task.written()
        for sequence_id in written[self.next:]:
            on_event(TaskEvent("entry", self.task.label, sequence_id))
        self.next = max(self.next, len(written))


register_executor(Executor("ray", "tasks of (stage, block of sequences) on a Ray cluster (--address), or a local Ray",
                           connect_ray))
