"""Session state of the app: initialised in one place, read through small functions.

The selection a researcher may want to share or come back to (the run or results folder, view,
reference stage, sequence, stage, layer, head, measure, concept sets, analysis settings) lives
in the page's address (`st.query_params`, see `ui.address`), so a link opens the same view and a
reload lands where it was; widgets are drawn from it and write back to it in their `on_change`
callbacks. Other sidebar settings live in widget state.

Where Streamlit's sign-in (`st.login`, OpenID Connect) is configured, each user's concept sets
live in a folder of their own, and other users' sets are offered read-only ("from ...").

The concept-set choice lists files by name on every page, so a set saved or uploaded a moment ago
is there at once; a set is parsed only when its sequences are needed (it is selected, or the
Concepts page lists it), once per file version for the whole server (`load_user_set`).
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from interp.analysis.exclusions import parse_exclusions
from interp.analysis.measures import MEASURES
from interp.analysis.results import Selection
from interp.concepts.files import (
    ConceptFileError,
    ConceptSequence,
    ConceptSet,
    all_sequences,
    builtin_concepts_dir,
)
from interp.concepts.user_sets import (
    file_identity,
    list_other_files,
    list_user_files,
    load_user_set,
    user_key,
)
from interp.core.errors import Where
from interp.store.folder import MANIFEST
from interp.store.locations import resolve_results_folder, runs_dir, user_concepts_dir
from interp.views import choice_text
from ui.address import forget, settings_from_address

SOURCE_RUN = "a run of a lineage"
DEFAULTS = {
    "source": SOURCE_RUN,
    "lineage_choice": "demo",
    "custom_stages": "base = mistralai/Mistral-7B-v0.1\ncpt = Equall/Saul-7B-Base\nift = Equall/Saul-7B-Instruct-v1",
    "concept_sets": None,
    "device": "auto",
    "dtype": "auto",
    "exclusion": "paper",
    "custom_exclusions": "",
    "first_position": "bos",
    "n_controls": 200,
    "open_folder": "",
    "run_folder": None,
    "address_note": None,
}
# How many `set` values of an address are read: more than anyone selects, far fewer than a
# hostile link may repeat.
ADDRESS_SETS_READ = 64


def init_state() -> None:
    """Every key the widgets bind to, with its default, set once per session."""
    for key, value in DEFAULTS.items():
        if key not in st.session_state:
            st.session_state[key] = value
    if st.session_state.concept_sets is None:
        st.session_state.concept_sets = remembered_sets(st.query_params.get_all("set")) or default_sets()
    if "run_from_address" not in st.session_state:
        for key, value in settings_from_address().items():
            st.session_state[key] = value
        named, folder = st.query_params.get("run"), st.query_params.get("folder")
        st.session_state.run_from_address = named is not None or folder is not None
        if named is not None and folder is None:
            st.session_state.run_folder = remembered_run(named)
            st.session_state.address_note = None if st.session_state.run_folder else refused_run_note(named)


def default_sets() -> list[str]:
    """What a fresh session selects: the built-in sets."""
    return [name for name in concept_set_options() if name.startswith("built-in: ")]


def remembered_sets(named: list[str]) -> list[str]:
    """The concept sets an address names (`?set=`) that exist, each once, in the address's order;
    only the first `ADDRESS_SETS_READ` values are read."""
    options = concept_set_options()
    return [name for name in dict.fromkeys(named[:ADDRESS_SETS_READ]) if name in options]


def remembered_run(name: str) -> str | None:
    """The run folder an address names (`?run=`), only when it is one of the app's runs."""
    from interp.core.boundary import is_store_name

    folder = runs_dir() / name
    return str(folder) if is_store_name(name) and (folder / MANIFEST).is_file() else None


def refused_run_note(name: str) -> str:
    """Why the run an address names is not shown (the name cut short, and kept literal)."""
    shown = name if len(name) <= 60 else name[:60] + "…"
    return (f"The address names the run {shown!r}, which is not one of this app's runs (a folder in its runs folder "
            "with a manifest.json); nothing is shown in its place. Choose concept sets and press **Run**, or open "
            "a results folder from the sidebar.")


def remember_sets() -> None:
    """`on_change` of the concept-set choice: keep it in the address, so a reload keeps it."""
    st.query_params["set"] = list(st.session_state.concept_sets)


def remember_run(folder: Path) -> None:
    """The run shown, in the session and in the address (by name: it lies in the app's runs folder)."""
    st.session_state.run_folder = str(folder)
    forget("folder")
    st.query_params["run"] = folder.name


def sign_in_configured() -> bool:
    """Whether the server has an `[auth]` section: then `st.user` always says whether one is signed in."""
    return "is_logged_in" in st.user.to_dict()


def signed_in_key() -> str | None:
    """The signed-in user's folder key (a hash of their identity), or None without sign-in."""
    identity = st.user.to_dict()
    return user_key(identity) if identity.get("is_logged_in") else None


