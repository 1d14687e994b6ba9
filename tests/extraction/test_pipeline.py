"""A lineage of three local tiny checkpoints, end to end: extract, cache, lock, provenance, formats."""

import copy
import fcntl
import json

import numpy as np
import pytest

import interp.extraction.plan as plan
import interp.models.loader as loader
from interp.analysis.results import Results, Selection
from interp.core.errors import InterpError
from interp.extraction.pipeline import extract_lineage
from interp.extraction.settings import ExtractionSettings
from interp.models.lineage import Lineage, Stage
from interp.models.tiny import build_tiny_mistral, train_tokenizer
from interp.store.folder import ResultsStore
from tests.conftest import TINY_SEQUENCES, concept

pytestmark = pytest.mark.slow


def test_manifest_records_provenance(tiny_run, tiny_lineage):
    out, manifest, _ = tiny_run
    assert manifest.complete and manifest.stage_labels == ["base", "cpt", "ift"]
    assert manifest.sequence_ids == ["lessee-1", "seller-1"]
    for record, stage in zip(manifest.stages, tiny_lineage.stages):
        assert record.checkpoint == stage.model and record.fingerprint.startswith("sha256:")
        assert (record.n_layers, record.n_heads, record.dtype, record.device) == (2, 4, "float32", "cpu")
        assert record.cached is False
    assert len({record.fingerprint for record in manifest.stages}) == 3
    assert manifest.packages["transformer-lens"] == "4.3.0"
    assert manifest.settings.patterns == "window" and manifest.settings.input_format == "raw"
    assert manifest.planned_stages == ["base", "cpt", "ift"] and {r.route for r in manifest.stages} == {"lean"}
    on_disk = json.loads((out / "manifest.json").read_text())
    assert on_disk["concept_set_hash"] == manifest.concept_set_hash and on_disk["complete"] is True
    assert manifest.concept_sequences() == TINY_SEQUENCES


def test_progress_counts_every_stage_and_sequence(tiny_run):
    _, _, messages = tiny_run
    assert messages[-1][0] == messages[-1][1] == 6
    assert any("stage 'cpt': 0 cached, 2 to run" in message for _, _, message in messages)


def test_rerun_does_no_forward_pass_and_says_so(tiny_run, tiny_lineage, tmp_path, monkeypatch):
    import shutil

    out = tmp_path / "run"
    shutil.copytree(tiny_run[0], out)
    monkeypatch.setattr(loader, "load_stage", lambda *a, **k: pytest.fail("a cached rerun loaded a model"))
    messages = []
    again = extract_lineage(tiny_lineage, TINY_SEQUENCES, out, ExtractionSettings(device="cpu"),
                            on_progress=lambda p: messages.append(p.message))
    assert again.complete and again.created == tiny_run[1].created
    assert sum("(no forward pass)" in message for message in messages) == 3
    assert all(record.cached for record in again.stages)
    assert [r.fingerprint for r in again.stages] == [r.fingerprint for r in tiny_run[1].stages]


def test_changed_text_reruns_only_that_sequence(tiny_lineage, tmp_path):
    out = tmp_path / "run"
    extract_lineage(tiny_lineage, TINY_SEQUENCES[:1], out, ExtractionSettings(device="cpu", patterns="none"))
    changed = concept("lessee-1", TINY_SEQUENCES[0].text.replace("rent", "deposit"), "within thirty days")
    messages = []
    extract_lineage(tiny_lineage, [changed], out, ExtractionSettings(device="cpu", patterns="none"),
                    on_progress=lambda p: messages.append(p.message))
    assert any("stage 'base': 0 cached, 1 to run" in m for m in messages)
    assert not ResultsStore(out).has_patterns("base", "lessee-1")


