"""Planning a run: every entry keyed and looked up before any model loads, the missing ones cut
into tasks of (stage, block of sequences), the thread count resolved once."""

import os

import pytest

from interp.core.errors import InterpError
from interp.extraction.plan import StageTask, plan_extraction, resolve_threads
from interp.extraction.settings import ExtractionSettings
from interp.store.folder import ResultsStore
from tests.conftest import TINY_SEQUENCES, concept

pytestmark = pytest.mark.slow
SETTINGS = ExtractionSettings(device="cpu")


def test_a_finished_folder_leaves_nothing_to_do_and_its_keys_are_the_plans(tiny_run, tiny_lineage):
    store = ResultsStore(tiny_run[0])
    plan = plan_extraction(tiny_lineage, TINY_SEQUENCES, store, SETTINGS, "cpu", "float32")
    assert plan.total == 6 and all(not missing for missing in plan.missing.values())
    assert [plan.cached(label) for label in tiny_lineage.labels] == [2, 2, 2]
    assert plan.tasks(store.folder, SETTINGS) == []
    for prepared in plan.stages:
        stored = [store.read_record(prepared.stage.label, item.sequence_id).key for item in prepared.aligned]
        assert list(prepared.keys) == stored


def test_missing_entries_become_tasks_in_lineage_order(tiny_lineage, tmp_path):
    sequences = [*TINY_SEQUENCES, concept("buyer-1", "The buyer shall pay the rent if the notice is served.",
                                          "if the notice is served")]
    plan = plan_extraction(tiny_lineage, sequences, ResultsStore(tmp_path / "r"), SETTINGS, "cpu", "float32")
    whole = plan.tasks(tmp_path / "r", SETTINGS)
    assert [(t.stage.label, len(t.entries)) for t in whole] == [("base", 3), ("cpt", 3), ("ift", 3)]
    blocks = plan.tasks(tmp_path / "r", SETTINGS, block_size=2)
    assert [(t.stage.label, [e.aligned.sequence_id for e in t.entries]) for t in blocks] == [
        ("base", ["lessee-1", "seller-1"]), ("base", ["buyer-1"]), ("cpt", ["lessee-1", "seller-1"]),
        ("cpt", ["buyer-1"]), ("ift", ["lessee-1", "seller-1"]), ("ift", ["buyer-1"])]
    task = blocks[0]
    assert isinstance(task, StageTask) and (task.device, task.dtype, task.folder) == ("cpu", "float32", str(tmp_path / "r"))
    assert task.threads == resolve_threads(None) and task.entries[0].key == plan.stages[0].keys[0]
    with pytest.raises(InterpError, match=r"^--block-size 0: give at least one sequence per task"):
        plan.tasks(tmp_path / "r", SETTINGS, block_size=0)


def test_threads_are_the_cpus_this_process_may_use_unless_given():
    assert resolve_threads(None) == len(os.sched_getaffinity(0))
    assert resolve_threads(3) == 3
    with pytest.raises(InterpError, match=r"^--threads 0: give at least one thread"):
        resolve_threads(0)
