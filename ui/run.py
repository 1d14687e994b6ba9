"""Running a lineage from the app: the cached checkpoint, the run folder, the demo on first start.

Sessions that ask for the same run share one folder. While one session writes it, the others
wait for its lock and then open what it wrote (every entry is then cached, so no model loads):
on a cold start five researchers get the same demo results, not four lock errors.
"""

from __future__ import annotations

import dataclasses
import shutil
import time
from pathlib import Path

import streamlit as st

from interp.core.errors import InterpError
from interp.core.locks import FolderBusy, is_locked
from interp.demo import demo_is_built, ensure_demo
from interp.extraction.settings import ExtractionSettings
from interp.models.lineage import Lineage, Stage
from interp.store.folder import WRITER_LOCK, ResultsStore
from interp.store.locations import app_run_folder, runs_dir
from ui.state import (
    SOURCE_RUN,
    default_sets,
    remember_run,
    selected_sequences,
    selection_key,
    selection_problems,
)

WAIT_LIMIT_S = 3600


@st.cache_resource(max_entries=1, show_spinner="Loading the checkpoint …")
def cached_stage(model: str, revision: str | None, device: str, dtype: str, device_map: str | None, trust: bool):
    """One checkpoint in memory per process; loading the next one evicts it."""
    from interp.models.loader import load_stage

    return load_stage(Stage("stage", model, revision), device=device, dtype=dtype, device_map=device_map,
                      trust_remote_code=trust)


def app_stage_loader(stage: Stage, settings: ExtractionSettings, device: str, dtype: str):
    """The cached checkpoint, relabelled for this stage (a copy: the cached one stays as it is)."""
    loaded = cached_stage(stage.model, stage.revision, device, dtype, settings.device_map, settings.trust_remote_code)
    return dataclasses.replace(loaded, stage=stage)


def settings_from_state() -> ExtractionSettings:
    return ExtractionSettings(device=st.session_state.device, dtype=st.session_state.dtype)


def run_folder_for(lineage: Lineage, settings: ExtractionSettings) -> Path:
    return _run_folder(lineage, settings, selection_key(), str(runs_dir()), selected_sequences())


@st.cache_data(max_entries=64, show_spinner=False)
def _run_folder(lineage: Lineage, settings: ExtractionSettings, selection: tuple, runs: str,
                _sequences: list) -> Path:
    """The run folder of a selection, hashed once per version of the selected files (the hash of a
    large upload took a noticeable part of every rerun); `selection` names what `_sequences` holds."""
    return app_run_folder(lineage, _sequences, dtype=settings.dtype, input_format=settings.input_format)


def start_run(lineage: Lineage) -> None:
    """Run the lineage over the selected sequences with a progress bar per stage × sequence.

    When another session is writing the same folder, wait for it, then run again: its entries
    are then cached, so this finishes at once with the same results.
    """
    from interp.extraction.pipeline import (
        extract_lineage,  # torch and transformers load here, not before
    )

    problems = selection_problems()
    if problems:
        raise InterpError(problems[0])
    check_models_here(lineage)
    settings = settings_from_state()
    out = run_folder_for(lineage, settings)
    existed = out.exists()
    bar = st.progress(0.0, text="Preparing the run …")

    def on_progress(progress) -> None:
        bar.progress(progress.done / max(progress.total, 1), text=progress.message)

    began = time.monotonic()
    while True:
        try:
            extract_lineage(lineage, selected_sequences(), out, settings, on_progress, stage_loader=app_stage_loader)
            break
        except FolderBusy:
            if time.monotonic() - began > WAIT_LIMIT_S:
                raise
            wait_for_other_session(out, bar, began)
        except InterpError:
            bar.empty()
            if not existed and not (out / "manifest.json").exists() and not (out / "entries").exists():
                shutil.rmtree(out, ignore_errors=True)  # a run that failed before writing leaves no folder
            raise
    if lineage.uses_demo:
        from interp.causal.study import run_consecutive_pairs

        bar.progress(0.0, text="The causal check on the demo: do the heads whose attention moved matter? …")
        run_consecutive_pairs(out, lambda progress: bar.progress(
            progress.done / max(progress.total, 1), text=f"Causal check {progress.stage}: {progress.message}"),
            device=settings.device)
    bar.empty()
    remember_run(out)


