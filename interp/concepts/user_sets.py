"""The user's own concept sets: uploads and sequences written in the app, kept in one folder.

Every file is validated by the registry before it is written, written atomically, and named
from a slug of the user's file name, so no path is ever built from raw user text. Several
researchers share one server, so nothing is ever overwritten: an upload whose name is taken by
other content becomes a new version (`shared-2.yaml`), the same content again changes nothing,
and a deleted set goes to a trash folder from which it can be restored.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from interp.concepts.files import (
    CONCEPT_SUFFIXES,
    ConceptFileError,
    ConceptSet,
    dump_concept_set,
    parse_concept_bytes,
    sequence_item,
)
from interp.core.atomic import create_bytes_atomic, write_text_atomic
from interp.core.errors import InterpError, Where
from interp.core.locks import LOCK_NAME, folder_lock

AUTHORED_FILE = "authored.yaml"
AUTHORED_SET = "authored"
TRASH = ".trash"
TRASH_DAYS = 30
# Parsed files kept in memory: a bound on their number and on the bytes of the files they came from.
PARSED_FILES = 64
PARSED_BYTES = 256 * 2**20


@dataclass(frozen=True)
class UserSet:
    """A concept file in the user's folder: its file name and what it holds.

    `outcome` says what a save did: "new" (a new file), "version" (the name was taken by other
    content, so this is a new version of it; `requested` is the name asked for), or "unchanged"
    (the same bytes were already kept under `file_name`).
    """

    file_name: str
    concept_set: ConceptSet
    outcome: str = "new"
    requested: str = ""


def slug(text: str, fallback: str = "upload") -> str:
    """Lower-case letters, digits, '-' and '_' only; what file names and ids are made of."""
    cleaned = re.sub(r"[^a-z0-9_-]+", "-", text.lower()).strip("-_")
    return cleaned[:60] or fallback


def user_key(identity: Mapping[str, Any]) -> str:
    """A folder name for a signed-in user: a hash of the identity provider and subject.

    OpenID Connect names a user by `iss` and `sub`; the email stands in where a provider gives
    no subject. The hash keeps names and addresses out of the file system.
    """
    subject = identity.get("sub") or identity.get("email")
    if not subject:
        raise InterpError("signed-in user: the identity provider gave neither 'sub' nor 'email'")
    material = f"{identity.get('iss', '')}\x00{subject}"
    return hashlib.sha256(material.encode("utf-8")).hexdigest()[:16]


class _ParsedFiles:
    """Parsed concept files (or their problems) by file identity, shared by every caller in the
    process; least recently used first out, bounded by `PARSED_FILES` and `PARSED_BYTES`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: OrderedDict[tuple, ConceptSet | ConceptFileError] = OrderedDict()

    def get(self, identity: tuple) -> ConceptSet | ConceptFileError | None:
        with self._lock:
            if identity in self._entries:
                self._entries.move_to_end(identity)
            return self._entries.get(identity)

    def put(self, identity: tuple, parsed: ConceptSet | ConceptFileError) -> None:
        with self._lock:
            self._entries[identity] = parsed
            self._entries.move_to_end(identity)
            while len(self._entries) > PARSED_FILES or (
                    len(self._entries) > 1 and sum(key[-2] for key in self._entries) > PARSED_BYTES):
                self._entries.popitem(last=False)


_PARSED = _ParsedFiles()


def file_identity(path: Path) -> tuple | None:
    """What changes whenever a file's content may have: path, device, inode, size and time
    (writes are atomic renames, so a new content is a new inode). None when there is no file."""
    try:
        status = path.stat()
    except OSError:
        return None
    return str(path.absolute()), status.st_dev, status.st_ino, status.st_size, status.st_mtime_ns


def load_user_set(path: Path) -> ConceptSet:
    """The set in one concept file, parsed once per file identity; `ConceptFileError` when the
    file no longer validates (remembered too, so a broken file is not parsed on every page)."""
    identity = file_identity(path)
    if identity is None:
        raise ConceptFileError([Where(path.name).problem("no such file (another session may have deleted it)")])
    parsed = _PARSED.get(identity)
    if parsed is None:
        try:
            parsed = parse_concept_bytes(path.read_bytes(), path.name)
        except ConceptFileError as error:
            parsed = error
        except OSError:
            raise ConceptFileError([Where(path.name).problem("no such file (another session may have deleted it)")]) from None
        _PARSED.put(identity, parsed)
    if isinstance(parsed, ConceptFileError):
        raise parsed
    return parsed


