"""The one procedure for a mean: its interval and p-value agree, by hand, against scipy, and on random skewed data."""

import math

import numpy as np
import pytest
import scipy.stats
from hypothesis import given, settings
from hypothesis import strategies as st

from interp.analysis.bootstrap import (
    Interval,
    interval_rank,
    mean_replicates,
    mean_with_interval,
    percentile_interval,
)
from interp.core.errors import InterpError


def test_rank_is_the_largest_with_2r_over_b_plus_1_below_alpha():
    assert interval_rank(2000, 0.95) == 50      # 2·50/2001 = 0.04998 < 0.05 ≤ 2·51/2001
    assert interval_rank(1999, 0.95) == 49      # 2·50/2000 = 0.05 is not below 0.05
    assert interval_rank(999, 0.9) == 49
    assert interval_rank(40, 0.95) == 1         # 2/41 < 0.05
    with pytest.raises(InterpError, match="39 bootstrap resamples cannot give a 0.95 interval; use at least 40"):
        interval_rank(39, 0.95)                 # 2/40 = 0.05 is not below 0.05
    with pytest.raises(InterpError, match="strictly between 0 and 1"):
        interval_rank(2000, 95)


def test_interval_and_p_from_replicates_worked_by_hand():
    # 40 replicates at 95%: r = 1, the interval runs from the smallest to the largest.
    replicates = np.arange(-5.0, 35.0)              # 6 at or below 0 (−5 … 0), 35 at or above
    low, high, p = percentile_interval(replicates, 0.95)
    assert (low, high) == (-5.0, 34.0)
    assert p == pytest.approx(2 * (1 + 6) / 41)
    low, high, p = percentile_interval(np.arange(1.0, 41.0), 0.95)   # all 40 above 0
    assert low == 1.0 and p == pytest.approx(2 / 41) and p < 0.05


def test_percentile_interval_works_column_by_column():
    rng = np.random.default_rng(0)
    replicates = rng.normal([0.0, 3.0, -3.0], 1.0, size=(2000, 3))
    low, high, p = percentile_interval(replicates)
    for column in range(3):
        one = percentile_interval(replicates[:, column])
        assert (low[column], high[column], p[column]) == pytest.approx(one)
    assert p[0] > 0.05 and p[1] < 0.05 and p[2] < 0.05


def test_mean_with_interval_matches_scipy_percentile_bootstrap():
    rng = np.random.default_rng(1)
    values = rng.lognormal(0, 1, size=40) - 1.2
    interval = mean_with_interval(values, n_resamples=20_000, seed=2)
    reference = scipy.stats.bootstrap((values,), np.mean, method="percentile", n_resamples=20_000,
                                      rng=np.random.default_rng(3)).confidence_interval
    width = reference.high - reference.low
    assert interval.estimate == pytest.approx(values.mean(), rel=1e-12)
    assert interval.low == pytest.approx(reference.low, abs=0.05 * width)
    assert interval.high == pytest.approx(reference.high, abs=0.05 * width)
    assert interval.confidence == 0.95 and interval.resamples == 20_000


def test_p_counts_the_replicates_on_the_far_side_of_zero():
    values = np.array([-1.0, 3.0])   # replicate means −1, 1, 1, 3: a quarter at or below 0
    interval = mean_with_interval(values, n_resamples=4000, seed=0)
    replicates = mean_replicates(values, 4000, seed=0)
    assert set(np.unique(replicates)) == {-1.0, 1.0, 3.0}
    assert interval.p_value == pytest.approx(2 * (1 + (replicates <= 0).sum()) / 4001, rel=1e-12)
    assert interval.p_value == pytest.approx(0.5, abs=0.04)
    assert mean_with_interval(values, n_resamples=4000, seed=0) == interval, "seeded: the same again"


def test_constant_single_and_bad_values():
    zero = mean_with_interval(np.zeros(5))
    assert (zero.estimate, zero.low, zero.high, zero.p_value) == (0.0, 0.0, 0.0, 1.0) and not zero.excludes_zero
    one = mean_with_interval([0.3])
    assert one.estimate == 0.3 and math.isnan(one.low) and math.isnan(one.p_value)
    with pytest.raises(InterpError, match="finite"):
        mean_with_interval([0.1, np.nan])
    with pytest.raises(InterpError, match="non-empty"):
        mean_with_interval([])


def test_large_samples_are_resampled_in_blocks(monkeypatch):
    import interp.analysis.bootstrap as bootstrap

    values = np.random.default_rng(5).normal(0.2, 1.0, size=300)
    whole = mean_replicates(values, 500, seed=1)
    monkeypatch.setattr(bootstrap, "DRAWS_PER_BLOCK", 3000)     # ten replicates per block
    blocked = mean_replicates(values, 500, seed=1)
    assert blocked.shape == (500,) and np.std(blocked) == pytest.approx(np.std(whole), rel=0.15)


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(2, 60), skew=st.floats(0.2, 2.5), centre=st.floats(-1.5, 1.5), seed=st.integers(0, 2**32 - 1),
    resamples=st.sampled_from([40, 199, 999, 1999, 2000]), alpha=st.sampled_from([0.2, 0.1, 0.05]),
)
def test_the_interval_excludes_zero_exactly_when_p_is_below_one_minus_confidence(n, skew, centre, seed, resamples,
                                                                                 alpha):
    """The agreement property, on lognormal (right-skewed) data moved about zero; 1999 resamples
    put p = 0.05 exactly within reach, where the interval must not exclude zero."""
    rng = np.random.default_rng(seed)
    values = rng.lognormal(0.0, skew, size=n) - math.exp(skew**2 / 2) + centre
    interval = mean_with_interval(values, n_resamples=resamples, confidence=1 - alpha, seed=seed)
    assert interval.low <= interval.high
    assert interval.excludes_zero == (interval.p_value < alpha)
    assert 0 < interval.p_value <= 1


def test_under_the_null_p_is_below_alpha_about_alpha_of_the_time():
    """A p-value, not only a number that agrees with the interval: 400 normal samples of mean 0."""
    rng = np.random.default_rng(7)
    rejected = [mean_with_interval(rng.normal(0, 1, size=30), n_resamples=999, seed=s).p_value < 0.05 for s in range(400)]
    assert 0.02 <= np.mean(rejected) <= 0.10
    shifted = [mean_with_interval(rng.normal(0.8, 1, size=30), n_resamples=999, seed=s).p_value < 0.05 for s in range(50)]
    assert np.mean(shifted) > 0.9


def test_interval_is_a_frozen_record():
    interval = Interval(0.1, 0.05, 0.2, 0.01)
    assert interval.excludes_zero and interval.confidence == 0.95 and interval.resamples == 2000
    with pytest.raises(AttributeError):
        interval.low = 0.0
