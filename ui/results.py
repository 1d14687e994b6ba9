"""The result views of the app, drawn from the view registry of `interp.views.catalogue`.

One generic renderer serves every registered view: a widget per choice, then the view's headline
numbers, notes, figures and tables with their downloads. A run's `Results` is opened once per
results-folder version and selection and shared by every session; each view's output is computed
once per choice and shared too (concurrent sessions asking for the same output wait for the one
computing it), so switching views or heads on a stored run answers from memory.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import streamlit as st

from interp import views
from interp.analysis.results import Results, Selection
from interp.analysis.tables import SIGNED_COLUMNS
from interp.core.errors import InterpError
from interp.export.bundle import (
    IMAGE_FORMATS,
    ExportProgress,
    SequenceSubset,
    bundle_file_name,
    choose_sequences,
    chromium_found,
    export_run,
    table_bytes,
)
from interp.store.folder import ResultsStore
from interp.views.choices import describe_sequence
from ui.widgets import render_figure, render_table

PAGES = {**{name: view.label for name, view in views.VIEWS.items()}, "concepts": "Concepts"}
BUNDLE_IMAGES = {"HTML figures and tables (seconds)": (), "HTML, PNG, SVG and PDF figures": IMAGE_FORMATS}
# Label → (style, width) of `interp.export.styles`.
BUNDLE_STYLES = {"Screen (as shown here)": ("screen", None), "Paper, column width (3.5 in)": ("paper", "column"),
                 "Paper, page width (7 in)": ("paper", "page")}


def render_page_picker() -> str:
    """A row of page buttons bound to `?view=` in the address, so every view has its own link."""
    requested = st.query_params.get("view", "overview")
    st.session_state.view = requested if requested in PAGES else "overview"
    st.segmented_control("View", list(PAGES), format_func=PAGES.get, key="view", label_visibility="collapsed",
                         on_change=_page_changed)
    st.query_params["view"] = st.session_state.view
    return st.session_state.view


def _page_changed() -> None:
    st.query_params["view"] = st.session_state.view or "overview"


def results_version(folder: str) -> int:
    """Changes whenever the run is rewritten, so nothing cached from an older version is reused."""
    return ResultsStore(folder).manifest_path.stat().st_mtime_ns


@st.cache_resource(max_entries=16, show_spinner="Reading the results folder …")
def open_results(folder: str, version: int, selection: Selection) -> Results:
    """One `Results` per folder version and selection, shared by every session (it only reads).
    A run that stopped early opens as far as it got; the page says what is missing."""
    return Results(folder, selection, partial=True)


@st.cache_resource(max_entries=256, show_spinner="Computing from the stored results …")
def view_output(folder: str, version: int, selection: Selection, name: str, chosen: tuple) -> views.ViewOutput:
    """A view's figures and tables, computed once for every session and shared as they are.

    A resource cache, not a data cache: a data cache would unpickle a copy of every figure for
    every session on every rerun (a tenth of a second per figure, all of it validation in
    plotly); the output is read, never changed, so one copy serves every session."""
    return views.get_view(name).compute(open_results(folder, version, selection), **dict(chosen))


@st.fragment
def render_view(name: str, folder: str, selection: Selection) -> None:
    """One view: its choices, then what it shows. A fragment: a new head reruns this alone.

    Bad input (a head outside the model, a damaged entry) is one line, here, since a fragment's
    rerun does not pass through the page's own handler."""
    try:
        _render_view(name, folder, selection)
    except InterpError as error:
        st.error(str(error))


def _render_view(name: str, folder: str, selection: Selection) -> None:
    view = views.get_view(name)
    version = results_version(folder)
    results = open_results(folder, version, selection)
    st.caption(view.caption)
    reason = view.unavailable(results)
    if reason:
        st.info(f"Nothing to show here: {reason}.")
        return
    chosen = render_choices(view, results)
    output = view_output(folder, version, selection, name, tuple(chosen.items()))
    render_output(view, chosen, output)
    if name == "overview":
        render_bundle_download(folder, version, selection)


def render_choices(view: views.View, results: Results) -> dict:
    """A select box per choice, drawn from the address and writing back to it."""
    chosen = views.resolve_choices(view, results, st.query_params.to_dict(), as_text=True)
    if not view.choices:
        return chosen
    columns = st.columns(len(view.choices))
    so_far: dict = {}
    for column, choice in zip(columns, view.choices):
        key = f"choice-{view.name}-{choice.name}"
        options = list(choice.options(results, so_far))
        st.session_state[key] = chosen[choice.name]
        column.selectbox(choice.label, options, key=key, format_func=lambda v, c=choice: c.describe(results, v),
                         on_change=_choice_changed, args=(view, choice.name, key))
        so_far[choice.name] = chosen[choice.name]
    return chosen


def _choice_changed(view: views.View, name: str, key: str) -> None:
    """Write the new value into the address; choices that follow it go back to their defaults."""
    st.query_params[name] = views.choice_text(st.session_state[key])
    for choice in view.choices:
        if name in choice.follows and choice.name in st.query_params:
            del st.query_params[choice.name]


def _select_head(chart_key: str) -> None:
    """A clicked head-map cell becomes the selected layer and head of every view."""
    points = st.session_state[chart_key].selection.get("points", [])
    if points:
        st.query_params["layer"], st.query_params["head"] = str(int(points[0]["y"])), str(int(points[0]["x"]))


