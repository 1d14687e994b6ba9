"""Attribution patching: every head's effect estimated from one forward pass of S and one forward
and one backward pass of T (Nanda 2023; Syed et al. 2023; Kramár et al. 2024, "AtP*").

The first-order estimate of an intervention that moves a head's activation from `a_T` to `a'` is
`(a' − a_T) · ∂M/∂a_T`. With `g_l = ∂M/∂out_l` the gradient at layer l's attention output and
`W[h]` head h's columns of `o_proj` (so `∂M/∂z_h = g_l W^T[h]`), summed over rows and positions:

- `patch`:   `z_h^S · (g_l W^S[h]) − z_h^T · (g_l W^T[h])`  (the write `z_h W[h]` moves);
- `pattern`: `(A_S[h] v_T − z_h^T) · (g_l W^T[h])`;
- `mean`:    `(m_h − z_h^T) · (g_l W^T[h]) = m_h · G_h − B_h`, kept as its parts
  `G_h = Σ g_l W^T[h]` and `B_h = Σ z_h^T · (g_l W^T[h])` until the run's mean `m_h` is known.

Gradients are taken with the parameters frozen (`requires_grad_(False)`), by
`torch.autograd.grad` on zero tensors added at each layer's `hook_out`: the gradient of the
metric only, no parameter gradients. A screen, not a verdict: it misses heads that compensate for
each other and saturated softmaxes, so the heads it ranks are verified by exact patching.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from interp.causal.forward import (
    Batch,
    SourceRecord,
    hook_name,
    metric_values,
    patterned_z,
    run_logits,
)
from interp.models.loader import LoadedStage


@dataclass(frozen=True)
class Attribution:
    """AtP on one sequence for one metric (float64 numpy).

    `scores[name] [layers, heads]` for `patch` and `pattern`; for `mean` the parts
    `gradient_sum [layers, heads, d]` and `baseline [layers, heads]` (`m·G − B`); `z_sum
    [layers, heads, d]` and `positions`: the sequence's part of the target's mean of z; `clean`:
    the metric's value without intervention.
    """

    scores: dict[str, np.ndarray]
    gradient_sum: np.ndarray
    baseline: np.ndarray
    z_sum: np.ndarray
    positions: int
    clean: float


def attribute(target: LoadedStage, source: SourceRecord | None, batch: Batch, interventions: tuple[str, ...],
              sequence_tokens: int) -> Attribution:
    """AtP scores of every head of `target` for `interventions` on the batch's rows; `source` is
    S's record on the same rows (None when only `mean` is asked for); `sequence_tokens` are the
    positions of the sequence itself in row 0 (the part of z that goes into the run's mean)."""
    bridge = target.bridge
    for parameter in bridge.parameters():
        parameter.requires_grad_(False)
    layers = target.n_layers
    z: list = [None] * layers
    values: list = [None] * layers
    openings: list = [None] * layers

    def keep(store: list, layer: int):
        def hook(tensor: torch.Tensor, hook) -> None:
            store[layer] = tensor.detach()

        return hook

    def opening(layer: int):
        def hook(tensor: torch.Tensor, hook) -> torch.Tensor:
            openings[layer] = torch.zeros_like(tensor, requires_grad=True)
            return tensor + openings[layer]

        return hook

    hooks = [(hook_name(layer, "hook_z"), keep(z, layer)) for layer in range(layers)]
    hooks += [(hook_name(layer, "hook_out"), opening(layer)) for layer in range(layers)]
    if "pattern" in interventions:
        hooks += [(hook_name(layer, "hook_v"), keep(values, layer)) for layer in range(layers)]
    with torch.enable_grad():
        logits = run_logits(target, batch, hooks)
        metric = metric_values(logits, batch, batch.rows).sum()
        gradients = torch.autograd.grad(metric, openings)
    with torch.no_grad():
        return _scores(target, source, z, values, gradients, interventions, sequence_tokens, float(metric))


def _scores(target, source, z, values, gradients, interventions, sequence_tokens, clean) -> Attribution:
    scores = {name: [] for name in interventions if name != "mean"}
    gradient_sums, baselines, z_sums = [], [], []
    for layer, attention in enumerate(block.attn for block in target.bridge.blocks):
        z_t = z[layer].float()
        rows, n, heads, d = z_t.shape
        weight = attention.o.original_component.weight.float()
        gradient = gradients[layer].float()
        grad_z = (gradient @ weight).view(rows, n, heads, d)
        baseline = (z_t * grad_z).sum(dim=(0, 1, 3))
        if "patch" in scores:
            grad_source = (gradient @ source.o_weights[layer].float()).view(rows, n, heads, d)
            scores["patch"].append((source.z[layer].float() * grad_source).sum(dim=(0, 1, 3)) - baseline)
        if "pattern" in scores:
            patterned = patterned_z(source, layer, range(heads), values[layer]).float()
            scores["pattern"].append((patterned * grad_z).sum(dim=(0, 1, 3)) - baseline)
        gradient_sums.append(grad_z.sum(dim=(0, 1)))
        baselines.append(baseline)
        z_sums.append(z_t[0, :sequence_tokens].sum(dim=0))

    def stacked(tensors) -> np.ndarray:
        return torch.stack(tensors).double().cpu().numpy()

    return Attribution(
        scores={name: stacked(parts) for name, parts in scores.items()},
        gradient_sum=stacked(gradient_sums), baseline=stacked(baselines), z_sum=stacked(z_sums),
        positions=sequence_tokens, clean=clean,
    )


def mean_scores(attribution: Attribution, mean_z: np.ndarray) -> np.ndarray:
    """AtP of `mean` `[layers, heads]` once the target's mean of z over the run
    (`mean_z [layers, heads, d]`) is known: `m·G − B`."""
    return np.einsum("lhd,lhd->lh", mean_z, attribution.gradient_sum) - attribution.baseline
