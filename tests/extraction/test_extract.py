"""Extracted attention against an independent Hugging Face eager computation, on both routes."""

from __future__ import annotations

import contextlib

import numpy as np
import pytest
import torch

from interp.analysis.shift_statistics import compute_share, compute_share_from_patterns
from interp.core.errors import InterpError
from interp.extraction.extract import (
    ExtractionRequest,
    SequenceAttention,
    collect_patterns,
    extract_sequence,
    lean_reason,
)
from interp.models.lineage import Stage
from interp.models.loader import free_stage, load_stage
from interp.store.folder import unpack_lower_triangle
from tests.references import compute_span_attention

TEXT = (
    "The lessee shall pay the rent within thirty days unless the court orders otherwise, "
    "and the lessor may enter the premises if the notice is served."
)


SPANS = ((3, 4, 5), (10, 11), (20, 21, 22))


def hf_attention(folder, token_ids, dtype=torch.float32) -> np.ndarray:
    """Post-softmax attention `[layers, heads, n, n]` from transformers' own eager attention."""
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(folder, attn_implementation="eager", dtype=dtype)
    with torch.inference_mode():
        output = model(torch.tensor([token_ids]), output_attentions=True, use_cache=False)
    return np.stack([layer[0].float().numpy() for layer in output.attentions])


@contextlib.contextmanager
def pattern_route(loaded):
    """Force the fallback route: a hook on hook_pattern, which only the bridge's eager attention fires."""
    point = loaded.bridge.hook_dict["blocks.0.attn.hook_pattern"]
    handle = point.add_hook(lambda pattern, hook: None)
    try:
        assert lean_reason(loaded.bridge) is not None
        yield
    finally:
        handle.hook.remove()
        point.fwd_hooks[:] = [kept for kept in point.fwd_hooks if kept is not handle]


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


@pytest.fixture(scope="module")
def no_window_checkpoint(tmp_path_factory, legal_tokenizer):
    from interp.models.tiny import build_tiny_mistral

    return build_tiny_mistral(tmp_path_factory.mktemp("no-window"), legal_tokenizer, seed=4, initializer_range=0.2)


@pytest.mark.slow
@pytest.mark.parametrize("route", ["lean", "pattern"])
def test_column_sums_match_hugging_face(tiny_loaded, token_ids, reference, route):
    with (pattern_route(tiny_loaded) if route == "pattern" else contextlib.nullcontext()):
        result = extract_sequence(tiny_loaded, token_ids)
    n = len(token_ids)
    assert isinstance(result, SequenceAttention) and result.route == route
    assert result.n_tokens == n and result.colsums.dtype == np.float32
    # Grouped-query attention: one pattern per query head (4), not per key/value head (2).
    assert result.colsums.shape == (2, 4, n)
    np.testing.assert_allclose(result.colsums, reference.sum(axis=-2), rtol=1e-5, atol=1e-5)
    # Every query row sums to one, so the column sums of a head add up to n.
    np.testing.assert_allclose(result.colsums.sum(axis=-1), n, rtol=1e-5)


@pytest.mark.slow
def test_shares_match_hugging_face_without_a_sliding_window(no_window_checkpoint, token_ids):
    loaded = load_stage(Stage("base", str(no_window_checkpoint)), device="cpu", dtype="float32")
    try:
        result = extract_sequence(loaded, token_ids)
    finally:
        free_stage(loaded)
    reference = hf_attention(no_window_checkpoint, token_ids)
    assert result.route == "lean"
    np.testing.assert_allclose(result.colsums, reference.sum(axis=-2), rtol=1e-5, atol=1e-5)


