"""Statistics across the sequences of one concept type (beyond the reference study, docs/design.md §5.8).

One sequence cannot tell "training changed attention to Conditions" from "it changed attention on
this sentence"; many sequences of a type can. Everything here is arithmetic on per-sequence head
shifts `[sequences, layers, heads]` (or per-sequence numbers): no model, no store, no UI.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from interp.core.errors import InterpError

HEAD_DRAWS = 200


@dataclass(frozen=True)
class Interval:
    """An estimate with a `confidence` interval `[low, high]`."""

    estimate: float
    low: float
    high: float
    confidence: float = 0.95


def _stack(shifts: Sequence[np.ndarray] | np.ndarray) -> np.ndarray:
    """Per-sequence head shifts as float64 `[sequences, heads]` (layers and heads flattened)."""
    values = np.asarray(shifts, dtype=np.float64)
    if values.ndim < 2 or values.shape[0] == 0:
        raise InterpError(f"shifts must be [sequences, layers, heads] with at least one sequence, got {values.shape}")
    values = values.reshape(values.shape[0], -1)
    if not np.isfinite(values).all():
        raise InterpError(f"shifts hold {int((~np.isfinite(values)).sum())} non-finite values")
    return values


def _percentiles(replicates: np.ndarray, confidence: float, axis: int = 0) -> tuple[np.ndarray, np.ndarray]:
    if not 0 < confidence < 1:
        raise InterpError(f"confidence must lie strictly between 0 and 1, got {confidence}")
    alpha = (1 - confidence) / 2
    return np.quantile(replicates, alpha, axis=axis), np.quantile(replicates, 1 - alpha, axis=axis)


def hierarchical_bootstrap(
    shifts: Sequence[np.ndarray] | np.ndarray, n_resamples: int = 2000, confidence: float = 0.95, seed: int = 0,
    head_draws: int = HEAD_DRAWS,
) -> Interval:
    """Mean shift over the sequences of a type, with a two-level bootstrap percentile interval.

    Estimate: `(1/S) Σ_s (1/m) Σ_j Δ_s[j]`, each sequence weighing the same. Each replicate
    resamples S sequences with replacement, then the m heads of each chosen sequence with
    replacement, and takes the same mean (the hierarchical bootstrap of Davison & Hinkley 1997,
    §3.8, and Saravanan et al. 2020, "Application of the hierarchical bootstrap to multi-level
    data in neuroscience"). The head level is drawn once per sequence, `head_draws` times, and
    replicates pick among those draws, which keeps 1,000 sequences × 1,024 heads within seconds.
    """
    values = _stack(shifts)
    rng = np.random.default_rng(seed)
    n_sequences, n_heads = values.shape
    head_means = np.stack([
        values[s, rng.integers(0, n_heads, size=(head_draws, n_heads))].mean(axis=1) for s in range(n_sequences)
    ])  # [sequences, head_draws]
    chosen = rng.integers(0, n_sequences, size=(n_resamples, n_sequences))
    draws = rng.integers(0, head_draws, size=(n_resamples, n_sequences))
    replicates = head_means[chosen, draws].mean(axis=1)
    low, high = _percentiles(replicates, confidence)
    return Interval(float(values.mean(axis=1).mean()), float(low), float(high), confidence)


def sequence_bootstrap(
    values: Sequence[float] | np.ndarray, n_resamples: int = 2000, confidence: float = 0.95, seed: int = 0,
) -> Interval:
    """Mean of one number per sequence with a percentile bootstrap interval over sequences
    (`scipy.stats.bootstrap(method="percentile")` in distribution, drawn here so that many
    small tables stay fast)."""
    x = np.asarray(values, dtype=np.float64)
    if x.ndim != 1 or x.size == 0 or not np.isfinite(x).all():
        raise InterpError(f"values must be a non-empty 1-D array of finite numbers, got shape {x.shape}")
    rng = np.random.default_rng(seed)
    replicates = x[rng.integers(0, x.size, size=(n_resamples, x.size))].mean(axis=1)
    low, high = _percentiles(replicates, confidence)
    return Interval(float(x.mean()), float(low), float(high), confidence)


def benjamini_hochberg(p_values: Sequence[float] | np.ndarray) -> np.ndarray:
    """BH-adjusted q-values (`scipy.stats.false_discovery_control(p, method="bh")`, Benjamini &
    Hochberg 1995), same shape as `p_values`; NaN p-values stay NaN and do not count."""
    import scipy.stats

    p = np.asarray(p_values, dtype=np.float64)
    q = np.full(p.shape, np.nan)
    finite = np.isfinite(p)
    if finite.any():
        q[finite] = scipy.stats.false_discovery_control(p[finite], method="bh")
    return q


@dataclass(frozen=True)
class HeadConsistency:
    """Per head `[layers, heads]`: the fraction of sequences in which its share rose, the two-sided
    sign-test p-value, its BH q-value over all heads, and whether q < `alpha`."""

    fraction_up: np.ndarray
    p_value: np.ndarray
    q_value: np.ndarray
    significant: np.ndarray
    n_sequences: int
    alpha: float = 0.05


def head_sign_consistency(shifts: Sequence[np.ndarray] | np.ndarray, alpha: float = 0.05) -> HeadConsistency:
    """How consistently each head's share moves across sequences, with false-discovery control.

    `shifts: [sequences, layers, heads]`. For head j, k of the n sequences with a non-zero shift
    have Δ > 0; under "no consistent direction" k ~ Binomial(n, ½), and the two-sided sign-test
    p-value is `min(1, 2·min(P(K ≤ k), P(K ≥ k)))` (`scipy.stats.binomtest(k, n).pvalue`). The
    q-values control the false discovery rate over all L·H heads (`benjamini_hochberg`).
    """
    import scipy.stats

    values = np.asarray(shifts, dtype=np.float64)
    if values.ndim != 3:
        raise InterpError(f"shifts must be [sequences, layers, heads], got shape {values.shape}")
    _stack(values)
    up = (values > 0).sum(axis=0)
    moved = (values != 0).sum(axis=0)
    p = np.minimum(1.0, 2 * np.minimum(scipy.stats.binom.cdf(up, moved, 0.5), scipy.stats.binom.sf(up - 1, moved, 0.5)))
    p = np.where(moved == 0, 1.0, p)
    q = benjamini_hochberg(p.ravel()).reshape(p.shape)
    return HeadConsistency(up / values.shape[0], p, q, q < alpha, values.shape[0], alpha)


@dataclass(frozen=True)
class Contrast:
    """Concept minus controls, paired within sequences: the mean difference with its interval,
    and the two-sided Wilcoxon signed-rank p-value of the paired differences."""

    interval: Interval
    p_value: float
    n_sequences: int


def paired_contrast(concept: Sequence[float], controls: Sequence[float], seed: int = 0) -> Contrast:
    """`d_s = concept_s − controls_s` per sequence (its concept's mean shift and the mean of its
    control spans' mean shifts), pooled: `mean(d)` with a bootstrap interval over sequences and
    `scipy.stats.wilcoxon(d).pvalue` (NaN for fewer than two sequences or all differences 0)."""
    import scipy.stats

    differences = np.asarray(concept, dtype=np.float64) - np.asarray(controls, dtype=np.float64)
    interval = sequence_bootstrap(differences, seed=seed)
    if differences.size < 2 or not differences.any():
        return Contrast(interval, float("nan"), int(differences.size))
    return Contrast(interval, float(scipy.stats.wilcoxon(differences).pvalue), int(differences.size))


@dataclass(frozen=True)
class LayerBand:
    """Per layer: the mean over sequences of the layer's mean shift, and a bootstrap band."""

    mean: np.ndarray
    low: np.ndarray
    high: np.ndarray


def layer_band(shifts: Sequence[np.ndarray] | np.ndarray, n_resamples: int = 1000, confidence: float = 0.95,
               seed: int = 0) -> LayerBand:
    """`[sequences, layers, heads]` → per layer the mean over sequences of `mean_heads Δ_s[l]`, with
    percentile bands from resampling sequences."""
    values = np.asarray(shifts, dtype=np.float64)
    if values.ndim != 3:
        raise InterpError(f"shifts must be [sequences, layers, heads], got shape {values.shape}")
    per_sequence = values.mean(axis=2)  # [sequences, layers]
    rng = np.random.default_rng(seed)
    replicates = per_sequence[rng.integers(0, len(per_sequence), size=(n_resamples, len(per_sequence)))].mean(axis=1)
    low, high = _percentiles(replicates, confidence)
    return LayerBand(per_sequence.mean(axis=0), low, high)
