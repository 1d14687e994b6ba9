"""Extract attention statistics from a loaded stage at about the cost of a plain forward pass.

The TransformerBridge re-implements each attention layer eagerly (scores, mask and a float32
softmax, each `[heads, n, n]`) so that `hook_pattern` can fire. Reading column sums from that
pattern cost 3–5× a forward pass at the 7B models' depth and grew with n². Instead, while a
sequence runs, each layer's attention bridge takes a lean forward (`_lean_forward`) that keeps
every TransformerLens hook on the live path (`hook_in`, `hook_q/k/v`, `hook_cos/sin`,
`hook_rot_q/k`, `hook_z`, `hook_out`) and computes the attention output, the column sums and
the row log-sum-exp in one blockwise pass (`interp.extraction.blockwise`): the `[n, n]` pattern never
exists, memory grows linearly with n. From the rotated queries and keys and the row
log-sum-exp, any block of the pattern is cheap: the window around the concept that the Tokens
view shows, and the span × span attention of the Structure view.

Architectures the lean forward does not cover (QK-norm, softcapping, attention sinks, partial
rotary, ...) fall back to reducing `hook_pattern` as it fires: slower, same numbers.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import weakref
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from interp.core.errors import InterpError
from interp.extraction import blockwise
from interp.extraction.settings import PATTERN_KINDS
from interp.models.loader import LoadedStage

# Receives each layer's stored pattern (host float16) as soon as the layer has run.
PatternSink = Callable[[int, np.ndarray], None]


@dataclass(frozen=True)
class ExtractionRequest:
    """What to keep of one sequence's attention besides the column sums.

    `patterns`: "window" keeps, per head, rows and columns `[start, end)` of the pattern;
    "full" the whole lower triangle; "none" nothing. `spans`: token indices of each concept
    span, for the span × span attention (empty: none).
    """

    patterns: str = "none"
    window: tuple[int, int] | None = None
    spans: tuple[tuple[int, ...], ...] = ()


@dataclass(frozen=True)
class SequenceAttention:
    """What one stage's forward pass over one sequence leaves behind.

    colsums: float32 `[layers, heads, keys]`, `colsums[l, h, k] = Σ_q A[l, h, q, k]`: enough for
        the share of any span under any exclusion list (both parts of the share sum whole columns).
    norms: float32 `[layers, heads, keys]`, `‖v_k W_O^h‖`, the size of what key k's value adds to
        head h's output (Kobayashi et al. 2020); `colsums · norms` gives the norm-weighted share.
    span_attention: float32 `[layers, heads, spans, spans]` (`blockwise.span_attention`), or
        None when no spans were asked for.
    route: "lean" (blockwise, the default) or "pattern" (hook_pattern, the fallback).
    """

    colsums: np.ndarray
    norms: np.ndarray
    span_attention: np.ndarray | None
    route: str

    @property
    def n_tokens(self) -> int:
        return int(self.colsums.shape[-1])


def extract_sequence(
    loaded: LoadedStage, token_ids: Sequence[int], request: ExtractionRequest = ExtractionRequest(),
    on_patterns: PatternSink | None = None,
) -> SequenceAttention:
    """Run the stage's model once over `token_ids` (BOS included if wanted), keeping what
    `request` asks for; each layer's patterns go to `on_patterns` as the layer finishes."""
    bridge = loaded.bridge
    if bridge is None:
        raise InterpError(f"stage {loaded.stage.label!r}: the model has been freed")
    tokens = _check_tokens(loaded, token_ids)
    if request.patterns not in PATTERN_KINDS:
        raise InterpError(f"patterns {request.patterns!r}: use one of {', '.join(PATTERN_KINDS)}")
    n = len(token_ids)
    if request.patterns == "window" and not (request.window and 0 <= request.window[0] < request.window[1] <= n):
        raise InterpError(f"pattern window {request.window} does not fit a sequence of {n} tokens")
    collector = _Collector(loaded.n_layers, request, on_patterns)
    route = "lean" if lean_reason(bridge) is None else "pattern"
    context = _lean_attention(bridge, collector) if route == "lean" else _pattern_hooks(bridge, collector)
    with context, _value_norm_hooks(bridge, collector), torch.inference_mode():
        bridge(tokens.to(loaded.device), return_type=None, **_forward_options(type(bridge.original_model)))
    return collector.result(route)


