"""The page's address: what a link or a reload reproduces, and the note for what it does not (design §2.9).

Every parameter either reproduces what was shown or is refused with a note on the page that
names it; a refused value stays in the address as it came (the page shows the default and says
so) until the researcher chooses another. Where the results come from is one of two parameters:
`run=NAME`, a run of the app's runs folder, or `folder=ROOT/PATH`, a results folder opened from
the sidebar, named below its results root as the page names it (never by the server's absolute
path). The view, its choices (`sequence`, `stage`, `layer`, `head`, ...), the reference stage,
the measure, the concept sets (`set`) and the analysis settings (`exclude`, `first`, `controls`)
complete it. Nothing here imports `ui.state`: it reads and writes the address alone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

import streamlit as st

from interp.analysis.exclusions import EXCLUSION_PRESETS, FIRST_POSITION_RULES, parse_exclusions
from interp.analysis.measures import MEASURES
from interp.analysis.results import Selection, check_selection
from interp.core.errors import InterpError
from interp.store.locations import resolve_results_folder, shown_results_folder

SOURCE_FOLDER = "an existing results folder"
# The sidebar's bound on control spans (the command line allows more).
MAX_CONTROLS = 2000
# How long a refused value may be in a note: a link can carry anything.
SHOWN_CHARACTERS = 60


def shown(value: str) -> str:
    """A value of the address as a note quotes it: cut short, in quotes."""
    return repr(value if len(value) <= SHOWN_CHARACTERS else value[:SHOWN_CHARACTERS] + "…")


def forget(name: str) -> None:
    if name in st.query_params:
        del st.query_params[name]


def _exclusion_problem(value: str) -> str | None:
    try:
        check_selection(Selection(exclusions=parse_exclusions(value)))
    except InterpError as error:
        return str(error)
    return None


def _controls_problem(value: str) -> str | None:
    if value.isascii() and value.isdigit() and int(value) <= MAX_CONTROLS:
        return None
    return f"the app draws 0 to {MAX_CONTROLS:,} control spans"


# name in the address → (what it names, why a value is refused or None, what the page shows instead)
SETTINGS: dict[str, tuple[str, Callable[[str], str | None], str]] = {
    "exclude": ("the excluded tokens", _exclusion_problem, "the sidebar's excluded tokens"),
    "first": ("the first-position rule",
              lambda value: None if value in FIRST_POSITION_RULES else f"rules: {', '.join(FIRST_POSITION_RULES)}",
              "the sidebar's rule"),
    "controls": ("the number of control spans", _controls_problem, "the sidebar's number"),
    "measure": ("the measure", lambda value: None if value in MEASURES else f"measures: {', '.join(MEASURES)}",
                "raw attention"),
}


def settings_from_address() -> dict[str, object]:
    """Widget state for what a link names (analysis settings, a results folder), valid values only;
    read once, when a session starts."""
    state: dict[str, object] = {}
    exclude = st.query_params.get("exclude")
    if exclude is not None and _exclusion_problem(exclude) is None:
        preset = exclude.strip()
        state.update({"exclusion": preset} if preset in EXCLUSION_PRESETS
                     else {"exclusion": "custom", "custom_exclusions": exclude})
    first = st.query_params.get("first")
    if first in FIRST_POSITION_RULES:
        state["first_position"] = first
    controls = st.query_params.get("controls")
    if controls is not None and _controls_problem(controls) is None:
        state["n_controls"] = int(controls)
    folder = st.query_params.get("folder")
    if folder is not None:
        state.update(source=SOURCE_FOLDER, open_folder=folder)
    return state


def address_notes(set_options: Iterable[str], read_sets: int) -> list[str]:
    """One line per value of the address that the page does not show as named: analysis settings,
    the measure, concept sets that are not here, a run named beside a folder."""
    notes = []
    for name, (what, problem_of, instead) in SETTINGS.items():
        value = st.query_params.get(name)
        problem = None if value is None else problem_of(value)
        if problem:
            notes.append(f"The address names {what} {shown(value)}, which cannot be used ({problem}); the page "
                         f"shows {instead}.")
    options = set(set_options)
    absent = [name for name in dict.fromkeys(st.query_params.get_all("set")[:read_sets]) if name not in options]
    if absent:
        named = ", ".join(shown(name) for name in absent[:3]) + (f" and {len(absent) - 3} more" if absent[3:] else "")
        notes.append(f"The address names the concept set(s) {named}, which are not among this page's sets (deleted, "
                     "or another researcher's); the sidebar selects the others it names.")
    if "folder" in st.query_params and "run" in st.query_params:
        notes.append(f"The address names both the run {shown(st.query_params['run'])} and a results folder; the "
                     "folder is shown.")
    return notes


def folder_in_address(typed: str) -> str:
    """A typed results folder as the address holds it: below its results root as the page names it
    (`runs/demo-1a2b…`, `from-the-gpu-machine/run`), or the text as typed where it opens nothing."""
    try:
        return shown_results_folder(resolve_results_folder(typed))
    except InterpError:
        return typed.strip()


def remember_source() -> None:
    """`on_change` of the results source and of the folder box: the address names what the page
    shows, the run (`run=`) or the folder (`folder=`), never both."""
    if st.session_state.source == SOURCE_FOLDER:
        forget("run")
        st.query_params["folder"] = folder_in_address(st.session_state.open_folder)
        return
    forget("folder")
    if st.session_state.run_folder:
        st.query_params["run"] = Path(st.session_state.run_folder).name


def remember_exclusion() -> None:
    """`on_change` of the excluded tokens (the preset or the custom list): kept in the address."""
    custom = st.session_state.exclusion == "custom"
    st.query_params["exclude"] = st.session_state.custom_exclusions if custom else st.session_state.exclusion
