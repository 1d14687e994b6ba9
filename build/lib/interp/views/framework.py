"""The view framework: a view is one record (`View`) with its choices (`Choice`), in the registry `VIEWS`.

A view's `compute(results, **choices)` returns its figures, tables, headline numbers and notes
(`ViewOutput`). The app's picker and renderer, the bundle of `python -m interp export` and
"Download everything", and the tests all iterate `VIEWS`; adding a view is a figure builder plus
one `register(View(...))` in a catalogue module (docs/design.md §7).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import plotly.graph_objects as go

from interp.analysis.results import Results
from interp.core.errors import InterpError
from interp.core.registry import Registry
from interp.core.safe_output import unique_name

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


@dataclass(frozen=True)
class View:
    """A view of a run. `compute(results, **choices)` returns its `ViewOutput`; `unavailable`
    says why a run has nothing to show here (None when it has); `columns` is how many figures
    the app puts side by side; `head_maps` marks figures whose cells are heads (customdata
    `[layer, head]`), which a click in the app selects for every view."""

    name: str
    label: str
    caption: str
    compute: Callable[..., ViewOutput]
    choices: tuple[Choice, ...] = ()
    columns: int = 1
    head_maps: bool = False
    unavailable: Callable[[Results], str | None] = lambda results: None


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


def bundle_choices(view: View, results: Results) -> Iterator[dict[str, Any]]:
    """Every combination of choices the export writes for this view, in a stable order."""

    def expand(index: int, chosen: dict[str, Any]) -> Iterator[dict[str, Any]]:
        if index == len(view.choices):
            yield dict(chosen)
            return
        choice = view.choices[index]
        values = (choice.bundle or choice.options)(results, chosen)
        for value in values:
            yield from expand(index + 1, {**chosen, choice.name: value})

    if view.unavailable(results) is None:
        yield from expand(0, {})


def entry_name(view: View, key: str, chosen: Mapping[str, Any]) -> str:
    """The file name stem of one figure or table: view, key, then each choice's slug."""
    slugs = [choice.slug(chosen[choice.name]) for choice in view.choices if choice.name in chosen]
    return "-".join([view.name, key, *[slug for slug in slugs if slug]])


def bundle_contents(results: Results) -> tuple[dict[str, go.Figure], dict[str, pd.DataFrame]]:
    """Every figure and table of every view, named for files: what "Download everything" exports."""
    figures_out: dict[str, go.Figure] = {}
    tables_out: dict[str, pd.DataFrame] = {}
    for figures_step, tables_step in bundle_steps(results):
        figures_out.update(figures_step)
        tables_out.update(tables_step)
    return figures_out, tables_out


def bundle_steps(results: Results) -> Iterator[tuple[dict[str, go.Figure], dict[str, pd.DataFrame]]]:
    """`bundle_contents` one view and choice at a time (`count_bundle_steps` of them), names unique
    across all steps: the exporter renders a step's figures while the next is computed."""
    figure_names: set[str] = set()
    table_names: set[str] = set()
    for view in VIEWS.values():
        for chosen in bundle_choices(view, results):
            output = view.compute(results, **chosen)
            figures_step = {unique_name(entry_name(view, key, chosen), figure_names): fig
                            for key, fig in output.figures.items()}
            tables_step = {unique_name(entry_name(view, key, chosen), table_names): table
                           for key, table in {**output.tables, **output.downloads}.items()}
            yield figures_step, tables_step


def count_bundle_steps(results: Results) -> int:
    """How many steps `bundle_steps` takes: a progress bar's length."""
    return sum(1 for view in VIEWS.values() for _ in bundle_choices(view, results))
