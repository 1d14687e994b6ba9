"""Building the offline demo lineage: a micro build through the whole pipeline, locks, atomicity."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM, AutoTokenizer

from interp.core.errors import InterpError
from interp.demo import (
    DEMO_NOTICE,
    STAGES,
    build_demo,
    demo_is_built,
    ensure_demo,
    load_demo_manifest,
    training,
)
from interp.demo import build as demo_build

MICRO = demo_build.SCALES["micro"]
TRICKY = "Identify the condition in: § 3(1) “x” — where the tenant’s {rent} is <late>."


def stage_weights(folder: Path, stage: str):
    return load_file(str(folder / stage / "model.safetensors"))


# ---------------------------------------------------------------- the micro build

@pytest.mark.slow
def test_micro_build_stages_load_offline_on_their_own(micro_build, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    for stage in STAGES:
        folder = micro_build.stage_path(stage)
        model = AutoModelForCausalLM.from_pretrained(folder)
        tokenizer = AutoTokenizer.from_pretrained(folder)
        assert model.config.model_type == "mistral"
        assert model.config.num_key_value_heads < model.config.num_attention_heads
        assert model.config.sliding_window is None and not model.config.tie_word_embeddings
        config = model.config
        assert (config.bos_token_id, config.eos_token_id) == (tokenizer.bos_token_id, tokenizer.eos_token_id)
        assert tokenizer.convert_ids_to_tokens(tokenizer("In this Act").input_ids)[0] == "<s>"
        ids = tokenizer("(1) The tenant may appeal.", return_tensors="pt").input_ids
        assert model(ids).logits.shape == (1, ids.shape[1], len(tokenizer))


@pytest.mark.slow
def test_micro_build_stages_have_different_weights(micro_build):
    folder = Path(micro_build.folder)
    base, cpt, ift = (stage_weights(folder, stage) for stage in STAGES)
    assert base.keys() == cpt.keys() == ift.keys()
    name = "model.layers.0.self_attn.q_proj.weight"
    assert not (base[name] == cpt[name]).all()
    assert not (cpt[name] == ift[name]).all()


@pytest.mark.slow
def test_micro_build_manifest(micro_build):
    folder = Path(micro_build.folder)
    written = json.loads((folder / "demo.json").read_text(encoding="utf-8"))
    assert written["notice"] == DEMO_NOTICE
    assert written["scale"] == "micro" and written["seed"] == 0
    assert set(written["losses"]) == set(STAGES)
    for losses in written["losses"].values():
        assert set(losses) == {"general", "legal", "instruction"}
        assert all(value > 0 for value in losses.values())
    assert written["steps"] == MICRO.steps
    assert written["config"]["max_position_embeddings"] == 512
    assert {"torch", "transformers", "tokenizers"} <= set(written["versions"])
    assert demo_is_built(folder)
    assert load_demo_manifest(folder) == micro_build


@pytest.mark.slow
def test_chat_template_renders_user_text_verbatim(micro_build):
    tokenizer = AutoTokenizer.from_pretrained(micro_build.stage_path("ift"))
    rendered = tokenizer.apply_chat_template([{"role": "user", "content": "x"}], tokenize=False)
    assert rendered == "<s>[INST] x [/INST]"
    rendered = tokenizer.apply_chat_template([{"role": "user", "content": TRICKY}], tokenize=False)
    assert TRICKY in rendered


@pytest.mark.slow
def test_chat_wrapped_concept_sequences_fit_the_model(micro_build):
    tokenizer = AutoTokenizer.from_pretrained(micro_build.stage_path("ift"))
    texts = training.concept_texts()
    assert texts
    longest = max(
        len(tokenizer(tokenizer.apply_chat_template([{"role": "user", "content": text}], tokenize=False),
                      add_special_tokens=False).input_ids)
        for text in texts
    )
    assert longest < micro_build.config["max_position_embeddings"]


# ---------------------------------------------------------------- failures leave nothing finished


def test_unknown_scale_is_refused(tmp_path):
    with pytest.raises(InterpError, match="full, micro"):
        build_demo(tmp_path, scale="huge")


@pytest.mark.slow
def test_interrupted_rebuild_is_not_taken_for_a_finished_one(micro_build, tmp_path, monkeypatch):
    folder = tmp_path / "demo"
    shutil.copytree(micro_build.folder, folder)
    original = training.train_stage

    def fail_in_cpt(model, data, settings, stage, seed, progress):
        if stage == "cpt":
            raise KeyboardInterrupt
        original(model, data, settings, stage, seed, progress)

    monkeypatch.setattr(training, "train_stage", fail_in_cpt)
    with pytest.raises(KeyboardInterrupt):
        build_demo(folder, scale="micro", progress=False)
    assert not demo_is_built(folder)
    assert not (folder / "demo.json").exists()
    assert not [path for path in folder.iterdir() if path.name.startswith(".") and path.name != ".build.lock"]


def test_ensure_demo_builds_a_missing_demo_once_with_a_notice(tmp_path, monkeypatch, capsys):
    built = []

    def fake_build(root, seed, scale, progress):
        built.append((root, seed, scale, progress))

    monkeypatch.setattr(demo_build, "_build", fake_build)
    monkeypatch.setenv("INTERP_DEMO_DIR", str(tmp_path / "demo"))
    assert ensure_demo(progress=False) == tmp_path / "demo"
    assert built == [(tmp_path / "demo", 0, "full", False)]
    printed = capsys.readouterr().err
    assert "Building the offline demo lineage" in printed and DEMO_NOTICE in printed