def collect_patterns(loaded: LoadedStage, token_ids: Sequence[int], request: ExtractionRequest):
    """`extract_sequence` with every layer's patterns gathered: `(attention, [layers, heads, ...])`.
    For tests and small inputs; the pipeline streams layers to the store instead."""
    layers: dict[int, np.ndarray] = {}
    attention = extract_sequence(loaded, token_ids, request, on_patterns=layers.__setitem__)
    return attention, np.stack([layers[layer] for layer in range(len(layers))]) if layers else None


def _check_tokens(loaded: LoadedStage, token_ids: Sequence[int]) -> torch.Tensor:
    n = len(token_ids)
    if n == 0:
        raise InterpError(f"stage {loaded.stage.label!r}: the sequence has no tokens")
    if n > loaded.context_length:
        raise InterpError(
            f"stage {loaded.stage.label!r}: sequence of {n} tokens is longer than the model's "
            f"context length of {loaded.context_length}"
        )
    tokens = torch.tensor([list(token_ids)], dtype=torch.long)
    vocab = int(loaded.bridge.cfg.d_vocab)
    if int(tokens.min()) < 0 or int(tokens.max()) >= vocab:
        raise InterpError(f"stage {loaded.stage.label!r}: token ids must lie in [0, {vocab}) for this model")
    return tokens


class _Collector:
    """Reduces each layer as it is produced: column sums and span attention stay on the model's
    device until the pass is over (small: L·H·n floats); patterns go to the host layer by layer."""

    def __init__(self, layers: int, request: ExtractionRequest, on_patterns: PatternSink | None):
        self.request = request
        self.on_patterns = on_patterns
        self.colsums: list[torch.Tensor | None] = [None] * layers
        self.norms: list[torch.Tensor | None] = [None] * layers
        self.spans: list[torch.Tensor | None] = [None] * layers

    def from_queries(self, layer: int, q, k, lse, colsums, scale: float, window: int | None) -> None:
        """A layer of the lean route: blocks of the pattern from rotated q/k and the row lse."""
        request = self.request

        def block(rows: torch.Tensor, cols: torch.Tensor) -> torch.Tensor:
            return blockwise.pattern_block(q, k, lse, scale, rows, cols, window)

        self.colsums[layer] = colsums
        if request.spans:
            self.spans[layer] = blockwise.span_attention(block, request.spans, q.device)
        if request.patterns == "window":
            positions = torch.arange(*request.window, device=q.device)
            self._patterns(layer, block(positions, positions))
        elif request.patterns == "full":
            self._patterns(layer, blockwise.lower_triangle(block, q.shape[1], q.device))

    def from_pattern(self, layer: int, pattern: torch.Tensor) -> None:
        """A layer of the fallback route: `pattern [heads, n, n]`, post-softmax."""

        def block(rows: torch.Tensor, cols: torch.Tensor) -> torch.Tensor:
            return pattern.index_select(1, rows).index_select(2, cols).float()

        n = pattern.shape[-1]
        # Sums in float32 whatever the model dtype: a bfloat16 sum over thousands of queries
        # would lose the small columns that concept shares are made of.
        colsums = pattern.sum(dim=-2, dtype=torch.float32)
        positions = torch.arange(n, device=pattern.device)
        self.colsums[layer] = colsums
        if self.request.spans:
            self.spans[layer] = blockwise.span_attention(block, self.request.spans, pattern.device)
        if self.request.patterns == "window":
            rows = positions[self.request.window[0]:self.request.window[1]]
            self._patterns(layer, block(rows, rows))
        elif self.request.patterns == "full":
            self._patterns(layer, blockwise.lower_triangle(block, n, pattern.device))

    def _patterns(self, layer: int, values: torch.Tensor) -> None:
        if self.on_patterns is not None:
            self.on_patterns(layer, values.to(torch.float16).cpu().numpy())

    def result(self, route: str) -> SequenceAttention:
        missing = [layer for layer, (summed, norm) in enumerate(zip(self.colsums, self.norms))
                   if summed is None or norm is None]
        if missing:
            raise RuntimeError(f"attention statistics missing for layers {missing}")
        colsums = torch.stack(self.colsums).float().cpu().numpy()
        norms = torch.stack(self.norms).float().cpu().numpy()
        spans = torch.stack(self.spans).float().cpu().numpy() if self.request.spans else None
        return SequenceAttention(colsums=colsums, norms=norms, span_attention=spans, route=route)


