"""The command line: outputs, and one line with exit code 2 for every kind of bad input."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from interp.alignment import format_marked_tokens
from interp.cli import main
from interp.tokenizer import train_tokenizer

REPO = Path(__file__).resolve().parents[1]
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
    from interp.registry import all_sequences, load_concepts

    sequences = all_sequences(load_concepts([REPO / "concepts"]))
    tokenizer = train_tokenizer([s.text for s in sequences] * 5, vocab_size=900)
    tokenizer.save_pretrained(tmp_path / "tok")
    code, out, _ = run(capsys, "concepts", "show", str(REPO / "concepts"), "--tokenizer", str(tmp_path / "tok"))
    assert code == 0
    blocks = out.split("\n")
    role_line = blocks[blocks.index(next(line for line in blocks if line.startswith("role (Role)"))) + 1]
    bracketed = [part.strip("[] ") for part in role_line.split("[")[1:]]
    assert "".join(bracketed[0].split("]")[0].split()).replace("▁", " ").strip() == "the outgoing holder"
    assert out.count("span ") >= sum(len(s.spans) for s in sequences)


def test_concepts_show_missing_tokenizer(capsys, tmp_path):
    code, _, err = run(capsys, "concepts", "show", str(REPO / "concepts"), "--tokenizer", str(tmp_path / "none"))
    assert code == 2 and err.count("\n") == 1 and "cannot be loaded" in err


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
