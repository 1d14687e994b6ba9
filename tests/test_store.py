"""The results folder: entries round-trip, `open` names what is missing, damage is one line."""

import json
import shutil

import numpy as np
import pytest

from interp.errors import InterpError
from interp.store import FORMAT_VERSION, ResultsStore, unpack_lower_triangle


def test_unpack_lower_triangle_round_trip():
    square = np.tril(np.arange(25, dtype=np.float32).reshape(5, 5))
    rows, cols = np.tril_indices(5)
    packed = square[rows, cols]
    np.testing.assert_array_equal(unpack_lower_triangle(packed, 5), square)
    with pytest.raises(InterpError, match="expected 10 for n=4"):
        unpack_lower_triangle(packed, 4)


def test_not_a_results_folder(tmp_path):
    with pytest.raises(InterpError, match="no such results folder"):
        ResultsStore(tmp_path / "nowhere").open()
    with pytest.raises(InterpError, match=r"not a results folder \(no manifest.json\)"):
        ResultsStore(tmp_path).open()


def test_unsafe_names_cannot_name_an_entry(tmp_path):
    with pytest.raises(InterpError, match=r"'\.\./x' cannot name a stored entry"):
        ResultsStore(tmp_path).entry_path("../x", "seq", ".json")


@pytest.mark.slow
def test_entries_round_trip(tiny_run):
    store = ResultsStore(tiny_run[0])
    aligned = store.read_aligned("cpt", "lessee-1")
    assert aligned.tokens[0] == "<s>" and aligned.has_bos
    colsums = store.read_colsums("cpt", "lessee-1")
    assert colsums.dtype == np.float32 and colsums.shape == (2, 4, aligned.n_tokens)
    packed = store.read_patterns("cpt", "lessee-1")
    assert packed.dtype == np.float16 and packed.shape == (2, 4, aligned.n_tokens * (aligned.n_tokens + 1) // 2)
    assert store.bytes_of_entry("cpt", "lessee-1") > colsums.nbytes


@pytest.mark.slow
def test_damaged_store_names_stage_and_sequence(tiny_run, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(tiny_run[0], copy)
    (copy / "entries" / "ift" / "seller-1.colsums.npy").unlink()
    with pytest.raises(InterpError, match="stage 'ift', sequence 'seller-1' is missing or damaged"):
        ResultsStore(copy).open()
    (copy / "manifest.json").write_text("{not json")
    with pytest.raises(InterpError, match="corrupt manifest"):
        ResultsStore(copy).open()


@pytest.mark.slow
def test_manifest_of_another_format_version_is_refused(tiny_run, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(tiny_run[0], copy)
    document = json.loads((copy / "manifest.json").read_text())
    document["format_version"] = FORMAT_VERSION - 1
    (copy / "manifest.json").write_text(json.dumps(document))
    with pytest.raises(InterpError, match=f"field 'format_version': {FORMAT_VERSION - 1}, but this version"):
        ResultsStore(copy).open()


@pytest.mark.slow
def test_open_is_remembered_until_the_manifest_changes(tiny_run, tmp_path, monkeypatch):
    copy = tmp_path / "copy"
    shutil.copytree(tiny_run[0], copy)
    store = ResultsStore(copy)
    first = store.open()
    checks = []
    monkeypatch.setattr(store, "has_entry", lambda *a, **k: checks.append(a) or True)
    assert store.open() is first and checks == []
    store.write_manifest(first)
    store.open()
    assert len(checks) == 6, "a rewritten manifest is checked again"
