"""Statistics across sequences: worked by hand, and against scipy and a naive implementation."""

import numpy as np
import pytest
import scipy.stats

from interp.analysis.across_sequences import (
    benjamini_hochberg,
    head_sign_consistency,
    hierarchical_bootstrap,
    layer_band,
    paired_contrast,
    sequence_bootstrap,
)
from interp.analysis.bootstrap import mean_with_interval
from interp.core.errors import InterpError


def naive_hierarchical(values, n_resamples, seed):
    """The textbook two-level bootstrap, loop by loop: sequences, then heads within each."""
    rng = np.random.default_rng(seed)
    replicates = []
    for _ in range(n_resamples):
        means = []
        for s in rng.integers(0, len(values), len(values)):
            heads = values[s].ravel()
            means.append(heads[rng.integers(0, heads.size, heads.size)].mean())
        replicates.append(np.mean(means))
    return np.quantile(replicates, [0.025, 0.975])


def test_hierarchical_bootstrap_agrees_with_the_naive_two_level_bootstrap():
    rng = np.random.default_rng(1)
    shifts = rng.normal(0.01, 0.02, size=(12, 4, 8)) + rng.normal(0, 0.01, size=(12, 1, 1))
    interval = hierarchical_bootstrap(shifts, n_resamples=4000, seed=2)
    assert interval.estimate == pytest.approx(shifts.reshape(12, -1).mean(axis=1).mean())
    low, high = naive_hierarchical(shifts, 4000, seed=3)
    width = high - low
    assert interval.low == pytest.approx(low, abs=0.08 * width) and interval.high == pytest.approx(high, abs=0.08 * width)
    assert interval == hierarchical_bootstrap(shifts, n_resamples=4000, seed=2), "seeded: the same interval again"


def test_without_spread_within_sequences_it_is_the_sequence_bootstrap():
    means = np.array([0.1, 0.3, -0.2, 0.05, 0.4, 0.0, 0.2])
    shifts = np.repeat(means[:, None, None], 6, axis=2)
    interval = hierarchical_bootstrap(shifts, n_resamples=5000, seed=0)
    reference = scipy.stats.bootstrap((means,), np.mean, method="percentile", n_resamples=5000,
                                      rng=np.random.default_rng(0)).confidence_interval
    assert interval.low == pytest.approx(reference.low, abs=0.03) and interval.high == pytest.approx(reference.high, abs=0.03)
    single = sequence_bootstrap(means, n_resamples=5000, seed=1)
    assert single.low == pytest.approx(reference.low, abs=0.03) and single.estimate == pytest.approx(means.mean())


def test_benjamini_hochberg_by_hand_and_with_nan():
    q = benjamini_hochberg([0.01, 0.04, 0.03, 0.5, np.nan])
    np.testing.assert_allclose(q[:4], [0.04, 0.16 / 3, 0.16 / 3, 0.5])
    assert np.isnan(q[4])


def test_sign_consistency_by_hand():
    shifts = np.zeros((10, 1, 3))
    shifts[:, 0, 0] = 0.1                   # up in all ten sequences
    shifts[:, 0, 1] = [0.1, -0.1] * 5       # no direction
    shifts[:7, 0, 2], shifts[7:, 0, 2] = 0.1, -0.1
    consistency = head_sign_consistency(shifts)
    np.testing.assert_allclose(consistency.fraction_up[0], [1.0, 0.5, 0.7])
    np.testing.assert_allclose(consistency.fraction_down[0], [0.0, 0.5, 0.3])
    expected = [scipy.stats.binomtest(k, 10).pvalue for k in (10, 5, 7)]
    np.testing.assert_allclose(consistency.p_value[0], expected)
    assert consistency.p_value[0, 0] == pytest.approx(2 * 0.5**10)
    np.testing.assert_allclose(consistency.q_value.ravel(), scipy.stats.false_discovery_control(expected))
    assert consistency.significant[0].tolist() == [True, False, False] and consistency.n_sequences == 10
    assert consistency.rising[0].tolist() == [True, False, False] and not consistency.falling.any()


def test_direction_counts_the_sequences_that_moved():
    """Twelve sequences, six unmoved: five up and one down is a rise, though fewer than half rose."""
    shifts = np.zeros((12, 1, 1))
    shifts[:5, 0, 0], shifts[5, 0, 0] = 0.1, -0.1
    consistency = head_sign_consistency(shifts, alpha=0.3)
    assert consistency.p_value[0, 0] == pytest.approx(scipy.stats.binomtest(5, 6).pvalue)
    assert consistency.fraction_up[0, 0] < 0.5 and consistency.significant[0, 0] and consistency.rising[0, 0]


def test_paired_contrast_is_the_mean_of_the_differences_with_interval_and_p_from_one_bootstrap():
    concept = np.array([0.3, 0.25, 0.4, 0.1, 0.35, 0.2, 0.3, 0.45])
    controls = np.array([0.1, 0.12, 0.05, 0.11, 0.09, 0.1, 0.2, 0.15])
    contrast = paired_contrast(concept, controls)
    assert contrast.interval == mean_with_interval(concept - controls, seed=0)
    assert contrast.interval.estimate == pytest.approx((concept - controls).mean())
    assert contrast.interval.low > 0 and contrast.p_value < 0.05 and contrast.n_sequences == 8
    single = paired_contrast([0.2], [0.1])
    assert np.isnan(single.p_value) and np.isnan(single.interval.low)


def test_on_skewed_differences_the_contrast_no_longer_mixes_a_mean_interval_with_a_median_test():
    """The case the Wilcoxon p-value got wrong: half the sequences a little below zero, a third
    barely above, a sixth far above. The mean is positive and its interval clear of zero; the
    signed-rank test (of the Walsh averages' median) said p ≈ 0.27. Interval and p now come from
    the same replicates and agree."""
    rng = np.random.default_rng(11)
    differences = np.concatenate([rng.uniform(0.0005, 0.0015, 20), -rng.uniform(0.008, 0.012, 30),
                                  rng.uniform(0.08, 0.12, 10)])
    contrast = paired_contrast(differences, np.zeros_like(differences), seed=3)
    assert contrast.interval.low > 0 and contrast.p_value < 0.05
    assert scipy.stats.wilcoxon(differences).pvalue > 0.05, "the old test disagreed with the interval"


def test_hierarchical_p_agrees_with_its_interval():
    rng = np.random.default_rng(2)
    for centre in (-0.02, -0.004, 0.0, 0.004, 0.02):
        shifts = rng.normal(centre, 0.02, size=(9, 3, 4)) + rng.normal(0, 0.01, size=(9, 1, 1))
        interval = hierarchical_bootstrap(shifts, seed=4)
        assert interval.excludes_zero == (interval.p_value < 0.05)


def test_layer_band_holds_the_layer_means():
    rng = np.random.default_rng(4)
    shifts = rng.normal(size=(20, 3, 5))
    band = layer_band(shifts)
    np.testing.assert_allclose(band.mean, shifts.mean(axis=2).mean(axis=0))
    assert (band.low <= band.mean).all() and (band.mean <= band.high).all()


def test_bad_input_is_one_line():
    with pytest.raises(InterpError, match="non-finite"):
        hierarchical_bootstrap(np.array([[[np.nan, 0.1]]]))
    with pytest.raises(InterpError, match="at least one sequence"):
        hierarchical_bootstrap(np.zeros((0, 2, 2)))
    with pytest.raises(InterpError, match=r"\[sequences, layers, heads\]"):
        head_sign_consistency(np.zeros((3, 4)))
