"""Session state of the app: initialised in one place, read through small functions."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from interp.errors import InterpError
from interp.registry import ConceptSequence, ConceptSet, all_sequences, load_concept_file
from interp.report import Selection
from interp.paths import builtin_concepts_dir, user_concepts_dir
from interp.user_concepts import list_user_sets

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
    "n_controls": 200,
    "open_folder": "",
    "run_folder": None,
    "head": None,
}


def init_state() -> None:
    """Every key the widgets bind to, with its default, set once per session."""
    for key, value in DEFAULTS.items():
        if key not in st.session_state:
            st.session_state[key] = value
    if st.session_state.concept_sets is None:
        st.session_state.concept_sets = [name for name in concept_set_options() if name.startswith("built-in: ")]


def concept_set_options() -> dict[str, ConceptSet]:
    """Built-in sets and the user's own, by the name shown in the sidebar."""
    options = {}
    for path in sorted(builtin_concepts_dir().glob("*.yaml")):
        concept_set = load_concept_file(path)
        options[f"built-in: {concept_set.name}"] = concept_set
    user_sets, _ = list_user_sets(user_concepts_dir())
    for user_set in user_sets:
        options[f"yours: {user_set.file_name}"] = user_set.concept_set
    return options


def selected_sequences() -> list[ConceptSequence]:
    options = concept_set_options()
    return all_sequences(options[name] for name in st.session_state.concept_sets if name in options)


def taken_ids(except_file: str | None = None) -> set[str]:
    """Sequence ids of every set except one of the user's files (the one being replaced)."""
    return {
        s.id for name, concept_set in concept_set_options().items() if name != f"yours: {except_file}"
        for s in concept_set.sequences
    }


def exclusions_value() -> str | tuple[str, ...]:
    if st.session_state.exclusion != "custom":
        return st.session_state.exclusion
    tokens = tuple(token.strip() for token in st.session_state.custom_exclusions.split(",") if token.strip())
    if not tokens:
        raise InterpError("custom exclusions: list at least one token, separated by commas")
    return tokens


def selection_from_state() -> Selection:
    return Selection(exclusions=exclusions_value(), reference=st.session_state.get("reference"),
                     n_controls=int(st.session_state.n_controls), seed=0)


def current_folder() -> Path | None:
    """The results folder the views show: the last run, or the folder typed in the sidebar."""
    if st.session_state.source == SOURCE_RUN:
        return Path(st.session_state.run_folder) if st.session_state.run_folder else None
    typed = st.session_state.open_folder.strip()
    return Path(typed).expanduser() if typed else None
