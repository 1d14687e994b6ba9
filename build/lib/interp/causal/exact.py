"""Exact patching: one forward pass of the target per intervention, several interventions per
batch, each reading the metric it changes. What attribution patching ranks is verified here."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

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
from interp.causal.interventions import Trial
from interp.core.errors import InterpError
from interp.models.loader import LoadedStage


def exact_effects(
    target: LoadedStage, source: SourceRecord | None, batch: Batch, trials: Sequence[Trial],
    mean_z: np.ndarray | None = None, batch_size: int = 8,
) -> tuple[float, np.ndarray]:
    """The metric without intervention, and each trial's effect (metric with − without) float64
    `[trials]`. `source`: S's record on the batch's rows (for `patch` and `pattern`); `mean_z
    [layers, heads, d]`: T's mean of z over the run (for `mean`)."""
    for trial in trials:
        if trial.intervention in ("patch", "pattern") and source is None:
            raise InterpError(f"intervention {trial.intervention!r} needs the source stage's forward pass")
        if trial.intervention == "pattern" and source.q is None:
            raise InterpError("intervention 'pattern' needs the source stage's queries and keys")
        if trial.intervention == "mean" and mean_z is None:
            raise InterpError("intervention 'mean' needs the target stage's mean over the run")
    with torch.inference_mode():
        clean = float(metric_values(run_logits(target, batch), batch, batch.rows)[0])
        effects = []
        for start in range(0, len(trials), max(1, batch_size)):
            chunk = trials[start:start + max(1, batch_size)]
            rows = batch.repeated(len(chunk))
            hooks = _hooks(chunk, source, mean_z, batch.rows)
            values = metric_values(run_logits(target, rows, hooks), rows, batch.rows)
            effects.extend((values - clean).tolist())
    return clean, np.asarray(effects, dtype=np.float64)


def _hooks(trials: Sequence[Trial], source: SourceRecord | None, mean_z: np.ndarray | None, rows: int) -> list:
    """TransformerLens hooks that apply each trial to its own rows of the batch."""
    plan: dict[int, list[tuple[slice, str, list[int]]]] = defaultdict(list)
    for index, trial in enumerate(trials):
        by_layer: dict[int, list[int]] = defaultdict(list)
        for head in trial.heads.heads:
            by_layer[head.layer].append(head.head)
        for layer, heads in by_layer.items():
            plan[layer].append((slice(index * rows, (index + 1) * rows), trial.intervention, heads))
    hooks = []
    for layer, steps in plan.items():
        values: dict[str, torch.Tensor] = {}
        if any(kind == "pattern" for _, kind, _ in steps):
            hooks.append((hook_name(layer, "hook_v"), _keep(values)))
        hooks.append((hook_name(layer, "hook_z"), _on_z(layer, steps, source, mean_z, values)))
        if any(kind == "patch" for _, kind, _ in steps):
            hooks.append((hook_name(layer, "hook_out"), _on_out(layer, steps, source)))
    return hooks


def _keep(values: dict):
    def hook(tensor: torch.Tensor, hook) -> None:
        values["v"] = tensor

    return hook


def _on_z(layer: int, steps, source: SourceRecord | None, mean_z: np.ndarray | None, values: dict):
    def hook(z: torch.Tensor, hook) -> torch.Tensor:
        z = z.clone()
        for rows, kind, heads in steps:
            if kind == "mean":
                z[rows, :, heads] = torch.as_tensor(mean_z[layer, heads], dtype=z.dtype, device=z.device)
            elif kind == "pattern":
                z[rows, :, heads] = patterned_z(source, layer, heads, values["v"][rows]).to(z.dtype)
            else:  # patch: T's write leaves here, S's is added at hook_out
                z[rows, :, heads] = 0
        return z

    return hook


def _on_out(layer: int, steps, source: SourceRecord):
    def hook(out: torch.Tensor, hook) -> torch.Tensor:
        out = out.clone()
        for rows, kind, heads in steps:
            if kind == "patch":
                out[rows] += source.write(layer, heads).to(out.dtype)
        return out

    return hook
