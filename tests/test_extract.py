"""Extracted attention against an independent Hugging Face eager computation."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from interp.errors import InterpError
from interp.extract import SequenceAttention, extract_sequence
from interp.store import unpack_lower_triangle
from interp.lineage import Stage
from interp.loader import free_stage, load_stage

TEXT = (
    "The lessee shall pay the rent within thirty days unless the court orders otherwise, "
    "and the lessor may enter the premises if the notice is served."
)


def hf_attention(folder, token_ids) -> np.ndarray:
    """Post-softmax attention `[layers, heads, n, n]` from transformers' own eager attention."""
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(folder, attn_implementation="eager", dtype=torch.float32)
    with torch.inference_mode():
        output = model(torch.tensor([token_ids]), output_attentions=True, use_cache=False)
    return np.stack([layer[0].numpy() for layer in output.attentions])


@pytest.fixture(scope="module")
def window(tiny_loaded):
    return tiny_loaded.bridge.original_model.config.sliding_window


@pytest.fixture(scope="module")
def token_ids(tiny_loaded, window):
    ids = tiny_loaded.tokenizer(TEXT)["input_ids"]
    assert len(ids) > 3 * window
    return ids


@pytest.fixture(scope="module")
def reference(tiny_checkpoint, token_ids):
    return hf_attention(tiny_checkpoint, token_ids)


@pytest.mark.slow
def test_column_sums_match_hugging_face(tiny_loaded, token_ids, reference):
    result = extract_sequence(tiny_loaded, token_ids)
    n = len(token_ids)
    assert isinstance(result, SequenceAttention)
    assert result.n_tokens == n
    assert result.colsums.dtype == np.float32
    # Grouped-query attention: one pattern per query head (4), not per key/value head (2).
    assert result.colsums.shape == (2, 4, n)
    np.testing.assert_allclose(result.colsums, reference.sum(axis=-2), rtol=0, atol=1e-5)
    # Every query row sums to one, so the column sums of a head add up to n.
    np.testing.assert_allclose(result.colsums.sum(axis=-1), n, rtol=1e-5)


@pytest.mark.slow
def test_stored_patterns_match_hugging_face(tiny_loaded, token_ids, reference):
    result = extract_sequence(tiny_loaded, token_ids)
    n = len(token_ids)
    assert result.patterns.dtype == np.float16
    assert result.patterns.shape == (2, 4, n * (n + 1) // 2)
    patterns = unpack_lower_triangle(result.patterns, n)
    # float16 storage: equal to the reference up to float16 rounding (half an ulp, 2^-11 relative).
    assert np.all(np.abs(patterns - reference) <= np.abs(reference) * 2.0**-11 + 1e-5)
    np.testing.assert_allclose(patterns, reference.astype(np.float16).astype(np.float32), rtol=0, atol=1e-5)


@pytest.mark.slow
def test_sliding_window_zeroes_far_keys(tiny_loaded, token_ids, reference, window):
    patterns = unpack_lower_triangle(extract_sequence(tiny_loaded, token_ids).patterns, len(token_ids))
    queries, keys = np.indices(patterns.shape[-2:])
    far = keys <= queries - window
    near = (keys <= queries) & ~far
    for attention in (patterns, reference):
        assert far.sum() > 0
        assert np.all(attention[..., far] == 0)
        assert np.all(attention[..., near] > 0)
        assert np.all(attention[..., keys > queries] == 0)


@pytest.mark.slow
def test_without_patterns_and_hooks_are_removed(tiny_loaded, token_ids):
    with_patterns = extract_sequence(tiny_loaded, token_ids)
    without = extract_sequence(tiny_loaded, token_ids, keep_patterns=False)
    assert without.patterns is None
    np.testing.assert_array_equal(without.colsums, with_patterns.colsums)
    bridge = tiny_loaded.bridge
    for layer in range(tiny_loaded.n_layers):
        point = bridge.hook_dict[f"blocks.{layer}.attn.hook_pattern"]
        assert point.fwd_hooks == [] and not point._forward_hooks


@pytest.mark.slow
def test_bfloat16_models_give_float32_sums_and_float16_patterns(tiny_checkpoint, tiny_loaded, token_ids):
    half = load_stage(Stage("base", str(tiny_checkpoint)), device="cpu", dtype="bfloat16")
    try:
        result = extract_sequence(half, token_ids)
    finally:
        free_stage(half)
    assert half.dtype == "bfloat16"
    assert (result.colsums.dtype, result.patterns.dtype) == (np.float32, np.float16)
    n = len(token_ids)
    np.testing.assert_allclose(result.colsums.sum(axis=-1), n, atol=0.05)
    full = extract_sequence(tiny_loaded, token_ids).colsums
    np.testing.assert_allclose(result.colsums, full, atol=0.25)


@pytest.mark.slow
def test_other_weights_give_other_attention(tiny_loaded, tiny_checkpoint_other, token_ids):
    other = load_stage(Stage("cpt", str(tiny_checkpoint_other)), device="cpu")
    try:
        shifted = extract_sequence(other, token_ids).colsums
    finally:
        free_stage(other)
    assert shifted.shape == extract_sequence(tiny_loaded, token_ids).colsums.shape
    assert not np.allclose(shifted, extract_sequence(tiny_loaded, token_ids).colsums, atol=1e-3)


@pytest.mark.slow
def test_sequence_longer_than_the_context(tiny_loaded):
    too_long = [tiny_loaded.tokenizer.bos_token_id] * (tiny_loaded.context_length + 1)
    with pytest.raises(InterpError, match="stage 'base': sequence of 513 tokens is longer than the model's context length of 512"):
        extract_sequence(tiny_loaded, too_long)


@pytest.mark.slow
def test_bad_token_ids(tiny_loaded):
    with pytest.raises(InterpError, match="no tokens"):
        extract_sequence(tiny_loaded, [])
    with pytest.raises(InterpError, match=r"token ids must lie in \[0, "):
        extract_sequence(tiny_loaded, [1, 10**6])
