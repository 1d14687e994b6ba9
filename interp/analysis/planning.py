"""How many sequences a concept-type study needs: the power of the concept − control contrast,
estimated by resampling a pilot run's sequences (docs/design.md §5.15).

For a concept type and stage, the pilot gives one paired difference per sequence with control
spans, `d_s = T_obs,s − mean_j T_j,s` (its concept's mean shift minus its controls', §5.8). A
pseudo-study of n sequences draws n of the pilot's differences with replacement and computes the
contrast's interval as the report does (`paired_contrast`, with the run's seed); the power at n
is the fraction of `STUDIES` pseudo-studies whose interval excludes zero on the side of the
effect (`P(low > 0)` for a positive mean difference). At half the effect,
every difference is first moved by `−mean(d)/2`: the same spread around a mean half as large.
Pseudo-study b of size n is the first n draws of row b of one draw of indices (common random
numbers), so the curve rises smoothly with n. Sizes are searched by doubling from `MIN_SIZE`,
then bisection to `RESOLUTION`, up to `MAX_SIZE`.

This is a planning aid under the pilot's distribution, not a guarantee: the pilot's mean and
spread are themselves estimates, and a study drawn from other texts may differ.

Speed: every pseudo-study is a bootstrap of its own (2,000 resamples of n sequences), 500 of them
at each of a dozen sizes up to 2,000. Since the report seeds every contrast alike, the pseudo-
studies of one size share the resample indices, so their bootstrap means are one matrix product
(`bootstrap_intervals`); at every size the first pseudo-study is also computed by
`paired_contrast` itself, and where the two disagree (the report's procedure changed) every
pseudo-study goes through `paired_contrast`, one at a time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd

from interp.analysis import bootstrap
from interp.analysis.across_sequences import paired_contrast
from interp.analysis.bootstrap import percentile_interval, resample_blocks
from interp.analysis.concept_types import concept_types, control_means
from interp.analysis.results import Results
from interp.core.errors import InterpError

TARGET_POWER = 0.8
# Pseudo-studies per size: the power near 0.8 to about ±0.018 (one standard error); with 200 the
# size needed at half a normal effect varied by ±20% from seed to seed, with 500 by about ±7%, and
# the time hardly grows (the matrix product is a small part of it).
STUDIES = 500
# Sizes searched: from `MIN_SIZE` sequences per type up to `MAX_SIZE`, the answer to within `RESOLUTION`.
MIN_SIZE = 5
MAX_SIZE = 2000
RESOLUTION = 0.05
# A pilot needs this many sequences of a type with control spans to be resampled.
MIN_PILOT = 5
# The bootstrap of `paired_contrast` (`mean_with_interval`'s defaults), which the fast path repeats.
RESAMPLES = bootstrap.RESAMPLES
CONFIDENCE = bootstrap.CONFIDENCE

PLAN_COLUMNS = (
    "concept", "stage", "reference", "measure", "pilot_sequences", "contrast_mean", "contrast_sd",
    "power_at_pilot", "sequences_needed", "sequences_needed_half_effect", "target_power", "max_sequences", "note",
)


def contrast_interval(differences: np.ndarray, seed: int) -> tuple[float, float]:
    """The interval the report gives the concept − control contrast of these paired differences
    (`paired_contrast` with the controls at zero)."""
    contrast = paired_contrast(differences, np.zeros_like(differences), seed=seed)
    return contrast.interval.low, contrast.interval.high


def bootstrap_intervals(samples: np.ndarray, seed: int, resamples: int = RESAMPLES,
                        confidence: float = CONFIDENCE) -> tuple[np.ndarray, np.ndarray]:
    """Percentile bootstrap intervals of the mean of each row of `samples: [studies, n]`, every
    row resampled with the indices `resample_blocks` draws for n values (those of
    `mean_replicates`), and the ends taken as `percentile_interval` takes them: the report's
    interval of each row.

    The replicate means of all rows are `samples @ W.T / n`, W `[resamples, n]` counting how often
    each value is drawn in each resample: one matrix product instead of a gather per row."""
    studies, n = samples.shape
    indices = np.concatenate(list(resample_blocks(n, resamples, seed)))
    counts = np.bincount((indices + n * np.arange(resamples)[:, None]).ravel(), minlength=resamples * n)
    replicates = samples @ counts.reshape(resamples, n).T.astype(np.float64) / n  # [studies, resamples]
    low, high, _ = percentile_interval(replicates.T, confidence)
    return low, high


@dataclass(frozen=True)
class PowerCurve:
    """The probability that the contrast's interval excludes zero (on the effect's side), by
    sequences per type.

    `effect`: the mean difference the pseudo-studies are drawn around; `sizes` rising with the
    `power` at each (`studies` pseudo-studies each); `needed`: the smallest size found with power
    at least `target` (None: not reached by `MAX_SIZE`)."""

    effect: float
    sizes: tuple[int, ...]
    power: tuple[float, ...]
    needed: int | None
    studies: int = STUDIES
    target: float = TARGET_POWER

    def at(self, size: int) -> float:
        """The power estimated at `size` (one of `sizes`)."""
        return self.power[self.sizes.index(size)]


class ContrastPower:
    """The power of the report's contrast for pseudo-studies drawn from a pilot's differences, at
    any size and at the observed effect scaled by any factor (`power(size, scale)`).

    `draws: [studies, max_size]` indices into the differences, drawn once (common random numbers).
    The intervals of each size are computed once: for another effect they move with it, as a
    mean's percentile interval does, where the fast path is used; otherwise (the report's
    procedure is not the one `bootstrap_intervals` repeats) each effect is computed anew."""

    def __init__(self, differences: np.ndarray, seed: int, studies: int = STUDIES, max_size: int = MAX_SIZE,
                 interval: Callable[[np.ndarray, int], tuple[float, float]] = contrast_interval) -> None:
        self.differences = np.asarray(differences, dtype=np.float64)
        if self.differences.ndim != 1 or self.differences.size < 2 or not np.isfinite(self.differences).all():
            raise InterpError(f"differences must be at least two finite numbers, got shape {self.differences.shape}")
        self.seed, self.interval, self.max_size = seed, interval, max_size
        self.draws = np.random.default_rng(seed).integers(0, self.differences.size, size=(studies, max_size))
        self.fast = True  # whether every size so far agreed with the report's procedure
        self._intervals: dict[tuple[int, float], tuple[np.ndarray, np.ndarray]] = {}

    def power(self, size: int, scale: float = 1.0) -> float:
        """The fraction of pseudo-studies of `size` sequences, their differences moved to `scale` ×
        the observed mean, whose interval excludes zero on the side of that mean (an interval
        clear of zero on the other side finds no effect; a small study's narrow intervals do that)."""
        mean = float(self.differences.mean())
        low, high = self._bounds(size, (1.0 - scale) * mean)
        return float(np.mean(low > 0) if mean > 0 else np.mean(high < 0))

    def _bounds(self, size: int, shift: float) -> tuple[np.ndarray, np.ndarray]:
        if (size, 0.0) not in self._intervals:
            self._intervals[(size, 0.0)] = self._compute(self.differences[self.draws[:, :size]])
        if shift == 0.0 or self.fast:
            low, high = self._intervals[(size, 0.0)]
            return low - shift, high - shift
        if (size, shift) not in self._intervals:
            self._intervals[(size, shift)] = self._compute(self.differences[self.draws[:, :size]] - shift)
        return self._intervals[(size, shift)]

    def _compute(self, samples: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if self.fast:
            low, high = bootstrap_intervals(samples, self.seed)
            expected = self.interval(samples[0], self.seed)
            if np.allclose([low[0], high[0]], expected, rtol=1e-9, atol=1e-12 * float(np.abs(samples[0]).max() or 1)):
                return low, high
            self.fast = False
        pairs = np.array([self.interval(row, self.seed) for row in samples])
        return pairs[:, 0], pairs[:, 1]


def power_curve(power: ContrastPower, *, scale: float = 1.0, target: float = TARGET_POWER, start: int = MIN_SIZE,
                include: tuple[int, ...] = ()) -> PowerCurve:
    """The power curve at `scale` × the observed effect: sizes from `start` doubling (or halving)
    to bracket `target`, then bisection until the bracket is within `RESOLUTION`; `include` adds
    sizes to show (the pilot's own)."""
    evaluated: dict[int, float] = {}

    def reaches(size: int) -> bool:
        if size not in evaluated:
            evaluated[size] = power.power(size, scale)
        return evaluated[size] >= target

    low, high = _bracket(reaches, min(max(start, MIN_SIZE), power.max_size), power.max_size)
    while low is not None and high is not None and high - low > max(1, RESOLUTION * low):
        middle = (low + high) // 2
        low, high = (low, middle) if reaches(middle) else (middle, high)
    for size in include:
        if MIN_SIZE <= size <= power.max_size:
            reaches(size)
    sizes = tuple(sorted(evaluated))
    effect = scale * float(power.differences.mean())
    return PowerCurve(effect, sizes, tuple(evaluated[n] for n in sizes), high, power.draws.shape[0], target)


def _bracket(reaches: Callable[[int], bool], start: int, max_size: int) -> tuple[int | None, int | None]:
    """`(low, high)`: a size below the target and one at or above it, by doubling from `start`
    (halving where `start` reaches it already); None where the search ran out of sizes."""
    size = start
    if reaches(size):
        while size > MIN_SIZE:
            smaller = max(MIN_SIZE, size // 2)
            if not reaches(smaller):
                return smaller, size
            size = smaller
        return None, size
    while size < max_size:
        larger = min(2 * size, max_size)
        if reaches(larger):
            return size, larger
        size = larger
    return size, None


@dataclass(frozen=True)
class SequencePlan:
    """The plan of one concept type and stage: the pilot's paired differences (`differences`,
    one per sequence with control spans) and the power curves at the observed effect and half
    of it (None where the pilot is too small, and `note` says why)."""

    concept: str
    stage: str
    differences: np.ndarray
    observed: PowerCurve | None
    half: PowerCurve | None
    note: str = ""


def pilot_differences(results: Results, concept: str, stage: str) -> np.ndarray:
    """The pilot's paired differences of one type and stage: concept minus controls per sequence
    with control spans, in the run's order (§5.8)."""
    ids = [sequence.id for sequence in results.sequences if sequence.concept == concept]
    if not ids:
        raise InterpError(f"concept type {concept!r} is not in this run; types: {', '.join(concept_types(results))}")
    observed, controls = control_means(results, ids, stage)
    return np.asarray(observed, dtype=np.float64) - np.asarray(controls, dtype=np.float64)


def plan_sequences(results: Results, concept: str, stage: str, *, target: float = TARGET_POWER,
                   studies: int = STUDIES) -> SequencePlan:
    """How many sequences of `concept` a study needs at `stage` against the reference, from this
    run as its pilot (see the module docstring)."""
    differences = pilot_differences(results, concept, stage)
    note = pilot_problem(results, differences)
    if note:
        return SequencePlan(concept, stage, differences, None, None, note)
    power = ContrastPower(differences, results.selection.seed, studies)
    observed = power_curve(power, target=target, include=(differences.size,))
    half = power_curve(power, scale=0.5, target=target, start=observed.needed or MIN_SIZE)
    return SequencePlan(concept, stage, differences, observed, half)


def pilot_problem(results: Results, differences: np.ndarray) -> str:
    """Why a pilot cannot be resampled (too few sequences with control spans, or none moved), or ''."""
    if results.selection.n_controls <= 0:
        return "no control spans (--controls 0): the contrast needs them"
    if differences.size < MIN_PILOT:
        return (f"{differences.size} sequence(s) with control spans; resampling needs at least {MIN_PILOT} "
                "(`python -m interp concepts generate` makes a pilot dataset)")
    if not np.any(differences):
        return "every paired difference is zero: no effect to plan for"
    return ""


def plan_row(results: Results, plan: SequencePlan) -> dict:
    """One row of `plan_table` (`PLAN_COLUMNS`)."""
    d = plan.differences
    observed, half = plan.observed, plan.half
    pilot = d.size
    return {
        "concept": plan.concept, "stage": plan.stage, "reference": results.reference,
        "measure": results.selection.measure, "pilot_sequences": pilot,
        "contrast_mean": float(d.mean()) if pilot else np.nan,
        "contrast_sd": float(d.std(ddof=1)) if pilot > 1 else np.nan,
        "power_at_pilot": observed.at(pilot) if observed and pilot in observed.sizes else np.nan,
        "sequences_needed": _needed(observed), "sequences_needed_half_effect": _needed(half),
        "target_power": observed.target if observed else TARGET_POWER, "max_sequences": MAX_SIZE,
        "note": plan.note or _reach_note(observed, half),
    }


def _needed(curve: PowerCurve | None) -> float:
    return float(curve.needed) if curve and curve.needed is not None else np.nan


def _reach_note(observed: PowerCurve | None, half: PowerCurve | None) -> str:
    missing = [label for label, curve in (("the observed effect", observed), ("half of it", half))
               if curve is not None and curve.needed is None]
    return f"more than {MAX_SIZE:,} sequences at {' and '.join(missing)}" if missing else ""


def plan_table(results: Results, *, target: float = TARGET_POWER, studies: int = STUDIES) -> pd.DataFrame:
    """`report --plan`: a row per concept type × compared stage (`PLAN_COLUMNS`); a type the pilot
    cannot plan for has empty numbers and a note saying why."""
    return plan_frame(list(plan_rows(results, target=target, studies=studies)))


def plan_rows(results: Results, *, target: float = TARGET_POWER, studies: int = STUDIES) -> Iterator[dict]:
    """The rows of `plan_table` one at a time (a few seconds each), for a progress bar."""
    for concept in concept_types(results):
        for stage in results.compared_stages:
            yield plan_row(results, plan_sequences(results, concept, stage, target=target, studies=studies))


def plan_frame(rows: list[dict]) -> pd.DataFrame:
    """Rows of `plan_row` as the plan table, its columns in `PLAN_COLUMNS` order; counts of
    sequences are whole numbers, empty where the target was not reached."""
    frame = pd.DataFrame(rows, columns=list(PLAN_COLUMNS))
    for column in ("pilot_sequences", "sequences_needed", "sequences_needed_half_effect", "max_sequences"):
        frame[column] = frame[column].astype("Int64")
    return frame


CURVE_COLUMNS = ("concept", "stage", "measure", "effect", "mean_difference", "sequences", "power", "pseudo_studies")


def curve_table(plan: SequencePlan, measure: str) -> pd.DataFrame:
    """The points of both curves of a plan: its concept type, stage and `measure`, then effect
    (observed, half), mean difference, sequences, power, pseudo-studies."""
    rows = [{"concept": plan.concept, "stage": plan.stage, "measure": measure, "effect": label,
             "mean_difference": curve.effect, "sequences": size, "power": power, "pseudo_studies": curve.studies}
            for label, curve in (("observed", plan.observed), ("half", plan.half)) if curve is not None
            for size, power in zip(curve.sizes, curve.power)]
    return pd.DataFrame(rows, columns=list(CURVE_COLUMNS))
