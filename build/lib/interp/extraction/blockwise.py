"""Causal attention in query blocks: the output, the column sums and the row log-sum-exp, without [n, n].

Shapes: `q: [heads, n, d]` rotated queries; `k, v: [kv_heads, n, d]` rotated keys and values,
not repeated for grouped-query attention (query head h reads key head h // (heads // kv_heads),
as Hugging Face's `repeat_kv`). Key k is visible from query q iff `k <= q` and, with a sliding
window w, `q - k < w` (transformers' `sliding_window_overlay`). Scores, softmax and the sums are
float32 whatever the model's dtype; peak memory is one `[heads, block, keys]` float32 score
block (a reused workspace) plus `O(heads · n)` vectors, so it grows linearly with n.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

DEFAULT_BUDGET = 8 * 2**20


class Workspace:
    """One reusable float32 score buffer: fresh large allocations per block would be mapped and
    page-faulted every time (measured: a third of the pass on the CPU)."""

    def __init__(self, budget_bytes: int = DEFAULT_BUDGET):
        self.budget_bytes = budget_bytes
        self._buffer: torch.Tensor | None = None

    def get(self, numel: int, device: torch.device) -> torch.Tensor:
        if self._buffer is None or self._buffer.numel() < numel or self._buffer.device != device:
            self._buffer = torch.empty(numel, dtype=torch.float32, device=device)
        return self._buffer[:numel]


@dataclass(frozen=True)
class AttentionPass:
    """What one layer's pass leaves: `output [heads, n, d]` (v's dtype, None without v),
    `colsums [heads, n]` float32 (Σ_q A[q, k]), `lse [heads, n]` float32 (each row's log Σ exp)."""

    output: torch.Tensor | None
    colsums: torch.Tensor
    lse: torch.Tensor


def visible(queries: torch.Tensor, keys: torch.Tensor, window: int | None) -> torch.Tensor:
    """`bool [queries, keys]`: which keys each query may attend to (causal, sliding window)."""
    allowed = keys[None, :] <= queries[:, None]
    if window is not None:
        allowed &= (queries[:, None] - keys[None, :]) < window
    return allowed


def _additive_mask(queries: torch.Tensor, keys: torch.Tensor, window: int | None) -> torch.Tensor:
    mask = torch.zeros(queries.numel(), keys.numel(), dtype=torch.float32, device=queries.device)
    return mask.masked_fill_(~visible(queries, keys, window), float("-inf"))


def attention_pass(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor | None, scale: float, window: int | None = None,
    workspace: Workspace | None = None,
) -> AttentionPass:
    """The attention output and its statistics in one blockwise pass over the queries.

    For each block of queries: scores `s = q kᵀ · scale` over the visible keys, `p = exp(s − max)`,
    row sums `l`; then `output = p v / l`, `colsums[k] += Σ_q p[q, k] / l[q]` and
    `lse = max + log l`. The same numbers as a softmax over the full matrix, one block at a time.
    """
    heads, n, d = q.shape
    kv_heads = k.shape[0]
    group = heads // kv_heads
    workspace = workspace or Workspace()
    span = n if window is None else min(n, window + 256)
    block = max(16, min(1024, workspace.budget_bytes // (4 * heads * max(span, 1))))
    grouped = q.reshape(kv_heads, group, n, d)
    colsums = torch.zeros(heads, 1, n, dtype=torch.float32, device=q.device)
    lse = torch.empty(kv_heads, group, n, dtype=torch.float32, device=q.device)
    output = None if v is None else torch.empty(kv_heads, group, n, d, dtype=v.dtype, device=q.device)
    k32, v32 = k.float(), (None if v is None else v.float())
    positions = torch.arange(n, device=q.device)
    for start in range(0, n, block):
        end = min(n, start + block)
        rows = end - start
        first = 0 if window is None else max(0, start - window + 1)
        width = end - first
        queries = grouped[:, :, start:end].reshape(kv_heads, group * rows, d).float()
        mask = _additive_mask(positions[start:end], positions[first:end], window).repeat(group, 1)
        scores = workspace.get(kv_heads * group * rows * width, q.device).view(kv_heads, group * rows, width)
        torch.baddbmm(mask.unsqueeze(0), queries, k32[:, first:end].transpose(1, 2), alpha=scale, out=scores)
        peak = scores.amax(dim=-1, keepdim=True)  # finite: a query always sees itself
        scores.sub_(peak).exp_()
        total = scores.sum(dim=-1, keepdim=True)
        inverse = total.reciprocal()
        lse[:, :, start:end] = (peak + total.log()).view(kv_heads, group, rows)
        colsums[:, :, first:end] += torch.bmm(inverse.view(heads, 1, rows), scores.view(heads, rows, width))
        if v32 is not None:
            output[:, :, start:end] = torch.bmm(scores, v32[:, first:end]).mul_(inverse).view(kv_heads, group, rows, d)
    return AttentionPass(
        output=None if output is None else output.view(heads, n, d), colsums=colsums.view(heads, n),
        lse=lse.view(heads, n),
    )


def pattern_block(
    q: torch.Tensor, k: torch.Tensor, lse: torch.Tensor, scale: float, queries: torch.Tensor, keys: torch.Tensor,
    window: int | None = None,
) -> torch.Tensor:
    """`A[h, queries, keys]` float32 from rotated q/k and the rows' lse: `exp(q·k·scale − lse_q)`,
    zero where a key is not visible. `queries`, `keys`: 1-D position tensors."""
    heads, _, d = q.shape
    group = heads // k.shape[0]
    rows = q[:, queries].float().reshape(k.shape[0], group * queries.numel(), d)
    scores = torch.bmm(rows, k[:, keys].float().transpose(1, 2)).mul_(scale).view(heads, queries.numel(), keys.numel())
    scores = scores - lse[:, queries, None]
    return scores.exp_().masked_fill_(~visible(queries, keys, window), 0.0)


BlockOf = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def span_attention(block: BlockOf, spans: Sequence[Sequence[int]], device: torch.device,
                   budget_bytes: int = DEFAULT_BUDGET) -> torch.Tensor:
    """`M[h, i, j] = (1/|S_i|) Σ_{q∈S_i} Σ_{k∈S_j} A[h, q, k]`, float32 `[heads, spans, spans]`:
    how much attention the tokens of span i pay, on average, to span j (docs/design.md §6, span
    attention), per head. `block(rows, cols)` gives
    `A[:, rows, cols]`; only the span rows and columns are formed. `spans`: at least one.

    With `K[u, j] = 1` where union token u is in span j and `R = Kᵀ / |S|` (row i averages span
    i's tokens), `M = R · A[union, union] · K`: three matrix products for all span pairs at once,
    over query rows a block at a time so that at most `budget_bytes` of the pattern exist.
    """
    lengths = [len(span) for span in spans]
    positions = torch.as_tensor([position for span in spans for position in span], dtype=torch.long, device=device)
    owners = torch.repeat_interleave(torch.arange(len(spans), device=device), torch.as_tensor(lengths, device=device))
    union, where = torch.unique(positions, return_inverse=True)
    keys = torch.zeros(union.numel(), len(spans), dtype=torch.float32, device=device)
    keys[where, owners] = 1.0
    rows = keys.T / keys.sum(dim=0)[:, None]
    result, start, step = None, 0, 1
    while start < union.numel():
        values = block(union[start:start + step], union)
        part = torch.matmul(rows[:, start:start + step], torch.matmul(values, keys))
        result = part if result is None else result.add_(part)
        start += step
        step = max(1, budget_bytes // (4 * union.numel() * values.shape[0]))
    return result


def lower_triangle(block: BlockOf, n: int, device: torch.device, rows_per_block: int = 256) -> torch.Tensor:
    """The whole pattern's lower triangle `[heads, n(n+1)/2]` float16, rows in `np.tril_indices`
    order, made `rows_per_block` query rows at a time (for `--patterns full`)."""
    positions = torch.arange(n, device=device)
    pieces = []
    for start in range(0, n, rows_per_block):
        end = min(n, start + rows_per_block)
        rows = block(positions[start:end], positions[:end])
        pieces.append(rows[:, visible(positions[start:end], positions[:end], None)].to(torch.float16))
    return torch.cat(pieces, dim=1)


# ---------------------------------------------------------------- gradients (the causal check)

def attention_backward(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, output: torch.Tensor, lse: torch.Tensor,
    grad_output: torch.Tensor, scale: float, window: int | None = None, workspace: Workspace | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Gradients of a loss with respect to `q, k, v` from its gradient `grad_output [heads, n, d]`,
    recomputing the pattern one block of queries at a time (as FlashAttention's backward pass):
    `P = exp(q kᵀ · scale − lse)`, `D = rowsum(dO ∘ O)`, `dS = P ∘ (dO vᵀ − D)`, then
    `dq = dS k · scale`, `dk = dSᵀ q · scale`, `dv = Pᵀ dO` (key/value gradients summed over the
    query heads of their group). Memory grows with n, never n²."""
    heads, n, d = q.shape
    kv_heads = k.shape[0]
    group = heads // kv_heads
    workspace = workspace or Workspace()
    span = n if window is None else min(n, window + 256)
    # Four block-sized float32 arrays live at once in the backward pass (scores, dP, dS, P).
    block = max(16, min(1024, workspace.budget_bytes // (16 * heads * max(span, 1))))
    k32, v32 = k.float(), v.float()
    grouped = q.reshape(kv_heads, group, n, d)
    upstream = grad_output.reshape(kv_heads, group, n, d)
    lse = lse.reshape(kv_heads, group, n)
    delta = (upstream.float() * output.reshape(kv_heads, group, n, d).float()).sum(dim=-1)
    dq = torch.empty(kv_heads, group, n, d, dtype=torch.float32, device=q.device)
    dk = torch.zeros(kv_heads, n, d, dtype=torch.float32, device=q.device)
    dv = torch.zeros(kv_heads, n, d, dtype=torch.float32, device=q.device)
    positions = torch.arange(n, device=q.device)
    for start in range(0, n, block):
        end = min(n, start + block)
        rows = end - start
        first = 0 if window is None else max(0, start - window + 1)
        queries = grouped[:, :, start:end].reshape(kv_heads, group * rows, d).float()
        d_out = upstream[:, :, start:end].reshape(kv_heads, group * rows, d).float()
        mask = _additive_mask(positions[start:end], positions[first:end], window).repeat(group, 1)
        scores = torch.baddbmm(mask.unsqueeze(0), queries, k32[:, first:end].transpose(1, 2), alpha=scale)
        probabilities = scores.sub_(lse[:, :, start:end].reshape(kv_heads, group * rows, 1)).exp_()
        dv[:, first:end] += torch.bmm(probabilities.transpose(1, 2), d_out)
        d_scores = torch.bmm(d_out, v32[:, first:end].transpose(1, 2))
        d_scores.sub_(delta[:, :, start:end].reshape(kv_heads, group * rows, 1)).mul_(probabilities)
        dq[:, :, start:end] = torch.bmm(d_scores, k32[:, first:end]).mul_(scale).view(kv_heads, group, rows, d)
        dk[:, first:end] += torch.bmm(d_scores.transpose(1, 2), queries).mul_(scale)
    return dq.view(heads, n, d).to(q.dtype), dk.to(k.dtype), dv.to(v.dtype)


class _BlockwiseAttention(torch.autograd.Function):
    """`attention_pass`'s output as a differentiable function of q, k and v, in O(n) memory."""

    @staticmethod
    def forward(ctx, q, k, v, scale: float, window: int | None):
        result = attention_pass(q, k, v, scale, window)
        ctx.save_for_backward(q, k, v, result.output, result.lse)
        ctx.scale, ctx.window = scale, window
        return result.output

    @staticmethod
    def backward(ctx, grad_output):
        q, k, v, output, lse = ctx.saved_tensors
        dq, dk, dv = attention_backward(q, k, v, output, lse, grad_output.contiguous(), ctx.scale, ctx.window)
        return dq, dk, dv, None, None


def differentiable_attention(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, scale: float, window: int | None = None,
) -> torch.Tensor:
    """The attention output `[heads, n, d]` with gradients to q, k and v (blockwise both ways);
    without grad mode it is exactly `attention_pass(...).output`."""
    if not torch.is_grad_enabled() or not (q.requires_grad or k.requires_grad or v.requires_grad):
        return attention_pass(q, k, v, scale, window).output
    return _BlockwiseAttention.apply(q, k, v, scale, window)
