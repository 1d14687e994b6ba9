"""The user's own concept sets: uploads and sequences written in the app, kept in one folder.

Every file is validated by the registry before it is written, written atomically, and named
from a slug of the user's file name, so no path is ever built from raw user text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from interp.atomic import write_bytes_atomic, write_text_atomic
from interp.errors import InterpError
from interp.registry import (
    CONCEPT_SUFFIXES,
    ConceptFileError,
    ConceptSet,
    dump_concept_set,
    parse_concept_bytes,
    sequence_item,
)

AUTHORED_FILE = "authored.yaml"
AUTHORED_SET = "authored"


@dataclass(frozen=True)
class UserSet:
    """A concept file in the user's folder: its file name and what it holds."""

    file_name: str
    concept_set: ConceptSet


def slug(text: str, fallback: str = "upload") -> str:
    """Lower-case letters, digits, '-' and '_' only; what file names and ids are made of."""
    cleaned = re.sub(r"[^a-z0-9_-]+", "-", text.lower()).strip("-_")
    return cleaned[:60] or fallback


def list_user_sets(folder: Path) -> tuple[list[UserSet], list[str]]:
    """The valid sets in `folder`, and one line per file that no longer validates."""
    sets, problems = [], []
    if not folder.is_dir():
        return sets, problems
    for path in sorted(p for p in folder.iterdir() if p.suffix.lower() in CONCEPT_SUFFIXES and p.is_file()):
        try:
            sets.append(UserSet(path.name, parse_concept_bytes(path.read_bytes(), path.name)))
        except ConceptFileError as error:
            problems.extend(error.problems)
    return sets, problems


def save_upload(name: str, data: bytes, folder: Path, taken_ids: Iterable[str] = ()) -> UserSet:
    """Validate an uploaded file and keep its bytes as they are, under a safe file name.

    A later upload of the same file name replaces the earlier one. Ids already used by other
    sets (`taken_ids`) are refused, since a run needs every sequence id to be unique.
    """
    suffix = Path(name).suffix.lower()
    concept_set = parse_concept_bytes(data, name)
    file_name = slug(Path(name).stem) + (".yml" if suffix == ".yml" else suffix)
    _check_ids(concept_set, name, set(taken_ids) - _ids_in(folder / file_name))
    write_bytes_atomic(folder / file_name, data)
    return UserSet(file_name, concept_set)


def save_authored_sequence(item: dict[str, Any], folder: Path, taken_ids: Iterable[str] = ()) -> UserSet:
    """Add one sequence written in the app (or replace the one with its id) in `authored.yaml`."""
    path = folder / AUTHORED_FILE
    document = {"set": AUTHORED_SET, "sequences": []}
    if path.is_file():
        document["sequences"] = [
            sequence_item(s) for s in parse_concept_bytes(path.read_bytes(), AUTHORED_FILE).sequences if s.id != item.get("id")
        ]
    document["sequences"].append(item)
    text = yaml.safe_dump(document, allow_unicode=True, sort_keys=False)
    concept_set = parse_concept_bytes(text.encode("utf-8"), "the authoring form", suffix=".yaml")
    _check_ids(concept_set, "the authoring form", set(taken_ids) - _ids_in(path))
    write_text_atomic(path, dump_concept_set(concept_set))
    return UserSet(AUTHORED_FILE, concept_set)


def delete_user_set(file_name: str, folder: Path) -> None:
    """Remove one of the user's files, named as `list_user_sets` names it."""
    known = {p.name for p in folder.iterdir()} if folder.is_dir() else set()
    if file_name not in known or Path(file_name).name != file_name:
        raise InterpError(f"{file_name!r} is not one of your concept files")
    (folder / file_name).unlink()


def _ids_in(path: Path) -> set[str]:
    if not path.is_file():
        return set()
    try:
        return {s.id for s in parse_concept_bytes(path.read_bytes(), path.name).sequences}
    except ConceptFileError:
        return set()


def _check_ids(concept_set: ConceptSet, origin: str, taken: set[str]) -> None:
    clashes = [s.id for s in concept_set.sequences if s.id in taken]
    if clashes:
        raise ConceptFileError([
            f"{origin}: sequence '{clash}', field 'id': already used by another concept set; choose another id"
            for clash in clashes
        ])
