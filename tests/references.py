"""Independent reference computations the tests compare the package against (dense, loop by loop)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from interp.concepts.alignment import unreachable_span_pairs
from interp.core.errors import InterpError


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
            matrix[i, j] = pattern[np.ix_(queries, keys)].sum(axis=1).mean()
    matrix[unreachable_span_pairs(spans)] = np.nan
    return matrix
