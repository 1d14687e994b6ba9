"""Atomic file writes: a temporary file beside the target, then a rename.

A reader (the app, a second process) sees the old file or the new one, never half of one, and
an interrupted run leaves no truncated file behind. Every file gets the mode the umask gives a
new file (`0666 & ~umask`, as `open` would), so a results folder on a shared machine is as
readable as the user's other files. Output paths are checked before the work that fills them
(`check_output_file`, `check_output_folder`): a refusal after minutes of computing helps nobody.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import stat
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from interp.core.errors import InterpError

# The temporary beside a target is ".NAME." + 8 random characters + ".tmp" (`tempfile.mkstemp`).
TEMPORARY_EXTRA = len("..") + 8 + len(".tmp")
# Temporaries this project leaves when a writer is killed: `mkstemp`'s, and ".NAME.PID.tmp"
# (patterns written in place, links made by a merge).
STALE_TEMPORARY = re.compile(r"\..+\.(?:[a-z0-9_]{8}|\d+)\.tmp")


def file_mode() -> int:
    """The mode a new file gets under the process's umask: `0666 & ~umask`.

    Read from `/proc/self/status` where Linux gives it; elsewhere set and restored at once."""
    try:
        with open("/proc/self/status", encoding="ascii", errors="replace") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return 0o666 & ~int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


def _write_temporary(path: Path, data: bytes) -> str:
    """`data` in a new temporary file beside `path`, flushed to disk; its name."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        # mkstemp makes the file 0600; the finished file should read like any other the user makes.
        os.fchmod(handle, file_mode())
        with os.fdopen(handle, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return temporary


def write_bytes_atomic(path: str | Path, data: bytes) -> Path:
    """Write `data` to `path` through a temporary file in the same folder and `os.replace`."""
    path = Path(path)
    temporary = _write_temporary(path, data)
    try:
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def write_text_atomic(path: str | Path, text: str) -> Path:
    return write_bytes_atomic(path, text.encode("utf-8"))


def write_json_atomic(path: str | Path, value: Any) -> Path:
    return write_text_atomic(path, json.dumps(value, indent=2, ensure_ascii=False) + "\n")


def save_npy_atomic(path: str | Path, array: np.ndarray) -> Path:
    buffer = io.BytesIO()
    np.save(buffer, np.ascontiguousarray(array), allow_pickle=False)
    return write_bytes_atomic(path, buffer.getvalue())


def create_bytes_atomic(path: str | Path, data: bytes) -> bool:
    """Write `data` to `path` only if nothing is there yet; False (and nothing written) if something is.

    The complete file appears at once (a temporary file, then a hard link to the new name, which
    fails when the name exists), so two writers racing for one name never overwrite each other.
    """
    path = Path(path)
    temporary = _write_temporary(path, data)
    try:
        os.link(temporary, path)
        return True
    except FileExistsError:
        return False
    finally:
        Path(temporary).unlink(missing_ok=True)


def link_or_copy(source: str | Path, destination: str | Path) -> bool:
    """`source` at `destination`: a hard link where the filesystem allows one and the file has
    the mode the umask gives a new file, else a copy (which gets that mode); True when linked.

    Atomic either way (a temporary name, then a rename). This project replaces files by rename,
    never changes them in place, so a link never sees a later change to the other folder, and a
    folder that holds links stays whole when the other one is deleted (never a symbolic link).
    """
    source, destination = Path(source), Path(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    if destination.exists() and os.path.samefile(source, destination):
        return True  # linked by a writer stopped before the rename of what came after
    temporary = destination.with_name(f".{destination.name}.{os.getpid()}.tmp")
    temporary.unlink(missing_ok=True)
    linked = False
    if stat.S_IMODE(source.stat().st_mode) == file_mode():
        try:
            os.link(source, temporary)
            linked = True
        except OSError:
            pass
    if not linked:
        shutil.copyfile(source, temporary)
        os.chmod(temporary, file_mode())
    os.replace(temporary, destination)
    return linked


def replace_folder(staging: str | Path, target: str | Path) -> Path:
    """Put the finished folder `staging` in place of `target` (a sibling): the old folder is
    renamed aside and removed, so a reader finds the old folder or the new one, never a mix."""
    staging, target = Path(staging), Path(target)
    if target.exists():
        old = target.with_name(f".{target.name}.old-{os.getpid()}")
        os.replace(target, old)
        shutil.rmtree(old)
    os.replace(staging, target)
    return target


def check_output_file(path: str | Path, option: str = "--out") -> Path:
    """`path` if a file can be written there atomically, else an `InterpError` naming `option`.

    Checked before any work: not a folder, not a device or pipe (a rename would replace it), a
    name short enough with its temporary's (`TEMPORARY_EXTRA` more bytes), and a folder to write
    in (made if missing, below a folder that accepts new files).
    """
    path = Path(path)
    where = f"{option} {_shown(path)}"
    _check_name(path, TEMPORARY_EXTRA, where)
    if path.is_dir():
        raise InterpError(f"{where}: is a folder; name a file (in it, or elsewhere)")
    if path.is_symlink() or path.exists():
        mode = path.lstat().st_mode
        if not (stat.S_ISREG(mode) or stat.S_ISLNK(mode)):
            raise InterpError(f"{where}: is not a regular file (a device, a pipe, a socket); name a new file")
    _check_writable(path.parent, where)
    return path


def check_output_folder(path: str | Path, option: str = "--out") -> Path:
    """`path` if it is a folder that can be written, or one that can be made; else an `InterpError`."""
    path = Path(path)
    where = f"{option} {_shown(path)}"
    _check_name(path, 0, where)
    if path.is_symlink() and not path.exists():
        raise InterpError(f"{where}: is a symbolic link to nothing; name a folder")
    if path.exists() and not path.is_dir():
        raise InterpError(f"{where}: is a file, not a folder; name a new or existing folder")
    _check_writable(path, where)
    return path


def _shown(path: Path) -> str:
    """A path for a message: whole, unless it is so long that the line would be unreadable."""
    text = str(path)
    return text if len(text) <= 400 else f"{text[:200]}…{text[-100:]} ({len(text):,} characters)"


def _existing_ancestor(path: Path) -> Path:
    for candidate in (path, *path.parents):
        try:
            if candidate.exists():
                return candidate
        except OSError:  # a part too long to look up: what is above it decides
            continue
    return Path(".")


def _check_name(path: Path, extra: int, where: str) -> None:
    """Every part of `path` fits the file system's name limit; the last one with `extra` bytes."""
    try:
        limit = os.pathconf(_existing_ancestor(path.absolute().parent), "PC_NAME_MAX")
    except (OSError, ValueError):
        limit = 255
    for part in path.parts[:-1]:
        if len(os.fsencode(part)) > limit:
            raise InterpError(f"{where}: the folder name {part[:40]!r}… is longer than the file system's "
                              f"{limit} bytes")
    size = len(os.fsencode(path.name))
    if size + extra > limit:
        needs = f" (its temporary name needs {extra} more)" if extra else ""
        raise InterpError(f"{where}: the name is {size} bytes long; at most {limit - extra} here{needs}")


def _check_writable(folder: Path, where: str) -> None:
    """New files can be made in `folder`, or in the nearest existing folder above it (which then
    must be a folder): probed by making and removing an empty temporary file there."""
    existing = _existing_ancestor(folder.absolute())
    if not existing.is_dir():
        raise InterpError(f"{where}: {_shown(existing)} is a file, not a folder")
    try:
        handle, probe = tempfile.mkstemp(dir=existing, prefix=".interp-probe.", suffix=".tmp")
    except OSError as error:
        raise InterpError(f"{where}: cannot make files in {_shown(existing)} ({error.strerror or error})") from None
    os.close(handle)
    os.unlink(probe)


def remove_stale_temporaries(folder: str | Path) -> int:
    """Remove the temporaries a killed writer left in a results folder and its `entries/STAGE/`
    folders; how many. Call it holding the folder's writer lock: then no writer is at work."""
    folder = Path(folder)
    entries = folder / "entries"
    stages = [entries / name for name in os.listdir(entries)] if entries.is_dir() and not entries.is_symlink() else []
    removed = 0
    for directory in [folder, *(stage for stage in stages if stage.is_dir() and not stage.is_symlink())]:
        for name in os.listdir(directory):
            path = directory / name
            if STALE_TEMPORARY.fullmatch(name) and path.is_file() and not path.is_symlink():
                path.unlink(missing_ok=True)
                removed += 1
    return removed
