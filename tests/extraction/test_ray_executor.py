"""The Ray executor on a local Ray started here (two CPUs, no dashboard; nothing leaves the machine):
the same bits as a single-process run, a rerun from cache, a worker killed mid-run and retried,
and one-line errors for Ray missing, an address with no cluster and requests no node can hold."""

import functools
import logging
import os
import signal
import socket
from pathlib import Path

import pandas as pd
import pytest

from interp.analysis.results import Results, Selection
from interp.analysis.tables import report_table
from interp.core.errors import InterpError
from interp.extraction.executors import ExecutorOptions
from interp.extraction.pipeline import extract_lineage
from interp.extraction.plan import StageTask
from interp.extraction.ray_executor import RayRunner, check_address, connect_ray
from interp.extraction.settings import ExtractionSettings
from interp.extraction.tasks import run_task
from interp.models.lineage import Lineage, Stage
from interp.models.tiny import build_tiny_mistral
from interp.store.folder import ResultsStore
from tests.conftest import CONDITIONS, SLIDING_WINDOW, concept, legal_sentences

ROOT = Path(__file__).resolve().parents[2]
SETTINGS = ExtractionSettings(device="cpu", threads=1)


@pytest.fixture(scope="module")
def local_ray():
    """A local Ray of two CPUs for this module; workers import the checkout, and this module under
    the name pytest gave it (the task functions below travel by reference)."""
    import ray

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RAY_USAGE_STATS_ENABLED", "0")
        ray.init(address="local", num_cpus=2, include_dashboard=False, logging_level=logging.WARNING,
                 runtime_env={"env_vars": {"PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "tests")])}})
        yield ray
        ray.shutdown()


@pytest.fixture(scope="module")
def four_stages(tmp_path_factory, tiny_lineage, legal_tokenizer):
    """`tiny_lineage` and a fourth stage (seed 3) of the same architecture."""
    fourth = build_tiny_mistral(tmp_path_factory.mktemp("fourth"), legal_tokenizer, seed=3,
                                sliding_window=SLIDING_WINDOW, initializer_range=0.2)
    return Lineage("four", (*tiny_lineage.stages, Stage("late", str(fourth))), reference="base")


@pytest.fixture(scope="module")
def dozen():
    """Twelve statute-like sequences, each with its condition as the concept."""
    return [concept(f"seq-{n}", text, next(c for c in CONDITIONS if c in text),
                    concept_type="Condition" if n % 2 else "Role")
            for n, text in enumerate(legal_sentences()[:12])]


@pytest.fixture(scope="module")
def single_process(tmp_path_factory, four_stages, dozen):
    out = tmp_path_factory.mktemp("single") / "run"
    extract_lineage(four_stages, dozen, out, SETTINGS)
    return out


def assert_same_bits(folder: Path, expected: Path, lineage: Lineage, sequences) -> None:
    """Every array of every entry has the digest of the single-process run's: the same bits."""
    mine, theirs = ResultsStore(folder), ResultsStore(expected)
    for stage in lineage.labels:
        for sequence in sequences:
            a, b = mine.read_record(stage, sequence.id), theirs.read_record(stage, sequence.id)
            assert a.digests == b.digests and a.key == b.key, (stage, sequence.id)
            assert (mine.read_colsums(stage, sequence.id) == theirs.read_colsums(stage, sequence.id)).all()
    pd.testing.assert_frame_equal(report_table(Results(folder, Selection(n_controls=20))),
                                  report_table(Results(expected, Selection(n_controls=20))))


@pytest.mark.slow
def test_two_workers_give_the_single_process_bits_and_a_rerun_loads_nothing(local_ray, four_stages, dozen,
                                                                          single_process, tmp_path):
    out = tmp_path / "ray"
    progress = []
    manifest = extract_lineage(four_stages, dozen, out, SETTINGS, executor="ray", block_size=6,
                               on_progress=lambda p: progress.append((p.done, p.total, p.message)))
    assert manifest.complete and manifest.executor == "ray" and manifest.settings.threads == 1
    assert manifest.stage_labels == ["base", "cpt", "ift", "late"]
    assert [r.fingerprint for r in manifest.stages] == [r.fingerprint for r in ResultsStore(single_process).open().stages]
    assert progress[-1][:2] == (48, 48) and any("stage 'late': 0 cached, 12 to run" in m for *_, m in progress)
    assert_same_bits(out, single_process, four_stages, dozen)

    again = []
    rerun = extract_lineage(four_stages, dozen, out, SETTINGS, executor="ray", on_progress=lambda p: again.append(p.message))
    assert all(record.cached for record in rerun.stages)
    assert sum("(no forward pass)" in message for message in again) == 4


def run_or_die(task: StageTask, on_event, open_stage=None, *, marker: str, log: str):
    """The real task, except that the first worker to write an entry of stage 'ift' kills its own
    process right after (once: the marker file says it happened). Every entry written is logged."""

    def watch(event):
        if on_event is not None:
            on_event(event)
        if event.kind == "entry":
            with open(log, "a") as handle:
                handle.write(f"{event.stage} {event.sequence_id} {os.getpid()}\n")
            if event.stage == "ift" and not os.path.exists(marker):
                Path(marker).write_text(str(os.getpid()))
                os.kill(os.getpid(), signal.SIGKILL)

    return run_task(task, watch, open_stage)


@pytest.mark.slow
def test_a_worker_killed_mid_run_is_retried_and_the_result_is_the_same(local_ray, four_stages, dozen,
                                                                       single_process, tmp_path):
    marker, log = tmp_path / "killed", tmp_path / "written.log"
    options = ExecutorOptions(task_function=functools.partial(run_or_die, marker=str(marker), log=str(log)))
    manifest = extract_lineage(four_stages, dozen, tmp_path / "ray", SETTINGS, executor="ray", options=options)
    assert marker.is_file(), "no worker was killed"
    lines = [line.split() for line in log.read_text().splitlines()]
    written = [(stage, sequence) for stage, sequence, _ in lines]
    assert sorted(written) == sorted((s, q.id) for s in four_stages.labels for q in dozen), \
        "every entry written exactly once: the retry skipped the one written before the kill"
    killed = int(marker.read_text())
    assert {int(pid) for stage, _, pid in lines if stage == "ift"} - {killed}, "the retry ran in another process"
    assert manifest.complete
    assert_same_bits(tmp_path / "ray", single_process, four_stages, dozen)


@pytest.mark.slow
def test_an_error_in_a_task_arrives_as_its_one_line(local_ray, four_stages, dozen, tmp_path):
    failing = functools.partial(fail_with, "stage 'cpt': /models/cpt: no such model folder")
    with pytest.raises(InterpError) as raised:
        extract_lineage(four_stages, dozen[:2], tmp_path / "r", SETTINGS, executor="ray",
                        options=ExecutorOptions(task_function=failing))
    assert str(raised.value) == "stage 'cpt': /models/cpt: no such model folder"


def fail_with(message: str, task, on_event, open_stage=None):
    raise InterpError(message)


def test_ray_not_installed_is_one_line(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(InterpError, match=r"^--executor ray: Ray is not installed; pip install -r requirements-ray.txt"):
        connect_ray(ExecutorOptions())


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_an_address_without_a_cluster_is_refused_at_once():
    port = free_port()
    with pytest.raises(InterpError, match=rf"^--address 127.0.0.1:{port}: no Ray cluster answers there \(Connection refused\)"):
        check_address(f"127.0.0.1:{port}")
    with pytest.raises(InterpError, match=r"^--address headnode: expected host:port"):
        check_address("headnode")
    check_address(None)
    check_address("auto")


class FakeRay:
    """What `RayRunner` asks of a cluster before it submits anything: its nodes."""

    def __init__(self, *resources):
        self.resources = resources

    def nodes(self):
        return [{"Alive": True, "Resources": dict(r)} for r in self.resources] + [{"Alive": False, "Resources": {"GPU": 64}}]


def test_devices_and_requests_are_checked_against_the_cluster(tiny_lineage):
    cpus_only = RayRunner(FakeRay({"CPU": 8}), ExecutorOptions(), started=False)
    assert cpus_only.resolve_device("auto") == "cpu"
    with pytest.raises(InterpError, match="^--device cuda: no node of the Ray cluster has a GPU"):
        cpus_only.resolve_device("cuda")
    gpus = RayRunner(FakeRay({"CPU": 8}, {"CPU": 16, "GPU": 4}), ExecutorOptions(gpus_per_task=8), started=False)
    assert gpus.resolve_device("auto") == "cuda"
    with pytest.raises(InterpError, match="^--device cuda:1: under Ray each task uses the GPUs Ray gives it"):
        gpus.resolve_device("cuda:1")
    task = StageTask(tiny_lineage.stages[0], "/tmp/x", (), SETTINGS, "cuda", "bfloat16", threads=4)
    assert gpus._resources(task) == {"num_cpus": 4, "num_gpus": 8}
    with pytest.raises(InterpError, match=r"^--gpus-per-task 8: no node of the Ray cluster has 8 GPUs \(the largest has 4\)"):
        gpus.run([task], print, print)
    on_cpu = StageTask(tiny_lineage.stages[0], "/tmp/x", (), SETTINGS, "cpu", "float32", threads=12)
    assert cpus_only._resources(on_cpu) == {"num_cpus": 12}
    with pytest.raises(InterpError, match=r"^--threads 12: no node of the Ray cluster has 12 CPUs \(the largest has 8\)"):
        cpus_only.run([on_cpu], print, print)
    cpus_only.check_threads(8)
    with pytest.raises(InterpError, match=r"^--threads 10000: no node of the Ray cluster has 10000 CPUs \(the largest has 8\)"):
        cpus_only.check_threads(10_000)
