"""Session state of the app: initialised in one place, read through small functions.

The selection a researcher may want to share or come back to (view, reference stage, sequence,
stage, layer, head, ...) lives in the page's address (`st.query_params`), so a link opens the
same view and a reload lands where it was; widgets are drawn from it and write back to it in
their `on_change` callbacks. Sidebar settings live in widget state.

Where Streamlit's sign-in (`st.login`, OpenID Connect) is configured, each user's concept sets
live in a folder of their own, and other users' sets are offered read-only ("from ...").
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from interp.alignment import parse_exclusions
from interp.measures import MEASURES
from interp.paths import builtin_concepts_dir, resolve_results_folder, runs_dir, user_concepts_dir
from interp.registry import ConceptSequence, ConceptSet, all_sequences, load_concept_file
from interp.results import Selection
from interp.user_concepts import list_other_sets, list_user_sets, user_key
from interp.views import choice_text

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
}


def init_state() -> None:
    """Every key the widgets bind to, with its default, set once per session."""
    for key, value in DEFAULTS.items():
        if key not in st.session_state:
            st.session_state[key] = value
    if st.session_state.concept_sets is None:
        remembered = [name for name in st.query_params.get_all("set") if name in concept_set_options()]
        st.session_state.concept_sets = remembered or [
            name for name in concept_set_options() if name.startswith("built-in: ")]
    if st.session_state.run_folder is None and "run" in st.query_params:
        st.session_state.run_folder = remembered_run(st.query_params["run"])


def remembered_run(name: str) -> str | None:
    """The run folder an address names (`?run=`), only when it is one of the app's runs."""
    from interp.boundary import is_store_name

    folder = runs_dir() / name
    return str(folder) if is_store_name(name) and (folder / "manifest.json").is_file() else None


def remember_sets() -> None:
    """`on_change` of the concept-set choice: keep it in the address, so a reload keeps it."""
    st.query_params["set"] = list(st.session_state.concept_sets)


def remember_run(folder: Path) -> None:
    """The run shown, in the session and in the address (by name: it lies in the app's runs folder)."""
    st.session_state.run_folder = str(folder)
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


def _folder_signature(folder: Path) -> tuple:
    """Names, sizes and times of the concept files below a folder: a cache key that changes when
    any of them does (the trash and other hidden entries aside)."""
    if not folder.is_dir():
        return ()
    return tuple(sorted((str(p.relative_to(folder)), p.stat().st_size, p.stat().st_mtime_ns)
                        for p in folder.rglob("*") if p.is_file() and not any(part.startswith(".") for part in p.parts)))


@st.cache_data(max_entries=32, show_spinner=False)
def _load_options(builtin: tuple, user: tuple, user_folder: str, others: tuple | None) -> tuple[dict[str, ConceptSet], list[str]]:
    options = {}
    for path in sorted(builtin_concepts_dir().glob("*.yaml")):
        concept_set = load_concept_file(path)
        options[f"built-in: {concept_set.name}"] = concept_set
    user_sets, problems = list_user_sets(Path(user_folder))
    for user_set in user_sets:
        options[f"yours: {user_set.file_name}"] = user_set.concept_set
    if others is not None:
        for owner, user_set in list_other_sets(user_concepts_dir(), Path(user_folder)):
            options[f"from {owner}: {user_set.file_name}"] = user_set.concept_set
    return options, problems


def _options() -> tuple[dict[str, ConceptSet], list[str]]:
    folder = user_folder()
    others = _folder_signature(user_concepts_dir()) if signed_in_key() else None
    return _load_options(_folder_signature(builtin_concepts_dir()), _folder_signature(folder), str(folder), others)


def concept_set_options() -> dict[str, ConceptSet]:
    """Built-in sets, the user's own, and (signed in) other users' read-only, by the name shown
    in the sidebar (read once per change)."""
    return _options()[0]


def user_set_problems() -> list[str]:
    """One line per file in the user's folder that no longer validates."""
    return _options()[1]


def selected_sequences() -> list[ConceptSequence]:
    options = concept_set_options()
    return all_sequences(options[name] for name in st.session_state.concept_sets if name in options)


def selection_problems() -> list[str]:
    """One line per sequence id that two selected sets share: a run needs every id once."""
    options, first_seen, problems = concept_set_options(), {}, []
    for name in st.session_state.concept_sets:
        for sequence in options[name].sequences if name in options else ():
            if sequence.id in first_seen:
                problems.append(f"{name}: sequence '{sequence.id}' is also in {first_seen[sequence.id]}; "
                                "select only one of the two sets")
            first_seen.setdefault(sequence.id, name)
    return problems


def taken_ids(except_file: str | None = None) -> set[str]:
    """Sequence ids of the built-in sets and the user's own, except one file (the one being
    replaced); other users' sets are theirs, and a clash with them is caught when both are selected."""
    return {
        s.id for name, concept_set in concept_set_options().items()
        if name.startswith(("built-in: ", "yours: ")) and name != f"yours: {except_file}"
        for s in concept_set.sequences
    }


def measure_from_address() -> str:
    """The measure the address names, or raw attention."""
    written = st.query_params.get("measure")
    return written if written in MEASURES else "attention"


def selection_from_state() -> Selection:
    """The analysis settings of the sidebar, and the reference stage and measure of the address."""
    text = st.session_state.custom_exclusions if st.session_state.exclusion == "custom" else st.session_state.exclusion
    return Selection(exclusions=parse_exclusions(text), reference=st.query_params.get("reference"),
                     n_controls=int(st.session_state.n_controls), seed=0,
                     first_position=st.session_state.first_position, measure=measure_from_address())


def current_folder() -> Path | None:
    """The results folder the views show: the last run, or the folder typed in the sidebar.

    A typed folder must lie below the app's results roots (`interp.paths.results_roots`);
    anything else is one `InterpError`, the same whatever is at that path.
    """
    if st.session_state.source == SOURCE_RUN:
        return Path(st.session_state.run_folder) if st.session_state.run_folder else None
    typed = st.session_state.open_folder.strip()
    return resolve_results_folder(typed) if typed else None


def bind_to_address(name: str, key: str) -> None:
    """`on_change` of a widget: write its value into the address under `name`."""
    st.query_params[name] = choice_text(st.session_state[key])
