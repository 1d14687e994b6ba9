"""The result views of the app: each draws figures that `interp.views` builds, with exports.

Figures and tables are cached per results folder version and selection (`st.cache_data`), so
switching views or heads on a stored run answers from memory.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from interp import views
from interp.errors import InterpError
from interp.export import CHROMIUM_MISSING, IMAGE_FORMATS, chromium_found, figure_bytes, figure_html, table_bytes
from interp.report import Selection, compute_stage_share
from interp.statistics import compute_bootstrap_ci, compute_shift
from interp.store import ResultsStore, RunManifest

VIEWS = {
    "overview": "Overview", "layers": "Layer profile", "heads": "Heads", "tokens": "Tokens",
    "distribution": "Distribution", "structure": "Structure", "concepts": "Concepts",
}
MIME = {"png": "image/png", "svg": "image/svg+xml", "pdf": "application/pdf", "html": "text/html"}


def render_view_picker() -> str:
    """A row of view buttons bound to `?view=` in the address, so every view has its own link."""
    requested = st.query_params.get("view", "overview")
    if "view" not in st.session_state:
        st.session_state.view = requested if requested in VIEWS else "overview"
    st.segmented_control("View", list(VIEWS), format_func=VIEWS.get, key="view", label_visibility="collapsed",
                         on_change=lambda: st.query_params.update(view=st.session_state.view or "overview"))
    view = st.session_state.view or "overview"
    st.query_params["view"] = view
    return view


def _version(folder: str) -> int:
    """Changes whenever the run is rewritten, so cached figures of an older version are not reused."""
    return ResultsStore(folder).manifest_path.stat().st_mtime_ns


def _key(selection: Selection) -> tuple:
    return (selection.exclusions, selection.reference, selection.n_controls, selection.seed)


def _selection(key: tuple) -> Selection:
    return Selection(*key)


@st.cache_data(max_entries=32, show_spinner="Computing from the stored results …")
def cached_overview(folder: str, version: int, key: tuple):
    store, selection = ResultsStore(folder), _selection(key)
    return views.overview_figure(store, selection), views.statistics_table(store, selection), views.mean_share_table(store, selection)


@st.cache_data(max_entries=32)
def cached_layer_profiles(folder: str, version: int, key: tuple):
    store, selection = ResultsStore(folder), _selection(key)
    return views.layer_profiles_figure(store, selection), views.layer_profile_table(store, selection)


@st.cache_data(max_entries=64)
def cached_head_share(folder: str, version: int, key: tuple, sequence_id: str, stage: str):
    return views.head_share_figure(ResultsStore(folder), _selection(key), sequence_id, stage)


@st.cache_data(max_entries=64)
def cached_head_shift(folder: str, version: int, key: tuple, sequence_id: str, stage: str, against: str):
    return views.head_shift_figure(ResultsStore(folder), _selection(key), sequence_id, stage, against)


@st.cache_data(max_entries=64)
def cached_tokens(folder: str, version: int, sequence_id: str, stage: str, layer: int, head: int,
                  against: str | None, threshold: float):
    return views.token_figure(ResultsStore(folder), sequence_id, stage, layer, head, against, threshold)


@st.cache_data(max_entries=32)
def cached_distribution(folder: str, version: int, key: tuple, sequence_id: str, stage: str):
    store, selection = ResultsStore(folder), _selection(key)
    reference = selection.reference or store.open().reference
    shift = compute_shift(
        compute_stage_share(store, stage, sequence_id, selection.exclusions),
        compute_stage_share(store, reference, sequence_id, selection.exclusions),
    )
    return views.distribution_figures(store, selection, sequence_id, stage), compute_bootstrap_ci(shift), float(shift.mean())


@st.cache_data(max_entries=32)
def cached_structure(folder: str, version: int, key: tuple, sequence_id: str):
    return views.structure_figures(ResultsStore(folder), _selection(key), sequence_id)


BUNDLE_IMAGES = {"HTML figures and tables (seconds)": (), "HTML, PNG and SVG figures (minutes on a large run)": ("png", "svg")}


@st.cache_data(max_entries=4, show_spinner=False)
def bundle_bytes(folder: str, version: int, key: tuple, image_formats: tuple[str, ...]) -> bytes:
    """The whole run as one zip: the bundle of `python -m interp export` (which adds PNG and SVG)."""
    import tempfile
    from pathlib import Path

    from interp.export import write_bundle

    store = ResultsStore(folder)
    figures, tables = views.bundle_contents(store, _selection(key))
    with tempfile.TemporaryDirectory() as scratch:
        path = write_bundle(Path(scratch) / "bundle.zip", figures, tables, store.open().model_dump(mode="json"),
                            image_formats=image_formats)
        return path.read_bytes()


def render_figure(fig, name: str, select_key: str | None = None, on_select=None):
    """Draw a figure and its PNG/SVG/PDF/HTML downloads; images are made only when clicked."""
    width = "content" if fig.layout.width else "stretch"
    event = st.plotly_chart(fig, key=select_key, on_select=on_select or "ignore", selection_mode="points", width=width)
    columns = st.columns(len(IMAGE_FORMATS) + 1, gap="small", width=420)
    images_possible = chromium_found()
    for column, fmt in zip(columns, IMAGE_FORMATS):
        column.download_button(
            fmt.upper(), data=(lambda f=fmt: figure_bytes(fig, f)), file_name=f"{name}.{fmt}", mime=MIME[fmt],
            key=f"download-{name}-{fmt}", disabled=not images_possible,
            help=None if images_possible else CHROMIUM_MISSING, on_click="ignore",
        )
    columns[-1].download_button("HTML", data=lambda: figure_html(fig), file_name=f"{name}.html", mime=MIME["html"],
                                key=f"download-{name}-html", on_click="ignore")
    return event


def render_table(frame: pd.DataFrame, name: str, styled=None) -> None:
    st.dataframe(styled if styled is not None else frame, hide_index=True, width="stretch")
    left, right, _ = st.columns([1, 1, 6])
    left.download_button("CSV", table_bytes(frame, "csv"), file_name=f"{name}.csv", mime="text/csv",
                         key=f"download-{name}-csv", on_click="ignore")
    right.download_button("JSON", table_bytes(frame, "json"), file_name=f"{name}.json", mime="application/json",
                          key=f"download-{name}-json", on_click="ignore")


def _sign_colour(value) -> str:
    if not isinstance(value, (int, float)) or np.isnan(value) or value == 0:
        return ""
    return "color: #b2182b" if value > 0 else "color: #2166ac"


def render_overview(folder: str, manifest: RunManifest, selection: Selection) -> None:
    figure, statistics, mean_share = cached_overview(folder, _version(folder), _key(selection))
    render_figure(figure, "overview-mean-share")
    st.subheader("Statistics of the shift against the reference")
    st.caption("Shift Δ = share(stage) − share(reference) per head; red: attention moved to the concept, blue: away. "
               "Skewness and kurtosis are population moments (kurtosis not excess); entropy in nats over 11 bins.")
    styled = statistics.style.map(_sign_colour, subset=["mean", "median", "skewness"]).format(precision=4)
    render_table(statistics, "statistics", styled)
    with st.expander("Mean share per sequence and stage"):
        render_table(mean_share, "mean-share")
    render_bundle_download(folder, selection)


def render_bundle_download(folder: str, selection: Selection) -> None:
    st.subheader("Download everything")
    choice = st.radio("Figures in the zip", list(BUNDLE_IMAGES), key="bundle-images", horizontal=True,
                      help="Images are rendered one by one by Chromium; a run of ten sequences has about 170 figures.")
    images = BUNDLE_IMAGES[choice] if chromium_found() else ()
    st.download_button(
        "Download everything (zip: manifest, every figure and table)",
        data=lambda: bundle_bytes(folder, _version(folder), _key(selection), images),
        file_name=f"{ResultsStore(folder).folder.name}-bundle.zip", mime="application/zip",
        key="download-bundle", on_click="ignore", type="primary",
    )


def render_layers(folder: str, manifest: RunManifest, selection: Selection) -> None:
    figure, table = cached_layer_profiles(folder, _version(folder), _key(selection))
    render_figure(figure, "layer-profiles")
    with st.expander("Table: mean and median shift per layer"):
        render_table(table, "layer-profiles")


def _sequence_picker(manifest: RunManifest, key: str, only=None) -> str:
    ids = [s for s in manifest.sequence_ids if only is None or only(s)]
    if not ids:
        raise InterpError("no sequence of this run fits this view")
    concepts = {s.id: s.concept for s in manifest.concept_sequences()}
    return st.selectbox("Sequence", ids, key=key, format_func=lambda s: f"{s} ({concepts[s]})")


def _select_head(chart_key: str) -> None:
    """A clicked heatmap cell becomes the selected head of the Tokens view."""
    points = st.session_state[chart_key].selection.get("points", [])
    if points:
        st.session_state.head = (int(points[0]["y"]), int(points[0]["x"]))


def render_heads(folder: str, manifest: RunManifest, selection: Selection) -> None:
    sequence_id = _sequence_picker(manifest, "heads-sequence")
    stages = manifest.stage_labels
    version, key = _version(folder), _key(selection)
    left, right = st.columns(2)
    with left:
        stage = st.selectbox("Share of stage", stages, key="heads-stage")
        render_figure(cached_head_share(folder, version, key, sequence_id, stage), f"heads-share-{sequence_id}-{stage}",
                      select_key="chart-heads-share", on_select=lambda: _select_head("chart-heads-share"))
    with right:
        first, second = st.columns(2)
        stage_a = first.selectbox("Shift of", stages, index=len(stages) - 1, key="heads-shift-a")
        stage_b = second.selectbox("against", stages, index=stages.index(selection.reference or manifest.reference),
                                   key="heads-shift-b")
        render_figure(cached_head_shift(folder, version, key, sequence_id, stage_a, stage_b),
                      f"heads-shift-{sequence_id}-{stage_a}-{stage_b}",
                      select_key="chart-heads-shift", on_select=lambda: _select_head("chart-heads-shift"))
    if st.session_state.head:
        layer, head = st.session_state.head
        st.success(f"Selected head: layer {layer}, head {head}. The Tokens view opens on it.")
    else:
        st.caption("Click a cell to select that head for the Tokens view.")


def render_tokens(folder: str, manifest: RunManifest, selection: Selection) -> None:
    sequence_id = _sequence_picker(manifest, "tokens-sequence")
    stages = manifest.stage_labels
    reference = selection.reference or manifest.reference
    stage = st.selectbox("Stage", stages, index=len(stages) - 1, key="tokens-stage")
    if not ResultsStore(folder).has_patterns(stage, sequence_id):
        st.warning("This run kept column sums only (`--no-patterns`): shares and shifts work, token maps need patterns.")
        return
    layer, head = st.session_state.head or views.most_shifted_head(ResultsStore(folder), selection, sequence_id, stage)
    columns = st.columns(4)
    layer = columns[0].number_input("Layer", 0, None, int(layer), key="tokens-layer")
    head = columns[1].number_input("Head", 0, None, int(head), key="tokens-head")
    against = columns[2].selectbox("Difference against", ["(none)", *[s for s in stages if s != stage]], key="tokens-against")
    threshold = columns[3].slider("Annotate above", 0.0, 1.0, 0.1, 0.01, key="tokens-threshold")
    against = None if against == "(none)" else against
    figure = cached_tokens(folder, _version(folder), sequence_id, stage, int(layer), int(head), against, float(threshold))
    render_figure(figure, f"tokens-{sequence_id}-{stage}-L{layer}H{head}" + (f"-minus-{against}" if against else ""))
    if stage != reference:
        st.caption(f"First shown: the head whose share moved most against '{reference}' (or the head clicked in Heads).")


def render_distribution(folder: str, manifest: RunManifest, selection: Selection) -> None:
    sequence_id = _sequence_picker(manifest, "distribution-sequence")
    reference = selection.reference or manifest.reference
    others = [s for s in manifest.stage_labels if s != reference]
    stage = st.selectbox("Stage", others, index=len(others) - 1, key="distribution-stage")
    figures, (low, high), mean = cached_distribution(folder, _version(folder), _key(selection), sequence_id, stage)
    st.metric(f"Mean shift {stage} − {reference}", f"{mean:+.4f}", help="95% bootstrap (BCa) interval over heads below")
    st.caption(f"95% bootstrap interval of the mean shift over heads: [{low:+.4f}, {high:+.4f}]")
    left, right = st.columns(2)
    with left:
        render_figure(figures["histogram"], f"distribution-histogram-{sequence_id}-{stage}")
    with right:
        render_figure(figures["qq"], f"distribution-qq-{sequence_id}-{stage}")
    if "controls" in figures:
        render_figure(figures["controls"], f"distribution-controls-{sequence_id}-{stage}")
    else:
        st.info("No control spans for this sequence: the stages tokenize it differently, or it has no room outside the concept.")


def render_structure(folder: str, manifest: RunManifest, selection: Selection) -> None:
    several = {s.id for s in manifest.concept_sequences() if len(s.spans) > 1}
    sequence_id = _sequence_picker(manifest, "structure-sequence", only=several.__contains__)
    figures = cached_structure(folder, _version(folder), _key(selection), sequence_id)
    names = list(figures)
    for start in range(0, len(names), 2):
        for column, name in zip(st.columns(2), names[start:start + 2]):
            with column:
                render_figure(figures[name], f"structure-{sequence_id}-{name}")


VIEW_RENDERERS = {
    "overview": render_overview, "layers": render_layers, "heads": render_heads, "tokens": render_tokens,
    "distribution": render_distribution, "structure": render_structure,
}
