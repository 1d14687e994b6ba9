"""The sidebar: lineage, concept sets, device and the analysis settings every view depends on.

A results folder typed here opens only below the app's results roots; with sign-in configured,
the sidebar also signs a researcher in and out.
"""

from __future__ import annotations

import streamlit as st

from interp.analysis.exclusions import EXCLUSION_PRESETS, FIRST_POSITION_RULES
from interp.analysis.measures import MEASURES
from interp.core.errors import InterpError
from interp.models.lineage import Lineage, list_presets, load_lineage, parse_lineage
from interp.store.locations import RESULTS_ROOTS_VARIABLE, results_roots
from ui.address import MAX_CONTROLS, SOURCE_FOLDER, remember_exclusion, remember_source, shown
from ui.state import (
    SOURCE_RUN,
    bind_to_address,
    concept_set_options,
    measure_from_address,
    remember_sets,
    selected_sequences,
    selection_problems,
    sign_in_configured,
)
from ui.widgets import literal


def lineage_from_state() -> Lineage:
    """The lineage chosen in the sidebar: a preset, or the stages typed in as `label = model`."""
    choice = st.session_state.lineage_choice
    if choice != "custom":
        return load_lineage(choice)
    stages = []
    for number, line in enumerate(st.session_state.custom_stages.splitlines(), start=1):
        if not line.strip():
            continue
        label, separator, model = line.partition("=")
        if not separator:
            raise InterpError(f"custom stages, line {number}: write 'label = hub id or folder[@revision]'")
        model, _, revision = model.strip().partition("@")
        stages.append({"label": label.strip(), "model": model.strip(), **({"revision": revision} if revision else {})})
    return parse_lineage({"name": "custom", "stages": stages}, "custom stages")


def render_sidebar() -> tuple[Lineage | None, bool]:
    """Everything a run and its views depend on; returns the lineage and whether Run was pressed."""
    sidebar = st.sidebar
    render_sign_in(sidebar)
    sidebar.header("Lineage")
    sidebar.radio("Results from", [SOURCE_RUN, SOURCE_FOLDER], key="source", on_change=remember_source)
    if st.session_state.source != SOURCE_RUN:
        roots = ", ".join(f"`{root}`" for root in results_roots())
        sidebar.text_input("Results folder", key="open_folder", placeholder="/path/to/results", on_change=remember_source,
                           help=f"A folder made by `python -m interp extract`, e.g. on a GPU machine; no model is "
                                f"loaded. Folders under {roots} open here (the server's {RESULTS_ROOTS_VARIABLE} "
                                "adds more); a name alone is looked up in the first.")
        render_analysis_settings(sidebar)
        return None, False
    sidebar.selectbox("Lineage", [*list_presets(), "custom"], key="lineage_choice",
                      help="demo: a miniature trained here, offline. saul-7b: the reference study's three 7B models.")
    if st.session_state.lineage_choice == "custom":
        sidebar.text_area("Stages, in order", key="custom_stages", height=110,
                          help="One per line: `label = hub id or local folder`, optionally `@revision`.")
    try:
        lineage = lineage_from_state()
    except InterpError as error:
        sidebar.error(str(error))
        return None, False
    sidebar.caption(" → ".join(f"**{s.label}** `{s.model}`" for s in lineage.stages))
    render_concept_choice(sidebar)
    sidebar.selectbox("Device", ["auto", "cpu", "cuda"], key="device")
    sidebar.selectbox("Data type", ["auto", "float32", "bfloat16", "float16"], key="dtype",
                      help="auto: bfloat16 on CUDA, float32 on the CPU.")
    render_analysis_settings(sidebar)
    problems = selection_problems()
    for problem in problems:
        sidebar.error(literal(problem))
    run = sidebar.button("Run", type="primary", width="stretch", disabled=not selected_sequences() or bool(problems),
                         on_click=show_results_page)
    return lineage, run


def show_results_page() -> None:
    """`on_click` of Run: a run pressed on the Concepts page shows its results on the Overview."""
    if st.query_params.get("view") == "concepts":
        st.query_params["view"] = "overview"


def render_sign_in(container) -> None:
    """Sign in or out, where the server configures Streamlit's authentication (`[auth]` in secrets)."""
    if not sign_in_configured():
        return
    if st.user.is_logged_in:
        name = st.user.get("name") or st.user.get("email") or "signed in"
        container.caption(f"Signed in as {name}")
        container.button("Sign out", key="sign-out", on_click=st.logout)
    else:
        container.button("Sign in", key="sign-in", type="primary", on_click=st.login)


def render_concept_choice(container) -> None:
    options = concept_set_options()
    st.session_state.concept_sets = [name for name in st.session_state.concept_sets if name in options]
    container.multiselect("Concept sets", list(options), key="concept_sets", on_change=remember_sets,
                          help="Built-in sets and your own (add them on the Concepts page).")


def render_analysis_settings(container) -> None:
    container.header("Analysis")
    container.selectbox("Excluded tokens", [*EXCLUSION_PRESETS, "custom"], key="exclusion",
                        on_change=remember_exclusion,
                        help=" ".join(f"{p.name}: {p.description}." for p in EXCLUSION_PRESETS.values())
                        + " custom: a comma-separated list of token strings.")
    if st.session_state.exclusion == "custom":
        container.text_input("Tokens to exclude (comma-separated)", key="custom_exclusions",
                             on_change=remember_exclusion)
    container.selectbox("First position", list(FIRST_POSITION_RULES), key="first_position",
                        on_change=bind_to_address, args=("first", "first_position"),
                        help=" ".join(f"{name}: exclude {text}." for name, text in FIRST_POSITION_RULES.items()))
    container.number_input("Control spans", min_value=0, max_value=MAX_CONTROLS, step=50, key="n_controls",
                           on_change=bind_to_address, args=("controls", "n_controls"),
                           help="Random spans of the concept's lengths that place its shift in a null distribution.")
    st.session_state.measure = measure_from_address()
    container.radio("Measure", list(MEASURES), format_func=lambda name: MEASURES[name].label, key="measure",
                    horizontal=True, on_change=bind_to_address, args=("measure", "measure"),
                    help="; ".join(f"{m.label}: {m.description}" for m in MEASURES.values()))


def render_reference_choice(stages: list[str], reference: str) -> None:
    """The reference stage, among the stages of the run shown; kept in the address. A stage the
    address names that the run lacks is refused with a note on the page."""
    named = st.query_params.get("reference")
    st.session_state.reference = named if named in stages else reference
    if named is not None and named not in stages:
        st.warning(literal(f"The address names the reference stage {shown(named)}, which this run does not have "
                           f"(stages: {', '.join(stages)}); shifts are measured against {reference}."), icon="⚠️")
    st.sidebar.selectbox("Reference stage", stages, key="reference", on_change=bind_to_address,
                         args=("reference", "reference"), help="Shifts are measured against this stage.")