def render_output(view: views.View, chosen: dict, output: views.ViewOutput) -> None:
    if output.headlines:
        for column, headline in zip(st.columns(len(output.headlines)), output.headlines):
            column.metric(headline.label, headline.value, help=headline.help or None)
    for note in output.notes:
        st.info(note)
    items = list(output.figures.items())
    for start in range(0, len(items), view.columns):
        for column, (key, figure) in zip(st.columns(view.columns), items[start:start + view.columns]):
            with column:
                chart_key = f"chart-{view.name}-{key}"
                render_figure(figure, views.entry_name(view, key, chosen), select_key=chart_key,
                              on_select=(lambda k=chart_key: _select_head(k)) if view.head_maps else None)
    for index, (key, table) in enumerate(output.tables.items()):
        name = views.entry_name(view, key, chosen)
        styled = table.style.map(_sign_colour, subset=[c for c in SIGNED_COLUMNS if c in table]).format(precision=4)
        if index == 0:
            render_table(table, name, styled)
        else:
            with st.expander(f"Table: {key.replace('-', ' ')}"):
                render_table(table, name)
    for key, table in output.downloads.items():
        name = views.entry_name(view, key, chosen)
        st.download_button(f"Table: {key.replace('-', ' ')} ({len(table):,} rows, CSV)",
                           data=lambda t=table: table_bytes(t, "csv"), file_name=f"{name}.csv", mime="text/csv",
                           key=f"download-{name}-csv", on_click="ignore")


def _sign_colour(value) -> str:
    if not isinstance(value, (int, float)) or value != value or value == 0:
        return ""
    return "color: #b2182b" if value > 0 else "color: #2166ac"


def bundle_bytes(folder: str, version: int, selection: Selection, image_formats: tuple[str, ...],
                 style: str = "screen", width: str | None = None, progress=None,
                 sequences: SequenceSubset | None = None) -> bytes:
    """The run as one zip: the bundle of `python -m interp export`, per-sequence views for
    `sequences` (default: a few examples per concept type); `progress` hears of every view
    computed and every figure rendered.

    Not behind a Streamlit cache: a cached function replays the elements it drew, and this one
    draws a progress bar. The session keeps the zip it made (`render_bundle_download`)."""
    with tempfile.TemporaryDirectory() as scratch:
        path, _, _ = export_run(open_results(folder, version, selection), Path(scratch) / "bundle.zip", image_formats,
                                style=style, width=width, progress=progress, sequences=sequences)
        return path.read_bytes()


def render_sequence_choice(results: Results) -> SequenceSubset | None:
    """Which sequences get per-sequence figures, where a few examples per concept type leave some
    out: those examples (the default), every sequence, or the ones chosen (None until one is)."""
    examples = choose_sequences(results)
    total = len(results.sequences)
    if len(examples.ids) == total:
        return examples
    options = {
        "examples": f"A few examples: the first {examples.per_type} of each concept type ({len(examples.ids):,} of "
                    f"{total:,} sequences)",
        "all": f"Every sequence ({total:,}; many figures, slow)",
        "chosen": "The sequences I choose",
    }
    picked = st.radio("Per-sequence figures (Heads, Tokens, Text, …)", list(options), format_func=options.get,
                      key="bundle-sequences",
                      help="The study-level views and every table of the Overview, Layer profile and Concept types "
                           "cover all sequences whichever you pick; the manifest lists the sequences left out.")
    if picked != "chosen":
        return choose_sequences(results, all_sequences=picked == "all")
    chosen = st.multiselect("Sequences", [sequence.id for sequence in results.sequences], key="bundle-chosen",
                            format_func=lambda sequence_id: describe_sequence(results, sequence_id))
    if not chosen:
        st.info("Choose at least one sequence for the per-sequence figures.")
        return None
    return choose_sequences(results, chosen)


def render_bundle_download(folder: str, version: int, selection: Selection) -> None:
    """Choices for the bundle, a button that makes it with a progress bar, then its download.

    Making the zip is a button of its own, since a download button that computes its data on
    click can show no progress. The session keeps the last zip it made, offered for as long as
    the run and the choices are the ones it was made for."""
    st.subheader("Download everything")
    left, right = st.columns(2)
    choice = left.radio("Figures in the zip", list(BUNDLE_IMAGES), key="bundle-images",
                        help="Images are rendered by Chromium, each figure once for all three formats; the demo's ten "
                             "sequences have about 310 figures, and a study of a thousand gets per-sequence figures "
                             "for a few examples per concept type unless you choose otherwise below.")
    look = right.radio("Figure style", list(BUNDLE_STYLES), key="bundle-style",
                       help="Paper: no title inside the figure (it goes into NAME.txt beside it), 300 dpi PNG, "
                            "a TrueType font embedded in the PDF, Okabe–Ito colours for stages.")
    images = BUNDLE_IMAGES[choice] if chromium_found() else ()
    style, width = BUNDLE_STYLES[look]
    subset = render_sequence_choice(open_results(folder, version, selection))
    if subset is None:
        return
    wanted = (folder, version, selection, images, subset.ids, style, width)
    made = st.session_state.get("bundle-made")
    if made is None or made[0] != wanted:
        if not st.button("Make the zip (manifest, index, figures and tables)", key="make-bundle", type="primary"):
            return
        bar = st.progress(0.0, text="Computing the views …")

        def on_progress(progress: ExportProgress) -> None:
            bar.progress(progress.fraction, text=progress.describe())

        made = (wanted, bundle_bytes(folder, version, selection, images, style, width, progress=on_progress,
                                     sequences=subset))
        bar.empty()
        st.session_state["bundle-made"] = made
    st.download_button(
        f"Download everything (zip, {len(made[1]) / 1e6:.1f} MB)", data=made[1],
        file_name=bundle_file_name(open_results(folder, version, selection), style, width), mime="application/zip",
        key="download-bundle", on_click="ignore", type="primary",
    )
