"""The Concepts page: upload concept files, write a sequence by hand, keep or delete your sets.

Several researchers may share the server: an upload never replaces another file (a taken name
gets a new version, and the page says so), a deleted set can be brought back with Undo, and
with sign-in configured each user writes only to their own folder.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from interp.concepts.alignment import align_sequence, format_marked_tokens
from interp.concepts.files import (
    CONCEPT_SUFFIXES,
    ConceptFileError,
    ConceptSequence,
    parse_concept_bytes,
)
from interp.concepts.user_sets import (
    delete_user_set,
    list_user_sets,
    restore_user_set,
    save_authored_sequence,
    save_upload,
)
from interp.core.errors import InterpError
from interp.models.checkpoints import check_checkpoint
from interp.models.lineage import Lineage, is_demo_model
from interp.models.tokenizers import load_tokenizer
from ui.state import (
    concept_set_options,
    may_write_concepts,
    sign_in_configured,
    taken_ids,
    user_folder,
)
from ui.widgets import literal

SPAN_COLUMNS = ["text", "occurrence", "role"]


@st.cache_resource(max_entries=4, show_spinner="Loading the tokenizer …")
def cached_tokenizer(model: str, revision: str | None):
    return load_tokenizer(model, revision)


def render_concepts_page(lineage: Lineage | None) -> None:
    st.header("Your concept sequences")
    if not may_write_concepts():
        st.info("Sign in (in the sidebar) to upload or write concept sets: each researcher's sets are kept "
                "apart, and other researchers' sets are offered read-only.")
        render_other_sets()
        return
    st.caption("Kept on the server; they survive restarts and appear under **Concept sets** in the sidebar."
               + (" Only you can change them." if sign_in_configured() else ""))
    render_upload()
    render_authoring(lineage)
    render_user_sets()
    render_other_sets()


def _store_uploads() -> None:
    """Validate and keep each uploaded file; report one line per problem, keep nothing broken."""
    messages = []
    for upload in st.session_state.get("concept-upload") or []:
        try:
            kept = save_upload(upload.name, upload.getvalue(), user_folder(), taken_ids(except_file=None))
        except ConceptFileError as error:
            messages.extend(("error", problem) for problem in error.problems)
            continue
        chosen = f"yours: {kept.file_name}"
        if chosen not in st.session_state.concept_sets:
            st.session_state.concept_sets = [*st.session_state.concept_sets, chosen]
        count = f"{len(kept.concept_set.sequences)} sequence(s), selected for the next run"
        if kept.outcome == "version":
            messages.append(("warning", f"{upload.name}: {kept.requested} already holds other sequences, so this "
                                        f"file is kept beside it as {kept.file_name}; {count}"))
        elif kept.outcome == "unchanged":
            messages.append(("success", f"{upload.name}: already kept as {kept.file_name} (same content); {count}"))
        else:
            messages.append(("success", f"{upload.name}: kept as {kept.file_name}, {count}"))
    st.session_state.upload_messages = messages


def render_upload() -> None:
    st.subheader("Upload")
    st.file_uploader(
        "Concept files (YAML, JSON or CSV with id,concept,text,span_text[,occurrence,role])",
        type=[suffix.lstrip(".") for suffix in CONCEPT_SUFFIXES], accept_multiple_files=True,
        key="concept-upload", on_change=_store_uploads,
    )
    for kind, message in st.session_state.get("upload_messages", []):
        {"error": st.error, "warning": st.warning}.get(kind, st.success)(message)


def _authored_item(span_rows: list[dict]) -> dict:
    """The form's fields as a concept-file item; cells left empty in the span table come back as NaN."""
    spans = []
    for row in span_rows:
        text, occurrence, role = row.get("text"), row.get("occurrence"), row.get("role")
        text = "" if pd.isna(text) else str(text)
        if not text.strip():
            continue
        span = {"text": text, "occurrence": 1 if pd.isna(occurrence) else int(occurrence)}
        if not pd.isna(role) and str(role).strip():
            span["role"] = str(role).strip()
        spans.append(span)
    return {"id": st.session_state.get("author-id", "").strip(), "concept": st.session_state.get("author-concept", "").strip(),
            "text": st.session_state.get("author-text", ""), "source": "written in the app", "spans": spans}


def _validated(item: dict):
    import yaml

    document = yaml.safe_dump({"set": "authored", "sequences": [item]}, allow_unicode=True).encode("utf-8")
    return parse_concept_bytes(document, "the authoring form", suffix=".yaml").sequences[0]


