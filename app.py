"""Streamlit front end: layout and interaction only; every number and figure comes from `interp`.

Run with `make run` (the offline demo lineage) or `streamlit run app.py`. The parts live in
`ui/`; viewing stored results imports neither torch nor transformers, which load only when a
run is started.
"""

from __future__ import annotations

import importlib
import threading
from pathlib import Path

import streamlit as st

from interp.core.errors import InterpError
from interp.demo import DEMO_NOTICE
from interp.models.lineage import Lineage
from interp.store.folder import ResultsStore
from interp.store.locations import shown_results_folder
from ui.address import address_notes
from ui.concepts import render_concepts_page
from ui.results import open_results, render_page_picker, render_view, results_version
from ui.run import auto_open_demo, render_no_results, results_match_sidebar, start_run
from ui.sidebar import render_reference_choice, render_sidebar
from ui.state import (
    ADDRESS_SETS_READ,
    SOURCE_RUN,
    concept_set_options,
    current_folder,
    init_state,
    selection_from_state,
)
from ui.widgets import literal

st.set_page_config(page_title="Legal concept attention across a lineage", page_icon="⚖️", layout="wide")


def render_main(lineage: Lineage | None, run: bool) -> None:
    st.title("Attention to legal concepts across a lineage")
    if lineage is not None and lineage.uses_demo:
        st.info(f"**Demo lineage.** {DEMO_NOTICE}", icon="ℹ️")
    page = render_page_picker()
    if st.session_state.address_note and not st.session_state.run_folder:
        st.warning(literal(st.session_state.address_note), icon="⚠️")
    for note in address_notes(concept_set_options(), ADDRESS_SETS_READ):
        st.warning(literal(note), icon="⚠️")
    if page == "concepts":
        render_concepts_page(lineage)
        return
    if run and lineage is not None:
        try:
            start_run(lineage)
        except InterpError as error:
            st.error(str(error))
            return
    try:
        folder = current_folder()
        if folder is None:
            render_no_results(lineage)
            return
        manifest = ResultsStore(folder).open(partial=True)
        render_reference_choice(manifest.stage_labels, manifest.reference)
        selection = selection_from_state()
        results = open_results(str(folder), results_version(str(folder)), selection)
    except InterpError as error:
        st.error(str(error))
        return
    st.caption(f"Results: `{shown_results_folder(folder)}` · lineage **{manifest.lineage}** · "
               f"stages {', '.join(manifest.stage_labels)} · {len(manifest.sequence_ids)} sequences · "
               f"updated {manifest.updated}")
    if lineage is not None and st.session_state.source == SOURCE_RUN:
        mismatch = results_match_sidebar(lineage, Path(folder))
        if mismatch:
            st.warning(mismatch, icon="⚠️")
    if results.partial:
        st.warning(f"**Partial results**: the run stopped before it finished; {results.describe_missing()}. "
                   "Run it again to finish it.")
    differing = results.differently_tokenized()
    if differing:
        st.caption(f"The stages tokenize {', '.join(differing)} differently: shares and shifts compare; "
                   "token-by-token differences and control spans are not offered for them.")
    render_view(page, str(folder), selection)


@st.cache_resource
def warm_scipy() -> threading.Thread:
    """Import scipy.stats once per server, in the background: the Distribution view's bootstrap
    and QQ plot need it, and importing it on the first click cost about a second."""
    thread = threading.Thread(target=importlib.import_module, args=("scipy.stats",), daemon=True)
    thread.start()
    return thread


def main() -> None:
    init_state()
    lineage, run = render_sidebar()
    run = auto_open_demo(lineage) or run
    render_main(lineage, run)
    warm_scipy()


main()
