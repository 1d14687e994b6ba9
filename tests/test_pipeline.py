"""A lineage of three local tiny checkpoints, end to end: extract, cache, store, report, shares."""

import csv
import io
import json

import numpy as np
import pytest

import interp.pipeline as pipeline
from interp.checkpoints import build_tiny_mistral
from interp.cli import main
from interp.errors import InterpError
from interp.extract import unpack_lower_triangle
from interp.lineage import Lineage, Stage
from interp.pipeline import ExtractionSettings, extract_lineage
from interp.registry import ConceptSequence, Span
from interp.report import REPORT_COLUMNS, Selection, compute_report, compute_shares_table, compute_stage_share
from interp.statistics import compute_share_from_patterns
from interp.alignment import compute_excluded_mask
from interp.store import ResultsStore
from interp.tokenizer import train_tokenizer

pytestmark = pytest.mark.slow


def concept(sequence_id: str, text: str, *needles: str) -> ConceptSequence:
    spans = tuple(Span(text.index(n), text.index(n) + len(n), n) for n in needles)
    return ConceptSequence(sequence_id, "Condition", text, spans, "tests")


SEQUENCES = [
    concept("lessee-1", "The lessee shall pay the rent within thirty days, unless the court orders otherwise.",
            "within thirty days"),
    concept("seller-1", "The seller may not sell the goods before the hearing; the buyer must not enter the premises. "
            "A tenant shall give notice in writing after the term expires, and the lessor may register the deed.",
            "may not sell the goods", "must not enter"),
]


@pytest.fixture(scope="module")
def third_checkpoint(tmp_path_factory, legal_tokenizer):
    from tests.conftest import SLIDING_WINDOW

    return build_tiny_mistral(tmp_path_factory.mktemp("third"), legal_tokenizer, seed=2,
                              sliding_window=SLIDING_WINDOW, initializer_range=0.2)


@pytest.fixture(scope="module")
def lineage(tiny_checkpoint, tiny_checkpoint_other, third_checkpoint):
    return Lineage("tiny", (
        Stage("base", str(tiny_checkpoint)), Stage("cpt", str(tiny_checkpoint_other)), Stage("ift", str(third_checkpoint)),
    ), reference="base")


@pytest.fixture(scope="module")
def results(tmp_path_factory, lineage):
    out = tmp_path_factory.mktemp("results") / "run"
    messages = []
    manifest = extract_lineage(lineage, SEQUENCES, out, ExtractionSettings(device="cpu"),
                               on_progress=lambda p: messages.append((p.done, p.total, p.message)))
    return out, manifest, messages


def test_manifest_records_provenance(results, lineage):
    out, manifest, _ = results
    assert manifest.complete and manifest.stage_labels == ["base", "cpt", "ift"]
    assert manifest.sequence_ids == ["lessee-1", "seller-1"]
    for record, stage in zip(manifest.stages, lineage.stages):
        assert record.checkpoint == stage.model and record.checkpoint_hash.startswith("sha256:")
        assert (record.n_layers, record.n_heads, record.dtype, record.device) == (2, 4, "float32", "cpu")
    assert len({record.checkpoint_hash for record in manifest.stages}) == 3
    assert manifest.packages["transformer-lens"] == "4.3.0"
    on_disk = json.loads((out / "manifest.json").read_text())
    assert on_disk["concept_set_hash"] == manifest.concept_set_hash and on_disk["complete"] is True


def test_progress_counts_every_stage_and_sequence(results):
    _, _, messages = results
    assert messages[-1][0] == messages[-1][1] == 6
    assert any("stage 'cpt': 0 cached, 2 to run" in message for _, _, message in messages)


def test_stored_shares_equal_shares_from_stored_patterns(results):
    store = ResultsStore(results[0])
    for sequence in SEQUENCES:
        aligned = store.read_aligned("cpt", sequence.id)
        patterns = unpack_lower_triangle(store.read_patterns("cpt", sequence.id), aligned.n_tokens)
        excluded = compute_excluded_mask(aligned, "paper")
        from_patterns = compute_share_from_patterns(patterns, aligned.concept_mask, excluded)
        np.testing.assert_allclose(compute_stage_share(store, "cpt", sequence.id), from_patterns, atol=2e-3)


def test_rerun_does_no_forward_pass_and_says_so(results, lineage, monkeypatch):
    out, manifest, _ = results
    monkeypatch.setattr(pipeline, "load_stage", lambda *a, **k: pytest.fail("a cached rerun loaded a model"))
    messages = []
    again = extract_lineage(lineage, SEQUENCES, out, ExtractionSettings(device="cpu"),
                            on_progress=lambda p: messages.append(p.message))
    assert again.complete and again.created == manifest.created
    assert sum("(no forward pass)" in message for message in messages) == 3


