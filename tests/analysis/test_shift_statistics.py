"""Shares, shifts and statistics against hand-worked matrices and scipy (docs/design.md §5)."""

import ast
import math
from pathlib import Path

import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
import scipy.stats
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from interp.analysis.shift_statistics import (
    ControlComparison,
    ShiftStatistics,
    compare_with_controls,
    compute_bootstrap_ci,
    compute_column_sums,
    compute_entropy,
    compute_first_token_share,
    compute_layer_profile,
    compute_share,
    compute_share_from_patterns,
    compute_shift,
    compute_shift_statistics,
    load_share_matrix,
    sample_control_spans,
)
from interp.core.errors import InterpError

REPO = Path(__file__).resolve().parents[2]

# One layer, two heads, three tokens (key 0 is BOS). Rows are queries, columns keys.
# Head 0 column sums: [1.7, 0.8, 0.5]; head 1: [1.0, 1.3, 0.7].
PATTERNS = np.array(
    [
        [
            [[1.0, 0.0, 0.0], [0.5, 0.5, 0.0], [0.2, 0.3, 0.5]],
            [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.3, 0.7]],
        ]
    ]
)
BOS_ONLY = np.array([True, False, False])
LAST_KEY = np.array([False, False, True])


def mask(n: int, positions) -> np.ndarray:
    out = np.zeros(n, dtype=bool)
    out[list(positions)] = True
    return out


def test_column_sums_by_hand():
    colsums = compute_column_sums(PATTERNS)
    assert colsums.shape == (1, 2, 3)
    assert colsums.dtype == np.float64
    np.testing.assert_allclose(colsums, [[[1.7, 0.8, 0.5], [1.0, 1.3, 0.7]]])


def test_first_token_share_by_hand():
    """Head 0 puts 1.7 of its 3 rows' attention on key 0, head 1 puts 1.0."""
    first = compute_first_token_share(compute_column_sums(PATTERNS))
    np.testing.assert_allclose(first, [[1.7 / 3, 1.0 / 3]])
    with pytest.raises(InterpError, match="no keys"):
        compute_first_token_share(np.zeros((1, 2, 0)))
    with pytest.raises(InterpError, match="layers, heads, keys"):
        compute_first_token_share(np.zeros((2, 3)))


def test_share_by_hand():
    # Head 0: 0.5 / (0.8 + 0.5); head 1: 0.7 / (1.3 + 0.7).
    expected = [[0.5 / 1.3, 0.7 / 2.0]]
    colsums = compute_column_sums(PATTERNS)
    np.testing.assert_allclose(compute_share(colsums, LAST_KEY, BOS_ONLY), expected)
    np.testing.assert_allclose(compute_share_from_patterns(PATTERNS, LAST_KEY, BOS_ONLY), expected)


def test_excluded_keys_leave_the_concept_and_the_denominator():
    # A concept that also covers BOS counts only its unexcluded key: same shares as above.
    concept = np.array([True, False, True])
    colsums = compute_column_sums(PATTERNS)
    np.testing.assert_allclose(compute_share(colsums, concept, BOS_ONLY), [[0.5 / 1.3, 0.7 / 2.0]])
    # Nothing excluded: head 0 is 0.5 / 3 (each query row sums to 1, three rows).
    nothing = np.zeros(3, dtype=bool)
    np.testing.assert_allclose(compute_share(colsums, LAST_KEY, nothing), [[0.5 / 3, 0.7 / 3]])


def test_share_refuses_empty_concept_and_all_excluded():
    colsums = compute_column_sums(PATTERNS)
    with pytest.raises(InterpError, match="no tokens left"):
        compute_share(colsums, BOS_ONLY, BOS_ONLY)
    with pytest.raises(InterpError, match="no tokens left"):
        compute_share_from_patterns(PATTERNS, np.zeros(3, dtype=bool), BOS_ONLY)
    with pytest.raises(InterpError, match="every key is excluded"):
        compute_share(colsums, LAST_KEY, np.ones(3, dtype=bool))


