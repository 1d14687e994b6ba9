"""Atomic file writes: a temporary file beside the target, then a rename.

A reader (the app, a second process) sees the old file or the new one, never half of one, and
an interrupted run leaves no truncated file behind.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np


def _write_temporary(path: Path, data: bytes) -> str:
    """`data` in a new temporary file beside `path`, flushed to disk; its name."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
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
