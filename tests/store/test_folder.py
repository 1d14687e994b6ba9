"""The results folder: entries round-trip, `open` names what is missing, damage is one line."""

import json
import shutil

import numpy as np
import pytest

from interp.core.errors import InterpError
from interp.store.folder import FORMAT_VERSION, ResultsStore, unpack_lower_triangle


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
    patterns = store.read_patterns("cpt", "lessee-1")
    n = aligned.n_tokens
    assert n <= 48 and patterns.layout.kind == "window" and patterns.extent == (0, n), "short: kept whole"
    assert patterns.values.dtype == np.float16 and patterns.values.shape == (2, 4, n, n)
    assert patterns.head(1, 3).shape == (n, n) and patterns.head(1, 3).dtype == np.float32
    np.testing.assert_array_equal(patterns.head(1, 3, (2, 5)), patterns.head(1, 3)[2:5, 2:5])
    with pytest.raises(InterpError, match="lie outside the stored patterns"):
        patterns.head(1, 3, (2, n + 5))
    spans = store.read_span_attention("cpt", "seller-1")
    assert spans.shape == (2, 4, 2, 2)
    assert store.bytes_of_entry("cpt", "lessee-1") > colsums.nbytes


@pytest.mark.slow
def test_damaged_store_names_stage_and_sequence(tiny_run, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(tiny_run[0], copy)
    (copy / "entries" / "ift" / "seller-1.colsums.npy").unlink()
    with pytest.raises(InterpError, match=r"incomplete results: stage 'ift' lacks 1 sequence\(s\) \(first: 'seller-1'\)"):
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


def damaged_copy(tiny_run, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(tiny_run[0], copy)
    return copy, copy / "entries" / "ift" / "seller-1"


def rewrite_npy(path, change):
    np.save(path, change(np.load(path)))


@pytest.mark.slow
@pytest.mark.parametrize(("damage", "reader", "message"), [
    (lambda entry: rewrite_npy(entry.with_suffix(".colsums.npy"), lambda a: a * 3), "read_colsums",
     "changed or damaged since it was written"),
    (lambda entry: rewrite_npy(entry.with_suffix(".colsums.npy"), lambda a: a[:, :, :-1]), "read_colsums",
     "changed or damaged"),
    (lambda entry: entry.with_suffix(".colsums.npy").write_bytes(b"\x93NUMPY garbage"), "read_colsums",
     "changed or damaged"),
    (lambda entry: entry.with_suffix(".spans.npy").unlink(), "read_span_attention", "cannot be read"),
])
def test_a_changed_array_is_an_error_naming_stage_and_sequence(tiny_run, tmp_path, damage, reader, message):
    copy, entry = damaged_copy(tiny_run, tmp_path)
    damage(entry)
    store = ResultsStore(copy)
    with pytest.raises(InterpError, match=message) as caught:
        getattr(store, reader)("ift", "seller-1")
    assert "stage 'ift', sequence 'seller-1'" in str(caught.value) and "\n" not in str(caught.value)


@pytest.mark.slow
def test_nan_and_wrong_shapes_are_refused_even_with_a_matching_digest(tiny_run, tmp_path):
    from interp.core.digests import file_digest

    copy, entry = damaged_copy(tiny_run, tmp_path)
    record_path = entry.with_suffix(".json")
    for change, message in ((lambda a: np.where(a > 0, np.nan, a), "non-finite"), (lambda a: a[:1], "shape")):
        rewrite_npy(entry.with_suffix(".colsums.npy"), change)
        record = json.loads(record_path.read_text())
        record["digests"]["colsums"] = file_digest(entry.with_suffix(".colsums.npy"))
        record_path.write_text(json.dumps(record))
        with pytest.raises(InterpError, match=message):
            ResultsStore(copy).read_colsums("ift", "seller-1")
        shutil.copy(tiny_run[0] / "entries" / "ift" / "seller-1.colsums.npy", entry.with_suffix(".colsums.npy"))


@pytest.mark.slow
def test_a_record_with_impossible_span_indices_is_damaged(tiny_run, tmp_path):
    copy, entry = damaged_copy(tiny_run, tmp_path)
    record = json.loads(entry.with_suffix(".json").read_text())
    record["span_tokens"][0] = [9999]
    entry.with_suffix(".json").write_text(json.dumps(record))
    with pytest.raises(InterpError, match="damaged entry record, field 'record'|span token indices"):
        ResultsStore(copy).read_aligned("ift", "seller-1")
    with pytest.raises(InterpError, match="stage 'ift' lacks 1 sequence"):
        ResultsStore(copy).open()


@pytest.mark.slow
def test_truncated_patterns_are_an_error(tiny_run, tmp_path):
    copy, entry = damaged_copy(tiny_run, tmp_path)
    path = entry.with_suffix(".patterns.npy")
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(InterpError, match="changed or damaged"):
        ResultsStore(copy).read_patterns("ift", "seller-1")


@pytest.mark.slow
def test_an_unfinished_run_says_what_is_missing_unless_partial_is_asked(tiny_run, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(tiny_run[0], copy)
    document = json.loads((copy / "manifest.json").read_text())
    document["stages"] = document["stages"][:1]
    document["complete"] = False
    (copy / "manifest.json").write_text(json.dumps(document))
    with pytest.raises(InterpError, match=r"incomplete results: stage 'cpt' lacks 2 sequence\(s\) .*stage 'ift'"):
        ResultsStore(copy).open()
    store = ResultsStore(copy)
    manifest = store.open(partial=True)
    assert manifest.stage_labels == ["base"] and len(store.missing(manifest)) == 4


@pytest.mark.slow
def test_a_manifest_without_sequences_is_one_line(tiny_run, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(tiny_run[0], copy)
    document = json.loads((copy / "manifest.json").read_text())
    document["sequences"] = []
    (copy / "manifest.json").write_text(json.dumps(document))
    with pytest.raises(InterpError, match="field 'sequences': the run holds no sequences"):
        ResultsStore(copy).open()


def test_a_window_of_a_stored_triangle_is_read_without_unpacking_it():
    from interp.store.entries import PatternLayout
    from interp.store.folder import StoredPatterns

    rng = np.random.default_rng(0)
    square = np.tril(rng.random((1, 1, 9, 9))).astype(np.float16)
    rows, cols = np.tril_indices(9)
    patterns = StoredPatterns(PatternLayout("full"), 9, square[..., rows, cols])
    np.testing.assert_array_equal(patterns.head(0, 0, (3, 7)), square[0, 0, 3:7, 3:7].astype(np.float32))
    assert patterns.extent == (0, 9)
