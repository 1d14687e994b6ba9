"""Session state of the app: initialised in one place, read through small functions.

The selection a researcher may want to share or come back to (view, reference stage, sequence,
stage, layer, head, ...) lives in the page's address (`st.query_params`), so a link opens the
same view and a reload lands where it was; widgets are drawn from it and write back to it in
their `on_change` callbacks. Sidebar settings live in widget state.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from interp.alignment import parse_exclusions
from interp.paths import builtin_concepts_dir, user_concepts_dir
from interp.registry import ConceptSequence, ConceptSet, all_sequences, load_concept_file
from interp.results import Selection
from interp.user_concepts import list_user_sets
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
        st.session_state.concept_sets = [name for name in concept_set_options() if name.startswith("built-in: ")]


def _folder_signature(folder: Path) -> tuple:
    """Names, sizes and times of a folder's files: a cache key that changes when any file does."""
    if not folder.is_dir():
        return ()
    return tuple(sorted((p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in folder.iterdir() if p.is_file()))


@st.cache_data(max_entries=8, show_spinner=False)
def _load_options(builtin: tuple, user: tuple, user_folder: str) -> tuple[dict[str, ConceptSet], list[str]]:
    options = {}
    for path in sorted(builtin_concepts_dir().glob("*.yaml")):
        concept_set = load_concept_file(path)
        options[f"built-in: {concept_set.name}"] = concept_set
    user_sets, problems = list_user_sets(Path(user_folder))
    for user_set in user_sets:
        options[f"yours: {user_set.file_name}"] = user_set.concept_set
    return options, problems


def concept_set_options() -> dict[str, ConceptSet]:
    """Built-in sets and the user's own, by the name shown in the sidebar (read once per change)."""
    folder = user_concepts_dir()
    return _load_options(_folder_signature(builtin_concepts_dir()), _folder_signature(folder), str(folder))[0]


def user_set_problems() -> list[str]:
    """One line per file in the user's folder that no longer validates."""
    folder = user_concepts_dir()
    return _load_options(_folder_signature(builtin_concepts_dir()), _folder_signature(folder), str(folder))[1]


def selected_sequences() -> list[ConceptSequence]:
    options = concept_set_options()
    return all_sequences(options[name] for name in st.session_state.concept_sets if name in options)


def taken_ids(except_file: str | None = None) -> set[str]:
    """Sequence ids of every set except one of the user's files (the one being replaced)."""
    return {
        s.id for name, concept_set in concept_set_options().items() if name != f"yours: {except_file}"
        for s in concept_set.sequences
    }


def selection_from_state() -> Selection:
    """The analysis settings of the sidebar and the reference stage of the address."""
    text = st.session_state.custom_exclusions if st.session_state.exclusion == "custom" else st.session_state.exclusion
    return Selection(exclusions=parse_exclusions(text), reference=st.query_params.get("reference"),
                     n_controls=int(st.session_state.n_controls), seed=0,
                     first_position=st.session_state.first_position)


def current_folder() -> Path | None:
    """The results folder the views show: the last run, or the folder typed in the sidebar."""
    if st.session_state.source == SOURCE_RUN:
        return Path(st.session_state.run_folder) if st.session_state.run_folder else None
    typed = st.session_state.open_folder.strip()
    return Path(typed).expanduser() if typed else None


def bind_to_address(name: str, key: str) -> None:
    """`on_change` of a widget: write its value into the address under `name`."""
    st.query_params[name] = choice_text(st.session_state[key])
