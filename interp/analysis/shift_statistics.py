"""Shares, shifts and their statistics, computed from attention column sums (docs/design.md §5).

Everything here is arithmetic on numpy arrays: no model, no UI. Shapes are named in the
docstrings; `keys` is the number of tokens of one sequence.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from os import PathLike

import numpy as np

from interp.core.errors import InterpError

ENTROPY_BINS = 11
NPY_MAGIC = b"\x93NUMPY"


def _check_masks(n_keys: int, concept_mask: np.ndarray, excluded_mask: np.ndarray) -> np.ndarray:
    """Return the mask of counted concept keys C∖E after checking both masks are `[keys]` bool."""
    for name, mask in (("concept_mask", concept_mask), ("excluded_mask", excluded_mask)):
        mask = np.asarray(mask)
        if mask.dtype != np.bool_ or mask.shape != (n_keys,):
            raise InterpError(
                f"{name} must be a boolean array of shape ({n_keys},), "
                f"got {mask.dtype} of shape {mask.shape}"
            )
    if np.asarray(excluded_mask).all():
        raise InterpError("every key is excluded, so the share has no denominator")
    counted = np.asarray(concept_mask) & ~np.asarray(excluded_mask)
    if not counted.any():
        raise InterpError("the concept has no tokens left once the excluded tokens are removed")
    return counted


def _check_ndim(name: str, array: np.ndarray, ndim: int, shape_name: str) -> np.ndarray:
    """Return `array` as an ndarray after checking it has the named number of axes."""
    array = np.asarray(array)
    if array.ndim != ndim:
        raise InterpError(f"{name} must have shape {shape_name}, got shape {array.shape}")
    return array


def compute_column_sums(patterns: np.ndarray) -> np.ndarray:
    """Sum attention over queries, which is all a share needs (docs/design.md §5.1).

    `patterns: [layers, heads, queries, keys]` (post-softmax, causal) ->
    `colsums: [layers, heads, keys]`, float64 so that long sequences do not lose precision.
    """
    patterns = _check_ndim("patterns", patterns, 4, "[layers, heads, queries, keys]")
    return patterns.sum(axis=2, dtype=np.float64)


def compute_share_from_patterns(
    patterns: np.ndarray, concept_mask: np.ndarray, excluded_mask: np.ndarray
) -> np.ndarray:
    """Share of filtered attention on the concept, straight from the patterns.

    `share[l,h] = Σ_q Σ_{k∈C∖E} A[l,h,q,k] / Σ_q Σ_{k∉E} A[l,h,q,k]`, rows not renormalised.
    `patterns: [layers, heads, queries, keys]`, masks `[keys]` bool -> `[layers, heads]`.
    Kept independent of `compute_share` so the two routes can check each other.
    """
    patterns = _check_ndim("patterns", patterns, 4, "[layers, heads, queries, keys]")
    counted = _check_masks(patterns.shape[3], concept_mask, excluded_mask)
    numerator = (patterns * counted).sum(axis=(2, 3), dtype=np.float64)
    denominator = (patterns * ~np.asarray(excluded_mask)).sum(axis=(2, 3), dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return numerator / denominator


def compute_share(
    colsums: np.ndarray, concept_mask: np.ndarray, excluded_mask: np.ndarray
) -> np.ndarray:
    """Share of filtered attention on the concept, from column sums.

    `share[l,h] = Σ_{k∈C∖E} colsum[l,h,k] / Σ_{k∉E} colsum[l,h,k]`.
    `colsums: [layers, heads, keys]`, masks `[keys]` bool -> `[layers, heads]`. A head whose
    unexcluded keys get no attention at all has share nan.
    """
    colsums = _check_ndim("colsums", colsums, 3, "[layers, heads, keys]")
    counted = _check_masks(colsums.shape[2], concept_mask, excluded_mask)
    numerator = colsums[:, :, counted].sum(axis=2, dtype=np.float64)
    denominator = colsums[:, :, ~np.asarray(excluded_mask)].sum(axis=2, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return numerator / denominator


def compute_first_token_share(colsums: np.ndarray) -> np.ndarray:
    """Share of all attention that lands on the first token, per head: a diagnostic of sink heads.

    `first[l,h] = colsum[l,h,0] / Σ_k colsum[l,h,k]`, nothing excluded: rows of a causal
    pattern sum to 1, so this is the mean over queries of the attention paid to position 0.
    `colsums: [layers, heads, keys]` -> `[layers, heads]`.
    """
    colsums = _check_ndim("colsums", colsums, 3, "[layers, heads, keys]")
    if colsums.shape[2] == 0:
        raise InterpError("colsums has no keys, so there is no first token")
    total = colsums.sum(axis=2, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return colsums[:, :, 0].astype(np.float64) / total


def compute_shift(share: np.ndarray, reference_share: np.ndarray) -> np.ndarray:
    """Shift of each head's share against the reference stage: `Δ = share − reference_share`.

    Both `[layers, heads]`.
    """
    share = _check_ndim("share", share, 2, "[layers, heads]")
    reference_share = _check_ndim("reference_share", reference_share, 2, "[layers, heads]")
    if share.shape != reference_share.shape:
        raise InterpError(
            f"share has shape {share.shape} but the reference share has shape "
            f"{reference_share.shape}; both stages must have the same layers and heads"
        )
    return share.astype(np.float64) - reference_share


def _finite_values(values: np.ndarray, name: str) -> np.ndarray:
    """Flatten `values` to float64, refusing empty input and nan or infinite values."""
    x = np.asarray(values, dtype=np.float64).ravel()
    if x.size == 0:
        raise InterpError(f"{name} is empty")
    if not np.isfinite(x).all():
        raise InterpError(f"{name} has {int((~np.isfinite(x)).sum())} non-finite values")
    return x


def compute_entropy(values: np.ndarray, bins: int = ENTROPY_BINS) -> float:
    """Entropy in nats of the values' histogram over `bins` equal-width bins on [min, max].

    `H = −Σ p_i log p_i`, `p_i = count_i / n`, empty bins contribute 0. Bins are right-closed
    `(a, b]` with the first closed on both sides `[min, b]`, as R's
    `entropy::entropy(entropy::discretize(x, numBins = bins))` (`cut(..., include.lowest = TRUE)`,
    method "ML"). `np.histogram` closes bins on the left, so it is not used. Constant input puts
    every value in one bin: entropy 0 (R's `cut` would refuse the repeated breaks).
    """
    x = _finite_values(values, "values")
    if not isinstance(bins, (int, np.integer)) or bins < 1:
        raise InterpError(f"bins must be a positive integer, got {bins!r}")
    low, high = x.min(), x.max()
    if low == high:
        return 0.0
    edges = np.linspace(low, high, bins + 1)
    index = np.clip(np.searchsorted(edges, x, side="left") - 1, 0, bins - 1)
    counts = np.bincount(index, minlength=bins)
    p = counts[counts > 0] / x.size
    return float(-(p * np.log(p)).sum())


@dataclass(frozen=True)
class ShiftStatistics:
    """Summary of the L·H head shifts of one stage against the reference (docs/design.md §5.4)."""

    mean: float
    median: float
    frac_positive: float
    skewness: float
    kurtosis: float
    entropy: float

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


STATISTIC_NAMES = tuple(field.name for field in fields(ShiftStatistics))


def compute_shift_statistics(shift: np.ndarray) -> ShiftStatistics:
    """Mean, median, fraction > 0, skewness, kurtosis and entropy of all values of `shift`.

    `shift: [layers, heads]` (any shape; it is flattened). With central moments
    `m_r = Σ (x − x̄)^r / n`:
    skewness `m3 / m2^1.5` (population) = R `moments::skewness`, `scipy.stats.skew(bias=True)`;
    kurtosis `m4 / m2^2` (not excess) = R `moments::kurtosis`,
    `scipy.stats.kurtosis(fisher=False, bias=True)`; entropy as in `compute_entropy`.
    Constant input has m2 = 0: skewness and kurtosis are nan (as scipy gives) and entropy 0.
    """
    x = _finite_values(shift, "shift")
    deviations = x - x.mean()
    m2 = np.mean(deviations**2)
    if np.ptp(x) == 0:
        skewness = kurtosis = float("nan")
    else:
        skewness = float(np.mean(deviations**3) / m2**1.5)
        kurtosis = float(np.mean(deviations**4) / m2**2)
    return ShiftStatistics(
        mean=float(x.mean()),
        median=float(np.median(x)),
        frac_positive=float(np.mean(x > 0)),
        skewness=skewness,
        kurtosis=kurtosis,
        entropy=compute_entropy(x),
    )


@dataclass(frozen=True)
class LayerProfile:
    """Mean and median shift over the heads of each layer: `mean, median: [layers]`."""

    mean: np.ndarray
    median: np.ndarray


def compute_layer_profile(shift: np.ndarray) -> LayerProfile:
    """Per-layer mean and median of `shift: [layers, heads]` over heads."""
    shift = _check_ndim("shift", shift, 2, "[layers, heads]")
    return LayerProfile(mean=shift.mean(axis=1), median=np.median(shift, axis=1))


def compute_bootstrap_ci(
    shift: np.ndarray, confidence: float = 0.95, n_resamples: int = 2000, seed: int = 0
) -> tuple[float, float]:
    """BCa bootstrap confidence interval for the mean shift of one sequence, resampling heads.

    Question answered: how precisely do this model's L·H head shifts pin down their mean, heads
    taken as exchangeable draws? `shift: [layers, heads]` is flattened and its values resampled
    with replacement; `scipy.stats.bootstrap(method="BCa")` (as R `boot::boot.ci(type = "bca")`;
    Efron 1987), seeded by `np.random.default_rng(seed)`. BCa corrects for the skew typical of
    shift distributions. No p-value is reported beside it (the control p-value asks another
    question, `compare_with_controls`). Constant input has no spread: the constant on both sides.
    """
    x = _finite_values(shift, "shift")
    if not 0 < confidence < 1:
        raise InterpError(f"confidence must lie strictly between 0 and 1, got {confidence}")
    if np.ptp(x) == 0:
        return float(x[0]), float(x[0])
    import scipy.stats  # deferred: a second of start-up for the commands that never bootstrap

    result = scipy.stats.bootstrap(
        (x,),
        np.mean,
        confidence_level=confidence,
        n_resamples=n_resamples,
        method="BCa",
        rng=np.random.default_rng(seed),
    )
    return float(result.confidence_interval.low), float(result.confidence_interval.high)


def _free_starts(free: np.ndarray, length: int) -> np.ndarray:
    """Start positions of every run of `length` consecutive free keys; `free: [keys]` bool."""
    filled = np.concatenate(([0], np.cumsum(free)))
    counts = filled[length:] - filled[:-length]
    return np.flatnonzero(counts == length)


def sample_control_spans(
    concept_runs: Sequence[np.ndarray],
    blocked_mask: np.ndarray,
    n_controls: int,
    seed: int,
    max_attempts: int = 50,
) -> list[np.ndarray]:
    """Draw control spans: for each concept span, a random window of as many tokens elsewhere.

    `concept_runs[i]` holds the token indices of concept span i (excluded tokens removed);
    `blocked_mask: [keys]` marks concept and excluded keys (BOS included). Each draw places
    one window of `len(concept_runs[i])` consecutive unblocked keys per span, each start
    uniform among the starts still free in its draw, longest span first, with no overlap inside
    the draw; a draw that runs out of room is redrawn, and `max_attempts` rounds in a row in
    which no draw fits mean the spans cannot be placed together. All draws are placed at once,
    vectorised over draws.
    Returns one sorted index array (the union of the windows) per draw. Seeded by
    `np.random.default_rng(seed)`.
    """
    blocked_mask = np.asarray(blocked_mask)
    if blocked_mask.dtype != np.bool_ or blocked_mask.ndim != 1:
        raise InterpError(
            f"blocked_mask must be a 1-D boolean array, got {blocked_mask.dtype} "
            f"of shape {blocked_mask.shape}"
        )
    n_keys = blocked_mask.size
    lengths = []
    for i, run in enumerate(concept_runs):
        run = np.asarray(run)
        if run.size and (run.min() < 0 or run.max() >= n_keys or not blocked_mask[run].all()):
            raise InterpError(
                f"concept span {i}: its token indices must lie in 0..{n_keys - 1} "
                "and be marked in blocked_mask"
            )
        if run.size:
            lengths.append(run.size)
    if not lengths:
        raise InterpError("there are no concept tokens to build control spans for")
    if n_controls < 1:
        raise InterpError(f"n_controls must be at least 1, got {n_controls}")
    free = ~blocked_mask
    for length in set(lengths):
        if _free_starts(free, length).size == 0:
            raise InterpError(
                f"the sequence has no room for a control span of {length} tokens "
                f"outside the concept and excluded tokens ({int(free.sum())} free tokens)"
            )
    lengths.sort(reverse=True)
    rng = np.random.default_rng(seed)
    placed = np.empty((n_controls, len(lengths)), dtype=np.int64)
    pending = np.arange(n_controls)
    fruitless = 0
    while pending.size and fruitless < max_attempts:
        stuck = _place_windows(placed, pending, lengths, free, rng)
        fruitless = fruitless + 1 if stuck.all() else 0
        pending = pending[stuck]
    if pending.size:
        raise InterpError(
            f"could not place control spans of {lengths} tokens together without overlap "
            f"in {max_attempts} attempts; the sequence has {int(free.sum())} free tokens"
        )
    windows = np.concatenate([placed[:, [i]] + np.arange(length) for i, length in enumerate(lengths)], axis=1)
    return list(np.sort(windows, axis=1))


def _place_windows(
    placed: np.ndarray, rows: np.ndarray, lengths: Sequence[int], free: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Place the windows of the draws `rows` of `placed: [draws, spans]`, span by span, each
    start uniform among the starts still free in its draw (all draws at once: a random key per
    valid start, the largest wins). Returns which of `rows` ran out of room."""
    still_free = np.repeat(free[None, :], rows.size, axis=0)
    stuck = np.zeros(rows.size, dtype=bool)
    for index, length in enumerate(lengths):
        filled = np.concatenate([np.zeros((rows.size, 1), dtype=np.int64), np.cumsum(still_free, axis=1)], axis=1)
        fits = (filled[:, length:] - filled[:, :-length]) == length
        keys = np.where(fits, rng.random(fits.shape), -1.0)
        starts = keys.argmax(axis=1)
        stuck |= ~fits.any(axis=1)
        placed[rows, index] = starts
        covered = (np.arange(free.size)[None, :] >= starts[:, None]) & (np.arange(free.size)[None, :] < starts[:, None] + length)
        still_free &= ~covered
    return stuck


@dataclass(frozen=True)
class ControlComparison:
    """Where the concept's statistic falls among the same statistic for control spans.

    Question answered: did training move attention to this concept more (or less) than to random
    spans of the same lengths in the same text? `controls: [n_controls]`; `spans[j]` the token
    positions of control j. Both numbers come from the same counts: `percentile` is the percentage
    of controls ≤ `observed`; `p_value` is the two-sided Monte Carlo p-value
    `min(1, 2 · min((1 + #{c ≥ obs}) / (N + 1), (1 + #{c ≤ obs}) / (N + 1)))`, the add-one
    form that never reports 0 for a finite number of controls (Phipson & Smyth 2010). No
    interval is reported beside them.
    """

    observed: float
    controls: np.ndarray
    percentile: float
    p_value: float
    spans: tuple[np.ndarray, ...] = ()


def draw_control_spans(
    concept_mask: np.ndarray,
    excluded_mask: np.ndarray,
    concept_runs: Sequence[np.ndarray],
    n_controls: int = 200,
    seed: int = 0,
) -> tuple[np.ndarray, ...]:
    """Token positions of `n_controls` control spans of one sequence (`sample_control_spans`).

    Windows are contiguous among the counted keys: excluded tokens (BOS, punctuation under the
    paper's list) between them are skipped, since the share never sees them. Without that, a
    comma every few words leaves no room for a control as long as a long concept span.
    """
    kept = ~np.asarray(excluded_mask)
    counted = np.flatnonzero(kept)
    position_in_counted = np.full(kept.size, -1)
    position_in_counted[counted] = np.arange(counted.size)
    runs = [position_in_counted[np.asarray(run, dtype=int)] for run in concept_runs]
    draws = sample_control_spans(runs, np.asarray(concept_mask)[counted], n_controls, seed)
    return tuple(counted[indices] for indices in draws)


def compare_with_controls(
    reference_colsums: np.ndarray,
    other_colsums: np.ndarray,
    concept_mask: np.ndarray,
    excluded_mask: np.ndarray,
    concept_runs: Sequence[np.ndarray],
    n_controls: int = 200,
    seed: int = 0,
    statistic: str = "mean",
    spans: Sequence[np.ndarray] | None = None,
) -> ControlComparison:
    """Compare the concept's shift statistic with that of random control spans (docs/design.md §5.7).

    `reference_colsums, other_colsums: [layers, heads, keys]` for the same sequence; masks
    `[keys]` bool; `concept_runs` as in `sample_control_spans`. The observed value is
    `statistic` (a `ShiftStatistics` field) of the shift of the concept share; each control
    swaps the concept for one draw of control spans and computes the same statistic. `spans`
    (token positions of each control, from `draw_control_spans`) lets several stages share
    one draw; by default they are drawn here.
    """
    if statistic not in STATISTIC_NAMES:
        raise InterpError(
            f"statistic must be one of {', '.join(STATISTIC_NAMES)}; got {statistic!r}"
        )
    shape_name = "[layers, heads, keys]"
    reference_colsums = _check_ndim("reference_colsums", reference_colsums, 3, shape_name)
    other_colsums = _check_ndim("other_colsums", other_colsums, 3, shape_name)
    if reference_colsums.shape != other_colsums.shape:
        raise InterpError(
            f"reference colsums have shape {reference_colsums.shape} but the other stage's have "
            f"shape {other_colsums.shape}; both must come from the same sequence and model shape"
        )
    observed_shift = compute_shift(
        compute_share(other_colsums, concept_mask, excluded_mask),
        compute_share(reference_colsums, concept_mask, excluded_mask),
    )
    observed = getattr(compute_shift_statistics(observed_shift), statistic)
    kept = ~np.asarray(excluded_mask)
    if spans is None:
        spans = draw_control_spans(concept_mask, excluded_mask, concept_runs, n_controls, seed)
    n_controls = len(spans)
    indicator = np.zeros((kept.size, n_controls))
    for j, positions in enumerate(spans):
        indicator[positions, j] = 1.0
    control_shift = _control_shares(other_colsums, indicator, kept) - _control_shares(
        reference_colsums, indicator, kept
    )
    controls = _statistic_per_control(control_shift, statistic)
    n_at_or_above = int((controls >= observed).sum())
    n_at_or_below = int((controls <= observed).sum())
    p_value = min(1.0, 2 * min(n_at_or_above + 1, n_at_or_below + 1) / (n_controls + 1))
    return ControlComparison(
        observed=float(observed),
        controls=controls,
        percentile=100.0 * n_at_or_below / n_controls,
        p_value=p_value,
        spans=spans,
    )


def _statistic_per_control(control_shift: np.ndarray, statistic: str) -> np.ndarray:
    """`statistic` of each control's head shifts, `control_shift: [layers, heads, controls]` ->
    `[controls]`. The moments are computed for all controls at once (the same formulas as
    `compute_shift_statistics`); entropy, binned per control, is the one that loops."""
    values = control_shift.reshape(-1, control_shift.shape[-1])
    if statistic == "mean":
        return values.mean(axis=0)
    if statistic == "median":
        return np.median(values, axis=0)
    if statistic == "frac_positive":
        return (values > 0).mean(axis=0)
    if statistic == "entropy":
        return np.array([compute_entropy(values[:, j]) for j in range(values.shape[1])])
    deviations = values - values.mean(axis=0)
    m2 = np.mean(deviations**2, axis=0)
    order = 3 if statistic == "skewness" else 4
    with np.errstate(divide="ignore", invalid="ignore"):
        moment = np.mean(deviations**order, axis=0) / m2 ** (order / 2)
    return np.where(np.ptp(values, axis=0) == 0, np.nan, moment)


def _control_shares(colsums: np.ndarray, indicator: np.ndarray, kept: np.ndarray) -> np.ndarray:
    """Shares of every control at once: `colsums: [layers, heads, keys]` @ `indicator:
    [keys, controls]` over the unexcluded total -> `[layers, heads, controls]`."""
    layers, heads, n_keys = colsums.shape
    denominator = colsums[:, :, kept].sum(axis=2, dtype=np.float64)[:, :, None]
    # One 2-D product: a stacked 3-D matmul is tens of times slower with OpenBLAS.
    flat = colsums.reshape(layers * heads, n_keys).astype(np.float64) @ indicator
    with np.errstate(divide="ignore", invalid="ignore"):
        return flat.reshape(layers, heads, -1) / denominator


def load_share_matrix(path: str | PathLike[str]) -> np.ndarray:
    """Read a `[layers, heads]` share matrix from a .npy file, refusing pickled data.

    Every problem (missing file, not .npy, object array, wrong shape or dtype, non-finite
    values) raises `InterpError` with one line naming the file.
    """
    try:
        with open(path, "rb") as handle:
            magic = handle.read(len(NPY_MAGIC))
    except OSError as error:
        raise InterpError(f"{path}: cannot be read ({error.strerror or error})") from error
    if magic != NPY_MAGIC:
        raise InterpError(f"{path}: not a .npy file (it lacks the NumPy header)")
    try:
        matrix = np.load(path, allow_pickle=False)
    except ValueError as error:
        if "allow_pickle" in str(error):
            raise InterpError(
                f"{path}: holds an object (pickled) array, which is refused"
            ) from error
        raise InterpError(f"{path}: not a readable .npy file ({error})") from error
    except OSError as error:
        raise InterpError(f"{path}: not a readable .npy file ({error})") from error
    if matrix.ndim != 2:
        raise InterpError(
            f"{path}: must hold a 2-D [layers, heads] matrix, got shape {matrix.shape}"
        )
    if not np.issubdtype(matrix.dtype, np.floating):
        raise InterpError(f"{path}: must hold floating-point shares, got dtype {matrix.dtype}")
    if not np.isfinite(matrix).all():
        raise InterpError(f"{path}: has {int((~np.isfinite(matrix)).sum())} non-finite values")
    return matrix.astype(np.float64)
