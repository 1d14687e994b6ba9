"""Tiny checkpoints: the 7B architecture in miniature, the same weights for the same seed."""

import pytest
import torch
from safetensors.torch import load_file

from interp.models.tiny import build_tiny_mistral


@pytest.mark.slow
def test_same_seed_same_weights_and_the_global_rng_is_left_alone(tmp_path, legal_tokenizer):
    torch.manual_seed(123)
    expected_next = torch.rand(1)
    torch.manual_seed(123)
    first = build_tiny_mistral(tmp_path / "a", legal_tokenizer, seed=7, sliding_window=4)
    assert torch.rand(1) == expected_next
    second = build_tiny_mistral(tmp_path / "b", legal_tokenizer, seed=7, sliding_window=4)
    other = build_tiny_mistral(tmp_path / "c", legal_tokenizer, seed=8, sliding_window=4)
    a, b, c = (load_file(str(folder / "model.safetensors")) for folder in (first, second, other))
    assert all(torch.equal(a[name], b[name]) for name in a)
    assert not all(torch.equal(a[name], c[name]) for name in a)


@pytest.mark.slow
def test_config_takes_the_tokenizer_and_overrides(tmp_path, legal_tokenizer):
    import json

    folder = build_tiny_mistral(tmp_path / "m", legal_tokenizer, num_hidden_layers=3, vocab_size=1000, initializer_range=0.5)
    config = json.loads((folder / "config.json").read_text())
    assert (config["num_hidden_layers"], config["vocab_size"], config["initializer_range"]) == (3, 1000, 0.5)
    assert config["bos_token_id"] == legal_tokenizer.bos_token_id and config["architectures"] == ["MistralForCausalLM"]
    assert (folder / "tokenizer.json").is_file()
