"""Atomic writes: readers see the old file or the new one, never half; failures leave nothing behind."""

import numpy as np
import pytest

from interp import atomic


def test_a_write_replaces_the_file_whole(tmp_path):
    target = tmp_path / "sub" / "file.json"
    atomic.write_json_atomic(target, {"a": 1})
    atomic.write_json_atomic(target, {"a": 2, "ü": "é"})
    assert target.read_text("utf-8") == '{\n  "a": 2,\n  "ü": "é"\n}\n'
    assert [p.name for p in target.parent.iterdir()] == ["file.json"]


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    target = tmp_path / "file.txt"
    atomic.write_text_atomic(target, "old")

    def broken_replace(*args):
        raise OSError("disk full")

    monkeypatch.setattr(atomic.os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        atomic.write_text_atomic(target, "new")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["file.txt"]


def test_arrays_round_trip_without_pickle(tmp_path):
    values = np.arange(12, dtype=np.float32).reshape(3, 4)
    atomic.save_npy_atomic(tmp_path / "a.npy", values)
    np.testing.assert_array_equal(np.load(tmp_path / "a.npy", allow_pickle=False), values)
    with pytest.raises(ValueError):
        atomic.save_npy_atomic(tmp_path / "c.npy", np.array([{"a": 1}], dtype=object))


def test_create_writes_only_where_nothing_is(tmp_path):
    target = tmp_path / "sub" / "set.yaml"
    assert atomic.create_bytes_atomic(target, b"first")
    assert not atomic.create_bytes_atomic(target, b"second")
    assert target.read_bytes() == b"first"
    assert [p.name for p in target.parent.iterdir()] == ["set.yaml"], "no temporary file is left"


def test_racing_creates_leave_exactly_one_winner(tmp_path):
    import threading

    start, won = threading.Barrier(8), []

    def create(n: int) -> None:
        start.wait(10)
        if atomic.create_bytes_atomic(tmp_path / "one.txt", str(n).encode()):
            won.append(n)

    threads = [threading.Thread(target=create, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert len(won) == 1 and (tmp_path / "one.txt").read_bytes() == str(won[0]).encode()
    assert [p.name for p in tmp_path.iterdir()] == ["one.txt"]
