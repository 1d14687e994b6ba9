"""The sample-size planner: against the analytic power of a mean's interval, through the report's own procedure."""

import numpy as np
import pytest
from scipy.stats import norm

from interp.analysis import planning
from interp.analysis.across_sequences import paired_contrast
from interp.analysis.planning import ContrastPower, bootstrap_intervals, contrast_interval, power_curve
from interp.core.errors import InterpError

Z = norm.ppf(0.975)


def normal_pilot(mean: float, sd: float, size: int = 4000, seed: int = 1) -> np.ndarray:
    """`size` differences whose mean and spread are exactly `mean` and `sd`, shaped like a normal."""
    x = np.random.default_rng(seed).normal(size=size)
    return mean + sd * (x - x.mean()) / x.std()


def analytic_power(size: int, effect: float) -> float:
    """P(the 95% interval of a mean lies above 0) for n normal values of mean `effect` (in standard deviations)."""
    return float(norm.cdf(np.sqrt(size) * effect - Z))


def analytic_needed(effect: float, target: float = 0.8) -> float:
    return ((Z + norm.ppf(target)) / effect) ** 2


def test_the_fast_bootstrap_is_the_reports_interval():
    samples = np.random.default_rng(3).gamma(0.5, size=(4, 37)) - 0.4  # skewed, as paired differences are
    low, high = bootstrap_intervals(samples, seed=11)
    for row, lo, hi in zip(samples, low, high):
        interval = paired_contrast(row, np.zeros_like(row), seed=11).interval
        np.testing.assert_allclose([lo, hi], [interval.low, interval.high], rtol=1e-9, atol=1e-15)


def test_a_normal_difference_has_the_analytic_power():
    """Known answer: n normal differences of mean 0.5 sd; power Φ(√n·0.5 − 1.96), 80% at n = 31.4,
    and at half the effect Φ(√n·0.25 − 1.96), 80% at n = 125.6."""
    power = ContrastPower(normal_pilot(0.5, 1.0), seed=0)
    assert power.draws.shape[0] == planning.STUDIES == 500
    for size in (30, 50, 100):
        error = 3 * np.sqrt(0.25 / 500) + 0.02  # Monte Carlo (500 pseudo-studies) and the bootstrap's small-n bias
        assert power.power(size) == pytest.approx(analytic_power(size, 0.5), abs=error), size
        assert power.power(size, 0.5) == pytest.approx(analytic_power(size, 0.25), abs=error), size
    assert power.fast, "the intervals agreed with paired_contrast at every size"
    observed = power_curve(power, include=(20,))
    half = power_curve(power, scale=0.5, start=observed.needed)
    assert observed.needed == pytest.approx(analytic_needed(0.5), rel=0.15)
    assert half.needed == pytest.approx(analytic_needed(0.25), rel=0.15)
    assert 20 in observed.sizes and observed.effect == pytest.approx(0.5) and half.effect == pytest.approx(0.25)
    assert observed.at(observed.needed) >= 0.8
    assert list(observed.sizes) == sorted(observed.sizes)


def test_a_negative_effect_is_planned_on_its_side():
    power = ContrastPower(normal_pilot(-0.5, 1.0), seed=0, studies=200)
    assert power.power(60) == pytest.approx(analytic_power(60, 0.5), abs=0.1)
    assert power_curve(power).needed == pytest.approx(analytic_needed(0.5), rel=0.2)


def test_no_effect_is_never_reached():
    power = ContrastPower(normal_pilot(0.0, 1.0), seed=0, studies=100, max_size=200)
    curve = power_curve(power)
    assert curve.needed is None and max(curve.sizes) == 200 and max(curve.power) < 0.2


