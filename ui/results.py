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
from interp.analysis.envelope import TableHeader, results_header
from interp.analysis.results import Results, Selection
from interp.analysis.tables import COLUMN_FORMATS, SIGNED_COLUMNS
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
from interp.views.figures import mark_head
from ui.address import shown
from ui.widgets import literal, render_figure, render_table

PAGES = {**{name: view.label for name, view in views.VIEWS.items()}, "concepts": "Concepts"}
BUNDLE_IMAGES = {"HTML figures and tables (seconds)": (), "HTML, PNG, SVG and PDF figures": IMAGE_FORMATS}
# Label → (style, width) of `interp.export.styles`.
BUNDLE_STYLES = {"Screen (as shown here)": ("screen", None), "Paper, column width (3.5 in)": ("paper", "column"),
                 "Paper, page width (7 in)": ("paper", "page")}


def render_page_picker() -> str:
    """A row of page buttons bound to `?view=` in the address, so every view has its own link; a
    view the address names that is not one is refused with a note (and left there as it came)."""
    requested = st.query_params.get("view", "overview")
    st.session_state.view = requested if requested in PAGES else "overview"
    st.segmented_control("View", list(PAGES), format_func=PAGES.get, key="view", label_visibility="collapsed",
                         on_change=_page_changed)
    if requested in PAGES:
        st.query_params["view"] = st.session_state.view
    else:
        st.warning(literal(f"The address names the view {shown(requested)}, which is not one of this app's views; "
                           "the Overview is shown."), icon="⚠️")
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
    render_output(view, chosen, output, results_header(results, view=view.name, **chosen))
    if name == "overview":
        render_bundle_download(folder, version, selection)


# At most this many select boxes side by side: seven in one row cut their values short.
CHOICES_PER_ROW = 4


def render_choices(view: views.View, results: Results) -> dict:
    """A select box per choice with more than one option, drawn from the address and writing back
    to it, at most `CHOICES_PER_ROW` to a row. The boxes hold each option's text (`choice_text`),
    so that an option meaning "all" (None) shows as such, not as an empty box. A value the address
    names that the view does not offer for this run is refused with a note."""
    requested = st.query_params.to_dict()
    chosen = views.resolve_choices(view, results, requested, as_text=True)
    for note in refused_choices(view, requested, chosen):
        st.warning(literal(note), icon="⚠️")
    so_far: dict = {}
    offered = []
    for choice in view.choices:
        options = list(choice.options(results, so_far))
        if len(options) > 1:
            offered.append((choice, options))
        so_far[choice.name] = chosen[choice.name]
    for start in range(0, len(offered), CHOICES_PER_ROW):
        row = offered[start:start + CHOICES_PER_ROW]
        for column, (choice, options) in zip(st.columns(CHOICES_PER_ROW), row):
            key = f"choice-{view.name}-{choice.name}"
            values = {views.choice_text(option): option for option in options}
            st.session_state[key] = views.choice_text(chosen[choice.name])
            column.selectbox(choice.label, list(values), key=key,
                             format_func=lambda text, c=choice, v=values: c.describe(results, v[text]),
                             on_change=_choice_changed, args=(view, choice.name, key))
    return chosen


def refused_choices(view: views.View, requested: dict, chosen: dict) -> list[str]:
    """One note per choice whose value in the address is not what the view shows (it is not among
    the run's options for this view: a sequence the run lacks, a head outside the model, the
    reference stage where shifts are shown)."""
    return [f"The address names {choice.label.lower()} {shown(requested[choice.name])}, which this view does not "
            f"offer for this run; it shows {shown(views.choice_text(chosen[choice.name]))}."
            for choice in view.choices
            if choice.name in requested and views.choice_text(chosen[choice.name]) != requested[choice.name]]


def _choice_changed(view: views.View, name: str, key: str) -> None:
    """Write the new value into the address; choices that follow it go back to their defaults."""
    st.query_params[name] = st.session_state[key]
    for choice in view.choices:
        if name in choice.follows and choice.name in st.query_params:
            del st.query_params[choice.name]


def _select_head(chart_key: str) -> None:
    """A clicked head-map cell becomes the selected layer and head of every view."""
    points = st.session_state[chart_key].selection.get("points", [])
    if points:
        st.query_params["layer"], st.query_params["head"] = str(int(points[0]["y"])), str(int(points[0]["x"]))


def render_output(view: views.View, chosen: dict, output: views.ViewOutput, header: TableHeader | None = None) -> None:
    """A view's headlines, notes, figures and tables; each table's downloads carry `header`
    (the run's settings and provenance) with the table's name."""
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
                if view.head_maps and "layer" in st.query_params and "head" in st.query_params:
                    figure = mark_head(figure, _int(st.query_params["layer"]), _int(st.query_params["head"]))
                render_figure(figure, views.entry_name(view, key, chosen), select_key=chart_key,
                              on_select=(lambda k=chart_key: _select_head(k)) if view.head_maps else None)
    for index, (key, table) in enumerate(output.tables.items()):
        name = views.entry_name(view, key, chosen)
        table_header = header.with_settings(table=key) if header is not None else None
        styled = table.style.map(_sign_colour, subset=[c for c in SIGNED_COLUMNS if c in table]).format(
            {c: f for c, f in COLUMN_FORMATS.items() if c in table}, precision=4, na_rep="")
        if index == 0:
            render_table(table, name, styled, header=table_header)
        else:
            with st.expander(f"Table: {key.replace('-', ' ')}"):
                render_table(table, name, header=table_header)
    for key, table in output.downloads.items():
        name = views.entry_name(view, key, chosen)
        table_header = header.with_settings(table=key) if header is not None else None
        st.download_button(f"Table: {key.replace('-', ' ')} ({len(table):,} rows, CSV)",
                           data=lambda t=table, h=table_header: table_bytes(t, "csv", h), file_name=f"{name}.csv",
                           mime="text/csv", key=f"download-{name}-csv", on_click="ignore")


def _int(text: str) -> int | None:
    return int(text) if text.isdigit() else None


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