# ---------------------------------------------------------------- the lean route

def lean_reason(bridge) -> str | None:
    """Why the lean forward cannot run this model (then the pattern route does), or None."""
    from transformer_lens.model_bridge.generalized_components.position_embeddings_attention import (
        PositionEmbeddingsAttentionBridge,
    )

    cfg = bridge.cfg
    for flag in ("use_attn_result", "use_split_qkv_input", "use_attn_in", "gated_q_proj",
                 "rotary_adjacent_pairs", "rotary_interleaved_cos_sin", "qk_norm_after_rope"):
        if getattr(cfg, flag, False):
            return f"the bridge's cfg.{flag} is set"
    config = bridge.original_model.config
    for layer, block in enumerate(bridge.blocks):
        attention = block.attn
        if type(attention) is not PositionEmbeddingsAttentionBridge:
            return f"layer {layer} attention is {type(attention).__name__}"
        if attention.compatibility_mode:
            return "compatibility mode is on"
        if any(name in attention.submodules for name in ("q_norm", "k_norm", "gate")):
            return f"layer {layer} has QK-norm or gated attention"
        original = attention.original_component
        for name in ("key_multiplier", "attn_logit_softcapping", "sinks"):
            if getattr(original, name, None) is not None:
                return f"layer {layer} attention has {name}"
        if getattr(getattr(original, "config", None), "clip_qkv", None) is not None:
            return f"layer {layer} clips q/k/v"
        rope = getattr(config, "rope_parameters", None)
        if isinstance(rope, dict) and rope.get("llama_4_scaling_beta") is not None:
            return "llama-4 query scaling"
        for hook_name in ("hook_attn_scores", "hook_pattern"):
            point = getattr(attention, hook_name)
            if point.fwd_hooks or point._forward_hooks:
                return f"a hook on blocks.{layer}.attn.{hook_name}, which the lean forward does not fire"
    return None


# The name under which HF builds no attention mask: the lean forward masks blockwise itself,
# and an eager [1, 1, n, n] mask would cost n² memory (268 MB at 8,192 tokens in float32).
LEAN_IMPLEMENTATION = "interp_blockwise"


@functools.cache
def _register_lean_implementation() -> None:
    from transformers import AttentionInterface
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    # Registered so that HF code resolving the interface finds a function; never called, since
    # the bridge's forward replaces the HF attention module's forward.
    AttentionInterface.register(LEAN_IMPLEMENTATION, sdpa_attention_forward)


@contextlib.contextmanager
def _lean_attention(bridge, collector: _Collector) -> Iterator[None]:
    """Give every layer's attention bridge the lean forward for the duration of one pass."""
    workspace = blockwise.Workspace()

    def forward_for(attention, layer: int, window: int | None):
        return functools.partial(_lean_forward, attention, layer=layer, window=window, collector=collector,
                                 workspace=workspace)

    with lean_forwards(bridge, forward_for):
        yield