def _as_kept(concept_set: ConceptSet, file_name: str) -> ConceptSet:
    """The uploaded set as parsing the kept file gives it: messages name the kept file, and the
    formats without a `set` field (CSV, JSON Lines) take the set's name from the file's."""
    name = Path(file_name).stem if Path(file_name).suffix in (".csv", ".jsonl") else concept_set.name
    return dataclasses.replace(concept_set, name=name, origin=file_name)


def _remember_parsed(path: Path, concept_set: ConceptSet) -> None:
    """Keep what a save has just validated under the identity of the file it wrote."""
    identity = file_identity(path)
    if identity is not None:
        _PARSED.put(identity, concept_set)


def list_user_files(folder: Path) -> list[Path]:
    """The concept files in `folder`, by name, without reading them (the trash and lock aside)."""
    return _concept_files(folder)


def list_user_sets(folder: Path) -> tuple[list[UserSet], list[str]]:
    """The valid sets in `folder`, and one line per file that no longer validates."""
    sets, problems = [], []
    for path in _concept_files(folder):
        try:
            sets.append(UserSet(path.name, load_user_set(path)))
        except ConceptFileError as error:
            problems.extend(error.problems)
    return sets, problems


def list_other_files(root: Path, own: Path) -> list[tuple[str, Path]]:
    """Other users' concept files below the concepts `root`, as (owner, path), without reading
    them: read-only to this user.

    The owner is "shared" for the files kept at the top of `root` (uploaded without sign-in) and
    the first eight characters of the user key otherwise.
    """
    folders = [(root, "shared")]
    users = root / "users"
    if users.is_dir():
        folders += [(folder, folder.name[:8]) for folder in sorted(users.iterdir()) if folder.is_dir()]
    return [(owner, path) for folder, owner in folders if folder.resolve() != own.resolve()
            for path in _concept_files(folder)]


def list_other_sets(root: Path, own: Path) -> list[tuple[str, UserSet]]:
    """Other users' valid sets below the concepts `root`, as (owner, set) (see `list_other_files`)."""
    listed = []
    for owner, path in list_other_files(root, own):
        try:
            listed.append((owner, UserSet(path.name, load_user_set(path))))
        except ConceptFileError:
            continue
    return listed


def save_upload(name: str, data: bytes, folder: Path, taken_ids: Iterable[str] = ()) -> UserSet:
    """Validate an uploaded file and keep its bytes as they are, under a safe file name.

    Nothing is overwritten: when the name is taken by other content the file is kept as the next
    free version (`name-2.yaml`, `name-3.yaml`, ...); when any version already holds these very
    bytes, nothing is written. Ids already used by other sets (`taken_ids`) are refused, except
    those of the versions of this same file, which are alternatives to one another.
    """
    suffix = Path(name).suffix.lower()
    concept_set = parse_concept_bytes(data, name)
    stem, suffix = slug(Path(name).stem), (".yml" if suffix == ".yml" else suffix)
    versions = _versions(folder, stem, suffix)
    for path in versions:
        if _holds(path, data):
            return UserSet(path.name, concept_set, "unchanged", stem + suffix)
    _check_ids(concept_set, name, set(taken_ids) - set().union(*map(_ids_in, versions)))
    for number in range(1, 10_000):
        file_name = f"{stem}{suffix}" if number == 1 else f"{stem}-{number}{suffix}"
        if create_bytes_atomic(folder / file_name, data):
            kept = _as_kept(concept_set, file_name)
            _remember_parsed(folder / file_name, kept)
            return UserSet(file_name, kept, "new" if number == 1 else "version", stem + suffix)
        if _holds(folder / file_name, data):  # another session kept the same bytes just now
            return UserSet(file_name, concept_set, "unchanged", stem + suffix)
    raise InterpError(f"{name}: 9,999 versions of this file are kept already; delete some first")


