"""Where the tool keeps what a user makes: uploaded concept sets and app runs.

`INTERP_HOME` overrides the default `$XDG_DATA_HOME/interp` (or `~/.local/share/interp`), so
tests and containers can point it anywhere.
"""

from __future__ import annotations

import os
from pathlib import Path


def data_home() -> Path:
    explicit = os.environ.get("INTERP_HOME")
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "interp"


def user_concepts_dir() -> Path:
    """Concept sets uploaded or written in the app; they survive restarts."""
    return data_home() / "concepts"


def runs_dir() -> Path:
    """Results folders of runs started from the app."""
    return data_home() / "runs"


def builtin_concepts_dir() -> Path:
    """The concept sets shipped with the project."""
    return Path(__file__).resolve().parent.parent / "concepts"
