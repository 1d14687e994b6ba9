"""Checking and loading checkpoints: tiny local folders, offline, with one-line errors."""

from __future__ import annotations

import gc
import hashlib
import json
import socket
import weakref

import pytest
import torch

from interp.checkpoints import build_tiny_mistral
from interp.errors import InterpError
from interp.lineage import Lineage, Stage
from interp.loader import (
    check_checkpoint,
    check_lineage,
    check_same_architecture,
    free_stage,
    hub_revision,
    load_stage,
    resolve_device,
    resolve_dtype,
)


@pytest.fixture()
def offline(monkeypatch):
    """No hub access: offline mode on, and any socket connection fails loudly."""
    import huggingface_hub.constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)

    def refuse(*args, **kwargs):
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)


def config_only_folder(tmp_path, config):
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(config), encoding="utf-8")
    return folder


def test_resolve_device_without_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == "cpu"
    assert resolve_device("cpu") == "cpu"
    for device in ("cuda", "cuda:1"):
        with pytest.raises(InterpError, match=f"device '{device}': CUDA is not available"):
            resolve_device(device)
    with pytest.raises(InterpError, match="device 'tpu': unknown"):
        resolve_device("tpu")


def test_resolve_dtype():
    assert resolve_dtype("auto", "cpu") == torch.float32
    assert resolve_dtype("auto", "cuda:0") == torch.bfloat16
    assert resolve_dtype("bf16", "cpu") == torch.bfloat16
    assert resolve_dtype("float16", "cuda") == torch.float16
    with pytest.raises(InterpError, match="dtype 'int8': unknown"):
        resolve_dtype("int8", "cpu")


def test_missing_folder(tmp_path):
    with pytest.raises(InterpError, match="no such model folder"):
        check_checkpoint(str(tmp_path / "absent"))
    stage = Stage("cpt", str(tmp_path / "absent"))
    with pytest.raises(InterpError, match=r"^stage 'cpt': .*absent: no such model folder$"):
        load_stage(stage, device="cpu")


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


def test_hub_failure_names_the_stage_and_model(offline):
    with pytest.raises(InterpError, match=r"^stage 'cpt' \(Equall/Saul-7B-Base\): cannot be loaded \(") as caught:
        load_stage(Stage("cpt", "Equall/Saul-7B-Base"), device="cpu")
    assert "\n" not in str(caught.value)


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
def test_loaded_stage_describes_the_checkpoint(tiny_loaded, tiny_checkpoint):
    loaded = tiny_loaded
    assert (loaded.n_layers, loaded.n_heads, loaded.context_length) == (2, 4, 512)
    assert loaded.checkpoint == str(tiny_checkpoint)
    weights = (tiny_checkpoint / "model.safetensors").read_bytes()
    assert loaded.revision_or_hash == "sha256:" + hashlib.sha256(weights).hexdigest()
    assert (loaded.dtype, loaded.device) == ("float32", "cpu")
    ids = loaded.tokenizer("The lessee shall pay the rent.")["input_ids"]
    assert ids[0] == loaded.tokenizer.bos_token_id and ids.count(loaded.tokenizer.bos_token_id) == 1


@pytest.mark.slow
def test_bridge_wraps_the_hf_weights_without_copies(tiny_loaded):
    bridge = tiny_loaded.bridge
    hf_storage = {p.data_ptr() for p in bridge.original_model.parameters()}
    assert {p.data_ptr() for p in bridge.parameters()} <= hf_storage
    assert not bridge.compatibility_mode
    assert bridge.original_model.config._attn_implementation == "eager"
    assert not bridge.training


@pytest.mark.slow
def test_local_folder_loads_offline(offline, tiny_checkpoint):
    loaded = load_stage(Stage("base", str(tiny_checkpoint)), device="cpu", dtype="auto")
    assert loaded.dtype == "float32"
    assert loaded.n_layers == 2
    free_stage(loaded)


@pytest.mark.slow
def test_corrupt_weights_are_one_line(tmp_path, tiny_checkpoint):
    folder = tmp_path / "corrupt"
    folder.mkdir()
    (folder / "config.json").write_bytes((tiny_checkpoint / "config.json").read_bytes())
    (folder / "model.safetensors").write_bytes(b"not safetensors")
    with pytest.raises(InterpError, match=r"^stage 'broken' \(.*corrupt\): cannot be loaded \(") as caught:
        load_stage(Stage("broken", str(folder)), device="cpu")
    assert "\n" not in str(caught.value)


@pytest.mark.slow
def test_free_stage_releases_the_model(tiny_checkpoint):
    loaded = load_stage(Stage("base", str(tiny_checkpoint)), device="cpu")
    model = weakref.ref(loaded.bridge.original_model)
    free_stage(loaded)
    gc.collect()
    assert loaded.bridge is None
    assert model() is None