@pytest.mark.slow
@pytest.mark.parametrize("route", ["lean", "pattern"])
def test_window_full_and_span_attention_match_hugging_face(tiny_loaded, token_ids, reference, route):
    n = len(token_ids)
    with (pattern_route(tiny_loaded) if route == "pattern" else contextlib.nullcontext()):
        windowed, window = collect_patterns(tiny_loaded, token_ids, ExtractionRequest("window", (2, 14), SPANS))
        _, full = collect_patterns(tiny_loaded, token_ids, ExtractionRequest("full"))
    # float16 storage: equal to the reference up to float16 rounding (half an ulp, 2^-11 relative).
    assert window.dtype == full.dtype == np.float16
    assert window.shape == (2, 4, 12, 12) and full.shape == (2, 4, n * (n + 1) // 2)
    crop = reference[:, :, 2:14, 2:14]
    assert np.all(np.abs(window.astype(np.float32) - crop) <= np.abs(crop) * 2.0**-11 + 1e-5)
    square = unpack_lower_triangle(full, n)
    assert np.all(np.abs(square - reference) <= np.abs(reference) * 2.0**-11 + 1e-5)
    expected = np.stack([[compute_span_attention(reference[layer, h], SPANS) for h in range(4)] for layer in range(2)])
    np.testing.assert_allclose(windowed.span_attention, np.nan_to_num(expected, nan=0.0), rtol=1e-5, atol=1e-5)


@pytest.mark.slow
def test_hundreds_of_spans_cost_about_what_one_does(tiny_loaded):
    """Span × span attention of 500 spans is three matrix products per layer, not 250,000 pairs
    formed one by one (86 s against 6.7 s for one span, on the demo)."""
    import time

    ids = tiny_loaded.tokenizer(" ".join([TEXT] * 20))["input_ids"][:510]
    many = tuple((position,) for position in range(1, 501))

    def best(spans):
        timings = []
        for _ in range(2):
            began = time.perf_counter()
            attention = extract_sequence(tiny_loaded, ids, ExtractionRequest("none", spans=spans))
            timings.append(time.perf_counter() - began)
        return min(timings), attention

    one, _ = best(many[:1])
    hundreds, attention = best(many)
    assert attention.span_attention.shape == (2, 4, 500, 500)
    assert hundreds < 5 * one + 0.5, (hundreds, one)


@pytest.mark.slow
def test_sliding_window_zeroes_far_keys(tiny_loaded, token_ids, reference, window):
    _, full = collect_patterns(tiny_loaded, token_ids, ExtractionRequest("full"))
    patterns = unpack_lower_triangle(full, len(token_ids))
    queries, keys = np.indices(patterns.shape[-2:])
    far = keys <= queries - window
    near = (keys <= queries) & ~far
    for attention in (patterns, reference):
        assert far.sum() > 0
        assert np.all(attention[..., far] == 0)
        assert np.all(attention[..., near] > 0)
        assert np.all(attention[..., keys > queries] == 0)


@pytest.mark.slow
def test_patterns_arrive_layer_by_layer_and_the_bridge_is_left_as_it_was(tiny_loaded, token_ids):
    layers = []
    extract_sequence(tiny_loaded, token_ids, ExtractionRequest("window", (0, 8)),
                     on_patterns=lambda layer, values: layers.append((layer, values.shape)))
    assert layers == [(0, (4, 8, 8)), (1, (4, 8, 8))]
    bridge = tiny_loaded.bridge
    assert bridge.original_model.config._attn_implementation == "eager"
    for block in bridge.blocks:
        assert "forward" not in block.attn.__dict__
    for layer in range(tiny_loaded.n_layers):
        point = bridge.hook_dict[f"blocks.{layer}.attn.hook_pattern"]
        assert point.fwd_hooks == [] and not point._forward_hooks
    with pytest.raises(InterpError, match="pattern window"):
        extract_sequence(tiny_loaded, token_ids, ExtractionRequest("window", (5, 500)))


@pytest.mark.slow
def test_transformer_lens_hooks_still_fire_on_the_lean_route(tiny_loaded, token_ids):
    """Users hook the model through TransformerLens: q, k, v, rotated q/k and z fire as usual."""
    seen = set()
    names = ["hook_q", "hook_k", "hook_v", "hook_rot_q", "hook_rot_k", "hook_z"]
    points = [tiny_loaded.bridge.hook_dict[f"blocks.1.attn.{name}"] for name in names]
    handles = [point.add_hook(lambda tensor, hook, name=name: seen.add(name)) for point, name in zip(points, names)]
    try:
        assert extract_sequence(tiny_loaded, token_ids).route == "lean"
    finally:
        for point, handle in zip(points, handles):
            handle.hook.remove()
            point.fwd_hooks[:] = [kept for kept in point.fwd_hooks if kept is not handle]
    assert seen == set(names)


@pytest.mark.slow
def test_bfloat16_shares_match_hugging_face_within_a_stated_tolerance(tiny_checkpoint, token_ids):
    """bfloat16 models: sums stay float32; shares agree with HF eager in bfloat16 within 5e-3."""
    half = load_stage(Stage("base", str(tiny_checkpoint)), device="cpu", dtype="bfloat16")
    try:
        result = extract_sequence(half, token_ids, ExtractionRequest("window", (0, 10)))
        _, window = collect_patterns(half, token_ids, ExtractionRequest("window", (0, 10)))
        aligned = half.tokenizer(TEXT)
    finally:
        free_stage(half)
    assert half.dtype == "bfloat16" and result.colsums.dtype == np.float32 and window.dtype == np.float16
    n = len(token_ids)
    np.testing.assert_allclose(result.colsums.sum(axis=-1), n, atol=0.05)
    reference = hf_attention(tiny_checkpoint, token_ids, dtype=torch.bfloat16)
    concept = np.zeros(n, dtype=bool)
    concept[[3, 4, 5, 10, 11]] = True
    excluded = np.zeros(n, dtype=bool)
    excluded[0] = True
    shares = compute_share(result.colsums, concept, excluded)
    expected = compute_share_from_patterns(reference, concept, excluded)
    assert np.abs(shares - expected).max() < 5e-3
    assert len(aligned["input_ids"]) == n


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
@pytest.mark.parametrize("route", ["lean", "pattern"])
def test_value_norms_match_hugging_face_modules(tiny_loaded, tiny_checkpoint, token_ids, route):
    """‖v_k W_O^h‖ from the HF model's own v_proj output and o_proj weight, head by head (GQA)."""
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(tiny_checkpoint, attn_implementation="eager", dtype=torch.float32)
    values = {}
    for layer, block in enumerate(model.model.layers):
        block.self_attn.v_proj.register_forward_hook(lambda m, i, o, layer=layer: values.__setitem__(layer, o[0]))
    with torch.inference_mode():
        model(torch.tensor([token_ids]))
    with (pattern_route(tiny_loaded) if route == "pattern" else contextlib.nullcontext()):
        norms = extract_sequence(tiny_loaded, token_ids).norms
    config = model.config
    heads, kv_heads = config.num_attention_heads, config.num_key_value_heads
    d = config.hidden_size // heads
    with torch.inference_mode():
        for layer, block in enumerate(model.model.layers):
            weight = block.self_attn.o_proj.weight
            v = values[layer].view(len(token_ids), kv_heads, d)
            for head in range(heads):
                transformed = v[:, head // (heads // kv_heads)] @ weight[:, head * d:(head + 1) * d].T
                np.testing.assert_allclose(norms[layer, head], transformed.norm(dim=-1).numpy(), rtol=1e-5, atol=1e-5)
