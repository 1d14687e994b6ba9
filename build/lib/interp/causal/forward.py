"""Forward passes of a loaded stage for the causal check: recorded, intervened on, differentiated.

Every layer's attention takes the lean forward of `interp.extraction.extract` (TransformerLens hooks on the
live path, the n × n part blockwise) with a differentiable blockwise attention
(`interp.extraction.blockwise.differentiable_attention`), so gradients reach every head without an n × n
map per layer, and several rows (a metric's answer and contrast, several interventions) run as
one batch. Interventions are TransformerLens hooks on `blocks.{l}.attn.hook_z` (the input of
`o_proj`) and `hook_out`.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel

from interp.causal.metrics import MetricInput
from interp.core.errors import InterpError
from interp.extraction import blockwise
from interp.extraction.extract import (
    lean_forwards,
    lean_output,
    lean_projections,
    lean_reason,
    sliding_window,
)
from interp.models.loader import LoadedStage

Hook = Callable[[torch.Tensor, object], torch.Tensor | None]


def hook_name(layer: int, point: str) -> str:
    return f"blocks.{layer}.attn.{point}"


@contextlib.contextmanager
def causal_attention(loaded: LoadedStage) -> Iterator[None]:
    """Every layer of the stage's model runs the differentiable lean attention for the duration."""
    bridge = _bridge(loaded)
    reason = lean_reason(bridge)
    if reason is not None:
        raise InterpError(f"stage {loaded.stage.label!r}: the causal check needs the lean attention route ({reason})")

    def forward_for(attention, layer: int, window: int | None):
        return functools.partial(_causal_forward, attention, layer=layer, window=window)

    with lean_forwards(bridge, forward_for):
        yield


def _causal_forward(self, *args, layer: int, window: int | None, **kwargs):
    q, k, v, scale = lean_projections(self, args, kwargs, layer)
    return lean_output(self, attention_output(q, k, v, scale, window)), None


def attention_output(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, scale: float,
                     window: int | None) -> torch.Tensor:
    """Causal attention's output `[rows, heads, n, d]` from rotated `q [rows, heads, n, d]` and
    `k, v [rows, kv_heads, n, d]`, differentiable and in memory linear in n: PyTorch's fused
    attention (FlashAttention or memory-efficient kernels, never the n × n math fallback) where
    the sliding window cannot bind (n ≤ window), else the project's blockwise pass and its
    blockwise backward."""
    rows, heads, n, d = q.shape
    if window is None or n <= window:
        try:
            with sdpa_kernel([SDPBackend.FLASH_ATTENTION, SDPBackend.EFFICIENT_ATTENTION]):
                return F.scaled_dot_product_attention(q, k, v, is_causal=True, scale=scale,
                                                      enable_gqa=heads != k.shape[1])
        except RuntimeError as error:
            if "kernel" not in str(error).lower():
                raise
    kv_heads = k.shape[1]
    # Rows fold into heads: head h of row b reads key/value head (b·heads + h) // group = b·kv_heads + h // group.
    z = blockwise.differentiable_attention(
        q.reshape(rows * heads, n, d), k.reshape(rows * kv_heads, n, d), v.reshape(rows * kv_heads, n, d),
        scale, window)
    return z.view(rows, heads, n, d)


def _bridge(loaded: LoadedStage):
    if loaded.bridge is None:
        raise InterpError(f"stage {loaded.stage.label!r}: the model has been freed")
    return loaded.bridge


@dataclass(frozen=True)
class Batch:
    """A metric's rows as model input: `tokens [rows, n]` (short rows padded at the end, which a
    causal model's earlier positions never see), `keep [p]` the positions whose next-token
    logits are read, `targets [rows, p]` the tokens they predict and `weights [rows, p]` what
    each log-probability counts in the metric (0 where a row does not read that position)."""

    tokens: torch.Tensor
    keep: torch.Tensor
    targets: torch.Tensor
    weights: torch.Tensor

    @property
    def rows(self) -> int:
        return int(self.tokens.shape[0])

    def repeated(self, times: int) -> Batch:
        """The same rows `times` over, for as many interventions in one forward pass."""
        return Batch(self.tokens.repeat(times, 1), self.keep, self.targets.repeat(times, 1),
                     self.weights.repeat(times, 1))


def metric_batch(metric_input: MetricInput, device: str | torch.device) -> Batch:
    """The rows of `metric_input` as one batch on `device`."""
    readouts = metric_input.readouts
    n = max(len(readout.token_ids) for readout in readouts)
    tokens = np.zeros((len(readouts), n), dtype=np.int64)
    for row, readout in enumerate(readouts):
        tokens[row, :len(readout.token_ids)] = readout.token_ids
        tokens[row, len(readout.token_ids):] = readout.token_ids[-1]
    predicted = sorted({position for readout in readouts for position in readout.positions})
    keep = np.asarray(predicted, dtype=np.int64) - 1
    targets = tokens[:, keep + 1]
    weights = np.zeros((len(readouts), len(keep)), dtype=np.float64)
    for row, readout in enumerate(readouts):
        columns = np.searchsorted(predicted, readout.positions)
        weights[row, columns] = readout.weight
    return Batch(torch.as_tensor(tokens, device=device), torch.as_tensor(keep, device=device),
                 torch.as_tensor(targets, device=device), torch.as_tensor(weights, device=device))


