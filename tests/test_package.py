"""The library's boundaries: no UI framework inside `interp/`, and a public API that imports."""

import ast
from pathlib import Path

import interp

PACKAGE = Path(interp.__file__).resolve().parent


def imported_modules(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_library_never_imports_streamlit():
    offenders = [p.name for p in PACKAGE.rglob("*.py") if "streamlit" in imported_modules(p)]
    assert offenders == []


def test_public_api_names_exist():
    missing = [name for name in interp.__all__ if not hasattr(interp, name)]
    assert missing == [] and "compute_shift_statistics" in interp.__all__
