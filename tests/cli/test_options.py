"""Options shared by the analysis commands: bounds refused in one line, partial runs."""

import json

import pytest

from interp.cli.main import main


@pytest.mark.slow
def test_a_partial_run_is_refused_unless_asked_for_and_then_flagged(tiny_run, tmp_path, capsys):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(tiny_run[0], copy)
    document = json.loads((copy / "manifest.json").read_text())
    document["stages"], document["complete"] = document["stages"][:2], False
    (copy / "manifest.json").write_text(json.dumps(document))
    assert main(["report", str(copy), "--format", "json"]) == 2
    assert "stage 'ift' lacks 2 sequence(s)" in capsys.readouterr().err
    assert main(["report", str(copy), "--format", "json", "--partial", "--controls", "0"]) == 0
    out, err = capsys.readouterr()
    document = json.loads(out)
    assert {row["stage"] for row in document["rows"]} == {"cpt"}
    assert "stage 'ift' lacks 2 sequence(s)" in document["provenance"]["partial"]
    assert err.startswith("warning: partial results: stage 'ift' lacks 2 sequence(s)")
    assert main(["export", str(copy), "--out", str(tmp_path / "b.zip"), "--partial", "--controls", "0"]) == 0
    import zipfile

    with zipfile.ZipFile(tmp_path / "b.zip") as bundle:
        assert "ift" in json.loads(bundle.read("manifest.json"))["partial"]


def test_analysis_options_out_of_bounds_are_one_line(tiny_run, capsys):
    folder = str(tiny_run[0])
    cases = [
        (["--controls", "-1"], "error: --controls -1: control spans per sequence lie between 0 (none) and 10,000\n"),
        (["--controls", "1000000000"], "error: --controls 1000000000: control spans per sequence lie between 0 (none) "
                                       "and 10,000\n"),
        (["--seed", "-1"], "error: --seed -1: a seed lies between 0 and 4,294,967,295 (2**32 - 1)\n"),
        (["--seed", str(2**32)], "error: --seed 4294967296: a seed lies between 0 and 4,294,967,295 (2**32 - 1)\n"),
        (["--exclude", "Punctuation"], "error: --exclude 'Punctuation': 'Punctuation' is the name of the preset "
                                       "'punctuation', which is given alone (--exclude punctuation); as a token in a "
                                       "list it would exclude nothing\n"),
        (["--exclude", "paper,punctuation"], "error: --exclude 'paper,punctuation': 'paper' is the name of the preset "
                                             "'paper'"),
        (["--exclude", "▁the, NONE"], "error: --exclude '▁the,NONE': 'NONE' is the name of the preset 'none'"),
    ]
    for command in ("report", "shares", "export"):
        for options, message in cases:
            if command == "shares" and options[0] != "--exclude":
                continue
            extra = ["--out", "x.zip"] if command == "export" else []
            assert main([command, folder, *options, *extra]) == 2, (command, options)
            err = capsys.readouterr().err
            assert err.startswith(message) and err.count("\n") == 1, err
    assert main(["report", folder, "--controls", "10000", "--format", "csv"]) == 0
    assert main(["report", folder, "--seed", str(2**32 - 1), "--controls", "3", "--exclude", "▁the,paperwork"]) == 0
