"""Attention between spans against a matrix worked out by hand."""

import numpy as np
import pytest

from interp.core.errors import InterpError
from tests.references import compute_span_attention

# rows = queries, columns = keys; causal, rows sum to 1
PATTERN = np.array([
    [1.0, 0.0, 0.0, 0.0],
    [0.4, 0.6, 0.0, 0.0],
    [0.2, 0.3, 0.5, 0.0],
    [0.1, 0.2, 0.3, 0.4],
])


def test_span_attention_by_hand():
    # S0 = {0, 1}, S1 = {2, 3}, S2 = {1, 3}
    # M[0,0] = mean(1 + 0, 0.4 + 0.6) = 1        M[0,1] = NaN (queries 0, 1 precede keys 2, 3)
    # M[1,0] = mean(0.2 + 0.3, 0.1 + 0.2) = 0.4  M[1,1] = mean(0.5 + 0, 0.3 + 0.4) = 0.6
    # M[0,2] = mean(0 + 0, 0.6 + 0) = 0.3        (query 1 reaches key 1, so not NaN)
    # M[2,1] = mean(0 + 0, 0.3 + 0.4) = 0.35     M[2,2] = mean(0.6, 0.2 + 0.4) = 0.6
    # M[1,2] = mean(0.3 + 0, 0.2 + 0.4) = 0.45   M[2,0] = mean(1.0, 0.3) = 0.65
    matrix = compute_span_attention(PATTERN, [[0, 1], [2, 3], [1, 3]])
    expected = np.array([
        [1.0, np.nan, 0.3],
        [0.4, 0.6, 0.45],
        [0.65, 0.35, 0.6],
    ])
    np.testing.assert_allclose(matrix, expected)
    assert matrix.dtype == np.float64


def test_span_attention_averages_layers_and_heads():
    other = np.tril(np.ones((4, 4))) / np.arange(1, 5)[:, None]
    stacked = np.stack([np.stack([PATTERN, other]), np.stack([other, other])])  # [2, 2, 4, 4]
    spans = [[0, 1], [2, 3]]
    expected = (compute_span_attention(PATTERN, spans)
                + 3 * compute_span_attention(other, spans)) / 4
    np.testing.assert_allclose(compute_span_attention(stacked, spans), expected)


@pytest.mark.parametrize(
    ("pattern", "spans", "message"),
    [
        (PATTERN, [[0], []], "span 2"),
        (PATTERN, [[0], [4]], "span 2"),
        (PATTERN, [[-1]], "span 1"),
        (PATTERN[:3], [[0]], "shape"),
        (np.zeros((2, 4, 4)), [[0]], "shape"),
    ],
)
def test_span_attention_rejects_bad_input(pattern, spans, message):
    with pytest.raises(InterpError, match=message):
        compute_span_attention(pattern, spans)
