"""`concepts validate | show | generate` from the command line: outputs, and one line with exit code 2 for bad input."""

import json
import subprocess
import sys

import pytest

from interp.concepts.alignment import format_marked_tokens
from interp.models.tiny import train_tokenizer
from tests.cli.helpers import REPO, run, write_inputs
from tests.packaged_fixtures import REAL_TOKENIZERS


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


def test_concepts_show_takes_a_name_fetch_knows_and_says_how_to_fetch_it(capsys, tmp_path, monkeypatch, offline):
    from interp.models.packaged import RECORD, get_packaged

    monkeypatch.setenv("INTERP_PACKAGED_DIR", str(tmp_path / "packaged"))
    concepts = str(REPO / "concepts" / "paper-types.yaml")
    code, out, err = run(capsys, "concepts", "show", concepts, "--tokenizer", "tekken-tokenizer")
    assert code == 2 and not out
    assert err == ("error: tokenizer 'tekken-tokenizer': a packaged tokenizer that is not fetched yet; run "
                   "`python -m interp fetch tekken-tokenizer` and pass the folder it prints (or this name again)\n")
    folder = tmp_path / "packaged" / "tekken-tokenizer"  # as `fetch` leaves it; the tokens are the test's own
    train_tokenizer(["The permit lapses if the holder leaves the district."] * 5, vocab_size=300).save_pretrained(folder)
    (folder / RECORD).write_text(json.dumps({"sha256": get_packaged("tekken-tokenizer").source.sha256}))
    code, out, _ = run(capsys, "concepts", "show", concepts, "--tokenizer", "tekken-tokenizer")
    assert code == 0 and out.startswith("definiendum (Definiendum): ")


@pytest.mark.parametrize("name", REAL_TOKENIZERS)
def test_concepts_show_reads_the_tokens_of_every_family(capsys, real_tokenizer_folders, name, offline):
    code, out, _ = run(capsys, "concepts", "show", str(REPO / "concepts" / "paper-types.yaml"),
                       "--tokenizer", str(real_tokenizer_folders[name]))
    assert code == 0 and "␣shall" in out and "[␣" in out
    assert not any(marker in out for marker in ("▁", "Ġ", "Ċ", "âĢ", "Â", "<0x"))


def test_concepts_show_missing_tokenizer(capsys, tmp_path):
    code, _, err = run(capsys, "concepts", "show", str(REPO / "concepts"), "--tokenizer", str(tmp_path / "none"))
    assert code == 2 and err.count("\n") == 1 and "cannot be loaded" in err


def test_format_marked_tokens_brackets_runs():
    assert format_marked_tokens(["<s>", "a", "b", "c", "d"], [False, True, True, False, True]) == "<s> [a b] c [d]"


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


def test_concepts_generate_checks_its_output_first(tmp_path, capsys):
    (tmp_path / "folder.jsonl").mkdir()
    code, _, err = run(capsys, "concepts", "generate", "--out", str(tmp_path / "folder.jsonl"))
    assert code == 2 and err == f"error: --out {tmp_path / 'folder.jsonl'}: is a folder; name a file (in it, or elsewhere)\n"
    code, _, err = run(capsys, "concepts", "generate", "--out", str(tmp_path / ("c" * 250 + ".jsonl")))
    assert code == 2 and err.endswith("the name is 256 bytes long; at most 241 here (its temporary name needs 14 more)\n")
    assert [p.name for p in tmp_path.iterdir()] == ["folder.jsonl"]