def test_share_refuses_bad_shapes_and_dtypes():
    colsums = compute_column_sums(PATTERNS)
    with pytest.raises(InterpError, match=r"concept_mask must be a boolean array of shape \(3,\)"):
        compute_share(colsums, np.array([2]), BOS_ONLY)
    with pytest.raises(InterpError, match=r"excluded_mask .* shape \(3,\)"):
        compute_share(colsums, LAST_KEY, np.array([True, False]))
    with pytest.raises(InterpError, match=r"colsums must have shape \[layers, heads, keys\]"):
        compute_share(colsums[0], LAST_KEY, BOS_ONLY)
    with pytest.raises(InterpError, match="patterns must have shape"):
        compute_column_sums(PATTERNS[0])


@st.composite
def causal_patterns_and_masks(draw):
    layers, heads, n = draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(2, 9))
    logits = draw(hnp.arrays(np.float64, (layers, heads, n, n), elements=st.floats(-8, 8)))
    logits = np.where(np.tril(np.ones((n, n), dtype=bool)), logits, -np.inf)
    weights = np.exp(logits - logits.max(axis=-1, keepdims=True))
    patterns = weights / weights.sum(axis=-1, keepdims=True)
    concept = draw(hnp.arrays(np.bool_, n))
    excluded = draw(hnp.arrays(np.bool_, n))
    return patterns, concept, excluded


@settings(max_examples=200, deadline=None)
@given(causal_patterns_and_masks())
def test_share_from_patterns_equals_share_from_column_sums(case):
    patterns, concept, excluded = case
    assume((concept & ~excluded).any())
    assert np.allclose(np.triu(patterns, k=1), 0)
    assert np.allclose(patterns.sum(axis=-1), 1)
    direct = compute_share_from_patterns(patterns, concept, excluded)
    via_colsums = compute_share(compute_column_sums(patterns), concept, excluded)
    np.testing.assert_allclose(direct, via_colsums, rtol=1e-12, atol=1e-15)
    assert ((direct >= 0) & (direct <= 1 + 1e-12)).all()


def test_shift_and_its_shape_check():
    shift = compute_shift(np.array([[0.5, 0.2]]), np.array([[0.25, 0.4]]))
    np.testing.assert_allclose(shift, [[0.25, -0.2]])
    message = r"shape \(1, 2\) but the reference share has shape \(2, 1\)"
    with pytest.raises(InterpError, match=message):
        compute_shift(np.zeros((1, 2)), np.zeros((2, 1)))


# x = [0, 0, 0, 1, 4]: mean 1, deviations (-1, -1, -1, 0, 3),
# m2 = 12/5, m3 = 24/5, m4 = 84/5 -> skewness = 4.8 / 2.4**1.5 = 2 / sqrt(2.4),
# kurtosis = 16.8 / 5.76 = 35/12.
# Entropy: edges k * 4/11; 0,0,0 in bin 1, 1 in bin 3 (8/11, 12/11], 4 in bin 11 -> counts 3, 1, 1,
# H = -(0.6 ln 0.6 + 2 * 0.2 ln 0.2).
HAND_SHIFT = np.array([[0.0, 0.0, 0.0, 1.0, 4.0]])


def test_shift_statistics_by_hand():
    stats = compute_shift_statistics(HAND_SHIFT)
    assert stats.mean == pytest.approx(1.0)
    assert stats.median == 0.0
    assert stats.frac_positive == pytest.approx(0.4)
    assert stats.skewness == pytest.approx(2 / math.sqrt(2.4), rel=1e-12)
    assert stats.kurtosis == pytest.approx(35 / 12, rel=1e-12)
    assert stats.entropy == pytest.approx(-(0.6 * math.log(0.6) + 0.4 * math.log(0.2)), rel=1e-12)
    assert stats.as_dict() == {
        "mean": stats.mean,
        "median": 0.0,
        "frac_positive": stats.frac_positive,
        "skewness": stats.skewness,
        "kurtosis": stats.kurtosis,
        "entropy": stats.entropy,
    }


def test_frac_positive_counts_strictly_positive_values():
    assert compute_shift_statistics(np.array([[-1.0, 0.0], [0.0, 2.0]])).frac_positive == 0.25


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_skewness_and_kurtosis_match_scipy(seed):
    shift = np.random.default_rng(seed).gamma(2.0, 0.01, size=(32, 32)) - 0.015
    stats = compute_shift_statistics(shift)
    assert stats.skewness == pytest.approx(scipy.stats.skew(shift.ravel(), bias=True), rel=1e-10)
    kurtosis = scipy.stats.kurtosis(shift.ravel(), fisher=False, bias=True)
    assert stats.kurtosis == pytest.approx(kurtosis, rel=1e-10)
    assert stats.median == pytest.approx(np.median(shift))


