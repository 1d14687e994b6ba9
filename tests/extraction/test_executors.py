"""The executor registry, and the local executor: one load per stage whatever the block size, the
app's stage loader honoured, the same bits as one task per stage."""

import pytest

import interp.models.loader as loader
from interp.core.errors import InterpError
from interp.extraction.executors import (
    EXECUTORS,
    Executor,
    ExecutorOptions,
    LocalRunner,
    get_executor,
    register_executor,
)
from interp.extraction.pipeline import extract_lineage
from interp.extraction.settings import ExtractionSettings
from interp.store.folder import ResultsStore
from tests.conftest import TINY_SEQUENCES


def test_executors_are_found_by_name():
    assert list(EXECUTORS) == ["local", "ray"]
    assert get_executor("local").connect is LocalRunner
    with pytest.raises(InterpError, match=r"^executor 'slurm' is unknown; executors: local, ray$"):
        get_executor("slurm")
    with pytest.raises(ValueError, match="registered twice"):
        register_executor(Executor("local", "again", LocalRunner))


def test_the_local_executor_takes_no_address():
    with pytest.raises(InterpError, match=r"^--address 10.0.0.5:6379: applies to --executor ray, not local$"):
        LocalRunner(ExecutorOptions(address="10.0.0.5:6379"))


@pytest.mark.slow
def test_blocks_of_one_sequence_load_each_stage_once_and_give_the_same_bits(tiny_run, tiny_lineage, tmp_path,
                                                                           monkeypatch):
    loads = []
    real = loader.load_stage
    monkeypatch.setattr(loader, "load_stage", lambda stage, **kw: loads.append(stage.label) or real(stage, **kw))
    extract_lineage(tiny_lineage, TINY_SEQUENCES, tmp_path / "r", ExtractionSettings(device="cpu"), block_size=1)
    assert loads == ["base", "cpt", "ift"]
    mine, theirs = ResultsStore(tmp_path / "r"), ResultsStore(tiny_run[0])
    for stage in tiny_lineage.labels:
        for sequence in TINY_SEQUENCES:
            assert mine.read_record(stage, sequence.id).digests == theirs.read_record(stage, sequence.id).digests


@pytest.mark.slow
def test_a_stage_loader_replaces_loading_and_is_never_freed(tiny_lineage, tmp_path, monkeypatch):
    asked = []
    kept = {}

    def cached(stage, settings, device, dtype):
        asked.append((stage.label, device, dtype))
        return kept.setdefault(stage.model, loader.load_stage(stage, device=device, dtype=dtype))

    monkeypatch.setattr(loader, "free_stage", lambda loaded: pytest.fail("freed the app's cached checkpoint"))
    extract_lineage(tiny_lineage, TINY_SEQUENCES[:1], tmp_path / "r", ExtractionSettings(device="cpu", patterns="none"),
                    stage_loader=cached)
    assert asked == [("base", "cpu", "float32"), ("cpt", "cpu", "float32"), ("ift", "cpu", "float32")]
    assert all(loaded.bridge is not None for loaded in kept.values())
