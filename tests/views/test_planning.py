"""The Study size view: from a pilot run, the sequences a study needs, computed by the planner."""

import numpy as np
import pytest

from interp import views
from interp.analysis import planning
from interp.analysis.results import Results, Selection

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def pilot(pilot_run):
    return Results(pilot_run, Selection(n_controls=20))


def test_the_view_shows_the_plan_of_a_type_and_stage(pilot):
    view = views.get_view("plan")
    assert view.unavailable(pilot) is None and not view.per_sequence
    chosen = views.resolve_choices(view, pilot)
    assert chosen == {"concept": "Role", "stage": "ift"}
    output = view.compute(pilot, **chosen)
    plan = planning.plan_sequences(pilot, "Role", "ift")
    row = output.tables["needed"].iloc[0]
    assert row["pilot_sequences"] == 6 and row["contrast_mean"] == pytest.approx(plan.differences.mean())
    figure = output.figures["power"]
    observed = next(trace for trace in figure.data if trace.name.startswith("observed effect"))
    np.testing.assert_allclose(observed.y, plan.observed.power)
    assert list(observed.x) == list(plan.observed.sizes)
    assert "(attention)" in figure.layout.title.text and "Role, ift − base" in figure.layout.title.text
    labels = [headline.label for headline in output.headlines]
    assert labels == ["Sequences needed for 80%", "… at half the effect", "Probability with the pilot's 6"]
    assert output.notes[0].startswith("A planning aid under the pilot's distribution, not a guarantee")
    assert set(output.downloads["curve"]["effect"]) == {"observed", "half"}


def test_the_bundle_plans_every_type_for_the_last_stage(pilot):
    view = views.get_view("plan")
    assert list(views.bundle_choices(view, pilot)) == [{"concept": "Role", "stage": "ift"},
                                                       {"concept": "Condition", "stage": "ift"}]


def test_a_run_too_small_to_plan_from_says_why(tiny_run, pilot_run):
    view = views.get_view("plan")
    assert "no concept type has 5 sequences" in view.unavailable(Results(tiny_run[0]))
    assert "--controls 0" in view.unavailable(Results(pilot_run, Selection(n_controls=0)))
    assert list(views.bundle_choices(view, Results(tiny_run[0]))) == []
