"""The intervention registry and what the command line names."""

import pytest

from interp.causal.heads import Head, single
from interp.causal.interventions import INTERVENTIONS, Trial, parse_interventions
from interp.core.errors import InterpError


def test_registry_order_and_what_each_needs():
    assert list(INTERVENTIONS) == ["patch", "pattern", "mean"]
    assert INTERVENTIONS["patch"].needs_source and not INTERVENTIONS["mean"].needs_source
    assert INTERVENTIONS["pattern"].needs_patterns and INTERVENTIONS["mean"].needs_mean


def test_names_are_parsed_in_registry_order_and_unknown_ones_refused():
    assert parse_interventions("mean, patch") == ("patch", "mean")
    with pytest.raises(InterpError, match="intervention 'zero' is unknown; interventions: patch, pattern, mean"):
        parse_interventions("patch,zero")
    with pytest.raises(InterpError, match="name at least one"):
        parse_interventions(" , ")


def test_a_trial_names_its_intervention_and_heads():
    trial = Trial("mean", single(Head(3, 1)))
    assert trial.heads.name == "3.1" and trial.heads.kind == "single" and trial.intervention == "mean"
