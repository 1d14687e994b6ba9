"""One writer per folder at a time, across processes and app sessions (an advisory `flock`)."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from interp.errors import InterpError


@contextmanager
def folder_lock(folder: Path, name: str, busy: str, wait: bool = False) -> Iterator[None]:
    """Hold the lock file `folder/name` while the block runs.

    With `wait=False` a held lock is an `InterpError` saying `busy`; with `wait=True` the caller
    waits for the other holder (the demo build: a second process then uses the first one's build).
    The lock goes with the process, so a killed writer never leaves the folder locked.
    """
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / name, "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise InterpError(f"{folder}: {busy}") from None
        try:
            lock.write(str(os.getpid()))
            lock.flush()
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
