"""The view framework: the registry, choices and their defaults, the bundle's names and steps."""

import re

import pytest

from interp import views
from interp.analysis.results import Results, Selection
from interp.core.errors import InterpError
from interp.core.registry import Registry
from interp.views import framework
from interp.views.choices import SEQUENCE

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def results(tiny_run):
    return Results(tiny_run[0], Selection(n_controls=30))


def test_registry_lists_every_view_and_refuses_unknown_names():
    assert list(views.VIEWS)[:6] == ["overview", "layers", "heads", "tokens", "distribution", "structure"]
    assert {"types", "consistency", "first-token"} <= set(views.VIEWS)
    with pytest.raises(InterpError, match="view 'nope' is unknown; views: overview, layers, heads"):
        views.get_view("nope")
    with pytest.raises(ValueError, match="registered twice"):
        views.register(views.VIEWS["overview"])


def test_choices_fall_back_to_their_defaults(results):
    view = views.get_view("tokens")
    chosen = views.resolve_choices(view, results, {"sequence": "seller-1", "stage": "nope", "layer": 99})
    assert chosen["sequence"] == "seller-1" and chosen["stage"] == "ift"
    assert (chosen["layer"], chosen["head"]) == results.most_shifted_head(sequence="seller-1", stage="ift")
    assert chosen["difference"] is None and chosen["threshold"] == 0.1
    kept = views.resolve_choices(view, results, {**chosen, "layer": 0, "head": 1})
    assert (kept["layer"], kept["head"]) == (0, 1)


def test_bundle_names_every_view(results):
    figures, tables = views.bundle_contents(results)
    assert {"overview/statistics", "overview/mean-share", "overview/shares", "overview/provenance",
            "layers/profiles", "types/types", "consistency/heads-condition-cpt",
            "first-token/summary-lessee-1", "first-token/summary-seller-1"} <= set(tables)
    assert all(re.fullmatch(r"[a-z0-9-]+/[A-Za-z0-9][A-Za-z0-9_.-]*", name) for name in tables if "/" in name)
    assert all(name.split("/")[0] in views.VIEWS for name in [*tables, *figures])
    for name in ("overview/shifts", "layers/profiles", "heads/share-seller-1-base", "heads/share-seller-1-cpt",
                 "heads/shift-seller-1-cpt-vs-base", "distribution/controls-lessee-1-cpt",
                 "structure/cpt-minus-base-seller-1", "first-token/share-lessee-1", "first-token/change-seller-1",
                 "text/lessee-1-ift", "trajectory/condition", "types/forest"):
        assert name in figures, (name, sorted(figures))
    layer, head = results.most_shifted_head(sequence="lessee-1", stage="ift")
    assert f"tokens/map-lessee-1-ift-L{layer}-H{head}" in figures
    assert len({name.lower() for name in figures}) == len(figures)


def test_names_say_what_a_figure_is_without_repeats(results):
    """A share map is no shift 'vs' a stage; a key that repeats the view's name is left out."""
    heads, text, types = views.get_view("heads"), views.get_view("text"), views.get_view("types")
    chosen = {"sequence": "seller-1", "stage": "cpt", "against": "base"}
    assert views.entry_stem(heads, "share", chosen) == "share-seller-1-cpt"
    assert views.entry_stem(heads, "shift", chosen) == "shift-seller-1-cpt-vs-base"
    assert views.entry_path(heads, "shift", chosen) == "heads/shift-seller-1-cpt-vs-base"
    text_chosen = {"sequence": "seller-1", "stage": "ift", "layer": None, "head": None, "difference": None}
    assert views.entry_path(text, "text", text_chosen) == "text/seller-1-ift"
    assert views.entry_name(text, "text", text_chosen) == "text-seller-1-ift"  # the app's download, flat
    assert views.entry_path(types, "types", {}) == "types/types" and views.entry_name(types, "types", {}) == "types"
    assert views.describe_choices(heads, results, chosen) == "Sequence: seller-1 (Condition); Stage: cpt; Shift against: base"
    assert views.named_choices(heads, "share", chosen) == {"sequence": "seller-1", "stage": "cpt"}
    assert views.named_choices(heads, "shift", chosen) == chosen


def test_a_view_is_per_sequence_when_a_choice_is_the_sequence():
    per_sequence = {name for name, view in views.VIEWS.items() if view.per_sequence}
    assert per_sequence == {name for name, view in views.VIEWS.items()
                            if any(choice.name == "sequence" for choice in view.choices)}
    assert {"heads", "tokens", "distribution", "structure", "first-token", "text", "grid"} <= per_sequence
    assert not {"overview", "layers", "types", "consistency", "trajectory", "stage-layers", "plan"} & per_sequence


def test_the_plan_draws_per_sequence_views_for_the_chosen_sequences_only(results):
    every = views.bundle_plan(results)
    some = views.bundle_plan(results, ["seller-1"])
    assert views.count_bundle_steps(results) == len(every) and views.count_bundle_steps(results, ["seller-1"]) == len(some)
    assert {step.chosen.get("sequence") for step in some if step.view.per_sequence} == {"seller-1"}
    study_level = [(step.view.name, dict(step.chosen)) for step in every if not step.view.per_sequence]
    assert [(step.view.name, dict(step.chosen)) for step in some if not step.view.per_sequence] == study_level
    assert len(some) < len(every)
    none = views.bundle_plan(results, [])
    assert not any(step.view.per_sequence for step in none) and len(none) == len(study_level)


def test_a_new_view_is_one_record(results, monkeypatch):
    copy = Registry("view")
    copy.update(views.VIEWS)
    monkeypatch.setattr(framework, "VIEWS", copy)
    views.register(views.View(
        "first-layer", "First layer", "Share of the first layer's heads.",
        lambda r, sequence: views.ViewOutput(tables={"shares": __import__("pandas").DataFrame(
            {"share": r.share(stage=r.reference, sequence=sequence)[0]})}),
        choices=(SEQUENCE,),
    ))
    _, tables = views.bundle_contents(results)
    assert {"first-layer/shares-lessee-1", "first-layer/shares-seller-1"} <= set(tables)


def test_bundle_steps_make_the_bundle_one_view_choice_at_a_time(results):
    plan = views.bundle_plan(results)
    steps = list(views.bundle_steps(results, plan))
    assert [step.step for step in steps] == plan
    assert len(steps) == views.count_bundle_steps(results) == sum(
        len(list(views.bundle_choices(view, results))) for view in views.VIEWS.values())
    figures, tables = views.bundle_contents(results)
    assert [name for step in steps for name in step.figures] == list(figures)
    assert [name for step in steps for name in step.tables] == list(tables)
    assert list(steps[0].figures) == ["overview/shifts"]  # the overview first, alone in its step
