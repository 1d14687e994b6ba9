"""SHA-256 digests in one format, `sha256:<hex>`: of bytes, of files (read in chunks), of several
files in order, and of JSON-able values (sorted keys). Results folders record them beside every
array, checkpoints are fingerprinted by them, packaged wheels are checked against them."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

PREFIX = "sha256:"
CHUNK = 16 * 2**20


def bytes_digest(data: bytes) -> str:
    return PREFIX + hashlib.sha256(data).hexdigest()


def files_digest(paths: Iterable[Path]) -> str:
    """One digest over the files' bytes in the order given (a checkpoint's weight files)."""
    digest = hashlib.sha256()
    for path in paths:
        with Path(path).open("rb") as handle:
            while chunk := handle.read(CHUNK):
                digest.update(chunk)
    return PREFIX + digest.hexdigest()


def file_digest(path: Path) -> str:
    return files_digest([path])


def value_digest(value: Any) -> str:
    """The digest of a JSON-able value, keys sorted: the key of a record or an entry."""
    return bytes_digest(json.dumps(value, sort_keys=True, ensure_ascii=False).encode("utf-8"))


def hex_of(digest: str) -> str:
    """The hex part of a digest (where a format records bare hex, as PyPI's wheel hashes)."""
    return digest.removeprefix(PREFIX)
