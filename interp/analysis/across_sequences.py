"""Statistics across the sequences of one concept type (beyond the reference study, docs/design.md §5.8).

One sequence cannot tell "training changed attention to Conditions" from "it changed attention on
this sentence"; many sequences of a type can. Everything here is arithmetic on per-sequence head
shifts `[sequences, layers, heads]` (or per-sequence numbers): no model, no store, no UI. Every
interval here is a percentile bootstrap interval, and every p-value beside one comes from the same
replicates (`interp.analysis.bootstrap`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from interp.analysis.bootstrap import CONFIDENCE, RESAMPLES, Interval, mean_with_interval, percentile_interval
from interp.core.errors import InterpError

__all__ = ["FDR_LEVEL", "HEAD_DRAWS", "Contrast", "HeadConsistency", "Interval", "LayerBand", "benjamini_hochberg",
           "head_sign_consistency", "hierarchical_bootstrap", "layer_band", "paired_contrast", "sequence_bootstrap"]

HEAD_DRAWS = 200
# The false discovery rate at which a head counts as moving consistently (Benjamini–Hochberg).
FDR_LEVEL = 0.05


def _stack(shifts: Sequence[np.ndarray] | np.ndarray) -> np.ndarray:
    """Per-sequence head shifts as float64 `[sequences, heads]` (layers and heads flattened)."""
    values = np.asarray(shifts, dtype=np.float64)
    if values.ndim < 2 or values.shape[0] == 0:
        raise InterpError(f"shifts must be [sequences, layers, heads] with at least one sequence, got {values.shape}")
    values = values.reshape(values.shape[0], -1)
    if not np.isfinite(values).all():
        raise InterpError(f"shifts hold {int((~np.isfinite(values)).sum())} non-finite values")
    return values


def hierarchical_bootstrap(
    shifts: Sequence[np.ndarray] | np.ndarray, n_resamples: int = RESAMPLES, confidence: float = CONFIDENCE,
    seed: int = 0, head_draws: int = HEAD_DRAWS,
) -> Interval:
    """Mean shift over the sequences of a type, with a two-level bootstrap percentile interval and p.

    Question answered: across texts of this type (and heads of this model), where does the mean
    shift lie, and is it 0? Estimate: `(1/S) Σ_s (1/m) Σ_j Δ_s[j]`, each sequence weighing the
    same. Each replicate resamples S sequences with replacement, then the m heads of each chosen
    sequence with replacement, and takes the same mean (the hierarchical bootstrap of Davison &
    Hinkley 1997, §3.8, and Saravanan et al. 2020, "Application of the hierarchical bootstrap to
    multi-level data in neuroscience"); interval and p from those replicates
    (`percentile_interval`). The head level is drawn once per sequence, `head_draws` times, and
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
    low, high, p = percentile_interval(head_means[chosen, draws].mean(axis=1), confidence)
    return Interval(float(values.mean(axis=1).mean()), float(low), float(high), float(p), confidence, n_resamples)


# The across-sequences name of the one procedure for a mean: one number per sequence, resampled.
sequence_bootstrap = mean_with_interval


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
    """Per head `[layers, heads]`: the fractions of sequences in which its share rose and fell, the
    two-sided sign-test p-value, its BH q-value over all heads, and whether q < `alpha`."""

    fraction_up: np.ndarray
    fraction_down: np.ndarray
    p_value: np.ndarray
    q_value: np.ndarray
    significant: np.ndarray
    n_sequences: int
    alpha: float = FDR_LEVEL

    @property
    def rising(self) -> np.ndarray:
        """Significant heads whose share rose in more sequences than it fell."""
        return self.significant & (self.fraction_up > self.fraction_down)

    @property
    def falling(self) -> np.ndarray:
        """Significant heads whose share fell in more sequences than it rose."""
        return self.significant & (self.fraction_up < self.fraction_down)


def head_sign_consistency(shifts: Sequence[np.ndarray] | np.ndarray, alpha: float = FDR_LEVEL) -> HeadConsistency:
    """How consistently each head's share moves across sequences, with false-discovery control.

    Question answered: does this head's share move in one direction in more texts than chance
    would give? `shifts: [sequences, layers, heads]`. For head j, k of the n sequences with a
    non-zero shift have Δ > 0; under "up and down equally likely" k ~ Binomial(n, ½), and the
    two-sided sign-test p-value is `min(1, 2·min(P(K ≤ k), P(K ≥ k)))`
    (`scipy.stats.binomtest(k, n).pvalue`). No interval is reported beside it: the estimate it
    tests is the split k : n − k (`fraction_up`, `fraction_down`, over all S sequences). The
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
    n = values.shape[0]
    return HeadConsistency(up / n, (moved - up) / n, p, q, q < alpha, n, alpha)


@dataclass(frozen=True)
class Contrast:
    """Concept minus controls, paired within sequences: the mean difference with its percentile
    bootstrap interval and p-value, from one set of replicates."""

    interval: Interval
    n_sequences: int

    @property
    def p_value(self) -> float:
        return self.interval.p_value


def paired_contrast(concept: Sequence[float], controls: Sequence[float], seed: int = 0,
                    n_resamples: int = RESAMPLES, confidence: float = CONFIDENCE) -> Contrast:
    """Does the concept move more than control spans of the same texts, on average over sequences?

    `d_s = concept_s − controls_s` per sequence (its concept's mean shift and the mean of its
    control spans' mean shifts); `mean(d)` with the percentile bootstrap interval over sequences
    and the p-value of "mean(d) = 0" from the same replicates (`mean_with_interval`). The mean,
    not the median: a skewed d (most sequences a little below 0, a few far above) has a positive
    mean that the interval and p agree on. NaN interval and p for fewer than two sequences.
    """
    differences = np.asarray(concept, dtype=np.float64) - np.asarray(controls, dtype=np.float64)
    return Contrast(mean_with_interval(differences, n_resamples, confidence, seed), int(differences.size))


@dataclass(frozen=True)
class LayerBand:
    """Per layer: the mean over sequences of the layer's mean shift, and a bootstrap band."""

    mean: np.ndarray
    low: np.ndarray
    high: np.ndarray


def layer_band(shifts: Sequence[np.ndarray] | np.ndarray, n_resamples: int = RESAMPLES,
               confidence: float = CONFIDENCE, seed: int = 0) -> LayerBand:
    """`[sequences, layers, heads]` → per layer the mean over sequences of `mean_heads Δ_s[l]`, with
    the percentile band from resampling sequences (`percentile_interval`, layer by layer)."""
    values = np.asarray(shifts, dtype=np.float64)
    if values.ndim != 3:
        raise InterpError(f"shifts must be [sequences, layers, heads], got shape {values.shape}")
    per_sequence = values.mean(axis=2)  # [sequences, layers]
    rng = np.random.default_rng(seed)
    replicates = per_sequence[rng.integers(0, len(per_sequence), size=(n_resamples, len(per_sequence)))].mean(axis=1)
    low, high, _ = percentile_interval(replicates, confidence)
    return LayerBand(per_sequence.mean(axis=0), low, high)
