"""One writer per folder at a time, across processes and app sessions (an advisory `flock`).

The lock is a small regular file holding the holder's process id. A folder is user territory:
whatever sits at the lock's name that is not such a file (a symbolic link to a precious file, a
hard link, a pipe, a file with other contents) is refused, never followed, truncated or written.
"""

from __future__ import annotations

import fcntl
import os
import re
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from interp.core.errors import InterpError

# What a lock file may hold: nothing yet, or a process id (ours, or a former holder's).
# The lock file of every folder one writer at a time writes (results folders, concept folders).
LOCK_NAME = ".lock"
LOCK_CONTENT = re.compile(rb"\d{0,20}\n?")
OPEN_FLAGS = os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC


class FolderBusy(InterpError):
    """Another holder has the folder's lock; a caller may wait (`is_locked`) and try again."""


@contextmanager
def folder_lock(folder: Path, name: str, busy: str, wait: bool = False) -> Iterator[None]:
    """Hold the lock file `folder/name` while the block runs.

    With `wait=False` a held lock is a `FolderBusy` error saying `busy`; with `wait=True` the
    caller waits for the other holder (the demo build: a second process then uses the first
    one's build). The lock goes with the process, so a killed writer never leaves the folder locked.
    Anything at `folder/name` other than a lock file of this tool is an `InterpError`, left as it is.
    """
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise InterpError(f"{folder}: cannot be made a folder ({error.strerror or error})") from None
    path = folder / name
    descriptor = _open_lock(path)
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise FolderBusy(f"{folder}: {busy}") from None
        try:
            # Checked under the lock: only a holder writes the file, so its content is settled.
            if not LOCK_CONTENT.fullmatch(os.pread(descriptor, 64, 0)):
                raise InterpError(f"{path}: holds something other than a lock (a process id); this tool's lock "
                                  "file has that name: move the file elsewhere")
            os.ftruncate(descriptor, 0)
            os.pwrite(descriptor, f"{os.getpid()}\n".encode(), 0)
            yield
        finally:
            fcntl.flock(descriptor, fcntl.LOCK_UN)
    finally:
        os.close(descriptor)


def _open_lock(path: Path) -> int:
    """A descriptor of the lock file, created if absent: never through a symbolic link, never a
    file with other names (a hard link), a pipe or a device."""
    refusal = (f"{path}: {{}}, not a lock file of this tool; it is left as it is: remove it (or run elsewhere) "
               "to use this folder")
    try:
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT | OPEN_FLAGS, 0o666)
    except OSError as error:
        if path.is_symlink():
            raise InterpError(refusal.format("a symbolic link")) from None
        raise InterpError(f"{path}: the lock file cannot be opened ({error.strerror or error})") from None
    status = os.fstat(descriptor)
    problem = ("not a regular file" if not stat.S_ISREG(status.st_mode)
               else f"a file with {status.st_nlink} names (hard links)" if status.st_nlink > 1 else None)
    if problem:
        os.close(descriptor)
        raise InterpError(refusal.format(problem))
    return descriptor


def is_locked(folder: Path, name: str) -> bool:
    """Whether someone holds `folder/name` now (checked by taking and at once releasing it).

    Only a regular file is looked at: a symbolic link or a pipe there is no lock of this tool."""
    path = Path(folder) / name
    try:
        descriptor = os.open(path, os.O_RDONLY | OPEN_FLAGS)
    except OSError:
        return False
    try:
        if not stat.S_ISREG(os.fstat(descriptor).st_mode):
            return False
        try:
            fcntl.flock(descriptor, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(descriptor, fcntl.LOCK_UN)
        return False
    finally:
        os.close(descriptor)
