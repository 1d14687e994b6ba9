"""The view of the sample-size planner, "Study size": from this run as a pilot, how many sequences per
concept type a study needs for the concept − control contrast's interval to exclude zero
(`interp.analysis.planning`, docs/design.md §5.15), registered after the catalogue's views."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from interp.analysis import planning
from interp.analysis.concept_types import concept_types
from interp.analysis.results import Results
from interp.views import figures
from interp.views.catalogue import _file_slug as concept_slug
from interp.views.choices import COMPARED_STAGE
from interp.views.framework import Choice, Headline, View, ViewOutput, measure_label, register

CAVEAT = ("A planning aid under the pilot's distribution, not a guarantee: each pseudo-study resamples this run's "
          "sequences of the type, so the answer is only as good as the pilot's mean and spread, which are "
          "estimates themselves; texts of another source may differ.")


def _plannable(results: Results, chosen: Mapping[str, Any]) -> list[str]:
    """Concept types with enough sequences to resample."""
    return [concept for concept in concept_types(results)
            if sum(sequence.concept == concept for sequence in results.sequences) >= planning.MIN_PILOT]


def _unavailable(results: Results) -> str | None:
    if not results.compared_stages:
        return "the run has one stage"
    if results.selection.n_controls <= 0:
        return "the contrast compares each concept with its control spans, and this run is read with --controls 0"
    if not _plannable(results, {}):
        return (f"no concept type has {planning.MIN_PILOT} sequences to resample; a pilot of, say, 10 per type "
                "(`python -m interp concepts generate --per-type 10`) has")
    return None


def _needed_text(curve: planning.PowerCurve | None) -> str:
    if curve is None:
        return "—"
    return f"{curve.needed:,}" if curve.needed is not None else f"more than {planning.MAX_SIZE:,}"


def _curve_label(label: str, curve: planning.PowerCurve) -> str:
    return f"{label} ({curve.effect:+.2g}): {_needed_text(curve)} needed"


def _plan_view(results: Results, concept: str, stage: str) -> ViewOutput:
    plan = planning.plan_sequences(results, concept, stage)
    row = planning.plan_row(results, plan)
    table = planning.plan_frame([row])
    notes = (CAVEAT,) + ((f"{concept}, {stage}: {row['note']}.",) if row["note"] else ())
    if plan.observed is None:
        return ViewOutput(tables={"needed": table}, notes=notes)
    measure = measure_label(results.selection.measure)
    pilot = plan.differences.size
    curves = {_curve_label(label, curve): (curve.sizes, curve.power, curve.needed)
              for label, curve in (("observed effect", plan.observed), ("half of it", plan.half))}
    title = f"Sequences needed: {concept}, {stage} − {results.reference} ({measure})"
    figure = figures.power_curve_figure(curves, plan.observed.target, pilot, title, plan.observed.studies,
                                        planning.CONFIDENCE)
    target = f"{plan.observed.target:.0%}"
    headlines = (
        Headline(f"Sequences needed for {target}", _needed_text(plan.observed),
                 "At the pilot's mean concept − control difference, per concept type."),
        Headline("… at half the effect", _needed_text(plan.half),
                 "The pilot's differences moved to half their mean, the same spread."),
        Headline(f"Probability with the pilot's {pilot:,}", f"{plan.observed.at(pilot):.0%}",
                 "How often a study of the pilot's size would give an interval clear of zero."),
    )
    return ViewOutput(figures={"power": figure}, tables={"needed": table}, headlines=headlines, notes=notes,
                      downloads={"curve": planning.curve_table(plan, results.selection.measure)})


register(View(
    "plan", "Study size",
    "How many sequences per concept type a study needs for the concept − control contrast's 95% interval to exclude "
    "zero with 80% probability, at the effect this run observed and at half of it: pseudo-studies of each size "
    "resample this run's sequences of the type (a pilot) and compute the interval as the Concept types view does.",
    _plan_view,
    # The bundle plans for the last stage only: each plan is a few seconds of resampling.
    choices=(Choice("concept", "Concept type", _plannable, slug=concept_slug),
             dataclasses.replace(COMPARED_STAGE, bundle=lambda r, c: r.compared_stages[-1:])),
    unavailable=_unavailable,
))
