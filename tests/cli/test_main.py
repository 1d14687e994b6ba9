"""The parser and the entry point: choices from the registries, bounds in --help, no traceback, no torch for light commands."""

import subprocess
import sys

import pytest

from interp.cli.main import main
from tests.cli.helpers import REPO


def test_choices_of_the_parser_are_the_registries_names(monkeypatch):
    """A name added to a registry is a choice of the command line with no other edit."""
    from interp.analysis.exclusions import FIRST_POSITION_RULES
    from interp.analysis.measures import MEASURES, Measure
    from interp.cli.main import build_parser
    from interp.export.styles import STYLES
    from interp.extraction.executors import EXECUTORS
    from interp.models.packaged import PACKAGED

    def choices(*argv: str, option: str) -> list:
        parser = build_parser()
        sub = parser._subparsers._group_actions[0].choices[argv[0]]
        for name in argv[1:]:
            sub = sub._subparsers._group_actions[0].choices[name]
        return next(action.choices for action in sub._actions if option in action.option_strings or action.dest == option)

    assert list(choices("fetch", option="names")) == list(PACKAGED)
    assert list(choices("export", option="--style")) == list(STYLES)
    assert tuple(choices("export", option="--width")) == STYLES["paper"].widths
    assert list(choices("report", option="--first-position")) == list(FIRST_POSITION_RULES)
    assert list(choices("extract", option="--executor")) == list(EXECUTORS)
    copy = type(MEASURES)("measure")
    copy.update(MEASURES)
    copy.add(Measure("squared", "Squared", "a measure added for this test", lambda store, stage, sequence: None))
    monkeypatch.setattr("interp.cli.options.MEASURES", copy)
    assert list(choices("report", option="--measure")) == ["attention", "weighted", "squared"]


def test_bounds_written_out_in_the_help_are_the_code_s(capsys):
    from interp.analysis.results import MAX_CONTROLS, MAX_SEED
    from interp.store.shards import MAX_SHARDS

    helps = {}
    for command in ("report", "extract"):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        helps[command] = " ".join(capsys.readouterr().out.split())
    assert f"at most {MAX_CONTROLS:,})" in helps["report"] and MAX_SEED == 2**32 - 1 and "0 to 2**32 - 1" in helps["report"]
    assert f"(N at most {MAX_SHARDS:,}, and at most the number of sequences)" in helps["extract"]


def test_module_entry_point_has_no_traceback(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "interp", "concepts", "validate", str(tmp_path / "missing.yaml")],
        capture_output=True, text=True, cwd=REPO, timeout=120,
    )
    assert result.returncode == 2
    assert result.stderr.strip() == f"error: {tmp_path / 'missing.yaml'}: no such file"


def test_help_and_light_commands_import_no_torch(tmp_path):
    """`--help`, `concepts validate`, `stats` and `report` need neither torch nor transformers."""
    script = (
        "import sys, contextlib, io\n"
        "from interp.cli.main import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    try:\n"
        "        main(['--help'])\n"
        "    except SystemExit:\n"
        "        pass\n"
        f"    main(['concepts', 'validate', {str(REPO / 'concepts')!r}])\n"
        f"    main(['report', {str(tmp_path / 'none')!r}])\n"
        "heavy = sorted(m for m in ('torch', 'transformers', 'transformer_lens') if m in sys.modules)\n"
        "print(heavy)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert result.stdout.strip().splitlines()[-1] == "[]", result.stderr
