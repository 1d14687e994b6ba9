"""One writer per folder: a second is refused at once, or waits when asked to."""

import threading
import time

import pytest

from interp.core.errors import InterpError
from interp.core.locks import folder_lock, is_locked


def test_a_second_holder_is_refused_with_the_message(tmp_path):
    with folder_lock(tmp_path, ".lock", "busy elsewhere"):
        with pytest.raises(InterpError, match=f"^{tmp_path}: busy elsewhere$"):
            with folder_lock(tmp_path, ".lock", "busy elsewhere"):
                pass
    with folder_lock(tmp_path, ".lock", "busy elsewhere"):
        pass  # free again once released


def test_a_waiting_holder_gets_the_lock_after_the_first(tmp_path):
    order = []
    held = threading.Event()

    def first():
        with folder_lock(tmp_path, ".lock", "busy"):
            held.set()
            time.sleep(0.3)
            order.append("first")

    thread = threading.Thread(target=first)
    thread.start()
    held.wait(5)
    with folder_lock(tmp_path, ".lock", "busy", wait=True):
        order.append("second")
    thread.join(5)
    assert order == ["first", "second"]


def test_a_busy_folder_is_its_own_error_and_can_be_watched(tmp_path):
    from interp.core.locks import FolderBusy, is_locked

    assert not is_locked(tmp_path, ".lock")
    with folder_lock(tmp_path, ".lock", "busy"):
        assert is_locked(tmp_path, ".lock")
        with pytest.raises(FolderBusy):
            with folder_lock(tmp_path, ".lock", "busy"):
                pass
    assert not is_locked(tmp_path, ".lock")
    assert issubclass(FolderBusy, InterpError)


def test_a_symbolic_link_at_the_lock_is_refused_and_its_target_kept(tmp_path):
    precious = tmp_path / "precious.txt"
    precious.write_text("precious\n")
    folder = tmp_path / "run"
    folder.mkdir()
    (folder / ".lock").symlink_to(precious)
    with pytest.raises(InterpError, match=r"^.*run/\.lock: a symbolic link, not a lock file of this tool; it is left"):
        with folder_lock(folder, ".lock", "busy"):
            pass
    assert precious.read_text() == "precious\n" and (folder / ".lock").is_symlink()
    dangling = tmp_path / "dangling"
    dangling.mkdir()
    (dangling / ".lock").symlink_to(tmp_path / "would-be-created")
    with pytest.raises(InterpError, match="a symbolic link"):
        with folder_lock(dangling, ".lock", "busy"):
            pass
    assert not (tmp_path / "would-be-created").exists()


def test_a_hard_link_a_pipe_or_a_file_of_other_contents_is_not_written(tmp_path):
    import os

    precious = tmp_path / "precious.txt"
    precious.write_text("precious\n")
    linked, piped, other = (tmp_path / name for name in ("linked", "piped", "other"))
    for folder in (linked, piped, other):
        folder.mkdir()
    os.link(precious, linked / ".lock")
    os.mkfifo(piped / ".lock")
    (other / ".lock").write_text("notes I keep here\n")
    for folder, problem in ((linked, "a file with 2 names"), (piped, "not a regular file"),
                            (other, "holds something other than a lock")):
        with pytest.raises(InterpError, match=problem):
            with folder_lock(folder, ".lock", "busy"):
                pass
        assert not is_locked(folder, ".lock")
    assert precious.read_text() == "precious\n" and (other / ".lock").read_text() == "notes I keep here\n"


def test_the_lock_holds_the_holders_process_id(tmp_path):
    import os

    (tmp_path / ".lock").write_text("123456789012\n")  # a former holder's
    with folder_lock(tmp_path, ".lock", "busy"):
        assert (tmp_path / ".lock").read_text() == f"{os.getpid()}\n"
