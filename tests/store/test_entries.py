"""An entry's record, layout and writer: patterns layer by layer, the record last, digests of all."""

import json

import numpy as np
import pytest

from interp.concepts.alignment import AlignedSequence
from interp.core.digests import file_digest
from interp.core.errors import InterpError
from interp.store.entries import (
    EntryWriter,
    PatternLayout,
    parse_entry_record,
)

N = 6
ALIGNED = AlignedSequence("s-1", tuple("abcdef"), tuple(range(N)), ((0, 1),) * N,
                          np.array([0, 1, 1, 0, 0, 0], dtype=bool), ((1, 2),), (), True)


def writer(tmp_path, layout):
    paths = {name: tmp_path / f"s-1.{name}.npy" for name in ("colsums", "norms", "spans", "patterns")}
    return EntryWriter(paths, tmp_path / "s-1.json", ALIGNED, 2, 3, layout), paths


def test_layout_shapes():
    assert PatternLayout("window", 1, 4).shape(2, 3, N) == (2, 3, 3, 3)
    assert PatternLayout("full").shape(2, 3, N) == (2, 3, 21)
    assert PatternLayout().shape(2, 3, N) is None


def test_patterns_are_written_layer_by_layer_and_the_record_last(tmp_path):
    entry, paths = writer(tmp_path, PatternLayout("window", 1, 4))
    assert not (tmp_path / "s-1.json").exists()
    for layer in range(2):
        entry.write_layer(layer, np.full((3, 3, 3), layer + 0.5, dtype=np.float16))
    assert not paths["patterns"].exists(), "the patterns file appears complete or not at all"
    entry.finish(np.ones((2, 3, N), dtype=np.float32), np.ones((2, 3, N)), np.zeros((2, 3, 1, 1)), key="k")
    record = parse_entry_record(json.loads((tmp_path / "s-1.json").read_text()), tmp_path / "s-1.json")
    assert record.key == "k" and record.patterns == PatternLayout("window", 1, 4)
    assert record.digests == {name: file_digest(paths[name]) for name in ("colsums", "norms", "spans", "patterns")}
    np.testing.assert_array_equal(np.load(paths["patterns"])[1], 1.5)
    assert record.expected_shape("colsums") == (2, 3, N) and record.aligned().concept_mask.tolist() == ALIGNED.concept_mask.tolist()
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "s-1.colsums.npy", "s-1.json", "s-1.norms.npy", "s-1.patterns.npy", "s-1.spans.npy"]


def test_a_discarded_entry_leaves_nothing(tmp_path):
    entry, _ = writer(tmp_path, PatternLayout("full"))
    entry.write_layer(0, np.zeros((3, 21), dtype=np.float16))
    entry.discard()
    assert list(tmp_path.iterdir()) == []
    none, _ = writer(tmp_path, PatternLayout())
    with pytest.raises(InterpError, match="keeps no patterns"):
        none.write_layer(0, np.zeros(1))


@pytest.mark.parametrize(("change", "field"), [
    (lambda r: r.update(span_tokens=[[7]]), "span token indices"),
    (lambda r: r.update(token_ids=[1]), "one length"),
    (lambda r: r.update(patterns={"kind": "window", "start": 3, "end": 99}), "does not fit"),
    (lambda r: r.pop("key"), "field 'key'"),
])
def test_inconsistent_records_are_damaged(tmp_path, change, field):
    entry, _ = writer(tmp_path, PatternLayout())
    entry.finish(np.ones((2, 3, N), dtype=np.float32), np.ones((2, 3, N)), None, key="k")
    document = json.loads((tmp_path / "s-1.json").read_text())
    change(document)
    with pytest.raises(InterpError, match="damaged entry record") as caught:
        parse_entry_record(document, tmp_path / "s-1.json")
    assert field in str(caught.value)