@contextlib.contextmanager
def lean_forwards(bridge, forward_for: Callable) -> Iterator[None]:
    """Replace every layer's attention forward by `forward_for(attention, layer, window)` for the
    duration, with HF building no n × n mask (the forwards mask blockwise themselves)."""
    _register_lean_implementation()
    config = bridge.original_model.config
    previous = config._attn_implementation
    attentions = [block.attn for block in bridge.blocks]
    try:
        config._attn_implementation = LEAN_IMPLEMENTATION
        for layer, attention in enumerate(attentions):
            # Set on the instance dict: the component's __setattr__ would forward it to the HF module.
            object.__setattr__(attention, "forward", forward_for(attention, layer, sliding_window(attention)))
        yield
    finally:
        for attention in attentions:
            attention.__dict__.pop("forward", None)
        config._attn_implementation = previous


def sliding_window(attention) -> int | None:
    """A layer's sliding window as Hugging Face applies it: the attention module's own (Qwen2
    sets it per layer type), else the config's (Mistral), else none (Llama)."""
    original = attention.original_component
    if hasattr(original, "sliding_window"):
        return original.sliding_window
    return getattr(original.config, "sliding_window", None)


def _lean_forward(self, *args, layer: int, window: int | None, collector: _Collector,
                  workspace: blockwise.Workspace, **kwargs):
    """The bridge's attention forward for the common case, with the [n, n] part made blockwise."""
    q, k, v, scale = lean_projections(self, args, kwargs, layer)
    result = blockwise.attention_pass(q[0], k[0], v[0], scale, window, workspace)
    collector.from_queries(layer, q[0], k[0], result.lse, result.colsums, scale, window)
    return lean_output(self, result.output.unsqueeze(0)), None


def lean_projections(self, args: tuple, kwargs: dict, layer: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, float]:
    """Rotated queries `[batch, heads, n, d]`, rotated keys and values `[batch, kv_heads, n, d]`
    and the score scale, as `PositionEmbeddingsAttentionBridge.forward` (transformer-lens 4.3)
    makes them, hook for hook (`hook_in`, `hook_q/k/v`, `hook_cos/sin`, `hook_rot_q/k`), for
    models that `lean_reason` accepts."""
    from transformers.models.llama.modeling_llama import apply_rotary_pos_emb

    original = self.original_component
    hidden_states = kwargs.pop("hidden_states") if "hidden_states" in kwargs else args[0]
    position_embeddings = kwargs.pop("position_embeddings", None)
    if kwargs.pop("attention_mask", None) is not None:
        raise InterpError("the model was given an attention mask (padding); the lean forward runs unpadded sequences")
    hidden_states = self.hook_in(hidden_states)
    head_dim = original.head_dim
    shape = (*hidden_states.shape[:-1], -1, head_dim)
    q = self.q(hidden_states).view(shape).transpose(1, 2)
    k = self.k(hidden_states).view(shape).transpose(1, 2)
    v = self.v(hidden_states).view(shape).transpose(1, 2)
    if position_embeddings is None:
        raise InterpError(f"layer {layer}: the model passed no rotary position embeddings to its attention")
    cos, sin = self._apply_position_embedding_hooks(position_embeddings)
    if cos.shape[-1] != head_dim:
        raise InterpError(f"layer {layer}: partial rotary embeddings are not supported by the lean forward")
    q, k = apply_rotary_pos_emb(q, k, cos, sin)
    scale = float(getattr(original, "scaling", head_dim**-0.5))
    return self.hook_rot_q(q), self.hook_rot_k(k), v, scale


def lean_output(self, output: torch.Tensor) -> torch.Tensor:
    """The attention block's output from the heads' outputs `z [batch, heads, n, d]`: through
    `o` (whose input is `hook_z`) and `hook_out`, in the projection's dtype."""
    batch, heads, n, d = output.shape
    output = output.transpose(1, 2).reshape(batch, n, heads * d)
    weight = self.o.original_component.weight
    if weight.dtype.is_floating_point and output.dtype != weight.dtype:
        output = output.to(weight.dtype)
    return self.hook_out(self.o(output))


