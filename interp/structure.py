"""How attention flows between the spans of a sequence (roles such as duty and breach)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from interp.errors import InterpError

# Span × span attention is kept at extraction and drawn in the Structure view for sequences of at
# most this many spans. It costs layers · heads · spans² numbers to store and spans² cells to draw
# (500 spans: 105 MB per entry and 19 MB per figure), and a heat map of more spans has cells too
# small to read or label. Shares, shifts and every other view use all spans, however many.
MAX_STRUCTURE_SPANS = 32


def compute_span_attention(pattern: np.ndarray, span_tokens: Sequence[Sequence[int]]) -> np.ndarray:
    """Mean attention that a query span pays to a key span.

    `M[i, j] = (1 / |S_i|) · Σ_{q∈S_i} Σ_{k∈S_j} A[q, k]`: for each query token of span i, the
    attention it puts on all key tokens of span j together, averaged over those query tokens.
    Rows are not renormalised, so `M[i, j]` is a fraction of the queries' whole attention (at
    most 1). `pattern` is `[n, n]` (rows = queries, columns = keys, post-softmax, causal) or
    `[layers, heads, n, n]`, which is averaged over layers and heads first (the same as
    averaging the per-head matrices, since `M` is linear in `A`). `span_tokens` lists the token
    indices of each span. Where every query of span i precedes every key of span j, causal
    attention cannot reach, and `M[i, j]` is NaN rather than 0.
    Returns `[spans, spans]`, float64.
    """
    pattern = np.asarray(pattern)
    if pattern.ndim == 4:
        pattern = pattern.mean(axis=(0, 1), dtype=np.float64)
    if pattern.ndim != 2 or pattern.shape[0] != pattern.shape[1]:
        raise InterpError(
            f"pattern must have shape [n, n] or [layers, heads, n, n], got {pattern.shape}"
        )
    n = pattern.shape[0]
    spans = []
    for index, tokens in enumerate(span_tokens):
        tokens = np.asarray(tokens, dtype=np.int64).ravel()
        if tokens.size == 0 or tokens.min() < 0 or tokens.max() >= n:
            raise InterpError(
                f"span {index + 1}: token indices must be a non-empty subset of 0..{n - 1}, "
                f"got {tokens.tolist()}"
            )
        spans.append(np.unique(tokens))
    pattern = pattern.astype(np.float64, copy=False)
    matrix = np.empty((len(spans), len(spans)), dtype=np.float64)
    for i, queries in enumerate(spans):
        for j, keys in enumerate(spans):
            if queries.max() < keys.min():
                matrix[i, j] = np.nan
            else:
                matrix[i, j] = pattern[np.ix_(queries, keys)].sum(axis=1).mean()
    return matrix