def render_authoring(lineage: Lineage | None) -> None:
    st.subheader("Write a sequence")
    left, right = st.columns(2)
    left.text_input("Id (a-z, 0-9, - and _)", key="author-id", placeholder="my-condition-1")
    right.text_input("Concept", key="author-concept", placeholder="Condition")
    st.text_area("Text", key="author-text", height=120, placeholder="Paste a statute-style passage …")
    st.caption("Spans: type each concept phrase exactly as it appears; occurrence picks among repeats.")
    edited = st.data_editor(pd.DataFrame([{"text": "", "occurrence": 1, "role": ""}], columns=SPAN_COLUMNS),
                            num_rows="dynamic", key="author-spans", width="stretch",
                            column_config={"occurrence": st.column_config.NumberColumn(min_value=1, step=1)})
    item = _authored_item(edited.to_dict(orient="records"))
    if not item["text"].strip():
        return
    sequence, problems = None, []
    if item["spans"]:
        try:
            sequence = _validated(item)
        except ConceptFileError as error:
            problems = error.problems
    # The preview comes first and does not wait for valid spans: it is what helps to write them.
    render_preview(sequence or ConceptSequence("preview", "", item["text"], ()), lineage)
    for problem in problems:
        st.error(literal(problem))
    if sequence is None:
        if not problems:
            st.caption("Add a span: a phrase of the text that carries the concept.")
        return
    st.button("Save this sequence", type="primary", key="author-save", on_click=_save_authored, args=(item,))
    for kind, message in st.session_state.pop("author-messages", []):
        (st.error if kind == "error" else st.success)(message)


def _save_authored(item: dict) -> None:
    """Runs before the next rerun draws any widget, so the sidebar's selection may change here."""
    try:
        save_authored_sequence(item, user_folder(), taken_ids(except_file="authored.yaml"))
    except ConceptFileError as error:
        st.session_state["author-messages"] = [("error", problem) for problem in error.problems]
        return
    if "yours: authored.yaml" not in st.session_state.concept_sets:
        st.session_state.concept_sets = [*st.session_state.concept_sets, "yours: authored.yaml"]
    st.session_state["author-messages"] = [
        ("success", f"Saved '{item['id']}' in authored.yaml and selected it for the next run.")]


def render_preview(sequence, lineage: Lineage | None) -> None:
    """The tokens the current lineage's tokenizer will mark, before anything is run."""
    if lineage is None:
        return
    stage = lineage.stages[0]
    try:
        model = stage.model
        if is_demo_model(model):
            from interp.demo import resolve_demo_model

            model = resolve_demo_model(model)
        tokenizer = cached_tokenizer(check_checkpoint(model, stage.revision), stage.revision)
        aligned = align_sequence(sequence, tokenizer)
    except InterpError as error:
        st.warning(f"No token preview: {error}")
        return
    st.caption(f"Tokens under the tokenizer of stage '{stage.label}' ({aligned.n_tokens} tokens, "
               f"{int(aligned.concept_mask.sum())} marked):")
    st.code(format_marked_tokens(aligned.tokens, aligned.concept_mask), language=None, wrap_lines=True)


def render_user_sets() -> None:
    st.subheader("Saved sets")
    folder = user_folder()
    user_sets, problems = list_user_sets(folder)
    for problem in problems:
        st.warning(literal(problem))
    deleted = st.session_state.get("deleted_set")
    if deleted:
        left, right = st.columns([5, 1])
        left.info(f"Deleted {deleted['file_name']}.")
        right.button("Undo", key="undo-delete", on_click=_undo_delete)
    for kind, message in st.session_state.pop("delete-messages", []):
        (st.error if kind == "error" else st.success)(message)
    if not user_sets:
        st.caption("None yet.")
    for user_set in user_sets:
        left, right = st.columns([5, 1])
        ids = listed_ids(user_set.concept_set)
        name = user_set.concept_set.name.replace("`", "'")  # a backtick would end the code span
        left.markdown(f"**{user_set.file_name}** — set `{name}`: {ids}")
        right.button("Delete", key=f"delete-{user_set.file_name}", on_click=_delete, args=(user_set.file_name,))


def listed_ids(concept_set, shown: int = 12) -> str:
    """The ids of a set as the list of saved sets shows them: all of a small set, the first few
    and a count of a large upload (thousands of ids would be a page of their own on every rerun)."""
    ids = [s.id for s in concept_set.sequences]
    if len(ids) <= shown:
        return ", ".join(ids)
    return ", ".join(ids[:shown]) + f" … ({len(ids):,} sequences)"


def render_other_sets() -> None:
    """Other researchers' sets (with sign-in): listed, selectable in the sidebar, not changeable here."""
    others = [name for name in concept_set_options() if name.startswith("from ")]
    if others:
        st.subheader("Other researchers' sets (read-only)")
        st.caption("Select them under **Concept sets** in the sidebar; only their owner can change them.")
        st.markdown("\n".join(f"- `{name.removeprefix('from ')}`" for name in others))


def _delete(file_name: str) -> None:
    try:
        trashed = delete_user_set(file_name, user_folder())
    except InterpError as error:
        st.session_state["delete-messages"] = [("error", str(error))]
        return
    st.session_state.deleted_set = {"file_name": file_name, "trashed": trashed}
    st.session_state.concept_sets = [n for n in st.session_state.concept_sets if n != f"yours: {file_name}"]


def _undo_delete() -> None:
    deleted = st.session_state.pop("deleted_set", None)
    if not deleted:
        return
    try:
        restored = restore_user_set(deleted["trashed"], user_folder())
    except InterpError as error:
        st.session_state["delete-messages"] = [("error", str(error))]
        return
    note = "" if restored == deleted["file_name"] else f" as {restored} (its old name was taken meanwhile)"
    st.session_state["delete-messages"] = [("success", f"Restored {deleted['file_name']}{note}.")]