def test_constant_shift_has_nan_moments_and_zero_entropy():
    stats = compute_shift_statistics(np.full((4, 4), 0.1))
    assert math.isnan(stats.skewness) and math.isnan(stats.kurtosis)
    assert stats.entropy == 0.0
    assert stats.mean == pytest.approx(0.1)
    assert compute_entropy(np.array([3.0])) == 0.0


def test_entropy_bins_are_right_closed_and_the_first_includes_the_minimum():
    # Edges are exactly 0, 1, ..., 11. Right-closed: 0 and 1 share bin [0, 1]; 2 is in (1, 2].
    # np.histogram (left-closed) would put 0, 1, 2, 11 in four different bins (entropy ln 4).
    assert compute_entropy(np.array([0.0, 1.0, 2.0, 11.0])) == pytest.approx(
        -(0.5 * math.log(0.5) + 2 * 0.25 * math.log(0.25))
    )
    # The minimum alone in bin 1, the maximum in bin 11, an inner edge (10) in bin 10.
    assert compute_entropy(np.array([0.0, 10.0, 11.0])) == pytest.approx(math.log(3))
    assert compute_entropy(np.array([0.0, 0.5, 11.0])) == pytest.approx(
        -(2 / 3 * math.log(2 / 3) + 1 / 3 * math.log(1 / 3))
    )


def test_entropy_of_eleven_evenly_spread_values_is_log_eleven():
    assert compute_entropy(np.linspace(-0.3, 0.8, 11)) == pytest.approx(math.log(11))


def test_entropy_and_statistics_refuse_bad_input():
    with pytest.raises(InterpError, match="empty"):
        compute_entropy(np.array([]))
    with pytest.raises(InterpError, match="1 non-finite"):
        compute_shift_statistics(np.array([[0.1, np.nan]]))
    with pytest.raises(InterpError, match="bins must be a positive integer"):
        compute_entropy(np.array([0.0, 1.0]), bins=0)


def test_layer_profile():
    profile = compute_layer_profile(np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 9.0]]))
    np.testing.assert_allclose(profile.mean, [2.0, 3.0])
    np.testing.assert_allclose(profile.median, [2.0, 0.0])
    with pytest.raises(InterpError, match=r"\[layers, heads\]"):
        compute_layer_profile(np.zeros(3))


def test_bootstrap_ci_contains_the_mean_and_is_seeded():
    shift = np.random.default_rng(5).normal(0.02, 0.05, size=(32, 32))
    low, high = compute_bootstrap_ci(shift, seed=3)
    assert low < shift.mean() < high
    assert high - low < 0.02
    assert compute_bootstrap_ci(shift, seed=3) == (low, high)
    assert compute_bootstrap_ci(shift, seed=4) != (low, high)
    narrow_low, narrow_high = compute_bootstrap_ci(shift, confidence=0.5, seed=3)
    assert low < narrow_low < narrow_high < high


def test_bootstrap_ci_of_a_constant_and_bad_confidence():
    assert compute_bootstrap_ci(np.full((2, 2), 0.3)) == (0.3, 0.3)
    with pytest.raises(InterpError, match="confidence"):
        compute_bootstrap_ci(np.zeros((2, 2)), confidence=95)


def runs_of(indices: np.ndarray) -> list[int]:
    """Lengths of the maximal runs of consecutive indices."""
    breaks = np.flatnonzero(np.diff(indices) != 1)
    return np.diff(np.concatenate(([0], breaks + 1, [indices.size]))).tolist()


