"""Entries of earlier runs, reused: linked when checkpoint, tokenization, settings and spans match, never otherwise."""

from __future__ import annotations

import json
import os
import shutil
import stat

import numpy as np
import pytest

from interp.analysis.results import Results
from interp.concepts.files import ConceptSequence, Span
from interp.extraction.pipeline import extract_lineage
from interp.extraction.settings import ExtractionSettings
from interp.models.lineage import Lineage, Stage
from interp.store.folder import ResultsStore
from interp.store.reuse import earlier_runs
from tests.conftest import TINY_SEQUENCES, concept

pytestmark = pytest.mark.slow

NEW = concept("buyer-1", "The buyer shall sign the contract before the hearing, and the seller may appeal the decision.",
              "before the hearing")


def run(lineage, sequences, out, **options):
    """Extract into `out`; the progress lines, and which sequences ran a forward pass."""
    messages = []
    extract_lineage(lineage, sequences, out, ExtractionSettings(device="cpu", **options.pop("settings", {})),
                    on_progress=lambda p: messages.append(p.message), **options)
    return messages, [m.split("'")[3] for m in messages if m.endswith("done")]


@pytest.fixture()
def earlier(tiny_run, tmp_path):
    """The tiny run, as an earlier run in a runs folder (a copy: files keep their modes)."""
    folder = tmp_path / "runs" / "earlier"
    shutil.copytree(tiny_run[0], folder)
    return folder


def entry_files(folder, stage, sequence_id):
    return sorted((folder / "entries" / stage).glob(f"{sequence_id}.*"))


def test_a_run_with_more_sequences_reuses_what_an_earlier_run_holds(tiny_lineage, earlier):
    out = earlier.parent / "more"
    messages, extracted = run(tiny_lineage, [*TINY_SEQUENCES, NEW], out)
    for label in ("base", "cpt", "ift"):
        assert f"stage '{label}': 2 reused, 1 to run" in messages
    assert extracted == ["buyer-1"] * 3, "a forward pass for the new sequence alone"
    before, after = Results(earlier), Results(out)
    for sequence in TINY_SEQUENCES:
        for label in ("base", "cpt", "ift"):
            np.testing.assert_array_equal(after.share(sequence=sequence.id, stage=label),
                                          before.share(sequence=sequence.id, stage=label))
            for mine, theirs in zip(entry_files(out, label, sequence.id), entry_files(earlier, label, sequence.id)):
                if mine.suffix == ".npy":
                    assert os.path.samefile(mine, theirs), "arrays are hard links, not copies"
    assert not [path for path in out.rglob("*") if path.is_symlink()]
    shutil.rmtree(earlier)
    assert Results(out).share(sequence="lessee-1", stage="ift").shape == (2, 4), "the folder stands on its own"


def test_the_same_text_under_another_id_and_stage_label_is_reused(tiny_lineage, earlier):
    renamed = Lineage("renamed", tuple(Stage(f"step-{i}", s.model) for i, s in enumerate(tiny_lineage.stages)),
                      reference="step-0")
    first = TINY_SEQUENCES[0]
    copy = ConceptSequence("lessee-copy", "Role", first.text, first.spans, "elsewhere")
    messages, extracted = run(renamed, [copy], earlier.parent / "renamed")
    assert "stage 'step-2': 1 reused, 0 to run (no forward pass)" in messages and not extracted
    results, before = Results(earlier.parent / "renamed"), Results(earlier)
    assert results.sequence("lessee-copy").concept == "Role"
    np.testing.assert_array_equal(results.share(sequence="lessee-copy", stage="step-2"),
                                  before.share(sequence="lessee-1", stage="ift"))
    assert ResultsStore(earlier.parent / "renamed").read_record("step-2", "lessee-copy").sequence_id == "lessee-copy"


def test_other_spans_or_settings_are_extracted_again(tiny_lineage, earlier):
    first = TINY_SEQUENCES[0]
    moved = ConceptSequence(first.id, first.concept, first.text, (Span(4, 10, "lessee"),))
    messages, extracted = run(tiny_lineage, [moved], earlier.parent / "moved")
    assert "stage 'base': 0 cached, 1 to run" in messages and extracted == [first.id] * 3
    assert Results(earlier.parent / "moved").aligned(sequence=first.id, stage="base").span_tokens != \
        Results(earlier).aligned(sequence=first.id, stage="base").span_tokens
    messages, _ = run(tiny_lineage, [first], earlier.parent / "no-patterns", settings={"patterns": "none"})
    assert "stage 'base': 0 cached, 1 to run" in messages



