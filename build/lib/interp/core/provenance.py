"""What a result records about where it came from: package versions and the time."""

from __future__ import annotations

import platform
from collections.abc import Iterable
from datetime import UTC, datetime

# The package's version, in one place: `interp.__version__` and pyproject.toml read it.
__version__ = "0.1.0"
RUN_PACKAGES = ("interp", "torch", "transformer-lens", "transformers", "tokenizers", "numpy", "scipy")


def package_versions(names: Iterable[str] = RUN_PACKAGES) -> dict[str, str]:
    """Installed version of each package (`python` is the interpreter's), "not installed" if absent."""
    versions = {}
    for name in names:
        if name == "interp":
            versions[name] = __version__
        elif name == "python":
            versions[name] = platform.python_version()
        else:
            import importlib.metadata

            try:
                versions[name] = importlib.metadata.version(name)
            except importlib.metadata.PackageNotFoundError:
                versions[name] = "not installed"
    return versions


def utc_now() -> str:
    """The current time in UTC, ISO 8601 to the second."""
    return datetime.now(UTC).isoformat(timespec="seconds")
