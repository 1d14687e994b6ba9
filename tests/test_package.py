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


def test_tests_mirror_the_package_file_by_file():
    """Each module of `interp/` has its own test file: tests/test_<name>.py, tests/demo/test_<name>.py."""
    tests = PACKAGE.parent / "tests"
    missing = []
    for module in PACKAGE.rglob("*.py"):
        if module.name in ("__init__.py", "__main__.py"):
            continue
        relative = module.relative_to(PACKAGE).parent
        if not (tests / relative / f"test_{module.stem}.py").is_file():
            missing.append(str(module.relative_to(PACKAGE)))
    assert missing == []


def test_reading_results_imports_no_torch():
    """Store, results, report, views, figures and export serve the app and the CLI without torch."""
    import subprocess
    import sys

    modules = "interp.store.folder, interp.analysis.results, interp.analysis.tables, interp.views.catalogue, interp.views.figures, interp.export.bundle, interp.cli.main"
    script = f"import sys, {modules}; print(sorted(m for m in ('torch', 'transformers') if m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                            cwd=PACKAGE.parent)
    assert result.stdout.strip() == "[]", result.stderr
