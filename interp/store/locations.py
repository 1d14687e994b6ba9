"""Where the tool keeps what a user makes, and which folders the app may read.

`INTERP_HOME` overrides the default `$XDG_DATA_HOME/interp` (or `~/.local/share/interp`), so
tests and containers can point it anywhere. The app opens results folders only below its
results roots (its own runs folder, and any listed in `INTERP_RESULTS_ROOTS`): a text box that
read any path would let every browser user probe the server's files.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Sequence
from pathlib import Path

from interp.concepts.files import ConceptSequence, builtin_sequences, concept_set_hash
from interp.core.errors import InterpError
from interp.models.lineage import Lineage, load_lineage
from interp.store.folder import MANIFEST

RESULTS_ROOTS_VARIABLE = "INTERP_RESULTS_ROOTS"


def data_home() -> Path:
    explicit = os.environ.get("INTERP_HOME")
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "interp"


def user_concepts_dir(user_key: str | None = None) -> Path:
    """Concept sets uploaded or written in the app; they survive restarts.

    Without sign-in every session shares this folder; with sign-in each user has a subfolder
    `users/<key>` named by `interp.concepts.user_sets.user_key` (a hash, never the user's name).
    """
    folder = data_home() / "concepts"
    return folder / "users" / user_key if user_key else folder


def runs_dir() -> Path:
    """Results folders of runs started from the app."""
    return data_home() / "runs"


def results_roots() -> list[Path]:
    """Folders under which the app may open results: its runs folder, then `INTERP_RESULTS_ROOTS`
    (paths separated by `os.pathsep`), each resolved."""
    listed = [part for part in os.environ.get(RESULTS_ROOTS_VARIABLE, "").split(os.pathsep) if part.strip()]
    roots: list[Path] = []
    for root in [runs_dir(), *map(Path, listed)]:
        resolved = root.expanduser().resolve()
        if resolved not in roots:
            roots.append(resolved)
    return roots


def resolve_results_folder(typed: str, roots: Sequence[Path] | None = None) -> Path:
    """The folder a user typed, resolved (symbolic links followed), if it lies below a root.

    A relative path lies below the first root, or, as `shown_results_folder` writes it (and the
    app's address holds it), below the root whose name leads it. Anything else gets one message,
    whatever is there: the answer for `/etc` and for a path that does not exist is the same, so
    the box tells nobody what the server holds.
    """
    roots = results_roots() if roots is None else [Path(root).resolve() for root in roots]
    text = typed.strip()
    outside = InterpError(
        f"{text}: not a results folder this app may open; it opens folders under "
        f"{', '.join(map(str, roots))} (the server's {RESULTS_ROOTS_VARIABLE} adds more)"
    )
    if not text or "\x00" in text:
        raise outside
    candidate = Path(text).expanduser()
    try:
        resolved = candidate.resolve() if candidate.is_absolute() else _below_roots(candidate, roots)
    except (OSError, RuntimeError):
        raise outside from None
    if not any(resolved == root or resolved.is_relative_to(root) for root in roots):
        raise outside
    return resolved


def _below_roots(relative: Path, roots: Sequence[Path]) -> Path:
    """A relative path below the first root where it is there, else below the first root its first
    part names where it is there (two roots may share a name), else below the first root."""
    first = (roots[0] / relative).resolve()
    named = [(root / Path(*relative.parts[1:])).resolve() for root in roots if root.name == relative.parts[0]]
    return next((candidate for candidate in [first, *named] if candidate.exists()), first)


def shown_results_folder(folder: Path, roots: Sequence[Path] | None = None) -> str:
    """A results folder as the app shows it to every browser user: relative to the results root
    it lies below, led by that root's own name (`runs/demo-1a2b3c4d5e6f`), never the server's
    absolute path. A folder below no root (which the app does not open) shows its name alone."""
    roots = results_roots() if roots is None else [Path(root).resolve() for root in roots]
    resolved = Path(folder).resolve()
    for root in roots:
        if resolved == root or resolved.is_relative_to(root):
            return (Path(root.name) / resolved.relative_to(root)).as_posix()
    return resolved.name


def app_run_folder(lineage: Lineage, sequences: Sequence[ConceptSequence], *, dtype: str, input_format: str) -> Path:
    """Where the app keeps a run: one folder per lineage, concept selection and settings, so a
    repeated run (or a reload) opens the same folder and finds its entries cached."""
    material = json.dumps({
        "stages": [(s.label, s.model, s.revision) for s in lineage.stages], "reference": lineage.reference,
        "concepts": concept_set_hash(sequences), "dtype": dtype, "format": input_format,
    }, sort_keys=True)
    name = re.sub(r"[^A-Za-z0-9_-]+", "-", lineage.name).strip("-_")[:40] or "lineage"
    return runs_dir() / f"{name}-{hashlib.sha256(material.encode()).hexdigest()[:12]}"


def demo_run_folder() -> Path:
    """The app's run of the demo lineage over the built-in concept sets with its default settings
    (dtype `auto`, raw text): what a fresh start of the app opens, and what `python -m interp demo
    run` (part of `make run`) makes."""
    return app_run_folder(load_lineage("demo"), builtin_sequences(), dtype="auto", input_format="raw")


def demo_run() -> Path:
    """The demo run's folder (`demo_run_folder`) once it is finished, for a notebook; else an
    `InterpError` that says how to make it."""
    folder = demo_run_folder()
    if not _finished(folder):
        raise InterpError(f"{folder}: the demo run is not made yet; `make run` (or `python -m interp demo run`) makes it")
    return folder


def latest_run() -> Path:
    """The finished run of the app's runs folder updated last: the run a researcher made last in the app."""
    finished = [folder for folder in _run_folders() if _finished(folder)]
    if not finished:
        raise InterpError(f"{runs_dir()}: no finished run yet; start one in the app (`make run`) or with "
                          "`python -m interp demo run`")
    return max(finished, key=lambda folder: (folder / MANIFEST).stat().st_mtime_ns)


def _run_folders() -> list[Path]:
    try:
        return [entry for entry in runs_dir().iterdir() if entry.is_dir()]
    except OSError:
        return []


def _finished(folder: Path) -> bool:
    """Whether `folder` holds the manifest of a finished run (read as JSON: no store needed)."""
    try:
        return json.loads((folder / MANIFEST).read_text("utf-8")).get("complete") is True
    except (OSError, ValueError, AttributeError):
        return False
