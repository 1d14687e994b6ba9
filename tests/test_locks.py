"""One writer per folder: a second is refused at once, or waits when asked to."""

import threading
import time

import pytest

from interp.errors import InterpError
from interp.locks import folder_lock


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
    from interp.locks import FolderBusy, is_locked

    assert not is_locked(tmp_path, ".lock")
    with folder_lock(tmp_path, ".lock", "busy"):
        assert is_locked(tmp_path, ".lock")
        with pytest.raises(FolderBusy):
            with folder_lock(tmp_path, ".lock", "busy"):
                pass
    assert not is_locked(tmp_path, ".lock")
    assert issubclass(FolderBusy, InterpError)