def test_another_procedure_is_used_one_pseudo_study_at_a_time():
    """Where the report's interval is not the one the fast path repeats, every pseudo-study goes through it."""
    calls = []

    def t_interval(values: np.ndarray, seed: int) -> tuple[float, float]:
        calls.append(seed)
        half_width = 2.0 * values.std(ddof=1) / np.sqrt(values.size)
        return values.mean() - half_width, values.mean() + half_width

    pilot = normal_pilot(0.5, 1.0, size=500)
    power = ContrastPower(pilot, seed=5, studies=60, max_size=40, interval=t_interval)
    samples = pilot[power.draws[:, :40]]
    means, widths = samples.mean(axis=1), 2.0 * samples.std(axis=1, ddof=1) / np.sqrt(40)
    assert power.power(40) == pytest.approx(np.mean(means - widths > 0))
    assert not power.fast and len(calls) == 1 + 60
    moved = samples - 0.25
    expected_half = np.mean(moved.mean(axis=1) - 2.0 * moved.std(axis=1, ddof=1) / np.sqrt(40) > 0)
    assert power.power(40, 0.5) == pytest.approx(expected_half)  # computed anew, not shifted


def test_the_seed_gives_the_same_plan_and_bad_input_is_refused():
    pilot = normal_pilot(0.4, 1.0, size=300)
    first = power_curve(ContrastPower(pilot, seed=2, studies=100))
    assert power_curve(ContrastPower(pilot, seed=2, studies=100)) == first
    with pytest.raises(InterpError, match="at least two finite numbers"):
        ContrastPower(np.array([0.1, np.nan]), seed=0)
    with pytest.raises(InterpError, match="at least two finite numbers"):
        ContrastPower(np.array([0.1]), seed=0)


def test_contrast_interval_is_paired_contrast_with_zero_controls():
    values = np.random.default_rng(0).normal(0.1, 1.0, size=25)
    interval = paired_contrast(values, np.zeros(25), seed=4).interval
    assert contrast_interval(values, 4) == (interval.low, interval.high)


# ---------------------------------------------------------------- from a run

@pytest.mark.slow
def test_plan_of_a_pilot_run(pilot_run):
    from interp.analysis.concept_types import concept_type_table
    from interp.analysis.results import Results, Selection

    results = Results(pilot_run, Selection(n_controls=20))
    plan = planning.plan_sequences(results, "Role", "ift", studies=100)
    assert plan.differences.size == 6 and plan.observed is not None and plan.half is not None
    row = planning.plan_row(results, plan)
    contrast = concept_type_table(results).set_index(["concept", "stage"]).loc[("Role", "ift")]
    assert row["contrast_mean"] == pytest.approx(contrast["contrast_mean"], rel=1e-9)  # the pilot's own contrast
    assert row["pilot_sequences"] == contrast["controlled_sequences"] == 6
    table = planning.plan_table(results, studies=50)
    assert list(table.columns) == list(planning.PLAN_COLUMNS)
    assert [tuple(r) for r in table[["concept", "stage"]].to_numpy()] == [
        ("Role", "cpt"), ("Role", "ift"), ("Condition", "cpt"), ("Condition", "ift")]
    curve = planning.curve_table(plan, "attention")
    assert set(curve["effect"]) == {"observed", "half"} and (curve["pseudo_studies"] == 100).all()
    assert list(curve.columns) == list(planning.CURVE_COLUMNS) and set(curve["concept"]) == {"Role"}
    assert set(curve["stage"]) == {"ift"} and set(curve["measure"]) == {"attention"}
    none = Results(pilot_run, Selection(n_controls=0))
    assert planning.plan_sequences(none, "Role", "ift").note.startswith("no control spans")
    with pytest.raises(InterpError, match="concept type 'Theft' is not in this run"):
        planning.plan_sequences(results, "Theft", "ift")


def test_a_pilot_too_small_says_so():
    from types import SimpleNamespace

    results = SimpleNamespace(selection=SimpleNamespace(n_controls=20))
    assert "3 sequence(s) with control spans; resampling needs at least 5" in planning.pilot_problem(
        results, np.array([0.1, 0.2, 0.3]))
    assert planning.pilot_problem(results, np.zeros(8)) == "every paired difference is zero: no effect to plan for"
    assert planning.pilot_problem(results, np.ones(8)) == ""
