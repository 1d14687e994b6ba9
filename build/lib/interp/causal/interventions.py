"""The interventions of the causal check, one record each (docs/design.md §10.2).

On the target stage T, for query head h of layer l, at every position:

- `patch`: the head's write to the residual stream `z_h · W_O[h]` is replaced by the source's
  `z_h^S · W_O^S[h]` from S's own forward pass on the same tokens (continued pre-training moved
  `W_O` too, so the write is what is patched, not `z` alone);
- `pattern`: the head's attention probabilities are replaced by the source's, values kept:
  `z_h = A_S[h] · v_T[h // group]` — exactly the quantity the attention shares measure;
- `mean`: `z_h` is replaced by its mean over every position of every sequence of the run in T
  (necessity within the target stage).

All act on `hook_z`, the input of `o_proj` (a `patch` also adds S's write at `hook_out`), never
on `o_proj`'s output; a set of heads is intervened on jointly.
"""

from __future__ import annotations

from dataclasses import dataclass

from interp.causal.heads import HeadSet
from interp.core.errors import InterpError
from interp.core.registry import Registry


@dataclass(frozen=True)
class Intervention:
    """An intervention on a query head; `needs_source` when S's forward pass is read, `needs_mean`
    when T's mean over the run is."""

    name: str
    label: str
    description: str
    needs_source: bool
    needs_mean: bool = False
    needs_patterns: bool = False


INTERVENTIONS: Registry[Intervention] = Registry("intervention")
INTERVENTIONS.add(Intervention(
    "patch", "Patch S → T", "the head's write to the residual stream, z_h·W_O[h], replaced by the source stage's",
    needs_source=True))
INTERVENTIONS.add(Intervention(
    "pattern", "Source pattern", "the head's attention probabilities replaced by the source stage's, values kept: "
    "z_h = A_S[h]·v_T[h // group]", needs_source=True, needs_patterns=True))
INTERVENTIONS.add(Intervention(
    "mean", "Mean ablation", "z_h replaced by its mean over every position of every sequence of the run in the target",
    needs_source=False, needs_mean=True))


def parse_interventions(text: str) -> tuple[str, ...]:
    """`"patch,mean"` → the named interventions in registry order, each checked."""
    names = [name.strip().lower() for name in text.split(",") if name.strip()]
    if not names:
        raise InterpError(f"--interventions {text!r}: name at least one of {', '.join(INTERVENTIONS)}")
    for name in names:
        INTERVENTIONS.named(name)
    return tuple(name for name in INTERVENTIONS if name in names)


@dataclass(frozen=True)
class Trial:
    """One exact intervention: `intervention` ("patch", "pattern" or "mean") on every head of
    `heads` at once."""

    intervention: str
    heads: HeadSet
