"""One writer per folder at a time, across processes and app sessions (an advisory `flock`)."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from interp.errors import InterpError


class FolderBusy(InterpError):
    """Another holder has the folder's lock; a caller may wait (`is_locked`) and try again."""


@contextmanager
def folder_lock(folder: Path, name: str, busy: str, wait: bool = False) -> Iterator[None]:
    """Hold the lock file `folder/name` while the block runs.

    With `wait=False` a held lock is a `FolderBusy` error saying `busy`; with `wait=True` the
    caller waits for the other holder (the demo build: a second process then uses the first
    one's build). The lock goes with the process, so a killed writer never leaves the folder locked.
    """
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / name, "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise FolderBusy(f"{folder}: {busy}") from None
        try:
            lock.write(str(os.getpid()))
            lock.flush()
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def is_locked(folder: Path, name: str) -> bool:
    """Whether someone holds `folder/name` now (checked by taking and at once releasing it)."""
    path = folder / name
    if not path.is_file():
        return False
    with open(path) as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(lock, fcntl.LOCK_UN)
        return False
