"""Statistics of a causal run: one bootstrap for each interval and p-value, random-set baselines,
AtP's agreement with exact patching and the rank correlation of shift and effect."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from interp.causal.heads import Head
from interp.causal.statistics import (
    agreement,
    bootstrap_mean,
    rank_correlation,
    summarise_heads,
    summarise_sets,
    verification_plan,
)
from interp.causal.store import CausalSettings


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**31), shift=st.floats(-1.5, 1.5), n=st.integers(5, 40))
def test_the_interval_excludes_zero_exactly_when_p_is_below_the_level(seed, shift, n):
    values = np.random.default_rng(seed).lognormal(size=n) - 1.6 + shift  # skewed differences
    estimate = bootstrap_mean(values, seed=seed)
    assert estimate.excludes_zero == (estimate.p_value < 0.05)  # the project's one procedure: exactly


def test_a_mean_of_one_value_has_no_interval():
    estimate = bootstrap_mean([0.3])
    assert estimate.estimate == 0.3 and np.isnan(estimate.low) and np.isnan(estimate.p_value)
    assert np.isnan(bootstrap_mean([]).estimate)


def exact_table() -> pd.DataFrame:
    rows = []
    for sequence, scale in (("a", 1.0), ("b", 1.2), ("c", 0.8)):
        rows += [{"sequence_id": sequence, "intervention": "patch", "set": name, "kind": kind, "heads": heads,
                  "effect": effect * scale}
                 for name, kind, heads, effect in (
                     ("0.1", "single", "0.1", -0.5), ("1.2", "single", "1.2", -0.3),
                     ("concept-heads", "concept-heads", "0.1,1.2", -1.0),
                     ("random-1", "random", "0.3,1.0", 0.1), ("random-2", "random", "0.2,1.1", -0.2),
                     ("random-3", "random", "0.0,1.3", 0.05))]
    return pd.DataFrame(rows)


def test_a_chosen_set_is_placed_among_the_random_sets_and_beside_its_singles():
    sets = summarise_sets(exact_table())
    concept = sets[sets["set"] == "concept-heads"].iloc[0]
    assert concept["mean_effect"] == pytest.approx(-1.0)
    assert concept["random_percentile"] == 100.0 and concept["random_p"] == pytest.approx(1 / 4)
    assert concept["sum_of_singles"] == pytest.approx(-0.8)  # joint −1.0: the heads do more together
    assert set(sets["kind"]) == {"concept-heads", "random"}


def test_heads_agreement_and_the_plan():
    shift = np.zeros((3, 2, 4))
    shift[:, 0, 1], shift[:, 1, 2] = 0.3, -0.2
    atp = {"patch": np.zeros((3, 2, 4))}
    atp["patch"][:, 0, 1], atp["patch"][:, 1, 2], atp["patch"][:, 0, 0] = -0.45, -0.25, 0.01
    heads = summarise_heads(exact_table(), atp, shift)
    verified = heads[heads["verified"]]
    assert sorted(zip(verified["layer"], verified["head"])) == [(0, 1), (1, 2)]
    assert verified.set_index("head").loc[1, "exact"] == pytest.approx(-0.5)
    assert agreement(heads, "patch", 1).n_heads == 2
    plan = verification_plan(CausalSettings(source="a", target="b", interventions=("patch",), top=1, random_sets=3),
                             (2, 4), {"patch": atp["patch"].mean(axis=0)}, shift.mean(axis=0), None, "k", None)
    names = [record.name for record in plan.sets["patch"]]
    assert names[:1] == ["0.1"] and "concept-heads" in names and "atp-top" in names
    assert sum(record.kind == "random" for record in plan.sets["patch"]) == 3
    given = verification_plan(CausalSettings(source="a", target="b", interventions=("mean",), random_sets=0),
                              (2, 4), {}, shift.mean(axis=0), (Head(1, 3), Head(0, 0)), "k", None)
    assert [record.name for record in given.sets["mean"]] == ["1.3", "0.0", "given"]


def test_the_rank_correlation_of_shift_and_effect_with_its_interval():
    rng = np.random.default_rng(0)
    shift = rng.normal(size=(12, 4, 8))
    effect = 2 * shift + rng.normal(scale=0.05, size=shift.shape)
    estimate = rank_correlation(shift, effect, resamples=300)
    assert estimate.estimate > 0.9 and estimate.low > 0.5 and estimate.p_value < 0.01 and estimate.excludes_zero
    unrelated = rank_correlation(shift, rng.normal(size=shift.shape), resamples=300)
    assert unrelated.low < 0 < unrelated.high
