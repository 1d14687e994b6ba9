"""Loading checkpoints through the bridge: tiny local folders, offline, with one-line errors."""

from __future__ import annotations

import gc
import weakref

import pytest
import torch

from interp.core.errors import InterpError
from interp.models.checkpoints import check_checkpoint
from interp.models.lineage import Stage
from interp.models.loader import free_stage, load_stage, resolve_device, resolve_dtype


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


def test_hub_failure_names_the_stage_and_model(offline):
    with pytest.raises(InterpError, match=r"^stage 'cpt' \(Equall/Saul-7B-Base\): cannot be loaded \(") as caught:
        load_stage(Stage("cpt", "Equall/Saul-7B-Base"), device="cpu")
    assert "\n" not in str(caught.value)


@pytest.mark.slow
def test_loaded_stage_describes_the_checkpoint(tiny_loaded, tiny_checkpoint):
    loaded = tiny_loaded
    assert (loaded.n_layers, loaded.n_heads, loaded.context_length) == (2, 4, 512)
    assert loaded.checkpoint == str(tiny_checkpoint)
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