def test_second_writer_is_refused(tiny_run, tiny_lineage):
    out = tiny_run[0]
    with open(out / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        with pytest.raises(InterpError, match="another extraction is writing to this results folder"):
            extract_lineage(tiny_lineage, TINY_SEQUENCES, out, ExtractionSettings(device="cpu"))


def test_too_long_sequence_fails_before_loading(tiny_lineage, tmp_path, monkeypatch):
    monkeypatch.setattr(loader, "load_stage", lambda *a, **k: pytest.fail("loaded a model for an impossible input"))
    long_text = " ".join(["The lessee shall pay the rent."] * 120)
    with pytest.raises(InterpError, match=r"sequence 'long': \d+ tokens under stage 'base', longer than the model's context of 512"):
        extract_lineage(tiny_lineage, [concept("long", long_text, "lessee")], tmp_path / "r", ExtractionSettings(device="cpu"))


def test_a_48k_token_sequence_is_refused_with_the_tokenizer_alone(tiny_lineage, tmp_path, monkeypatch):
    """Neither a model nor the weights' hash (minutes for a 7B checkpoint) come before the check."""
    import time

    monkeypatch.setattr(loader, "load_stage", lambda *a, **k: pytest.fail("loaded a model for an impossible input"))
    monkeypatch.setattr(plan, "checkpoint_fingerprint", lambda *a: pytest.fail("hashed the weights first"))
    long_text = " ".join(["The lessee shall pay the rent within thirty days."] * 4800)
    began = time.perf_counter()
    with pytest.raises(InterpError, match=r"sequence 'long': 4\d{4} tokens under stage 'base', longer than the model's context"):
        extract_lineage(tiny_lineage, [concept("long", long_text, "lessee")], tmp_path / "r", ExtractionSettings(device="cpu"))
    assert time.perf_counter() - began < 30


def test_ten_thousand_spans_of_a_too_long_sequence_are_never_aligned(tiny_lineage, tmp_path, monkeypatch):
    """Lengths of every stage are checked on the tokenizer's ids before any span is aligned: the
    refusal costs the tokenizing alone, however many spans the sequence has."""
    from interp.concepts.files import ConceptSequence, Span

    monkeypatch.setattr(loader, "load_stage", lambda *a, **k: pytest.fail("loaded a model for an impossible input"))
    monkeypatch.setattr(plan, "checkpoint_fingerprint", lambda *a: pytest.fail("hashed the weights first"))
    monkeypatch.setattr(plan, "align_encoded", lambda *a: pytest.fail("aligned the spans first"))
    text = "The lessee shall pay the rent within thirty days. " * 1200
    spans = tuple(Span(start, start + 4, "rent") for start in range(text.index("rent"), len(text), 50))[:10_000]
    with pytest.raises(InterpError, match=r"sequence 'long': \d+ tokens under stage 'base', longer than the model's context"):
        extract_lineage(tiny_lineage, [ConceptSequence("long", "Condition", text, spans)], tmp_path / "r",
                        ExtractionSettings(device="cpu"))


def test_every_stage_is_checked_before_the_first_is_aligned(tiny_lineage, tmp_path, monkeypatch):
    """A context that only the last stage exceeds still refuses before any alignment."""
    aligned = []
    real_align = plan.align_encoded
    monkeypatch.setattr(plan, "align_encoded", lambda *a: aligned.append(a) or real_align(*a))
    real_config = plan.load_config
    monkeypatch.setattr(plan, "load_config", lambda stage, *a: {**real_config(stage, *a), "max_position_embeddings": 8}
                        if stage.label == "ift" else real_config(stage, *a))
    with pytest.raises(InterpError, match=r"sequence 'lessee-1': \d+ tokens under stage 'ift', longer than the model's context of 8"):
        extract_lineage(tiny_lineage, TINY_SEQUENCES, tmp_path / "r", ExtractionSettings(device="cpu"))
    assert aligned == []


def test_unknown_input_format_is_refused(tiny_lineage, tmp_path):
    with pytest.raises(InterpError, match="input format 'xml' is unknown; use one of raw, chat"):
        extract_lineage(tiny_lineage, TINY_SEQUENCES, tmp_path / "r", ExtractionSettings(input_format="xml"))


def test_stages_with_different_tokenizers(tmp_path, tiny_checkpoint):
    from tests.conftest import legal_sentences

    other_tokenizer = train_tokenizer(legal_sentences()[::-1][:60], vocab_size=300)
    other = build_tiny_mistral(tmp_path / "other-tok", other_tokenizer, seed=5, initializer_range=0.2)
    mixed = Lineage("mixed", (Stage("base", str(tiny_checkpoint)), Stage("cpt", str(other))), reference="base")
    extract_lineage(mixed, TINY_SEQUENCES, tmp_path / "r", ExtractionSettings(device="cpu", patterns="none"))
    store = ResultsStore(tmp_path / "r")
    assert store.read_aligned("base", "lessee-1").token_ids != store.read_aligned("cpt", "lessee-1").token_ids
    results = Results(store, Selection(n_controls=20))
    assert results.differently_tokenized() == ["lessee-1", "seller-1"]
    assert np.isfinite(results.statistics(sequence="lessee-1", stage="cpt").mean)
    assert "tokenize differently" in results.control_placement(sequence="lessee-1", stage="cpt").reason


def test_chat_format_wraps_text_and_maps_spans(tmp_path, legal_tokenizer, tiny_checkpoint):
    chat_tokenizer = copy.deepcopy(legal_tokenizer)
    chat_tokenizer.chat_template = "{{ bos_token }}{% for m in messages %}[INST] {{ m['content'] }} [/INST]{% endfor %}"
    chatty = build_tiny_mistral(tmp_path / "chatty", chat_tokenizer, seed=3, initializer_range=0.2)
    plain = Lineage("plain", (Stage("base", str(tiny_checkpoint)), Stage("ift", str(chatty))), "base")
    extract_lineage(plain, TINY_SEQUENCES[:1], tmp_path / "r", ExtractionSettings(device="cpu", input_format="chat"))
    store = ResultsStore(tmp_path / "r")
    raw, wrapped = store.read_aligned("base", "lessee-1"), store.read_aligned("ift", "lessee-1")
    assert raw.tokens[0] == "<s>" and raw.tokens[1] == "▁The", "a stage without a template stays raw"
    assert wrapped.has_bos and wrapped.tokens.count("<s>") == 1
    body = raw.tokens[1:]
    starts = [i for i in range(wrapped.n_tokens) if wrapped.tokens[i:i + len(body)] == body]
    assert len(starts) == 1 and starts[0] > 1, "the text sits inside the template, after its opening"
    def marked(aligned):
        return [t for t, m in zip(aligned.tokens, aligned.concept_mask) if m]

    assert marked(wrapped) == marked(raw) and wrapped.n_tokens > raw.n_tokens
    assert "tokenize differently" in Results(store, Selection(n_controls=10)).control_placement(sequence="lessee-1", stage="ift").reason


def test_a_long_document_extracts_stores_reports_and_renders(tmp_path, legal_tokenizer):
    """1,500 tokens through a sliding window of 64: column sums equal Hugging Face eager, the
    store keeps a bounded window, and the views answer with a window, not an n × n map."""
    import torch
    from transformers import AutoModelForCausalLM

    from interp import views
    from tests.conftest import legal_sentences

    folders = [build_tiny_mistral(tmp_path / f"long-{seed}", legal_tokenizer, seed=seed, sliding_window=64,
                                  max_position_embeddings=4096, initializer_range=0.2) for seed in (0, 1)]
    lineage = Lineage("long", (Stage("base", str(folders[0])), Stage("cpt", str(folders[1]))), "base")
    text = " ".join(legal_sentences()[:130])
    middle = legal_sentences()[70]
    sequence = concept("document", text, middle[:-1])
    extract_lineage(lineage, [sequence], tmp_path / "r", ExtractionSettings(device="cpu"))
    results = Results(tmp_path / "r", Selection(n_controls=20))
    aligned = results.aligned(stage="base", sequence="document")
    assert aligned.n_tokens > 1400
    model = AutoModelForCausalLM.from_pretrained(folders[0], attn_implementation="eager", dtype=torch.float32)
    with torch.inference_mode():
        attentions = model(torch.tensor([aligned.token_ids]), output_attentions=True, use_cache=False).attentions
    expected = np.stack([layer[0].sum(dim=-2).numpy() for layer in attentions])
    np.testing.assert_allclose(results.store.read_colsums("base", "document"), expected, rtol=1e-5, atol=1e-5)
    start, end = results.pattern_extent(stage="base", sequence="document")
    assert 0 < start and end - start <= 256 and aligned.concept_mask[start:end].sum() == aligned.concept_mask.sum()
    raw = 2 * 4 * aligned.n_tokens**2 * 4
    assert results.store.bytes_of_entry("base", "document") < 0.05 * raw
    assert np.isfinite(results.statistics(sequence="document", stage="cpt").mean)
    tokens = views.get_view("tokens")
    output = tokens.compute(results, **views.resolve_choices(tokens, results))
    assert len(output.figures["map"].data[0].x) == end - start and "of 1" in output.notes[0]
