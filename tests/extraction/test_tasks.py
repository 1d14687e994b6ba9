"""A task: it loads its checkpoint only when an entry is missing, skips what is written, reports
each entry, and pins torch's threads only while it runs."""

import pytest
import torch

from interp.core.errors import InterpError
from interp.extraction.plan import plan_extraction
from interp.extraction.settings import ExtractionSettings
from interp.extraction.tasks import pattern_layout, pinned_threads, run_task
from interp.store.folder import ResultsStore
from tests.conftest import TINY_SEQUENCES

pytestmark = pytest.mark.slow
SETTINGS = ExtractionSettings(device="cpu", threads=1)


def refuse(task):
    raise AssertionError("loaded a model although every entry was written")


def test_a_task_writes_what_is_missing_and_skips_what_is_there(tiny_lineage, tmp_path):
    store = ResultsStore(tmp_path / "r")
    plan = plan_extraction(tiny_lineage, TINY_SEQUENCES, store, SETTINGS, "cpu", "float32")
    task = plan.tasks(store.folder, SETTINGS)[1]
    events = []
    outcome = run_task(task, events.append)
    assert [(e.kind, e.stage, e.sequence_id) for e in events] == [
        ("start", "cpt", ""), ("entry", "cpt", "lessee-1"), ("entry", "cpt", "seller-1")]
    assert (outcome.stage, outcome.n_layers, outcome.n_heads, outcome.route) == ("cpt", 2, 4, "lean")
    assert outcome.written == ("lessee-1", "seller-1") and store.has_entry("cpt", "seller-1", task.entries[1].key)
    store.entry_path("cpt", "seller-1", ".json").unlink()
    again = []
    partly = run_task(task, again.append)
    assert partly.written == ("seller-1",) and [e.kind for e in again] == ["start", "entry"]
    done = run_task(task, again.append, open_stage=refuse)
    assert (done.route, done.written, done.n_layers, done.n_heads) == (None, (), 2, 4)


def test_threads_are_pinned_only_while_a_task_runs():
    before = torch.get_num_threads()
    with pinned_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before


def test_an_unknown_pattern_kind_is_refused(tiny_lineage, tmp_path):
    store = ResultsStore(tmp_path / "r")
    aligned = plan_extraction(tiny_lineage, TINY_SEQUENCES, store, SETTINGS, "cpu", "float32").stages[0].aligned[0]
    assert pattern_layout("none", aligned).kind == "none"
    with pytest.raises(InterpError, match=r"^--patterns 'all': use one of window, full, none"):
        pattern_layout("all", aligned)
