"""Checkpoints before loading: folder checks, configs, fingerprints, one architecture per lineage."""

from __future__ import annotations

import hashlib
import json

import pytest

from interp.core.errors import InterpError
from interp.models.checkpoints import (
    check_checkpoint,
    check_lineage,
    check_same_architecture,
    checkpoint_fingerprint,
    hub_revision,
)
from interp.models.lineage import Lineage, Stage
from interp.models.tiny import build_tiny_mistral


def config_only_folder(tmp_path, config):
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(config), encoding="utf-8")
    return folder


def test_folder_without_config(tmp_path):
    with pytest.raises(InterpError, match="no config.json"):
        check_checkpoint(str(tmp_path))


def test_folder_without_weights(tmp_path):
    folder = config_only_folder(tmp_path, {"architectures": ["MistralForCausalLM"], "model_type": "mistral"})
    with pytest.raises(InterpError, match=r"model: no weights \(expected \*\.safetensors\)"):
        check_checkpoint(str(folder))
    (folder / "pytorch_model.bin").write_bytes(b"not loaded")
    with pytest.raises(InterpError, match=r"only pickled pytorch_model\*\.bin weights, which are refused"):
        check_checkpoint(str(folder))


@pytest.mark.parametrize("architectures", [["BertModel"], [], None])
def test_folder_that_is_not_a_causal_lm(tmp_path, architectures):
    folder = config_only_folder(tmp_path, {"architectures": architectures, "model_type": "bert"})
    (folder / "model.safetensors").write_bytes(b"")
    with pytest.raises(InterpError, match=r"config.json: field 'architectures': not a causal language model"):
        check_checkpoint(str(folder))


def test_hub_ids_pass_through_and_nonsense_does_not():
    assert check_checkpoint("Equall/Saul-7B-Base") == "Equall/Saul-7B-Base"
    with pytest.raises(InterpError, match="neither a local folder nor a hub id"):
        check_checkpoint("not a model")


def test_revision_is_for_hub_ids(tmp_path):
    with pytest.raises(InterpError, match="'revision' applies to hub ids"):
        check_checkpoint(str(tmp_path), revision="main")


def test_hub_revision_reads_the_cache_only(tmp_path, monkeypatch, offline):
    import huggingface_hub.constants

    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = tmp_path / "models--Equall--Saul-7B-Base"
    (repo / "snapshots" / commit).mkdir(parents=True)
    (repo / "snapshots" / commit / "config.json").write_text("{}")
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path))
    assert hub_revision("Equall/Saul-7B-Base") == commit
    assert hub_revision("Equall/Saul-7B-Base", "main") == commit
    assert hub_revision("Equall/Other") is None
    assert hub_revision("Equall/Other", "v1") == "v1"


def test_different_architectures_name_both_stages():
    base = {"model_type": "mistral", "num_hidden_layers": 32, "num_attention_heads": 32, "hidden_size": 4096}
    check_same_architecture({"base": base, "cpt": dict(base)})
    with pytest.raises(InterpError, match=r"stages 'base' and 'ift': different architectures \(num_hidden_layers 32 vs 40\)"):
        check_same_architecture({"base": base, "cpt": base, "ift": {**base, "num_hidden_layers": 40}})
    with pytest.raises(InterpError, match=r"model_type 'mistral' vs 'llama'"):
        check_same_architecture({"base": base, "cpt": {**base, "model_type": "llama"}})


@pytest.mark.slow
def test_check_lineage_reads_configs_only(tmp_path, legal_tokenizer, tiny_checkpoint, tiny_checkpoint_other):
    same = Lineage("pair", (Stage("base", str(tiny_checkpoint)), Stage("cpt", str(tiny_checkpoint_other))))
    assert set(check_lineage(same)) == {"base", "cpt"}
    deeper = build_tiny_mistral(tmp_path / "deeper", legal_tokenizer, num_hidden_layers=3)
    mixed = Lineage("mixed", (Stage("base", str(tiny_checkpoint)), Stage("deep", str(deeper))))
    with pytest.raises(InterpError, match=r"stages 'base' and 'deep': different architectures \(num_hidden_layers 2 vs 3\)"):
        check_lineage(mixed)


@pytest.mark.slow
def test_fingerprint_has_one_format(tiny_checkpoint, offline):
    weights = (tiny_checkpoint / "model.safetensors").read_bytes()
    local = checkpoint_fingerprint(Stage("base", str(tiny_checkpoint)))
    assert local == "sha256:" + hashlib.sha256(weights).hexdigest()
    assert checkpoint_fingerprint(Stage("cpt", "Equall/Saul-7B-Base", "v1")) == "Equall/Saul-7B-Base@v1"
    assert checkpoint_fingerprint(Stage("cpt", "Equall/Saul-7B-Base")) == "Equall/Saul-7B-Base@main"


def test_missing_folder_names_the_stage(tmp_path):
    with pytest.raises(InterpError, match=r"^stage 'cpt': .*absent: no such model folder$"):
        checkpoint_fingerprint(Stage("cpt", str(tmp_path / "absent")))