def wait_for_other_session(out: Path, bar, began: float) -> None:
    """Until the session writing `out` lets go of it; the progress bar says what is happening."""
    while is_locked(out, WRITER_LOCK) and time.monotonic() - began <= WAIT_LIMIT_S:
        bar.progress(0.0, text=f"Another session is running this lineage over the same concepts; its results "
                               f"open here when it finishes ({time.monotonic() - began:.0f} s) …")
        time.sleep(0.5)


def check_models_here(lineage: Lineage) -> None:
    """The app runs models that are on this machine: a local folder, the demo, or a hub model in the
    local Hugging Face cache. It refuses the rest at once, instead of failing after a download
    attempt; the command line (on a GPU machine) can fetch them."""
    from interp.models.checkpoints import hub_model_cached
    from interp.models.lineage import is_demo_model, is_local_model

    for stage in lineage.stages:
        if not (is_demo_model(stage.model) or is_local_model(stage.model) or hub_model_cached(stage.model, stage.revision)):
            raise InterpError(
                f"stage '{stage.label}' ({stage.model}): not on this machine (not in the Hugging Face cache); the app "
                "does not download models: run `python -m interp extract` on a machine that can, then open its "
                "results folder here"
            )


def results_match_sidebar(lineage: Lineage, folder: Path) -> str | None:
    """Why the results shown are not what the sidebar now asks for (None when they are)."""
    expected = run_folder_for(lineage, settings_from_state())
    if expected == folder:
        return None
    return (f"The results shown are from an earlier run (`{folder.name}`); the sidebar now asks for lineage "
            f"**{lineage.name}** over {len(selected_sequences())} sequences. Press **Run** to update them"
            + (" (it opens at once if that run was made before)." if (expected / "manifest.json").is_file() else "."))


def auto_open_demo(lineage: Lineage | None) -> bool:
    """On a session's first page with the demo lineage, open the run of its concept sets if it
    was made; True only when that is the demo over the built-in sets and it must be made (or is
    being made by another session, whose run `start_run` then waits for).

    A page never starts any other run by itself: sets named in the address (`?set=`) wait for
    **Run**, and a run named in the address (`?run=`) is shown, or refused with a note, never
    replaced by the demo's."""
    if st.session_state.get("auto_opened") or lineage is None or lineage.name != "demo" or not demo_is_built():
        return False
    st.session_state.auto_opened = True
    if st.session_state.run_from_address:
        return False
    out = run_folder_for(lineage, settings_from_state())
    if _finished(out):
        remember_run(out)
        return False
    return bool(selected_sequences()) and st.session_state.concept_sets == default_sets()


def _finished(folder: Path) -> bool:
    """Whether a run folder holds a finished run that no session is writing."""
    store = ResultsStore(folder)
    if not store.manifest_path.is_file() or is_locked(folder, WRITER_LOCK):
        return False
    try:
        return store.read_manifest().complete
    except InterpError:
        return False


def render_no_results(lineage: Lineage | None) -> None:
    if st.session_state.source != SOURCE_RUN:
        st.info("Enter the path of a results folder in the sidebar.")
        return
    if lineage is not None and lineage.name == "demo" and not demo_is_built():
        st.warning("The demo lineage is not built yet (`make run` builds it before starting the app).")
        st.button("Build the demo lineage now (about two minutes, offline)", type="primary", on_click=_build_demo)
        return
    st.info("Choose concept sets and press **Run** in the sidebar. A run already made with the same "
            "lineage and concepts opens at once, without loading a model.")


def _build_demo() -> None:
    with st.spinner("Training base → cpt → ift on generated text …"):
        ensure_demo(progress=False)
    st.session_state.auto_opened = False