def save_authored_sequence(item: dict[str, Any], folder: Path, taken_ids: Iterable[str] = ()) -> UserSet:
    """Add one sequence written in the app (or replace the one with its id) in `authored.yaml`.

    The file is read, changed and written under the folder's lock, so two sessions saving at
    once both keep their sequence.
    """
    path = folder / AUTHORED_FILE
    with folder_lock(folder, LOCK_NAME, "", wait=True):
        document = {"set": AUTHORED_SET, "sequences": []}
        if path.is_file():
            document["sequences"] = [
                sequence_item(s) for s in parse_concept_bytes(path.read_bytes(), AUTHORED_FILE).sequences
                if s.id != item.get("id")
            ]
        document["sequences"].append(item)
        text = yaml.safe_dump(document, allow_unicode=True, sort_keys=False)
        concept_set = parse_concept_bytes(text.encode("utf-8"), "the authoring form", suffix=".yaml")
        _check_ids(concept_set, "the authoring form", set(taken_ids) - _ids_in(path))
        write_text_atomic(path, dump_concept_set(concept_set))
    return UserSet(AUTHORED_FILE, concept_set)


def delete_user_set(file_name: str, folder: Path) -> str:
    """Move one of the user's files, named as `list_user_sets` names it, to the trash.

    Returns its name in the trash, which `restore_user_set` takes. Trash older than
    `TRASH_DAYS` days is emptied on the way.
    """
    if file_name not in {path.name for path in _concept_files(folder)}:
        raise InterpError(f"{file_name!r} is not one of your concept files (another session may have deleted it)")
    trash = folder / TRASH
    trash.mkdir(exist_ok=True)
    _empty_old_trash(trash)
    trashed = f"{time.time_ns()}-{file_name}"
    try:
        (folder / file_name).rename(trash / trashed)
    except FileNotFoundError:
        raise InterpError(f"{file_name!r} is not one of your concept files (another session may have deleted it)") from None
    return trashed


def restore_user_set(trashed: str, folder: Path) -> str:
    """Bring a deleted file back under its old name, or as a new version if that name is taken."""
    path = folder / TRASH / trashed
    original = trashed.partition("-")[2]
    if Path(trashed).name != trashed or not original or not path.is_file():
        raise InterpError(f"{trashed!r} is not in the trash (it may have been restored already)")
    stem, suffix = Path(original).stem, Path(original).suffix
    data = path.read_bytes()
    for number in range(1, 10_000):
        file_name = original if number == 1 else f"{stem}-{number}{suffix}"
        if create_bytes_atomic(folder / file_name, data):
            path.unlink(missing_ok=True)
            return file_name
    raise InterpError(f"{original}: 9,999 versions of this file are kept already; delete some first")


def _concept_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in CONCEPT_SUFFIXES and p.is_file()
                  and not p.name.startswith("."))


def _versions(folder: Path, stem: str, suffix: str) -> list[Path]:
    """`stem.suffix` and its versions `stem-N.suffix` in `folder`."""
    pattern = re.compile(rf"{re.escape(stem)}(?:-[0-9]+)?{re.escape(suffix)}")
    return [path for path in _concept_files(folder) if pattern.fullmatch(path.name)]


def _empty_old_trash(trash: Path) -> None:
    """Remove files deleted more than `TRASH_DAYS` ago (the name starts with the time of deletion)."""
    cutoff = (time.time() - TRASH_DAYS * 86400) * 1e9
    for path in trash.iterdir():
        deleted = path.name.partition("-")[0]
        if path.is_file() and deleted.isdigit() and int(deleted) < cutoff:
            path.unlink(missing_ok=True)


def _holds(path: Path, data: bytes) -> bool:
    """Whether the file at `path` holds exactly `data` (sizes first: most versions differ there)."""
    try:
        return path.stat().st_size == len(data) and path.read_bytes() == data
    except OSError:
        return False


def _ids_in(path: Path) -> set[str]:
    if not path.is_file():
        return set()
    try:
        return {s.id for s in load_user_set(path).sequences}
    except ConceptFileError:
        return set()


def _check_ids(concept_set: ConceptSet, origin: str, taken: set[str]) -> None:
    clashes = [s.id for s in concept_set.sequences if s.id in taken]
    if clashes:
        raise ConceptFileError([
            Where(origin, item=f"sequence '{clash}'").problem("already used by another concept set; choose another id",
                                                              field="id")
            for clash in clashes
        ])