def test_entries_follow_the_weights_not_the_stage_labels(tiny_lineage, earlier):
    base, cpt = tiny_lineage.stages[:2]
    swapped = Lineage("swapped", (Stage("base", cpt.model), Stage("cpt", base.model)), reference="base")
    messages, extracted = run(swapped, TINY_SEQUENCES[:1], earlier.parent / "swapped")
    assert "stage 'base': 1 reused, 0 to run (no forward pass)" in messages and not extracted
    results, before = Results(earlier.parent / "swapped"), Results(earlier)
    np.testing.assert_array_equal(results.share(sequence="lessee-1", stage="base"),
                                  before.share(sequence="lessee-1", stage="cpt"))
    np.testing.assert_array_equal(results.share(sequence="lessee-1", stage="cpt"),
                                  before.share(sequence="lessee-1", stage="base"))


def test_a_span_moved_in_place_is_extracted_again_in_the_same_folder(tiny_lineage, earlier):
    first = TINY_SEQUENCES[0]
    moved = ConceptSequence(first.id, first.concept, first.text, (Span(4, 10, "lessee"),))
    messages, extracted = run(tiny_lineage, [moved], earlier, reuse_from=[])
    assert "stage 'base': 0 cached, 1 to run" in messages and extracted == [first.id] * 3
    store = ResultsStore(earlier)
    assert store.read_record("base", first.id).span_tokens == [[2]]


def test_a_damaged_earlier_entry_is_extracted_not_copied(tiny_lineage, earlier):
    damaged = earlier / "entries" / "cpt" / "lessee-1.colsums.npy"
    values = np.load(damaged)
    np.save(damaged, values * 2)
    messages, extracted = run(tiny_lineage, TINY_SEQUENCES[:1], earlier.parent / "again")
    assert "stage 'base': 1 reused, 0 to run (no forward pass)" in messages
    assert "stage 'cpt': 0 cached, 1 to run" in messages and extracted == ["lessee-1"]
    np.testing.assert_allclose(np.load(earlier.parent / "again" / "entries" / "cpt" / "lessee-1.colsums.npy"), values,
                               rtol=1e-6, atol=1e-7)


def test_modes_follow_the_umask_where_the_earlier_file_has_another(tiny_lineage, earlier):
    private = earlier / "entries" / "base" / "lessee-1.colsums.npy"
    private.chmod(0o600)
    mask = os.umask(0o022)
    try:
        run(tiny_lineage, TINY_SEQUENCES[:1], earlier.parent / "shared")
    finally:
        os.umask(mask)
    copied = earlier.parent / "shared" / "entries" / "base" / "lessee-1.colsums.npy"
    assert not os.path.samefile(copied, private) and stat.S_IMODE(copied.stat().st_mode) == 0o644
    assert stat.S_IMODE(private.stat().st_mode) == 0o600, "the earlier run's file is left as it was"
    for path in (earlier.parent / "shared" / "entries").rglob("*.*"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o644, path


def test_no_reuse_and_where_reuse_looks(tiny_lineage, earlier, tmp_path):
    messages, _ = run(tiny_lineage, TINY_SEQUENCES[:1], tmp_path / "elsewhere" / "run", reuse_from=[])
    assert messages[0] == "stage 'base': 0 cached, 1 to run"
    messages, _ = run(tiny_lineage, TINY_SEQUENCES[:1], tmp_path / "named" / "run", reuse_from=[earlier])
    assert messages[0] == "stage 'base': 1 reused, 0 to run (no forward pass)"
    (tmp_path / "runs" / "broken").mkdir()
    (tmp_path / "runs" / "broken" / "manifest.json").write_text("{not json")
    found = [run.store.folder for run in earlier_runs([tmp_path / "runs"], exclude=earlier)]
    assert found == [], "the folder being written and a folder that does not read are passed over"
    os.utime(earlier / "manifest.json", (1, 1))
    found = [run.store.folder for run in earlier_runs([tmp_path / "runs", tmp_path / "named"], exclude=tmp_path)]
    assert found == [(tmp_path / "named" / "run").resolve(), earlier.resolve()], "newest first"


def test_a_manifest_names_what_the_stage_record_says(tiny_lineage, earlier):
    """A run made entirely of reused entries loads no model: its stages are marked cached."""
    run(tiny_lineage, TINY_SEQUENCES, earlier.parent / "all")
    manifest = json.loads((earlier.parent / "all" / "manifest.json").read_text())
    assert manifest["complete"] and [stage["cached"] for stage in manifest["stages"]] == [True, True, True]
