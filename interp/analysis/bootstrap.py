"""One procedure for an estimate with its interval and p-value: the percentile bootstrap (docs/design.md §5.8).

Every mean the project reports with an interval and a p-value takes both from one set of
bootstrap replicates, so the two answer one question and cannot disagree: the interval excludes 0
exactly when p < 1 − confidence. `percentile_interval` turns replicates into both;
`mean_with_interval` is the whole procedure for the mean of independent values (paired
differences, one number per sequence, an effect per prompt). Arithmetic on numpy arrays only.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from interp.core.errors import InterpError

RESAMPLES = 2000
CONFIDENCE = 0.95
# Values drawn per block of replicates: 1,000 sequences × 2,000 replicates stays one block, and a
# study of 10^5 values is resampled in blocks rather than in one 1.6 GB index array.
DRAWS_PER_BLOCK = 2**22


@dataclass(frozen=True)
class Interval:
    """An estimate, its `confidence` percentile interval `[low, high]`, and the two-sided p-value of
    "the quantity is 0", all from the same `resamples` bootstrap replicates (NaN where one value
    gives nothing to resample)."""

    estimate: float
    low: float
    high: float
    p_value: float = math.nan
    confidence: float = CONFIDENCE
    resamples: int = RESAMPLES

    @property
    def excludes_zero(self) -> bool:
        return bool(self.low > 0 or self.high < 0)


def significance_level(confidence: float) -> float:
    """α = 1 − confidence, rounded to 12 decimals so that 0.95 gives the α a reader writes, 0.05
    (in floating point, 1 − 0.95 is 0.050000000000000044, and p = 0.05 would count as below it)."""
    return round(1 - confidence, 12)


def interval_rank(resamples: int, confidence: float = CONFIDENCE) -> int:
    """r, the rank of the interval's ends among B replicates: the largest r with 2r / (B + 1) < α.

    α = 1 − confidence. This is Davison & Hinkley's (1997, ch. 5) order statistic ⌊(B + 1)α/2⌋ of
    the percentile interval, one rank wider where (B + 1)α/2 is a whole number, so that "the
    interval excludes 0" and "p < α" are the same event (computed with the same floating-point
    expression as the p-value). Refused when B is too small for any interval at this level.
    """
    if not 0 < confidence < 1:
        raise InterpError(f"confidence must lie strictly between 0 and 1, got {confidence}")
    if not isinstance(resamples, (int, np.integer)) or resamples < 1:
        raise InterpError(f"resamples must be a positive integer, got {resamples!r}")
    alpha = significance_level(confidence)
    rank = math.floor(alpha * (resamples + 1) / 2) + 1
    while rank > 0 and 2 * rank / (resamples + 1) >= alpha:
        rank -= 1
    while 2 * (rank + 1) / (resamples + 1) < alpha:
        rank += 1
    if rank < 1:
        needed = max(1, math.floor(2 / alpha - 1))
        while 2 / (needed + 1) >= alpha:
            needed += 1
        raise InterpError(f"{resamples} bootstrap resamples cannot give a {confidence:.4g} interval; "
                          f"use at least {needed}")
    return rank


def percentile_interval(replicates: np.ndarray, confidence: float = CONFIDENCE) -> tuple[np.ndarray, ...]:
    """`(low, high, p)` of the estimate whose bootstrap replicates are `replicates: [B, ...]`.

    Interval: the r-th smallest and r-th largest replicate (`interval_rank`), the percentile
    interval (Efron & Tibshirani 1993, ch. 13). p-value: with k₋ = #{θ* ≤ 0} and k₊ = #{θ* ≥ 0},
    `p = min(1, 2 · (1 + min(k₋, k₊)) / (B + 1))`, the smallest α at which the (1 − α) percentile
    interval excludes 0 (the achieved significance level of the interval, Efron & Tibshirani 1993,
    ch. 15–16), in the add-one form that is never 0 (Davison & Hinkley 1997, ch. 4). So `low > 0 or
    high < 0` ⟺ `p < 1 − confidence`, element by element.
    """
    replicates = np.asarray(replicates, dtype=np.float64)
    resamples = replicates.shape[0]
    rank = interval_rank(resamples, confidence)
    ordered = np.sort(replicates, axis=0)
    at_or_below = (replicates <= 0).sum(axis=0)
    at_or_above = (replicates >= 0).sum(axis=0)
    p = np.minimum(1.0, 2 * (1 + np.minimum(at_or_below, at_or_above)) / (resamples + 1))
    return ordered[rank - 1], ordered[resamples - rank], p


def _finite_vector(values: Sequence[float] | np.ndarray) -> np.ndarray:
    x = np.asarray(values, dtype=np.float64)
    if x.ndim != 1 or x.size == 0 or not np.isfinite(x).all():
        raise InterpError(f"values must be a non-empty 1-D array of finite numbers, got shape {x.shape}")
    return x


def resample_blocks(size: int, n_resamples: int = RESAMPLES, seed: int = 0) -> Iterator[np.ndarray]:
    """The indices of `n_resamples` resamples of `size` values with replacement, seeded by
    `np.random.default_rng(seed)`, as `[block, size]` arrays of at most `DRAWS_PER_BLOCK` values."""
    rng = np.random.default_rng(seed)
    block = max(1, DRAWS_PER_BLOCK // size)
    for start in range(0, n_resamples, block):
        yield rng.integers(0, size, size=(min(block, n_resamples - start), size))


def mean_replicates(values: Sequence[float] | np.ndarray, n_resamples: int = RESAMPLES, seed: int = 0) -> np.ndarray:
    """`[n_resamples]` means of the values resampled with replacement (n of n each), the
    resamples of `resample_blocks`."""
    x = _finite_vector(values)
    return np.concatenate([x[indices].mean(axis=1) for indices in resample_blocks(x.size, n_resamples, seed)])


def mean_with_interval(values: Sequence[float] | np.ndarray, n_resamples: int = RESAMPLES,
                       confidence: float = CONFIDENCE, seed: int = 0) -> Interval:
    """The mean of independent values with its percentile bootstrap interval and p-value.

    Question answered: is the population mean of these values 0, and where does it lie? Estimate
    `x̄ = (1/n) Σ xᵢ`; replicates `x̄*` of n values drawn with replacement (`mean_replicates`);
    interval and p from those replicates (`percentile_interval`): the interval is what
    `scipy.stats.bootstrap((x,), np.mean, method="percentile")` and R's
    `boot.ci(type = "perc")` compute, up to the choice of order statistic. For paired data,
    pass the differences. With one value there is nothing to resample: interval and p are NaN.
    """
    x = _finite_vector(values)
    interval_rank(n_resamples, confidence)
    if x.size < 2:
        return Interval(float(x.mean()), math.nan, math.nan, math.nan, confidence, n_resamples)
    low, high, p = percentile_interval(mean_replicates(x, n_resamples, seed), confidence)
    return Interval(float(x.mean()), float(low), float(high), float(p), confidence, n_resamples)
