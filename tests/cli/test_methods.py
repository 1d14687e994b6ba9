"""`methods`: the methods section of a run under the analysis options, its BibTeX, and one line for bad input."""

import re

import pytest

from interp.cli.main import main
from tests.cli.helpers import run

pytestmark = pytest.mark.slow


def test_methods_prints_the_text_of_the_options_and_writes_the_bib(tiny_run, tmp_path, capsys):
    folder = str(tiny_run[0])
    bib = tmp_path / "refs" / "references.bib"
    code, out, err = run(capsys, "methods", folder, "--measure", "weighted", "--controls", "30", "--seed", "5",
                         "--bib", str(bib))
    assert code == 0 and err == ""
    assert out.startswith("# Methods\n") and "**Measure.** We measured norm-weighted attention" in out
    assert "30 control spans per sequence (seed 5)" in out
    keys = re.findall(r"^@\w+\{(\w+),", bib.read_text(), flags=re.MULTILINE)
    assert "kobayashi2020attention" in keys and keys == re.findall(r"^- .*\[(\w+)\]$", out, flags=re.MULTILINE)
    code, plain, _ = run(capsys, "methods", folder, "--controls", "0", "--exclude", "punctuation",
                         "--first-position", "first")
    assert code == 0 and "No control spans were drawn" in plain and "Kobayashi" not in plain
    assert "covers only punctuation" in plain and "first-position rule `first`" in plain


def test_methods_bad_input_is_one_line(tiny_run, tmp_path, capsys):
    folder = str(tiny_run[0])
    for argv, fragment in [
        (["--reference", "sft"], "reference stage 'sft' is not in this run"),
        (["--bib", str(tmp_path)], f"--bib {tmp_path}: is a folder"),
        (["--controls", "-1"], "--controls -1"),
    ]:
        assert main(["methods", folder, *argv]) == 2
        out, err = capsys.readouterr()
        assert out == "" and err.startswith("error: ") and fragment in err and err.count("\n") == 1
    assert main(["methods", str(tmp_path / "nowhere")]) == 2
    assert "no such results folder" in capsys.readouterr().err