def test_control_spans_avoid_blocked_keys_and_keep_lengths():
    n = 40
    runs = [np.arange(5, 9), np.arange(20, 23)]
    blocked = mask(n, [0, 12, 30, *range(5, 9), *range(20, 23)])
    draws = sample_control_spans(runs, blocked, n_controls=300, seed=7)
    assert len(draws) == 300
    for draw in draws:
        assert draw.size == 7
        assert np.all(np.diff(draw) > 0)
        assert not blocked[draw].any()
        assert sorted(runs_of(draw)) in ([3, 4], [7])
    assert len({tuple(draw) for draw in draws}) > 100
    again = sample_control_spans(runs, blocked, n_controls=300, seed=7)
    assert all(np.array_equal(a, b) for a, b in zip(draws, again))
    other_seed = sample_control_spans(runs, blocked, n_controls=300, seed=8)
    assert not all(np.array_equal(a, b) for a, b in zip(draws, other_seed))


def test_a_single_control_span_is_contiguous_and_reaches_every_free_start():
    # Keys 0 (BOS) and 9 (concept) are blocked: a 1-token window can sit at 1..8.
    draws = sample_control_spans([np.array([9])], mask(10, [0, 9]), n_controls=400, seed=1)
    assert {int(d[0]) for d in draws} == set(range(1, 9))
    # Keys 0, 8 and 9 blocked: a 2-token window can start at 1..6.
    blocked = mask(10, [0, 8, 9])
    draws = sample_control_spans([np.array([8, 9])], blocked, n_controls=400, seed=1)
    for draw in draws:
        assert runs_of(draw) == [2]
    assert {int(d[0]) for d in draws} == set(range(1, 7))


def test_control_spans_without_room_are_refused():
    blocked = mask(10, [0, 1, 2, 3, 4, 5, 8, 9])
    with pytest.raises(InterpError, match="no room for a control span of 3 tokens"):
        sample_control_spans([np.array([1, 2, 3])], blocked, n_controls=5, seed=0)
    # Each 2-token span fits alone in the 3 free keys 6..8, but the two do not fit together.
    blocked = mask(9, range(6))
    with pytest.raises(InterpError, match="could not place control spans of"):
        sample_control_spans([np.array([1, 2]), np.array([3, 4])], blocked, n_controls=5, seed=0)


def test_control_spans_refuse_inconsistent_input():
    with pytest.raises(InterpError, match="marked in blocked_mask"):
        sample_control_spans([np.array([3])], mask(10, [0]), n_controls=5, seed=0)
    with pytest.raises(InterpError, match="no concept tokens"):
        sample_control_spans([np.array([], dtype=int)], mask(10, [0]), n_controls=5, seed=0)
    with pytest.raises(InterpError, match="1-D boolean"):
        sample_control_spans([np.array([3])], np.zeros(10), n_controls=5, seed=0)


def standout_case():
    """Colsums whose other stage gains attention only at the concept keys 5..7."""
    n = 30
    reference = np.random.default_rng(0).uniform(0.5, 1.5, size=(2, 3, n))
    other = reference.copy()
    other[:, :, 5:8] *= 3.0
    concept, excluded = mask(n, range(5, 8)), mask(n, [0, 15])
    return reference, other, concept, excluded, [np.arange(5, 8)]


def test_a_concept_that_stands_out_is_above_every_control():
    reference, other, concept, excluded, runs = standout_case()
    result = compare_with_controls(reference, other, concept, excluded, runs, n_controls=200)
    assert isinstance(result, ControlComparison)
    expected_shift = compute_shift(
        compute_share(other, concept, excluded), compute_share(reference, concept, excluded)
    )
    assert result.observed == pytest.approx(expected_shift.mean())
    assert result.observed > 0
    assert result.controls.shape == (200,)
    assert (result.controls < 0).all()
    assert result.percentile == 100.0
    assert result.p_value == pytest.approx(2 / 201)


@pytest.mark.parametrize("statistic", ["mean", "median", "frac_positive", "skewness", "kurtosis", "entropy"])
def test_control_statistics_match_shift_statistics_of_the_control_spans(statistic):
    """The vectorised statistic of every control equals `compute_shift_statistics` of its spans."""
    reference, other, concept, excluded, runs = standout_case()
    result = compare_with_controls(
        reference, other, concept, excluded, runs, n_controls=20, seed=4, statistic=statistic
    )
    assert len(result.spans) == 20
    for value, indices in zip(result.controls, result.spans):
        assert indices.size == 3 and not (concept | excluded)[indices].any()
        control = mask(concept.size, indices)
        shift = compute_shift(
            compute_share(other, control, excluded), compute_share(reference, control, excluded)
        )
        assert value == pytest.approx(getattr(compute_shift_statistics(shift), statistic), rel=1e-9)


