"""Streamlit front end: layout and interaction only; every number and figure comes from `interp`.

Run with `make run` (the offline demo lineage) or `streamlit run app.py`.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import streamlit as st

from app_concepts import render_concepts_page
from app_state import (
    SOURCE_RUN,
    current_folder,
    exclusions_value,
    init_state,
    selected_sequences,
    selection_from_state,
)
from app_views import VIEW_RENDERERS, render_view_picker
from interp.demo import DEMO_NOTICE, demo_is_built, ensure_demo
from interp.errors import InterpError
from interp.lineage import Lineage, list_presets, load_lineage, parse_lineage
from interp.loader import load_stage
from interp.paths import runs_dir
from interp.pipeline import ExtractionSettings, extract_lineage
from interp.registry import concept_set_hash
from interp.report import sequences_tokenized_differently
from interp.store import ResultsStore

st.set_page_config(page_title="Legal concept attention across a lineage", page_icon="⚖️", layout="wide")


@st.cache_resource(max_entries=1, show_spinner="Loading the checkpoint …")
def cached_stage(model: str, revision: str | None, device: str, dtype: str, device_map: str | None, trust: bool):
    """One checkpoint in memory per process; loading the next one evicts it."""
    from interp.lineage import Stage

    return load_stage(Stage("stage", model, revision), device=device, dtype=dtype, device_map=device_map,
                      trust_remote_code=trust)


def app_stage_loader(stage, settings: ExtractionSettings, device: str, dtype: str):
    loaded = cached_stage(stage.model, stage.revision, device, dtype, settings.device_map, settings.trust_remote_code)
    loaded.stage = stage
    return loaded


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


def run_folder_for(lineage: Lineage, settings: ExtractionSettings) -> Path:
    """One folder per lineage, concept selection and settings, so a repeated run is a cache hit."""
    sequences = selected_sequences()
    material = json.dumps({
        "stages": [(s.label, s.model, s.revision) for s in lineage.stages], "reference": lineage.reference,
        "concepts": concept_set_hash(sequences), "dtype": settings.dtype, "format": settings.input_format,
    }, sort_keys=True)
    return runs_dir() / f"{lineage.name}-{hashlib.sha256(material.encode()).hexdigest()[:12]}"


def start_run(lineage: Lineage) -> None:
    """Run the lineage over the selected sequences with a progress bar per stage × sequence."""
    settings = ExtractionSettings(device=st.session_state.device, dtype=st.session_state.dtype)
    sequences = selected_sequences()
    out = run_folder_for(lineage, settings)
    bar = st.progress(0.0, text="Preparing the run …")

    def on_progress(progress) -> None:
        bar.progress(progress.done / max(progress.total, 1), text=progress.message)

    extract_lineage(lineage, sequences, out, settings, on_progress, stage_loader=app_stage_loader)
    bar.empty()
    st.session_state.run_folder = str(out)


def render_sidebar() -> Lineage | None:
    """Lineage, concepts, exclusions, reference, device: everything a run and its views depend on."""
    sidebar = st.sidebar
    sidebar.header("Lineage")
    sidebar.radio("Results from", [SOURCE_RUN, "an existing results folder"], key="source")
    if st.session_state.source != SOURCE_RUN:
        sidebar.text_input("Results folder", key="open_folder", placeholder="/path/to/results",
                           help="A folder made by `python -m interp extract`, e.g. on a GPU machine; no model is loaded.")
        render_analysis_settings(sidebar)
        return None
    sidebar.selectbox("Lineage", [*list_presets(), "custom"], key="lineage_choice",
                      help="demo: a miniature trained here, offline. saul-7b: the reference study's three 7B models.")
    if st.session_state.lineage_choice == "custom":
        sidebar.text_area("Stages, in order", key="custom_stages", height=110,
                          help="One per line: `label = hub id or local folder`, optionally `@revision`.")
    try:
        lineage = lineage_from_state()
    except InterpError as error:
        sidebar.error(str(error))
        return None
    sidebar.caption(" → ".join(f"**{s.label}** `{s.model}`" for s in lineage.stages))
    render_concept_choice(sidebar)
    sidebar.selectbox("Device", ["auto", "cpu", "cuda"], key="device")
    sidebar.selectbox("Data type", ["auto", "float32", "bfloat16", "float16"], key="dtype",
                      help="auto: bfloat16 on CUDA, float32 on the CPU.")
    render_analysis_settings(sidebar)
    if sidebar.button("Run", type="primary", width="stretch", disabled=not selected_sequences()):
        st.session_state.run_requested = True
    return lineage


def render_concept_choice(container) -> None:
    from app_state import concept_set_options

    options = concept_set_options()
    st.session_state.concept_sets = [name for name in st.session_state.concept_sets if name in options]
    container.multiselect("Concept sets", list(options), key="concept_sets",
                          help="Built-in sets and your own (add them on the Concepts page).")


def render_analysis_settings(container) -> None:
    container.header("Analysis")
    container.selectbox("Excluded tokens", ["paper", "none", "custom"], key="exclusion",
                        help="paper: BOS and ' ( ) , - . : ▁ ▁( ▁... ▁[...], as in the reference study. none: BOS only.")
    if st.session_state.exclusion == "custom":
        container.text_input("Tokens to exclude (comma-separated)", key="custom_exclusions")
    container.number_input("Control spans", min_value=0, max_value=2000, step=50, key="n_controls",
                           help="Random spans of the concept's lengths that place its shift in a null distribution.")


def render_main(lineage: Lineage | None) -> None:
    st.title("Attention to legal concepts across a lineage")
    if lineage is not None and any(s.model.startswith("demo:") for s in lineage.stages):
        st.info(f"**Demo lineage.** {DEMO_NOTICE}", icon="ℹ️")
    view = render_view_picker()
    if view == "concepts":
        render_concepts_page(lineage)
        return
    if st.session_state.pop("run_requested", False) and lineage is not None:
        try:
            start_run(lineage)
        except InterpError as error:
            st.error(str(error))
            return
    folder = current_folder()
    if folder is None:
        render_no_results(lineage)
        return
    store = ResultsStore(folder)
    try:
        manifest = store.open()
    except InterpError as error:
        st.error(str(error))
        return
    st.caption(f"Results: `{folder}` · lineage **{manifest.lineage}** · stages {', '.join(manifest.stage_labels)} · "
               f"{len(manifest.sequence_ids)} sequences · updated {manifest.updated}")
    differing = sequences_tokenized_differently(store, manifest)
    if differing:
        st.caption(f"The stages tokenize {', '.join(differing)} differently: shares and shifts compare; "
                   "token-by-token differences and control spans are not offered for them.")
    if st.session_state.get("reference") not in manifest.stage_labels:
        st.session_state.reference = manifest.reference
    st.sidebar.selectbox("Reference stage", manifest.stage_labels, key="reference",
                         help="Shifts are measured against this stage.")
    try:
        exclusions_value()
        VIEW_RENDERERS[view](str(folder), manifest, selection_from_state())
    except InterpError as error:
        st.error(str(error))


def render_no_results(lineage: Lineage | None) -> None:
    if st.session_state.source != SOURCE_RUN:
        st.info("Enter the path of a results folder in the sidebar.")
        return
    if lineage is not None and lineage.name == "demo" and not demo_is_built():
        st.warning("The demo lineage is not built yet (`make run` builds it before starting the app).")
        if st.button("Build the demo lineage now (about two minutes, offline)", type="primary"):
            with st.spinner("Training base → cpt → ift on generated text …"):
                ensure_demo(progress=False)
            st.session_state.auto_opened = False
            st.rerun()
        return
    st.info("Choose concept sets and press **Run** in the sidebar. A run already made with the same "
            "lineage and concepts opens at once, without loading a model.")


def auto_open_demo(lineage: Lineage | None) -> None:
    """On a fresh start with the demo lineage, open (or make, in seconds) its default run."""
    if st.session_state.get("auto_opened") or lineage is None or lineage.name != "demo" or not demo_is_built():
        return
    st.session_state.auto_opened = True
    out = run_folder_for(lineage, ExtractionSettings(device=st.session_state.device, dtype=st.session_state.dtype))
    if ResultsStore(out).manifest_path.is_file():
        st.session_state.run_folder = str(out)
    elif selected_sequences():
        st.session_state.run_requested = True


def main() -> None:
    init_state()
    lineage = render_sidebar()
    auto_open_demo(lineage)
    render_main(lineage)


main()
