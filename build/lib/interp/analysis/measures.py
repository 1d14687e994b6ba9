"""The measures a share can be computed in: raw attention, or attention weighted by value norms.

A share sums whole key columns, so any weight that depends on the key alone gives a measure: the
column sums weighted per key. Both come from the same stored arrays, so every statistic, table
and figure is available in either, without running a model again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from interp.core.registry import Registry

if TYPE_CHECKING:
    from interp.store.folder import ResultsStore


@dataclass(frozen=True)
class Measure:
    """A measure: `columns(store, stage, sequence)` gives the per-key totals `[layers, heads, keys]`
    that its shares are ratios of."""

    name: str
    label: str
    description: str
    columns: Callable[[ResultsStore, str, str], np.ndarray]


MEASURES: Registry[Measure] = Registry("measure")
MEASURES.add(Measure("attention", "Attention", "raw attention weights, as in the reference study: Σ_q A[q, k]",
                     lambda store, stage, sequence: store.read_colsums(stage, sequence)))
MEASURES.add(Measure(
    "weighted", "Norm-weighted",
    "attention weighted by the norm of the transformed value, Σ_q A[q, k]·‖v_k W_O^h‖ "
    "(Kobayashi et al. 2020, \"Attention is Not Only a Weight\")",
    lambda store, stage, sequence: store.read_colsums(stage, sequence) * store.read_norms(stage, sequence),
))


def get_measure(name: str) -> Measure:
    """The measure called `name`, or an `InterpError` listing the valid names."""
    return MEASURES.named(name)