def metric_values(logits: torch.Tensor, batch: Batch, rows_per_value: int) -> torch.Tensor:
    """`Σ weight · log p(target)` per group of `rows_per_value` consecutive rows, float64 `[groups]`,
    from `logits [rows, p, vocab]` at the batch's kept positions."""
    log_probs = torch.log_softmax(logits.float(), dim=-1)
    picked = log_probs.gather(-1, batch.targets.unsqueeze(-1)).squeeze(-1)
    per_row = (picked.double() * batch.weights).sum(dim=-1)
    return per_row.view(-1, rows_per_value).sum(dim=-1)


def run_logits(loaded: LoadedStage, batch: Batch, hooks: Sequence[tuple[str, Hook]] = ()) -> torch.Tensor:
    """Logits `[rows, p, vocab]` at the batch's kept positions, with `hooks` on for the pass."""
    bridge = _bridge(loaded)
    with causal_attention(loaded), bridge.hooks(fwd_hooks=list(hooks)):
        return bridge(batch.tokens, return_type="logits", use_cache=False, logits_to_keep=batch.keep)


@dataclass
class SourceRecord:
    """What the source stage's clean forward pass leaves for interventions on the target, per
    layer: `z [rows, n, heads, d]` (`hook_z`), rotated `q [rows, n, heads, d]` and
    `k [rows, n, kv_heads, d]` (`hook_rot_q/k` in TransformerLens's layout; only where patterns
    are needed, else None), the source's output projection weights `o_weights [hidden, heads · d]`,
    and each layer's score scale and sliding window (the architecture's, the same in both stages)."""

    z: list[torch.Tensor]
    q: list[torch.Tensor] | None
    k: list[torch.Tensor] | None
    o_weights: list[torch.Tensor]
    scales: list[float]
    windows: list[int | None]

    def write(self, layer: int, heads: Sequence[int]) -> torch.Tensor:
        """The heads' summed write to the residual stream, `Σ_h z_h^S · W_O^S[h]`, `[rows, n, hidden]`."""
        z = self.z[layer]
        d = z.shape[-1]
        weight = self.o_weights[layer]
        total = None
        for head in heads:
            part = z[:, :, head] @ weight[:, head * d:(head + 1) * d].T.to(z.dtype)
            total = part if total is None else total + part
        return total


def record_source(loaded: LoadedStage, batch: Batch, patterns: bool) -> SourceRecord:
    """Run the source stage once over the batch's rows, keeping what interventions need."""
    bridge = _bridge(loaded)
    layers = loaded.n_layers
    z: list = [None] * layers
    q: list = [None] * layers
    k: list = [None] * layers

    def keep(store: list, layer: int) -> Hook:
        def hook(tensor: torch.Tensor, hook) -> None:
            store[layer] = tensor.detach().clone()

        return hook

    hooks = [(hook_name(layer, "hook_z"), keep(z, layer)) for layer in range(layers)]
    if patterns:
        hooks += [(hook_name(layer, point), keep(store, layer)) for layer in range(layers)
                  for point, store in (("hook_rot_q", q), ("hook_rot_k", k))]
    with torch.inference_mode():
        run_logits(loaded, Batch(batch.tokens, batch.keep[-1:], batch.targets[:, -1:], batch.weights[:, -1:]), hooks)
    attentions = [block.attn for block in bridge.blocks]
    weights = [attention.o.original_component.weight.detach() for attention in attentions]
    scales = [float(getattr(a.original_component, "scaling", a.original_component.head_dim ** -0.5)) for a in attentions]
    windows = [sliding_window(attention) for attention in attentions]
    return SourceRecord(z, q if patterns else None, k if patterns else None, weights, scales, windows)


def patterned_z(source: SourceRecord, layer: int, heads: Sequence[int], values: torch.Tensor) -> torch.Tensor:
    """`z_h = A_S[h] · v[h // group]` for `heads`, `[rows, n, len(heads), d]`: the source's
    attention probabilities (from its rotated queries and keys, blockwise) applied to `values
    [rows, n, kv_heads, d]`, the target's values of this forward pass."""
    q, k = source.q[layer], source.k[layer]
    n_heads = q.shape[2]
    kv = [head // (n_heads // k.shape[2]) for head in heads]
    queries = q[:, :, list(heads)].transpose(1, 2)
    keys = k[:, :, kv].transpose(1, 2)
    vals = values[:, :, kv].transpose(1, 2).to(queries.dtype)
    output = attention_output(queries, keys, vals, source.scales[layer], source.windows[layer])
    return output.transpose(1, 2)
