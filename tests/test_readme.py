"""The README's notebook example runs as written: from a folder outside the checkout, on the demo run `make run` leaves."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
SECTION = "### In a notebook"


def notebook_example() -> tuple[str, list[str]]:
    """The section's Python block, and the lines of the output block shown after it."""
    text = REPO.joinpath("README.md").read_text("utf-8")
    section = text[text.index(SECTION):]
    code, printed = re.findall(r"```(?:python)?\n(.*?)```", section, flags=re.S)[:2]
    return code, printed.splitlines()


def stats_example() -> tuple[list[str], list[str]]:
    """The commands (`$ ` lines with their continuations) of the `stats` example, and what it shows printed."""
    text = REPO.joinpath("README.md").read_text("utf-8")
    section = text[text.index("Example, on two per-head share matrices"):]
    block = re.findall(r"```\n(.*?)```", section, flags=re.S)[0]
    commands: list[str] = []
    printed: list[str] = []
    for line in block.splitlines():
        if line.startswith("$ "):
            commands.append(line[2:])
        elif commands and commands[-1].count('"') % 2:  # inside an open quote: the command goes on
            commands[-1] += "\n" + line
        else:
            printed.append(line)
    return commands, printed


def make_recipe(target: str) -> list[str]:
    """The command lines of a Makefile target, `$(PY)` as this environment's Python."""
    lines = REPO.joinpath("Makefile").read_text("utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"{target}:"))
    recipe = []
    for line in lines[start + 1:]:
        if not line.startswith("\t"):
            break
        recipe.append(line.strip().replace("$(PY)", sys.executable))
    return recipe


def outside() -> dict[str, str]:
    """The environment of a user's own script: nothing puts the checkout on the import path."""
    return {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}


def test_the_notebook_example_runs_as_written_outside_the_checkout(app_home, tmp_path):
    code, shown = notebook_example()
    assert any("pip install" in line and "--editable ." in line for line in make_recipe("$(STAMP)")), \
        "make installs the project, so that `import interp` works outside the checkout"
    # What `make run` runs before it starts the app (the micro demo stands in for the demo build).
    for line in make_recipe("run"):
        if " -m interp " in line:
            made = subprocess.run(line.split(), cwd=REPO, capture_output=True, text=True, timeout=600)
            assert made.returncode == 0, made.stderr[-2000:]
    script = tmp_path / "notebook" / "example.py"
    script.parent.mkdir()
    script.write_text(code, encoding="utf-8")
    found = subprocess.run([sys.executable, "-c", "import interp; print(interp.__file__)"], cwd=script.parent,
                           env=outside(), capture_output=True, text=True, timeout=120)
    assert found.returncode == 0, (f"`import interp` fails outside the checkout under {sys.executable}: the project is "
                                   "not installed there (`make` runs `pip install --no-deps --editable .`)")
    assert Path(found.stdout.strip()).resolve() == REPO / "interp" / "__init__.py"
    result = subprocess.run([sys.executable, str(script)], cwd=script.parent, env=outside(),
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    printed = result.stdout.splitlines()
    # The stages and sequences are the demo run's whatever its scale; the numbers are the full demo's in the README.
    assert printed[0] == shown[0] == "['base', 'cpt', 'ift'] ['negligence', 'valid-contract', 'theft']"
    assert re.fullmatch(r"\(\d+, \d+\) [+-]\d\.\d{5}", printed[1]) and re.fullmatch(r"\(4, 8\) [+-]\d\.\d{5}", shown[1])
    assert printed[2].split() == shown[2].split() == ["concept", "stage", "mean_shift"]
    assert [line.split()[:2] for line in printed[3:]] == [line.split()[:2] for line in shown[3:]]
    assert (script.parent / "layers.html").stat().st_size > 100_000
    # The `stats` example, on the same demo run: its commands in a shell, from the same folder.
    commands, shown = stats_example()
    for command in commands:
        command = command.replace(".venv/bin/python", sys.executable).replace("python -m interp",
                                                                             f"{sys.executable} -m interp")
        ran = subprocess.run(["bash", "-c", command], cwd=script.parent, env=outside(), capture_output=True, text=True,
                             timeout=300)
        assert ran.returncode == 0, ran.stderr[-3000:]
    stated, computed = json.loads(shown[0]), json.loads(ran.stdout)
    assert list(computed) == list(stated) == ["mean", "median", "frac_positive", "skewness", "kurtosis", "entropy"]
    assert all(isinstance(value, float) for value in computed.values())