def test_control_windows_skip_excluded_tokens_between_them():
    """With a comma every third token, no 4 consecutive keys are free, yet controls of 4 exist."""
    n = 30
    excluded = mask(n, [0, *range(3, n, 3)])
    concept = mask(n, [16, 17, 19, 20])
    reference = np.random.default_rng(1).uniform(0.5, 1.5, size=(2, 2, n))
    result = compare_with_controls(reference, reference * 1.1, concept, excluded, [np.array([16, 17, 19, 20])],
                                   n_controls=25, seed=2)
    counted = np.flatnonzero(~excluded)
    for positions in result.spans:
        assert positions.size == 4 and not (concept | excluded)[positions].any()
        places = np.searchsorted(counted, positions)
        assert (np.diff(places) == 1).all(), "contiguous among the counted keys"
    assert len({tuple(p) for p in result.spans}) > 1
    with pytest.raises(InterpError, match="no room"):
        sample_control_spans([np.array([16, 17, 19, 20])], concept | excluded, n_controls=5, seed=2)


def test_no_change_gives_percentile_100_and_p_value_1():
    reference, _, concept, excluded, runs = standout_case()
    result = compare_with_controls(reference, reference, concept, excluded, runs, n_controls=50)
    assert result.observed == 0.0
    assert result.percentile == 100.0
    assert result.p_value == 1.0


def test_compare_with_controls_refuses_bad_input():
    reference, other, concept, excluded, runs = standout_case()
    with pytest.raises(InterpError, match="statistic must be one of mean, median"):
        compare_with_controls(reference, other, concept, excluded, runs, statistic="variance")
    with pytest.raises(InterpError, match="same sequence"):
        compare_with_controls(reference, other[:, :, :-1], concept, excluded, runs)


def test_every_statistic_field_can_be_compared():
    reference, other, concept, excluded, runs = standout_case()
    for name in ShiftStatistics.__dataclass_fields__:
        result = compare_with_controls(
            reference, other, concept, excluded, runs, n_controls=10, statistic=name
        )
        assert result.controls.shape == (10,)
        assert 0 <= result.percentile <= 100 and 0 < result.p_value <= 1


def test_load_share_matrix_reads_a_float_matrix(tmp_path):
    path = tmp_path / "shares.npy"
    np.save(path, np.full((4, 2), 0.25, dtype=np.float32))
    loaded = load_share_matrix(path)
    assert loaded.dtype == np.float64 and loaded.shape == (4, 2)


def test_load_share_matrix_refuses_bad_files(tmp_path):
    pickled = tmp_path / "pickled.npy"
    np.save(pickled, np.array([{"share": 1}, None], dtype=object), allow_pickle=True)
    cube = tmp_path / "cube.npy"
    np.save(cube, np.zeros((2, 2, 2)))
    text = tmp_path / "text.npy"
    text.write_text("0.1 0.2\n0.3 0.4\n")
    ints = tmp_path / "ints.npy"
    np.save(ints, np.zeros((2, 2), dtype=np.int64))
    nan = tmp_path / "nan.npy"
    np.save(nan, np.array([[0.1, np.nan]]))
    cases = [
        (tmp_path / "missing.npy", "cannot be read"),
        (pickled, "object .pickled. array"),
        (cube, r"2-D \[layers, heads\] matrix, got shape \(2, 2, 2\)"),
        (text, "not a .npy file"),
        (ints, "floating-point"),
        (nan, "1 non-finite"),
    ]
    for path, message in cases:
        with pytest.raises(InterpError, match=message) as caught:
            load_share_matrix(path)
        assert str(caught.value).startswith(f"{path}: ")
        assert "\n" not in str(caught.value)


def test_statistics_imports_only_numpy_scipy_and_the_project():
    tree = ast.parse((REPO / "interp" / "analysis" / "shift_statistics.py").read_text())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add(node.module.split(".")[0])
    allowed = {"__future__", "collections", "dataclasses", "os", "numpy", "scipy", "interp"}
    assert imported and imported <= allowed