def test_changed_text_reruns_only_that_sequence(results, lineage, tmp_path):
    out = tmp_path / "run"
    extract_lineage(lineage, SEQUENCES[:1], out, ExtractionSettings(device="cpu", keep_patterns=False))
    changed = concept("lessee-1", SEQUENCES[0].text.replace("rent", "deposit"), "within thirty days")
    messages = []
    extract_lineage(lineage, [changed], out, ExtractionSettings(device="cpu", keep_patterns=False),
                    on_progress=lambda p: messages.append(p.message))
    assert any("stage 'base': 0 cached, 1 to run" in m for m in messages)
    assert not ResultsStore(out).has_patterns("base", "lessee-1")


def test_report_rows_and_statistics(results):
    rows = compute_report(ResultsStore(results[0]), Selection(n_controls=50))
    assert [(r.sequence_id, r.stage) for r in rows] == [
        ("lessee-1", "cpt"), ("lessee-1", "ift"), ("seller-1", "cpt"), ("seller-1", "ift"),
    ]
    store = ResultsStore(results[0])
    for row in rows:
        shift = compute_stage_share(store, row.stage, row.sequence_id) - compute_stage_share(store, "base", row.sequence_id)
        assert row.mean == pytest.approx(shift.mean()) and row.reference == "base"
        assert 0 <= row.control_percentile <= 100 and 0 < row.control_p <= 1
    against_cpt = compute_report(ResultsStore(results[0]), Selection(reference="cpt", n_controls=0))
    assert {r.stage for r in against_cpt} == {"base", "ift"} and all(np.isnan(r.control_p) for r in against_cpt)


