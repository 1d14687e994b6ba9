"""Atomic writes: readers see the old file or the new one, never half; failures leave nothing behind."""

import numpy as np
import pytest

from interp.core import atomic


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


@pytest.fixture()
def umask():
    """Set the process's umask for one test, and restore it after."""
    import os

    previous = os.umask(0o022)
    yield os.umask
    os.umask(previous)


@pytest.mark.parametrize("mask, mode", [(0o022, 0o644), (0o027, 0o640), (0o077, 0o600), (0o002, 0o664)])
def test_every_file_gets_the_mode_the_umask_gives(tmp_path, umask, mask, mode):
    umask(mask)
    atomic.write_json_atomic(tmp_path / "manifest.json", {"a": 1})
    atomic.save_npy_atomic(tmp_path / "colsums.npy", np.zeros(3, dtype=np.float32))
    atomic.write_bytes_atomic(tmp_path / "bundle.zip", b"PK")
    assert atomic.create_bytes_atomic(tmp_path / "set.yaml", b"set: t\n")
    with open(tmp_path / "plain.txt", "w"):  # what `open` gives, for comparison
        pass
    assert atomic.file_mode() == mode
    assert {p.name: p.stat().st_mode & 0o777 for p in tmp_path.iterdir()} == dict.fromkeys(
        ["manifest.json", "colsums.npy", "bundle.zip", "set.yaml", "plain.txt"], mode)


def test_an_output_file_is_checked_before_any_work(tmp_path):
    import os

    (tmp_path / "folder.zip").mkdir()
    (tmp_path / "a-file").write_text("x")
    os.mkfifo(tmp_path / "pipe.zip")
    longest = "b" * (255 - atomic.TEMPORARY_EXTRA - 4) + ".zip"
    assert atomic.check_output_file(tmp_path / "new" / "deeper" / longest) == tmp_path / "new" / "deeper" / longest
    assert not (tmp_path / "new").exists()  # checked, nothing made
    cases = [
        (tmp_path / "folder.zip", r"folder\.zip: is a folder; name a file"),
        (tmp_path / "pipe.zip", r"pipe\.zip: is not a regular file"),
        ("/dev/full", r"^--out /dev/full: is not a regular file"),
        (tmp_path / ("c" * 250 + ".zip"), r"the name is 254 bytes long; at most 241 here \(its temporary name needs 14"),
        (tmp_path / ("d" * 300 + ".zip"), r"the name is 304 bytes long; at most 241"),
        (tmp_path / "a-file" / "x.zip", r"a-file is a file, not a folder"),
        ("/proc/x.zip", r"^--out /proc/x\.zip: cannot make files in /proc"),
    ]
    for path, message in cases:
        with pytest.raises(atomic.InterpError, match=message):
            atomic.check_output_file(path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file", "folder.zip", "pipe.zip"]  # no probe left


def test_an_output_folder_is_checked_before_any_work(tmp_path):
    (tmp_path / "a-file").write_text("x")
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")
    assert atomic.check_output_folder(tmp_path / "new" / "run") == tmp_path / "new" / "run"
    assert atomic.check_output_folder(tmp_path) == tmp_path
    cases = [
        (tmp_path / "a-file", r"a-file: is a file, not a folder"),
        ("/dev/full", r"^--out /dev/full: is a file, not a folder"),
        ("/proc/x", r"^--out /proc/x: cannot make files in /proc"),
        (tmp_path / ("e" * 256), r"the name is 256 bytes long; at most 255"),
        (tmp_path / "dangling", r"dangling: is a symbolic link to nothing"),
    ]
    for path, message in cases:
        with pytest.raises(atomic.InterpError, match=message):
            atomic.check_output_folder(path, "--out")
    assert not (tmp_path / "nowhere").exists()


def test_stale_temporaries_are_removed_and_nothing_else(tmp_path):
    stage = tmp_path / "entries" / "base"
    stage.mkdir(parents=True)
    stale = [tmp_path / ".manifest.json.a1b2_c3d.tmp", stage / ".s-1.json.12345.tmp", stage / ".s-1.colsums.npy.zzzzzzzz.tmp"]
    kept = [tmp_path / "manifest.json", stage / "s-1.json", tmp_path / ".lock", tmp_path / "notes.tmp",
            stage / ".s-1.json.ABCDEFGH.tmp"]
    for path in stale + kept:
        path.write_text("x")
    assert atomic.remove_stale_temporaries(tmp_path) == 3
    assert not any(path.exists() for path in stale) and all(path.exists() for path in kept)
