"""Blockwise attention against a dense softmax: output, column sums, lse, blocks of the pattern."""

import numpy as np
import pytest
import torch

from interp.extraction import blockwise
from tests.references import compute_span_attention


def dense(q, k, v, scale, window):
    """The full `[heads, n, n]` pattern and output the ordinary way (repeat_kv, mask, softmax)."""
    group = q.shape[0] // k.shape[0]
    keys, values = k.repeat_interleave(group, dim=0), v.repeat_interleave(group, dim=0)
    n = q.shape[1]
    positions = torch.arange(n)
    scores = (q @ keys.transpose(1, 2)) * scale
    scores = scores.masked_fill(~blockwise.visible(positions, positions, window), float("-inf"))
    pattern = torch.softmax(scores, dim=-1)
    return pattern, pattern @ values, torch.logsumexp(scores, dim=-1)


@pytest.fixture(params=[None, 5], ids=["causal", "sliding-window"])
def case(request):
    generator = torch.Generator().manual_seed(0)
    q = torch.randn(4, 37, 8, generator=generator) * 2
    k = torch.randn(2, 37, 8, generator=generator) * 2
    v = torch.randn(2, 37, 8, generator=generator)
    return q, k, v, 8**-0.5, request.param


def test_one_pass_gives_output_column_sums_and_lse(case):
    q, k, v, scale, window = case
    pattern, output, lse = dense(q, k, v, scale, window)
    result = blockwise.attention_pass(q, k, v, scale, window, blockwise.Workspace(budget_bytes=4 * 4 * 9 * 37))
    torch.testing.assert_close(result.output, output, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(result.colsums, pattern.sum(dim=1), rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(result.lse, lse, rtol=1e-5, atol=1e-5)


def test_small_workspaces_only_change_the_block_size(case):
    q, k, v, scale, window = case
    small = blockwise.attention_pass(q, k, v, scale, window, blockwise.Workspace(budget_bytes=1))
    large = blockwise.attention_pass(q, k, v, scale, window, blockwise.Workspace(budget_bytes=2**24))
    torch.testing.assert_close(small.colsums, large.colsums, rtol=1e-6, atol=1e-7)


def test_pattern_blocks_spans_and_the_triangle(case):
    q, k, v, scale, window = case
    pattern, _, lse = dense(q, k, v, scale, window)

    def block(rows, cols):
        return blockwise.pattern_block(q, k, lse, scale, rows, cols, window)

    rows, cols = torch.arange(10, 30), torch.tensor([0, 3, 12, 29])
    torch.testing.assert_close(block(rows, cols), pattern[:, rows][:, :, cols], rtol=1e-5, atol=1e-5)
    spans = ((2, 3), (10, 11, 12), (30,))
    expected = np.stack([compute_span_attention(pattern[h].numpy(), spans) for h in range(4)])
    result = blockwise.span_attention(block, spans, q.device).numpy()
    np.testing.assert_allclose(result, np.nan_to_num(expected, nan=0.0), rtol=1e-5, atol=1e-5)
    row_at_a_time = blockwise.span_attention(block, spans, q.device, budget_bytes=1).numpy()
    np.testing.assert_allclose(row_at_a_time, result, rtol=1e-6, atol=1e-7)
    rows, cols = np.tril_indices(37)
    triangle = blockwise.lower_triangle(block, 37, q.device, rows_per_block=8)
    assert triangle.dtype == torch.float16 and triangle.shape == (4, 37 * 38 // 2)
    np.testing.assert_allclose(triangle.float().numpy(), pattern[:, rows, cols].numpy(), atol=1e-3)


def test_span_attention_of_hundreds_of_spans_is_three_matrix_products(case):
    """500 spans, shared and repeated tokens among them, as the per-pair loop computes them; the
    pattern is formed once per block of query rows, never once per pair of spans."""
    q, k, v, scale, window = case
    pattern, _, lse = dense(q, k, v, scale, window)
    calls = []

    def block(rows, cols):
        calls.append(rows.numel())
        return blockwise.pattern_block(q, k, lse, scale, rows, cols, window)

    generator = np.random.default_rng(0)
    n = q.shape[1]
    spans = [tuple(sorted(set(generator.integers(0, n, size=generator.integers(1, 4)).tolist()))) for _ in range(500)]
    result = blockwise.span_attention(block, spans, q.device).numpy()
    assert result.shape == (4, 500, 500) and sum(calls) == len({p for span in spans for p in span})
    for h in range(4):
        for i, j in zip(*generator.integers(0, 500, size=(2, 300))):
            expected = pattern[h].numpy()[np.ix_(spans[i], spans[j])].sum(axis=1).mean()
            np.testing.assert_allclose(result[h, i, j], expected, rtol=1e-5, atol=1e-6)


def test_bfloat16_inputs_are_summed_in_float32(case):
    q, k, v, scale, window = case
    result = blockwise.attention_pass(q.bfloat16(), k.bfloat16(), v.bfloat16(), scale, window)
    assert result.colsums.dtype == torch.float32 and result.output.dtype == torch.bfloat16
    torch.testing.assert_close(result.colsums.sum(dim=-1), torch.full((4,), 37.0), rtol=1e-5, atol=1e-4)