def user_folder() -> Path:
    """This session's concept folder: the signed-in user's own, or the one folder every session
    shares when the server has no sign-in."""
    return user_concepts_dir(signed_in_key())


def may_write_concepts() -> bool:
    """Without sign-in configured every session may add sets; with it, only a signed-in user."""
    return not sign_in_configured() or signed_in_key() is not None


def concept_set_options() -> dict[str, Path]:
    """Built-in sets, the user's own, and (signed in) other users' read-only: the file of each,
    by the name shown in the sidebar. Only file names are read; the built-in sets are parsed for
    their names (small, shipped files, parsed once per server)."""
    options = {}
    for path in sorted(builtin_concepts_dir().glob("*.yaml")):
        options[f"built-in: {load_user_set(path).name}"] = path
    folder = user_folder()
    for path in list_user_files(folder):
        options[f"yours: {path.name}"] = path
    if signed_in_key():
        for owner, path in list_other_files(user_concepts_dir(), folder):
            options[f"from {owner}: {path.name}"] = path
    return options


def load_option(name: str, options: dict[str, Path] | None = None) -> ConceptSet:
    """The set an option names; `ConceptFileError` when its file no longer validates or is gone."""
    options = concept_set_options() if options is None else options
    if name not in options:
        raise ConceptFileError([Where(name.partition(": ")[2]).problem("no such file (another session may have deleted it)")])
    return load_user_set(options[name])


def selected_sets() -> tuple[list[tuple[str, ConceptSet]], list[str]]:
    """The selected sets that load, by option name, and one line per problem of a selected set
    that does not (each names the file; the owner is put before it, as in the option's name)."""
    options, loaded, problems = concept_set_options(), [], []
    for name in st.session_state.concept_sets:
        try:
            loaded.append((name, load_option(name, options)))
        except ConceptFileError as error:
            owner = name.partition(": ")[0]
            problems.extend(f"{owner}: {problem}" for problem in error.problems)
    return loaded, problems


def selection_key() -> tuple:
    """The selected sets' names and file identities: it changes whenever what a run would read does."""
    options = concept_set_options()
    return tuple((name, file_identity(options[name])) for name in st.session_state.concept_sets if name in options)


def selected_sequences() -> list[ConceptSequence]:
    return all_sequences(concept_set for _, concept_set in selected_sets()[0])


def selection_problems() -> list[str]:
    """One line per selected set that no longer loads, and per sequence id that two selected sets
    share: a run needs every id once."""
    loaded, problems = selected_sets()
    first_seen: dict[str, str] = {}
    for name, concept_set in loaded:
        for sequence in concept_set.sequences:
            if sequence.id in first_seen:
                problems.append(f"{name}: sequence '{sequence.id}' is also in {first_seen[sequence.id]}; "
                                "select only one of the two sets")
            first_seen.setdefault(sequence.id, name)
    return problems


def taken_ids(except_file: str | None = None) -> set[str]:
    """Sequence ids of the built-in sets and the user's own, except one file (the one being
    replaced); other users' sets are theirs, and a clash with them is caught when both are selected.
    Files that no longer validate hold no ids. Called when a set is saved, not on every page."""
    taken = set()
    for name, path in concept_set_options().items():
        if name.startswith(("built-in: ", "yours: ")) and name != f"yours: {except_file}":
            try:
                taken.update(s.id for s in load_user_set(path).sequences)
            except ConceptFileError:
                continue
    return taken


def measure_from_address() -> str:
    """The measure the address names, or raw attention."""
    written = st.query_params.get("measure")
    return written if written in MEASURES else "attention"


def selection_from_state() -> Selection:
    """The analysis settings of the sidebar, the reference stage chosen for the run shown
    (`ui.sidebar.render_reference_choice`, drawn first) and the measure of the address."""
    text = st.session_state.custom_exclusions if st.session_state.exclusion == "custom" else st.session_state.exclusion
    return Selection(exclusions=parse_exclusions(text), reference=st.session_state.get("reference"),
                     n_controls=int(st.session_state.n_controls), seed=0,
                     first_position=st.session_state.first_position, measure=measure_from_address())


def current_folder() -> Path | None:
    """The results folder the views show: the last run, or the folder typed in the sidebar.

    A typed folder must lie below the app's results roots (`interp.store.locations.results_roots`);
    anything else is one `InterpError`, the same whatever is at that path.
    """
    if st.session_state.source == SOURCE_RUN:
        return Path(st.session_state.run_folder) if st.session_state.run_folder else None
    typed = st.session_state.open_folder.strip()
    return resolve_results_folder(typed) if typed else None


def bind_to_address(name: str, key: str) -> None:
    """`on_change` of a widget: write its value into the address under `name`."""
    st.query_params[name] = choice_text(st.session_state[key])