# ---------------------------------------------------------------- value norms (both routes)

@contextlib.contextmanager
def _hooks_on(bridge, name: str, make_hook) -> Iterator[None]:
    """`make_hook(layer)` on the hook point `blocks.{layer}.attn.{name}` of every layer, removed
    on exit (from TransformerLens's list as well, which keeps the handle otherwise)."""
    hook_dict = bridge.hook_dict  # a property that rebuilds its dict on every access
    points = [hook_dict[f"blocks.{layer}.attn.{name}"] for layer in range(int(bridge.cfg.n_layers))]
    handles = [point.add_hook(make_hook(layer)) for layer, point in enumerate(points)]
    try:
        yield
    finally:
        for point, handle in zip(points, handles):
            handle.hook.remove()
            point.fwd_hooks[:] = [kept for kept in point.fwd_hooks if kept is not handle]


def _value_norm_hooks(bridge, collector: _Collector):
    """On every layer's `hook_v` (`[1, n, kv_heads, d]`, fired on either route), the norm of
    each key's transformed value for every head: `‖v_k W_O^h‖`."""

    def on_values(layer: int):
        def hook(values: torch.Tensor, hook) -> None:
            projection = bridge.blocks[layer].attn.o.original_component
            collector.norms[layer] = value_output_norms(values[0], output_grams(projection, int(bridge.cfg.n_heads)))

        return hook

    return _hooks_on(bridge, "hook_v", on_values)


_GRAMS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def output_grams(projection: torch.nn.Linear, heads: int) -> torch.Tensor:
    """`W_O^h (W_O^h)ᵀ` for every head, float32 `[heads, d, d]`, from the output projection (weight
    `[hidden, heads · d]`); remembered per projection until its weight changes."""
    weight = projection.weight
    cached = _GRAMS.get(projection)
    if cached is not None and cached[0] == weight._version:
        return cached[1]
    per_head = weight.detach().float().reshape(weight.shape[0], heads, -1).permute(1, 2, 0)  # [heads, d, hidden]
    grams = per_head @ per_head.transpose(1, 2)
    _GRAMS[projection] = (weight._version, grams)
    return grams


def value_output_norms(values: torch.Tensor, grams: torch.Tensor) -> torch.Tensor:
    """`‖v_k W_O^h‖ = sqrt(v_k G_h v_kᵀ)` float32 `[heads, n]` from `values [n, kv_heads, d]` and
    the Gram matrices `[heads, d, d]`; query head h reads key/value head h // (heads // kv_heads).
    Nothing `[heads, n, hidden]` is formed."""
    n, kv_heads, d = values.shape
    heads = grams.shape[0]
    grouped = values.float().permute(1, 0, 2)  # [kv_heads, n, d]
    projected = torch.matmul(grouped[:, None], grams.view(kv_heads, heads // kv_heads, d, d))  # [kv, g, n, d]
    squared = (projected * grouped[:, None]).sum(dim=-1)
    return squared.clamp_min_(0).sqrt_().reshape(heads, n)


# ---------------------------------------------------------------- the fallback route

def _pattern_hooks(bridge, collector: _Collector):
    """Reduce each layer's `hook_pattern` as it fires (the bridge's eager attention)."""

    def reducer(layer: int):
        def hook(pattern: torch.Tensor, hook) -> None:
            collector.from_pattern(layer, pattern[0])

        return hook

    return _hooks_on(bridge, "hook_pattern", reducer)


@functools.cache
def _forward_options(model_class: type) -> dict:
    """No KV cache, no HF attention tuple, and logits for one position where the model allows it."""
    options = {"use_cache": False, "output_attentions": False}
    if "logits_to_keep" in inspect.signature(model_class.forward).parameters:
        options["logits_to_keep"] = 1
    return options
