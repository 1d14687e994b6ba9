"""Tiny Mistral-architecture checkpoints for the tests, the benchmark and the offline demo lineage.

They have the 7B models' shape in miniature (RoPE, RMSNorm, grouped-query attention, optional
sliding window) and are saved with `save_pretrained`, so they go through the very loader the
7B checkpoints use.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from transformers import MistralConfig, MistralForCausalLM, PreTrainedTokenizerBase


def build_tiny_mistral(
    folder: str | Path,
    tokenizer: PreTrainedTokenizerBase,
    *,
    seed: int = 0,
    hidden_size: int = 64,
    num_hidden_layers: int = 2,
    num_attention_heads: int = 4,
    num_key_value_heads: int = 2,
    intermediate_size: int = 128,
    sliding_window: int | None = None,
    max_position_embeddings: int = 512,
    **overrides: Any,
) -> Path:
    """Save a randomly initialised tiny `MistralForCausalLM` and its tokenizer in `folder`.

    The vocabulary (unless `vocab_size` is given, e.g. 32000 for a benchmark at 7B width) and
    BOS/EOS ids are the tokenizer's; `overrides` are any other
    `MistralConfig` fields (e.g. `initializer_range`, `rope_theta`). The same seed gives the
    same weights, and the global torch random state is left as it was. Returns the folder's
    absolute path.
    """
    config = MistralConfig(
        vocab_size=overrides.pop("vocab_size", len(tokenizer)),
        hidden_size=hidden_size,
        num_hidden_layers=num_hidden_layers,
        num_attention_heads=num_attention_heads,
        num_key_value_heads=num_key_value_heads,
        intermediate_size=intermediate_size,
        sliding_window=sliding_window,
        max_position_embeddings=max_position_embeddings,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        **overrides,
    )
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = MistralForCausalLM(config)
    model.save_pretrained(folder, safe_serialization=True)
    tokenizer.save_pretrained(folder)
    return folder.resolve()
