"""Extract attention from a loaded stage, reducing each layer's pattern as soon as it exists.

A hook on every `blocks.{l}.attn.hook_pattern` turns the layer's post-softmax pattern
`[1, heads, n, n]` into key-column sums and, optionally, its lower triangle in float16, then
lets the pattern go. Peak memory thus grows with one layer's attention, never all layers'.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from interp.errors import InterpError
from interp.loader import LoadedStage


@dataclass(frozen=True)
class SequenceAttention:
    """What one stage's forward pass over one sequence leaves behind.

    colsums: float32 `[layers, heads, keys]`, `colsums[l, h, k] = Σ_q A[l, h, q, k]`. Column
        sums suffice for the share of any span under any exclusion list, because the share's
        numerator and denominator both sum whole key columns.
    patterns: float16 `[layers, heads, n*(n+1)//2]` or None, the lower triangle (diagonal
        included) of each causal `[n, n]` pattern in the row-major order of `np.tril_indices(n)`;
        the upper triangle is zero by causality. `unpack_lower_triangle` restores `[.., n, n]`.
    """

    colsums: np.ndarray
    patterns: np.ndarray | None

    @property
    def n_tokens(self) -> int:
        return int(self.colsums.shape[-1])


def extract_sequence(
    loaded: LoadedStage, token_ids: Sequence[int], keep_patterns: bool = True
) -> SequenceAttention:
    """Run the stage's model once over `token_ids` (BOS included if wanted) with reducing hooks."""
    bridge = loaded.bridge
    if bridge is None:
        raise InterpError(f"stage {loaded.stage.label!r}: the model has been freed")
    n = len(token_ids)
    if n == 0:
        raise InterpError(f"stage {loaded.stage.label!r}: the sequence has no tokens")
    if n > loaded.context_length:
        raise InterpError(
            f"stage {loaded.stage.label!r}: sequence of {n} tokens is longer than the model's "
            f"context length of {loaded.context_length}"
        )
    tokens = torch.tensor([list(token_ids)], dtype=torch.long)
    vocab = int(bridge.cfg.d_vocab)
    if int(tokens.min()) < 0 or int(tokens.max()) >= vocab:
        raise InterpError(f"stage {loaded.stage.label!r}: token ids must lie in [0, {vocab}) for this model")

    layers, heads = loaded.n_layers, loaded.n_heads
    sums: list[torch.Tensor | None] = [None] * layers
    patterns = np.empty((layers, heads, n * (n + 1) // 2), dtype=np.float16) if keep_patterns else None
    packed = torch.from_numpy(patterns) if patterns is not None else None
    flat_on: dict[torch.device, torch.Tensor] = {}

    def reducer(layer: int):
        def hook(pattern: torch.Tensor, hook) -> None:
            square = pattern[0]
            # Sums in float32 whatever the model dtype: a bfloat16 sum over thousands of
            # queries would lose the small columns that concept shares are made of. They stay
            # on the model's device (L·H·n floats) until the pass is over.
            sums[layer] = square.sum(dim=-2, dtype=torch.float32)
            if packed is not None:
                flat = flat_on.get(square.device)
                if flat is None:
                    flat = flat_on[square.device] = _tril_flat(n).to(square.device)
                triangle = square.reshape(heads, n * n).index_select(1, flat)
                if triangle.device.type != "cpu":
                    triangle = triangle.to(torch.float16)
                # The layer's one copy to the CPU; the full pattern is released after the hook.
                packed[layer].copy_(triangle)

        return hook

    hook_dict = bridge.hook_dict  # a property that rebuilds its dict on every access
    hook_points = [hook_dict[f"blocks.{layer}.attn.hook_pattern"] for layer in range(layers)]
    handles = [point.add_hook(reducer(layer)) for layer, point in enumerate(hook_points)]
    # Only the hooks' output matters: no KV cache, no HF attention tuple, and logits for one
    # position instead of n where the model allows it.
    options = {"use_cache": False, "output_attentions": False}
    if _accepts_logits_to_keep(type(bridge.original_model)):
        options["logits_to_keep"] = 1
    try:
        with torch.inference_mode():
            bridge(tokens.to(loaded.device), return_type=None, **options)
    finally:
        for point, handle in zip(hook_points, handles):
            handle.hook.remove()
            point.fwd_hooks[:] = [kept for kept in point.fwd_hooks if kept is not handle]
    missing = [layer for layer, summed in enumerate(sums) if summed is None]
    if missing:
        raise RuntimeError(f"hook_pattern did not fire for layers {missing}")
    colsums = np.stack([summed.cpu().numpy() for summed in sums])
    return SequenceAttention(colsums=colsums, patterns=patterns)


@functools.lru_cache(maxsize=8)
def _tril_flat(n: int) -> torch.Tensor:
    """Flat indices of `np.tril_indices(n)` into a row-major `[n, n]` (CPU; cached per length)."""
    rows, cols = np.tril_indices(n)
    return torch.from_numpy(rows * n + cols)


@functools.cache
def _accepts_logits_to_keep(model_class: type) -> bool:
    return "logits_to_keep" in inspect.signature(model_class.forward).parameters
