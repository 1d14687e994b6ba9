"""The view framework: a view is one record (`View`) with its choices (`Choice`), in the registry `VIEWS`.

A view's `compute(results, **choices)` returns its figures, tables, headline numbers and notes
(`ViewOutput`). The app's picker and renderer, the bundle of `python -m interp export` and
"Download everything", and the tests all iterate `VIEWS`; adding a view is a figure builder plus
one `register(View(...))` in a catalogue module (docs/design.md §7). The bundle's plan and names
live here too (§7.7): which view is drawn for which choices (`bundle_plan`, per-sequence views for
a chosen subset of the sequences), and where each figure and table goes (`entry_path`).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import plotly.graph_objects as go

from interp.analysis.measures import get_measure
from interp.analysis.results import Results
from interp.core.errors import InterpError
from interp.core.registry import Registry
from interp.core.safe_output import unique_name


def measure_label(measure: str) -> str:
    """A measure as titles name it ("attention", "norm-weighted")."""
    return get_measure(measure).label.lower()


Options = Callable[[Results, Mapping[str, Any]], Sequence[Any]]


@dataclass(frozen=True)
class Choice:
    """One thing a view is computed for, with its valid values given the earlier choices.

    `default` picks the value first shown (else the first option); `bundle` the values the
    export iterates (else every option); `follows` names earlier choices whose change resets
    this one to its default (a new sequence has its own most-moved head); `slug` writes a value
    into a file name.
    """

    name: str
    label: str
    options: Options
    default: Callable[[Results, Mapping[str, Any]], Any] | None = None
    bundle: Options | None = None
    describe: Callable[[Results, Any], str] = lambda results, value: str(value)
    slug: Callable[[Any], str] = str
    follows: tuple[str, ...] = ()


@dataclass(frozen=True)
class Headline:
    """A number worth reading before any figure: a label, the formatted value, what it means."""

    label: str
    value: str
    help: str = ""


@dataclass(frozen=True)
class ViewOutput:
    """What a view shows for one set of choices, keyed by short names used in file names.

    `downloads` are tables too long to show (a row per head) that the app offers as files and
    the bundle includes beside `tables`.
    """

    figures: Mapping[str, go.Figure] = field(default_factory=dict)
    tables: Mapping[str, pd.DataFrame] = field(default_factory=dict)
    headlines: tuple[Headline, ...] = ()
    notes: tuple[str, ...] = ()
    downloads: Mapping[str, pd.DataFrame] = field(default_factory=dict)


# The choice that makes a view per-sequence: drawn for one sequence at a time.
SEQUENCE_CHOICE = "sequence"


@dataclass(frozen=True)
class View:
    """A view of a run. `compute(results, **choices)` returns its `ViewOutput`; `unavailable`
    says why a run has nothing to show here (None when it has); `columns` is how many figures
    the app puts side by side; `head_maps` marks figures whose cells are heads (customdata
    `[layer, head]`), which a click in the app selects for every view. `named_by` gives, for a
    figure or table key that does not depend on every choice, the choices it does depend on:
    they alone go into its file name (the Heads view's share map is no shift "against" a stage)."""

    name: str
    label: str
    caption: str
    compute: Callable[..., ViewOutput]
    choices: tuple[Choice, ...] = ()
    columns: int = 1
    head_maps: bool = False
    unavailable: Callable[[Results], str | None] = lambda results: None
    named_by: tuple[tuple[str, tuple[str, ...]], ...] = ()

    @property
    def per_sequence(self) -> bool:
        """Whether the view is drawn for one sequence at a time (one of its choices is the sequence)."""
        return any(choice.name == SEQUENCE_CHOICE for choice in self.choices)


VIEWS: Registry[View] = Registry("view")


def register(view: View) -> View:
    """Add a view to the registry, in the order the app shows them."""
    return VIEWS.add(view)


def get_view(name: str) -> View:
    """The view called `name`, or an `InterpError` listing the valid names."""
    return VIEWS.named(name)


def resolve_choices(
    view: View, results: Results, requested: Mapping[str, Any] | None = None, as_text: bool = False
) -> dict[str, Any]:
    """Each choice's requested value where it is valid, else its default, in the view's order.

    With `as_text`, requested values are texts as `choice_text` writes them (from an address).
    """
    requested = requested or {}
    chosen: dict[str, Any] = {}
    for choice in view.choices:
        options = list(choice.options(results, chosen))
        if not options:
            raise InterpError(f"view {view.label!r}: no {choice.label.lower()} of this run fits it")
        wanted = requested.get(choice.name, _MISSING)
        matches = [option for option in options if (choice_text(option) if as_text else option) == wanted]
        if matches:
            chosen[choice.name] = matches[0]
        else:
            chosen[choice.name] = choice.default(results, chosen) if choice.default else options[0]
    return chosen


_MISSING = object()


def choice_text(value: Any) -> str:
    """A choice's value as text (in an address): `none` for no value."""
    return "none" if value is None else str(value)


def bundle_choices(view: View, results: Results, sequences: Collection[str] | None = None) -> Iterator[dict[str, Any]]:
    """Every combination of choices the export writes for this view, in a stable order; a
    per-sequence view only for `sequences` (None: every sequence)."""

    def expand(index: int, chosen: dict[str, Any]) -> Iterator[dict[str, Any]]:
        if index == len(view.choices):
            yield dict(chosen)
            return
        choice = view.choices[index]
        values = (choice.bundle or choice.options)(results, chosen)
        if choice.name == SEQUENCE_CHOICE and sequences is not None:
            values = [value for value in values if value in sequences]
        for value in values:
            yield from expand(index + 1, {**chosen, choice.name: value})

    if view.unavailable(results) is None:
        yield from expand(0, {})


def named_choices(view: View, key: str, chosen: Mapping[str, Any]) -> dict[str, Any]:
    """The choices a figure or table depends on (`View.named_by`), in the view's order."""
    named = dict(view.named_by).get(key)
    return {choice.name: chosen[choice.name] for choice in view.choices
            if choice.name in chosen and (named is None or choice.name in named)}


def entry_stem(view: View, key: str, chosen: Mapping[str, Any]) -> str:
    """The name of one figure or table inside its view's folder: its key (left out where it
    repeats the view's name), then the slug of each choice it depends on (`named_choices`).
    `heads/share-seller-1-cpt`, `heads/shift-seller-1-cpt-vs-base`, `text/seller-1-ift`."""
    depends = named_choices(view, key, chosen)
    slugs = [choice.slug(depends[choice.name]) for choice in view.choices if choice.name in depends]
    parts = [key] if key != view.name else []
    return "-".join([*parts, *[slug for slug in slugs if slug]]) or key


def entry_path(view: View, key: str, chosen: Mapping[str, Any]) -> str:
    """Where a figure or table goes in the bundle, below `figures/` or `tables/`: `view/stem`."""
    return f"{view.name}/{entry_stem(view, key, chosen)}"


def entry_name(view: View, key: str, chosen: Mapping[str, Any]) -> str:
    """A figure's or table's file name stem outside the bundle (the app's downloads): the view's
    name, then `entry_stem` unless that only repeats it."""
    stem = entry_stem(view, key, chosen)
    return view.name if stem == view.name else f"{view.name}-{stem}"


def describe_choices(view: View, results: Results, chosen: Mapping[str, Any]) -> str:
    """The choices a figure was made for, as a reader reads them: `Sequence: x (Role); Stage: ift`."""
    return "; ".join(f"{choice.label}: {choice.describe(results, chosen[choice.name])}"
                     for choice in view.choices if choice.name in chosen)


@dataclass(frozen=True)
class BundleStep:
    """One view for one set of choices, as the bundle computes it."""

    view: View
    chosen: Mapping[str, Any]


@dataclass(frozen=True)
class BundleStepOutput:
    """What one step adds to the bundle: figures and tables by `entry_path`, unique ignoring case
    across the whole bundle, the view's key of each (`keys`, path → key), and the view's output
    they came from."""

    step: BundleStep
    output: ViewOutput
    figures: Mapping[str, go.Figure]
    tables: Mapping[str, pd.DataFrame]
    keys: Mapping[str, str]


def bundle_plan(results: Results, sequences: Collection[str] | None = None) -> list[BundleStep]:
    """Every step of the bundle, known before any is computed (a progress bar's length): each
    study-level view for every bundle choice, each per-sequence view for `sequences` only (None:
    every sequence), in the registry's order."""
    wanted = None if sequences is None else frozenset(sequences)
    return [BundleStep(view, chosen) for view in VIEWS.values() for chosen in bundle_choices(view, results, wanted)]


def bundle_steps(results: Results, plan: Sequence[BundleStep] | None = None) -> Iterator[BundleStepOutput]:
    """The steps of `plan` (default: the whole bundle) computed one at a time, each figure and
    table named by `entry_path`; a name taken already gets `-2`, `-3`, …"""
    figure_names: set[str] = set()
    table_names: set[str] = set()
    for step in bundle_plan(results) if plan is None else plan:
        view, chosen = step.view, step.chosen
        output = view.compute(results, **chosen)
        keys: dict[str, str] = {}
        figures, tables = {}, {}
        for key, fig in output.figures.items():
            path = unique_name(entry_path(view, key, chosen), figure_names)
            figures[path], keys[path] = fig, key
        for key, table in {**output.tables, **output.downloads}.items():
            path = unique_name(entry_path(view, key, chosen), table_names)
            tables[path], keys[path] = table, key
        yield BundleStepOutput(step, output, figures, tables, keys)


def bundle_contents(results: Results, sequences: Collection[str] | None = None
                    ) -> tuple[dict[str, go.Figure], dict[str, pd.DataFrame]]:
    """Every figure and table of the bundle by `entry_path`: what "Download everything" exports."""
    figures: dict[str, go.Figure] = {}
    tables: dict[str, pd.DataFrame] = {}
    for step in bundle_steps(results, bundle_plan(results, sequences)):
        figures.update(step.figures)
        tables.update(step.tables)
    return figures, tables


def count_bundle_steps(results: Results, sequences: Collection[str] | None = None) -> int:
    """How many steps the bundle takes (`bundle_plan`'s length)."""
    return len(bundle_plan(results, sequences))