def test_cli_report_and_shares(results, capsys):
    out = str(results[0])
    assert main(["report", out, "--format", "json", "--controls", "20"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == 4 and all(list(row) == list(REPORT_COLUMNS) for row in rows)
    assert main(["shares", out, "--format", "csv"]) == 0
    table = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert list(table[0]) == ["sequence_id", "concept", "stage", "layer", "head", "share"]
    assert len(table) == 2 * 3 * 2 * 4
    expected = compute_shares_table(ResultsStore(out))
    assert float(table[5]["share"]) == pytest.approx(expected["share"][5])
    assert main(["report", out, "--format", "table", "--controls", "0"]) == 0
    assert "lessee-1" in capsys.readouterr().out


def test_cli_extract_runs_offline_with_progress(tmp_path, lineage, capsys, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    lineage_file = tmp_path / "lineage.yaml"
    lineage_file.write_text("name: tiny\nstages:\n" + "".join(
        f"  - {{label: {s.label}, model: '{s.model}'}}\n" for s in lineage.stages))
    concepts = tmp_path / "c.json"
    concepts.write_text(json.dumps({"set": "t", "sequences": [
        {"id": s.id, "concept": s.concept, "text": s.text, "spans": [{"text": sp.text} for sp in s.spans]}
        for s in SEQUENCES]}))
    out = tmp_path / "x"
    argv = ["extract", "--lineage", str(lineage_file), "--concepts", str(concepts), "--out", str(out), "--device", "cpu"]
    assert main(argv) == 0
    first = capsys.readouterr()
    assert "stage 'ift': 0 cached, 2 to run" in first.err and "0 stage(s) entirely from cache" in first.out
    assert main(argv) == 0
    assert "3 stage(s) entirely from cache" in capsys.readouterr().out


def test_damaged_store_gets_a_clear_message(results, tmp_path, capsys):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(results[0], copy)
    (copy / "entries" / "ift" / "seller-1.colsums.npy").unlink()
    assert main(["report", str(copy)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "stage 'ift', sequence 'seller-1' is missing or damaged" in err
    (copy / "manifest.json").write_text("{not json")
    assert main(["shares", str(copy)]) == 2
    assert "corrupt manifest" in capsys.readouterr().err
    assert main(["report", str(tmp_path / "nowhere")]) == 2
    assert "no such results folder" in capsys.readouterr().err


def test_second_writer_is_refused(results, lineage):
    import fcntl

    out = results[0]
    with open(out / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        with pytest.raises(InterpError, match="another extraction is writing to this results folder"):
            extract_lineage(lineage, SEQUENCES, out, ExtractionSettings(device="cpu"))


def test_too_long_sequence_fails_before_loading(lineage, tmp_path, monkeypatch):
    monkeypatch.setattr(pipeline, "load_stage", lambda *a, **k: pytest.fail("loaded a model for an impossible input"))
    long_text = " ".join(["The lessee shall pay the rent."] * 120)
    with pytest.raises(InterpError, match=r"sequence 'long': \d+ tokens under stage 'base', longer than the model's context of 512"):
        extract_lineage(lineage, [concept("long", long_text, "lessee")], tmp_path / "r", ExtractionSettings(device="cpu"))


def test_no_room_for_controls_gives_nan_not_failure(lineage, tmp_path):
    short = [concept("short", "The lessee shall pay the rent.", "lessee shall pay the rent")]
    extract_lineage(lineage, short, tmp_path / "r", ExtractionSettings(device="cpu", keep_patterns=False))
    rows = compute_report(ResultsStore(tmp_path / "r"), Selection(n_controls=20))
    assert all(np.isfinite(r.mean) and np.isnan(r.control_percentile) for r in rows)


def test_stages_with_different_tokenizers(tmp_path, tiny_checkpoint, legal_tokenizer):
    from tests.conftest import legal_sentences

    other_tokenizer = train_tokenizer(legal_sentences()[::-1][:60], vocab_size=300)
    other = build_tiny_mistral(tmp_path / "other-tok", other_tokenizer, seed=5, initializer_range=0.2)
    mixed = Lineage("mixed", (Stage("base", str(tiny_checkpoint)), Stage("cpt", str(other))), reference="base")
    extract_lineage(mixed, SEQUENCES, tmp_path / "r", ExtractionSettings(device="cpu", keep_patterns=False))
    store = ResultsStore(tmp_path / "r")
    assert store.read_aligned("base", "lessee-1").token_ids != store.read_aligned("cpt", "lessee-1").token_ids
    (row, _) = compute_report(store, Selection(n_controls=20))
    assert np.isfinite(row.mean) and np.isnan(row.control_p)
    from interp.report import sequences_tokenized_differently

    assert sequences_tokenized_differently(store, store.open()) == ["lessee-1", "seller-1"]


def test_cli_export_bundle_holds_manifest_figures_and_tables(results, tmp_path, capsys):
    import zipfile

    out = tmp_path / "bundle.zip"
    assert main(["export", str(results[0]), "--out", str(out), "--controls", "20"]) == 0
    assert "figures" in capsys.readouterr().out
    with zipfile.ZipFile(out) as bundle:
        names = set(bundle.namelist())
        manifest = json.loads(bundle.read("manifest.json"))
    assert manifest["lineage"] == "tiny" and manifest["export"]["controls"] == 20
    for table in ("statistics", "mean-share", "layer-profiles", "shares"):
        assert {f"tables/{table}.csv", f"tables/{table}.json"} <= names
    assert "figures/overview-mean-share.html" in names and "figures/heads-shift-seller-1-ift.html" in names
    assert any(name.startswith("figures/structure-seller-1-") for name in names)
    assert any(name.startswith("figures/tokens-lessee-1-cpt-L") for name in names)
    assert main(["export", str(results[0]), "--out", str(tmp_path / "bundle.tar")]) == 2


def test_chat_format_wraps_text_and_maps_spans(tmp_path, legal_tokenizer, tiny_checkpoint):
    import copy

    chat_tokenizer = copy.deepcopy(legal_tokenizer)
    chat_tokenizer.chat_template = "{{ bos_token }}{% for m in messages %}[INST] {{ m['content'] }} [/INST]{% endfor %}"
    chatty = build_tiny_mistral(tmp_path / "chatty", chat_tokenizer, seed=3, initializer_range=0.2)
    plain = Lineage("plain", (Stage("base", str(tiny_checkpoint)), Stage("ift", str(chatty))), "base")
    extract_lineage(plain, SEQUENCES[:1], tmp_path / "r", ExtractionSettings(device="cpu", input_format="chat"))
    store = ResultsStore(tmp_path / "r")
    raw, wrapped = store.read_aligned("base", "lessee-1"), store.read_aligned("ift", "lessee-1")
    assert raw.tokens[0] == "<s>" and raw.tokens[1] == "▁The", "a stage without a template stays raw"
    assert wrapped.has_bos and wrapped.tokens.count("<s>") == 1
    body = raw.tokens[1:]
    starts = [i for i in range(wrapped.n_tokens) if wrapped.tokens[i:i + len(body)] == body]
    assert len(starts) == 1 and starts[0] > 1, "the text sits inside the template, after its opening"
    marked = lambda a: [t for t, m in zip(a.tokens, a.concept_mask) if m]
    assert marked(wrapped) == marked(raw) and wrapped.n_tokens > raw.n_tokens
    (row,) = compute_report(store, Selection(n_controls=10))
    assert np.isnan(row.control_p), "different token maps: no controls"


def test_open_is_remembered_until_the_manifest_changes(results, monkeypatch):
    store = ResultsStore(results[0])
    first = store.open()
    checks = []
    monkeypatch.setattr(store, "has_entry", lambda *a, **k: checks.append(a) or True)
    assert store.open() is first and checks == []
    store.write_manifest(first)
    store.open()
    assert len(checks) == 6, "a rewritten manifest is checked again"
