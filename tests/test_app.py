"""The Streamlit app through `streamlit.testing.v1.AppTest`: views, settings, uploads, runs.

The first start of the app on the micro demo lineage auto-runs the built-in concept sets; that
run is made once per module (`first_start`) and copied into the fresh home of each later test,
where the app opens it from the store without a forward pass.
"""

from __future__ import annotations

import base64
import json
import re
import shutil
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from streamlit.testing.v1 import AppTest

from interp import views
from interp.analysis.results import Results
from interp.concepts.alignment import align_sequence, format_marked_tokens
from interp.concepts.files import (
    all_sequences,
    builtin_concepts_dir,
    load_concept_file,
    load_concepts,
    parse_concept_bytes,
)
from interp.core.errors import InterpError
from interp.demo import DEMO_NOTICE
from interp.export.styles import figure_title
from interp.extraction.pipeline import ExtractionSettings, extract_lineage
from interp.models.lineage import load_lineage
from interp.models.tokenizers import load_tokenizer
from interp.store.folder import ResultsStore
from interp.store.locations import demo_run_folder

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
APP = str(REPO / "app.py")
TIMEOUT = 180
EXISTING = "an existing results folder"

GOOD = b"""\
set: mine
sequences:
  - id: my-condition
    concept: Condition
    text: The tenant shall pay the rent unless the court orders otherwise.
    spans:
      - text: unless the court orders otherwise
"""
BAD = b"""\
set: broken
sequences:
  - id: bad-role
    concept: Role
    text: The lessee shall pay.
    spans:
      - text: magistrate
"""
CSV = (
    b"id,concept,text,span_text,role\n"
    b"csv-role,Role,The lessor and the lessee agree.,The lessor,party\n"
    b"csv-role,Role,The lessor and the lessee agree.,the lessee,party\n"
)


# ---------------------------------------------------------------- helpers

def start_app(view: str | None = None, **state) -> AppTest:
    """A new browser session: the app script run once, with `view` and other state preset."""
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    if view is not None:
        at.query_params["view"] = view
    for key, value in state.items():
        at.session_state[key] = value
    return at.run()


def assert_clean(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def specs(at: AppTest) -> list[dict]:
    return [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]


def titles(at: AppTest) -> list[str]:
    return [plain_title(spec["layout"]["title"]["text"]) for spec in specs(at)]


OVERVIEW_TITLE = ("Mean shift of the concept share (attention) against base, per sequence with its 95% bootstrap "
                  "interval over heads")


def plain_title(text: str) -> str:
    """A figure's title as one line: titles wrap (`<br>`) to the figure's width."""
    return figure_title({"layout": {"title": {"text": text}}})


def array_of(value) -> np.ndarray:
    """A plotly JSON array: a plain list, or a typed array `{dtype, bdata, shape}` in base64."""
    if isinstance(value, dict):
        shape = [int(n) for n in str(value.get("shape", "-1")).split(",")]
        return np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"]).reshape(shape)
    return np.array(value, dtype=float)


def statistics(at: AppTest):
    """The statistics table of the Overview (the one table with a skewness column)."""
    (table,) = [frame.value for frame in at.dataframe if "skewness" in frame.value.columns]
    return table


def concept_choice(at: AppTest):
    (widget,) = [m for m in at.sidebar.multiselect if m.key == "concept_sets"]
    return widget


def run_button(at: AppTest):
    (button,) = [b for b in at.sidebar.button if b.label == "Run"]
    return button


def user_files(home: Path, key: str | None = None) -> list[str]:
    """The concept files kept for everyone (or for the signed-in user `key`): not the trash or lock."""
    folder = home / "concepts" / ("users/" + key if key else "")
    return sorted(p.name for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")) if folder.exists() else []


def builtin_sequences():
    return all_sequences(load_concepts(sorted(builtin_concepts_dir().glob("*.yaml"))))


# ---------------------------------------------------------------- fixtures

@pytest.fixture(scope="module")
def first_start(micro_demo, tmp_path_factory):
    """The app's first start in an empty home: it auto-runs the demo lineage; (AppTest, home)."""
    home = tmp_path_factory.mktemp("first-start") / "interp-home"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("INTERP_DEMO_DIR", str(micro_demo))
        patch.setenv("INTERP_HOME", str(home))
        at = start_app()
    return at, home


@pytest.fixture()
def home(app_home, first_start):
    """A fresh user home that already holds the demo run, so the app opens it at once."""
    shutil.copytree(first_start[1] / "runs", app_home / "runs")
    return app_home


@pytest.fixture()
def run_folder(home) -> Path:
    (folder,) = (home / "runs").iterdir()
    return folder


# ---------------------------------------------------------------- first start and views

def test_first_start_runs_the_demo_and_opens_the_overview(first_start):
    at, home = first_start
    assert_clean(at)
    infos = [info.value for info in at.info]
    assert any(DEMO_NOTICE in info and "miniature" in info for info in infos), infos
    folder = Path(at.session_state["run_folder"])
    assert folder.parent == home / "runs"
    assert folder.name == demo_run_folder().name, "the run `python -m interp demo run` makes and `interp.demo_run()` finds"
    manifest = ResultsStore(folder).open()
    assert manifest.complete and manifest.stage_labels == ["base", "cpt", "ift"]
    assert manifest.sequence_ids == [s.id for s in builtin_sequences()] and len(manifest.sequence_ids) == 10
    assert at.session_state["view"] == "overview" and at.query_params["view"] == "overview"

    table = statistics(at)
    assert len(table) == 10 * 2
    assert set(zip(table["sequence_id"], table["stage"])) == {
        (s, stage) for s in manifest.sequence_ids for stage in ("cpt", "ift")
    }
    assert set(table["reference"]) == {"base"}
    assert table[["mean", "skewness", "kurtosis", "entropy"]].notna().all().all()

    (spec,) = specs(at)
    assert plain_title(spec["layout"]["title"]["text"]) == OVERVIEW_TITLE
    assert [trace["name"] for trace in spec["data"]] == ["cpt", "ift"]
    assert all(list(trace["x"]) == manifest.sequence_ids for trace in spec["data"])
    # The caption names the run below its results root, never the server's absolute path.
    assert any(f"Results: `runs/{folder.name}`" in caption.value for caption in at.caption)
    assert not any(str(home) in caption.value for caption in at.caption)


def expected_titles(folder: Path, view: str) -> list[str]:
    """What each view shows first for the demo run: the registry's figures for its default choices."""
    if view == "concepts":
        return []
    results = Results(folder)
    record = views.get_view(view)
    if record.unavailable(results):
        return []
    output = record.compute(results, **views.resolve_choices(record, results))
    return [plain_title(figure.layout.title.text) for figure in output.figures.values()]


def test_the_first_views_show_what_the_study_shows(run_folder):
    results = Results(run_folder)
    first, last = results.sequences[0].id, results.stages[-1]
    layer, head = results.most_shifted_head(sequence=first, stage=last)
    assert expected_titles(run_folder, "heads") == [f"Share (attention) on the concept, {first}, stage {last}",
                                                    f"Shift (attention) {last} − base, {first}"]
    assert expected_titles(run_folder, "tokens") == [f"Attention of layer {layer}, head {head}, stage {last}, {first}"]
    assert expected_titles(run_folder, "distribution")[2] == (f"Concept among 200 control spans, {last} − base, {first} "
                                                              "(attention)")


@pytest.mark.parametrize("view", [*views.VIEWS, "concepts"])
def test_every_view_renders_its_figures(run_folder, view):
    at = start_app(view)
    assert_clean(at)
    expected = expected_titles(run_folder, view)
    assert titles(at) == expected
    reason = None if view == "concepts" else views.get_view(view).unavailable(Results(run_folder))
    assert len(expected) >= (0 if view == "concepts" or reason else 1)
    if reason:  # a view the run cannot show says why (the demo's one sequence per type is no pilot to plan from)
        assert f"Nothing to show here: {reason}." in [info.value for info in at.info]
    assert at.query_params["view"] == view
    # Every figure has its four downloads, enabled (Chromium is installed here).
    labels = [button.label for button in at.get("download_button") if not button.disabled]
    for fmt in ("PNG", "SVG", "PDF", "HTML"):
        assert labels.count(fmt) == len(expected), (fmt, labels)
    if view == "concepts":
        assert at.header[0].value == "Your concept sequences"
        assert at.file_uploader(key="concept-upload").accept_multiple_files


def test_view_comes_from_the_address_and_the_picker_updates_it(home):
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.query_params["view"] = "layers"
    at.run()
    assert_clean(at)
    assert at.session_state["view"] == "layers"
    assert titles(at)[0].startswith("Mean shift of the concept share (attention) per layer")
    at.segmented_control(key="view").set_value("heads").run()
    assert_clean(at)
    assert at.query_params["view"] == "heads" and len(titles(at)) == 2


def test_unknown_view_in_the_address_falls_back_to_the_overview(home):
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.query_params["view"] = "../etc"
    at.run()
    assert_clean(at)
    assert at.session_state["view"] == "overview" and len(statistics(at)) == 20


# ---------------------------------------------------------------- analysis settings

def test_exclusion_preset_changes_the_statistics(home):
    at = start_app()
    paper = statistics(at)
    at.sidebar.selectbox(key="exclusion").select("none").run()
    assert_clean(at)
    none = statistics(at)
    assert len(none) == len(paper) == 20
    assert list(none["sequence_id"]) == list(paper["sequence_id"])
    assert (none["mean"] != paper["mean"]).any() and (none["mean_share"] != paper["mean_share"]).any()
    # A custom list with no token is refused in one line, and the views stop there.
    at.sidebar.selectbox(key="exclusion").select("custom").run()
    assert not at.exception
    assert [e.value for e in at.error] == ["custom exclusions: list at least one token, separated by commas"]
    assert not at.get("plotly_chart")
    at.sidebar.text_input(key="custom_exclusions").input(".,▁the").run()
    assert_clean(at)
    custom = statistics(at)
    assert (custom["mean_share"] != paper["mean_share"]).any() and (custom["mean_share"] != none["mean_share"]).any()


def test_first_position_and_punctuation_preset_change_the_statistics(home):
    at = start_app()
    bos = statistics(at)
    assert at.sidebar.selectbox(key="first_position").options == ["bos", "first", "none"]
    assert at.sidebar.selectbox(key="exclusion").options == ["paper", "punctuation", "none", "custom"]
    # The demo adds a BOS, so 'first' excludes the same token as 'bos'; 'none' keeps it as a key.
    at.sidebar.selectbox(key="exclusion").select("none").run()
    kept_bos = statistics(at)
    at.sidebar.selectbox(key="first_position").select("none").run()
    assert_clean(at)
    counted = statistics(at)
    assert (counted["mean_share"] < kept_bos["mean_share"]).all(), "the BOS as a key takes share from the concept"
    at.sidebar.selectbox(key="first_position").select("first").run()
    assert statistics(at)["mean_share"].tolist() == kept_bos["mean_share"].tolist()
    at.sidebar.selectbox(key="exclusion").select("punctuation").run()
    assert_clean(at)
    assert (statistics(at)["mean_share"] != bos["mean_share"]).any()


def test_an_unbuilt_real_base_demo_says_how_to_build_it(home):
    at = start_app()
    at.sidebar.selectbox(key="lineage_choice").select("demo-smollm2").run()
    assert not at.exception
    at.sidebar.button[0].click().run()
    assert not at.exception
    assert any("python -m interp demo build --base smollm2" in e.value for e in at.error), [e.value for e in at.error]


def test_reference_stage_switch_changes_the_rows(home):
    at = start_app()
    assert set(statistics(at)["stage"]) == {"cpt", "ift"}
    at.sidebar.selectbox(key="reference").select("cpt").run()
    assert_clean(at)
    table = statistics(at)
    assert len(table) == 20
    assert set(table["stage"]) == {"base", "ift"} and set(table["reference"]) == {"cpt"}
    assert at.query_params["reference"] == "cpt"
    at.segmented_control(key="view").set_value("layers").run()
    assert_clean(at)
    assert titles(at) == ["Mean shift of the concept share (attention) per layer, against cpt"]


def test_tokens_view_difference_against_another_stage(run_folder):
    at = start_app("tokens")
    first = ResultsStore(run_folder).open().sequence_ids[0]
    layer, head = Results(run_folder).most_shifted_head(sequence=first, stage="ift")
    difference = at.selectbox(key="choice-tokens-difference")
    assert difference.options == ["(none)", "base", "cpt"]
    difference.select("base").run()
    assert_clean(at)
    assert at.query_params["difference"] == "base"
    (spec,) = specs(at)
    assert spec["layout"]["title"]["text"] == f"Attention ift − base, layer {layer}, head {head}, {first}"
    z = array_of(spec["data"][0]["z"])
    assert np.nanmin(z) < 0 < np.nanmax(z)  # a difference of two attention maps, not an attention map
    other_layer, other_head = 1 - layer, (head + 1) % 4
    at.selectbox(key="choice-tokens-layer").select(str(other_layer)).run()  # the boxes hold each option's text
    at.selectbox(key="choice-tokens-head").select(str(other_head)).run()
    assert_clean(at)
    assert titles(at) == [f"Attention ift − base, layer {other_layer}, head {other_head}, {first}"]
    assert (at.query_params["layer"], at.query_params["head"]) == (str(other_layer), str(other_head))


def test_a_head_outside_the_model_in_the_address_falls_back_to_the_default(run_folder):
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.query_params.update(view="tokens", layer="0", head="99")
    at.run()
    assert_clean(at)
    first = ResultsStore(run_folder).open().sequence_ids[0]
    _, head = Results(run_folder).most_shifted_head(sequence=first, stage="ift")
    assert titles(at) == [f"Attention of layer 0, head {head}, stage ift, {first}"]


# ---------------------------------------------------------------- uploads

def test_good_upload_is_kept_selected_and_run(home, monkeypatch):
    import interp.extraction.pipeline

    progress, extract = [], interp.extraction.pipeline.extract_lineage

    def heard(lineage, sequences, out, settings, on_progress=None, *args, **kwargs):
        def both(news):
            progress.append(news.message)
            on_progress(news)

        return extract(lineage, sequences, out, settings, both, *args, **kwargs)

    monkeypatch.setattr(interp.extraction.pipeline, "extract_lineage", heard)
    at = start_app("concepts")
    at.file_uploader(key="concept-upload").upload("My Set.yaml", GOOD, "application/x-yaml")
    at.run()
    assert_clean(at)
    assert [s.value for s in at.success] == ["My Set.yaml: kept as my-set.yaml, 1 sequence(s), selected for the next run"]
    assert user_files(home) == ["my-set.yaml"]
    assert (home / "concepts" / "my-set.yaml").read_bytes() == GOOD
    choice = concept_choice(at)
    assert "yours: my-set.yaml" in choice.options and "yours: my-set.yaml" in choice.value
    assert any("**my-set.yaml**" in md.value and "my-condition" in md.value for md in at.markdown)

    # The next run includes the uploaded sequence.
    at.segmented_control(key="view").set_value("overview").run()
    run_button(at).click().run()
    assert_clean(at)
    table = statistics(at)
    assert len(table) == 11 * 2
    assert sorted(table.loc[table["sequence_id"] == "my-condition", "stage"]) == ["cpt", "ift"]
    # The demo run's ten entries per stage are reused, not extracted again, and the progress says so.
    assert [m for m in progress if "to run" in m] == [f"stage '{label}': 10 reused, 1 to run"
                                                      for label in ("base", "cpt", "ift")]


def test_bad_upload_shows_one_line_and_writes_nothing(home):
    at = start_app("concepts")
    uploader = at.file_uploader(key="concept-upload")
    uploader.upload("broken.yaml", BAD, "application/x-yaml")
    clash = GOOD.replace(b"my-condition", b"negligence")  # an id of a built-in set
    uploader.upload("clash.yaml", clash, "application/x-yaml")
    at.run()
    assert not at.exception
    assert [e.value for e in at.error] == [
        "broken.yaml: sequence 'bad-role', span 1, field 'text': 'magistrate' does not occur in the text",
        "clash.yaml: sequence 'negligence', field 'id': already used by another concept set; choose another id",
    ]
    assert not at.success
    assert user_files(home) == []
    assert not any(option.startswith("yours: ") for option in concept_choice(at).options)


def test_csv_upload_is_kept_beside_a_good_file(home):
    at = start_app("concepts")
    at.file_uploader(key="concept-upload").set_value([
        ("rows.csv", CSV, "text/csv"), ("broken.yaml", BAD, "application/x-yaml"),
    ])
    at.run()
    assert not at.exception
    assert [s.value for s in at.success] == ["rows.csv: kept as rows.csv, 1 sequence(s), selected for the next run"]
    assert len(at.error) == 1 and at.error[0].value.startswith("broken.yaml: sequence 'bad-role'")
    assert user_files(home) == ["rows.csv"]
    choice = concept_choice(at)
    assert "yours: rows.csv" in choice.value
    assert any("**rows.csv**" in md.value and "csv-role" in md.value for md in at.markdown)


def test_uploaded_sets_survive_a_restart(home):
    first = start_app("concepts")
    first.file_uploader(key="concept-upload").upload("My Set.yaml", GOOD, "application/x-yaml")
    first.run()
    assert_clean(first)
    again = start_app("concepts")  # a new session of a restarted server: only the folder remains
    assert_clean(again)
    assert "yours: my-set.yaml" in concept_choice(again).options
    assert any("**my-set.yaml** — set `mine`: my-condition" == md.value for md in again.markdown)
    assert [b.key for b in again.button if (b.key or "").startswith("delete-")] == ["delete-my-set.yaml"]


def test_a_user_file_that_no_longer_validates_is_reported(home):
    (home / "concepts").mkdir()
    (home / "concepts" / "edited.yaml").write_bytes(BAD)
    at = start_app("concepts")
    assert_clean(at)
    assert [w.value for w in at.warning] == [
        "edited.yaml: sequence 'bad-role', span 1, field 'text': 'magistrate' does not occur in the text"
    ]
    # The sidebar lists files by name without parsing them; selected, the file says what is wrong
    # with it there, and Run waits.
    at.multiselect(key="concept_sets").select("yours: edited.yaml").run()
    assert not at.exception
    assert [e.value for e in at.sidebar.error] == [
        "yours: edited.yaml: sequence 'bad-role', span 1, field 'text': 'magistrate' does not occur in the text"]
    assert run_button(at).disabled


def test_a_shared_file_cannot_put_a_link_or_image_into_the_page(home):
    (home / "concepts").mkdir()
    (home / "concepts" / "planted.yaml").write_bytes(BAD.replace(b"magistrate", b"'![x](http://evil.example/t.png)'"))
    at = start_app("concepts")
    assert not at.exception
    assert [w.value for w in at.warning] == [
        "planted.yaml: sequence 'bad-role', span 1, field 'text': '!\\[x\\](http://evil.example/t.png)' "
        "does not occur in the text"]


def test_a_saved_set_can_be_deleted_and_the_delete_undone(home):
    first = start_app("concepts")
    first.file_uploader(key="concept-upload").upload("My Set.yaml", GOOD, "application/x-yaml")
    first.run()
    at = start_app("concepts")
    at.multiselect(key="concept_sets").select("yours: my-set.yaml").run()
    at.button(key="delete-my-set.yaml").click().run()
    assert_clean(at)
    assert user_files(home) == []
    assert "yours: my-set.yaml" not in concept_choice(at).options
    assert "yours: my-set.yaml" not in at.session_state["concept_sets"]
    assert any(caption.value == "None yet." for caption in at.caption)
    assert "Deleted my-set.yaml." in [i.value for i in at.info]
    at.button(key="undo-delete").click().run()
    assert_clean(at)
    assert user_files(home) == ["my-set.yaml"] and (home / "concepts" / "my-set.yaml").read_bytes() == GOOD
    assert [s.value for s in at.success] == ["Restored my-set.yaml."]
    assert "yours: my-set.yaml" in concept_choice(at).options
    # A second session deleting a file the first already deleted gets one line, not a traceback.
    other = start_app("concepts")
    at.button(key="delete-my-set.yaml").click().run()
    other.button(key="delete-my-set.yaml").click().run()
    assert not other.exception
    assert [e.value for e in other.error] == ["'my-set.yaml' is not one of your concept files "
                                             "(another session may have deleted it)"]


def test_two_sessions_uploading_one_name_keep_both_files_and_are_told(home):
    mine, theirs = start_app("concepts"), start_app("concepts")
    mine.file_uploader(key="concept-upload").upload("shared.yaml", GOOD, "application/x-yaml")
    mine.run()
    other = GOOD.replace(b"my-condition", b"their-condition").replace(b"pay the rent", b"pay the deposit")
    theirs.file_uploader(key="concept-upload").upload("shared.yaml", other, "application/x-yaml")
    theirs.run()
    assert_clean(mine)
    assert not theirs.exception and not theirs.error
    assert [w.value for w in theirs.warning] == [
        "shared.yaml: shared.yaml already holds other sequences, so this file is kept beside it as shared-2.yaml; "
        "1 sequence(s), selected for the next run"]
    assert user_files(home) == ["shared-2.yaml", "shared.yaml"]
    assert (home / "concepts" / "shared.yaml").read_bytes() == GOOD
    # Each session's selection still holds its own sequences.
    assert "yours: shared.yaml" in mine.session_state["concept_sets"]
    assert "yours: shared-2.yaml" in theirs.session_state["concept_sets"]
    assert "yours: shared.yaml" not in theirs.session_state["concept_sets"]
    # The same bytes again change nothing, and say so.
    again = start_app("concepts")
    again.file_uploader(key="concept-upload").upload("shared.yaml", other, "application/x-yaml")
    again.run()
    assert [s.value for s in again.success] == [
        "shared.yaml: already kept as shared-2.yaml (same content); 1 sequence(s), selected for the next run"]
    assert user_files(home) == ["shared-2.yaml", "shared.yaml"]


def test_a_corrected_version_with_the_same_ids_cannot_run_beside_the_first(home):
    at = start_app("concepts")
    at.file_uploader(key="concept-upload").upload("mine.yaml", GOOD, "application/x-yaml")
    at.run()
    at.file_uploader(key="concept-upload").upload("mine.yaml", GOOD.replace(b"pay the rent", b"pay all rent"),
                                                  "application/x-yaml")
    at.run()
    assert {"yours: mine.yaml", "yours: mine-2.yaml"} <= set(at.session_state["concept_sets"])
    assert [e.value for e in at.sidebar.error] == [
        "yours: mine-2.yaml: sequence 'my-condition' is also in yours: mine.yaml; select only one of the two sets"]
    assert run_button(at).disabled
    at.multiselect(key="concept_sets").unselect("yours: mine.yaml").run()
    assert not at.sidebar.error and not run_button(at).disabled


# ---------------------------------------------------------------- links, and large stored uploads

def stored_upload(home: Path, name: str = "big.jsonl", sequences: int = 2_000, tag: str = "big") -> Path:
    """A large upload as the server keeps it: one JSON line per sequence in the user's folder."""
    folder = home / "concepts"
    folder.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps({"id": f"{tag}-{i}", "concept": "Condition", "spans": [{"text": "unless the court orders otherwise"}],
                         "text": f"Tenant {i} shall pay the rent unless the court orders otherwise."})
             for i in range(sequences)]
    path = folder / name
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture()
def parsed(monkeypatch) -> list[str]:
    """The names of the concept files parsed in this process while the test runs."""
    import interp.concepts.user_sets

    names, original = [], interp.concepts.user_sets.parse_concept_bytes

    def counting(data, name, suffix=None):
        names.append(name)
        return original(data, name, suffix)

    monkeypatch.setattr(interp.concepts.user_sets, "parse_concept_bytes", counting)
    return names


@pytest.fixture()
def no_run(monkeypatch):
    """Any extraction fails the test: what a page shows must need none."""
    def refuse(*args, **kwargs):
        raise AssertionError("a run was started")

    monkeypatch.setattr("interp.extraction.pipeline.extract_lineage", refuse)


def open_address(**params) -> AppTest:
    """A new session opened from a link whose query holds `params` (a list repeats a parameter)."""
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.query_params.update(params)
    return at.run()


def test_a_link_naming_a_stored_upload_starts_no_run(home, run_folder, no_run):
    stored_upload(home)
    at = open_address(set="yours: big.jsonl")
    assert_clean(at)
    assert at.session_state["concept_sets"] == ["yours: big.jsonl"]
    assert at.session_state["run_folder"] is None and not at.get("plotly_chart")
    assert any("press **Run**" in info.value for info in at.info), [i.value for i in at.info]
    assert sorted(p.name for p in (home / "runs").iterdir()) == [run_folder.name]
    assert not run_button(at).disabled  # the run is the user's to start


def test_a_parameter_repeated_a_thousand_times_is_read_once(home, run_folder, no_run, parsed):
    stored_upload(home)
    # 998 values: Streamlit itself drops a query of more than 1,000 parameters.
    at = open_address(set=["yours: big.jsonl", "built-in: elements"] * 499)
    assert_clean(at)
    assert at.session_state["concept_sets"] == ["yours: big.jsonl", "built-in: elements"]
    assert concept_choice(at).value == ["yours: big.jsonl", "built-in: elements"]
    assert parsed.count("big.jsonl") == 1
    # Only the first values are read: a set named after a long run of unknown names is not selected.
    from ui.state import ADDRESS_SETS_READ

    at = open_address(set=[f"yours: none-{i}.yaml" for i in range(ADDRESS_SETS_READ)] + ["yours: big.jsonl"])
    assert_clean(at)
    assert at.session_state["concept_sets"] == ["built-in: elements", "built-in: paper-types"]
    assert sorted(p.name for p in (home / "runs").iterdir()) == [run_folder.name]


def test_a_link_to_a_run_opens_that_run(home, run_folder, no_run):
    shutil.copytree(run_folder, home / "runs" / "shared-run")
    at = open_address(run="shared-run")
    assert_clean(at)
    assert at.session_state["run_folder"] == str(home / "runs" / "shared-run")
    assert at.query_params["run"] == "shared-run"
    assert any("Results: `runs/shared-run`" in c.value for c in at.caption), [c.value for c in at.caption]
    assert len(statistics(at)) == 20
    # The sidebar asks for the demo's own run folder: the banner says the run shown is another.
    assert any("The results shown are from an earlier run (`shared-run`)" in w.value for w in at.warning)


@pytest.mark.parametrize("name", ["no-such-run", "../../etc", ".hidden", "x" * 300, "[click](http://evil.example/)"])
def test_a_link_to_a_run_that_is_not_one_is_refused_with_a_note(home, run_folder, no_run, name):
    at = open_address(run=name)
    assert not at.exception and not at.error
    (note,) = [w.value for w in at.warning if w.value.startswith("The address names the run")]
    assert "not one of this app's runs" in note and "nothing is shown in its place" in note
    assert len(note) < 400  # cut short
    if name.startswith("["):
        assert "'\\[click\\](http://evil.example/)'" in note  # literal: no link in the page
    assert at.session_state["run_folder"] is None and not at.get("plotly_chart")
    assert at.query_params["run"] == name  # the address is left as it came


def test_the_first_page_parses_no_stored_upload(home, run_folder, parsed):
    stored_upload(home, "big.jsonl")
    stored_upload(home, "bigger.jsonl", sequences=4_000, tag="bigger")
    at = start_app()
    assert_clean(at)
    assert {"yours: big.jsonl", "yours: bigger.jsonl"} <= set(concept_choice(at).options)
    assert len(statistics(at)) == 20
    assert "big.jsonl" not in parsed and "bigger.jsonl" not in parsed
    # The Concepts page lists them: each file is parsed once for every session of the server.
    for _ in range(2):
        page = start_app("concepts")
        assert_clean(page)
        assert any("**bigger.jsonl** — set `bigger`: bigger-0, bigger-1" in md.value and "(4,000 sequences)" in md.value
                   for md in page.markdown)
    assert sorted(parsed) == ["big.jsonl", "bigger.jsonl"]
    # A file changed on disk is a new version: parsed again, once.
    stored_upload(home, "big.jsonl", sequences=10, tag="changed")
    page = start_app("concepts")
    assert any("**big.jsonl** — set `big`: changed-0" in md.value for md in page.markdown)
    assert sorted(parsed) == ["big.jsonl", "big.jsonl", "bigger.jsonl"]


def test_an_upload_is_validated_once_whatever_the_reruns(home, parsed):
    at = start_app("concepts")
    at.file_uploader(key="concept-upload").upload("My Set.yaml", GOOD, "application/x-yaml")
    at.run()
    assert_clean(at)
    for _ in range(3):
        at.run()
    at.segmented_control(key="view").set_value("overview").run()
    at.segmented_control(key="view").set_value("concepts").run()
    assert_clean(at)
    assert "yours: my-set.yaml" in concept_choice(at).value
    assert [name for name in parsed if name in ("My Set.yaml", "my-set.yaml")] == ["My Set.yaml"]


def test_run_pressed_on_the_concepts_page_shows_its_results(home):
    at = start_app("concepts")
    at.file_uploader(key="concept-upload").upload("My Set.yaml", GOOD, "application/x-yaml")
    at.run()
    run_button(at).click().run()
    assert_clean(at)
    assert at.query_params["view"] == "overview"
    assert "my-condition" in set(statistics(at)["sequence_id"])


# ---------------------------------------------------------------- signed-in researchers

ALICE = {"is_logged_in": True, "iss": "https://id.example", "sub": "alice-1", "name": "Alice", "email": "a@example.org"}
BOB = {"is_logged_in": True, "iss": "https://id.example", "sub": "bob-2", "name": "Bob", "email": "b@example.org"}


def start_as(user: dict, view: str = "concepts") -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.query_params["view"] = view
    at.user = user
    return at.run()


def test_signed_in_users_keep_their_own_sets_and_see_others_read_only(home):
    from interp.concepts.user_sets import user_key

    alice = start_as(ALICE)
    assert_clean(alice)
    assert [c.value for c in alice.sidebar.caption if c.value.startswith("Signed in")] == ["Signed in as Alice"]
    alice.file_uploader(key="concept-upload").upload("shared.yaml", GOOD, "application/x-yaml")
    alice.run()
    assert_clean(alice)
    alice_key, bob_key = user_key(ALICE), user_key(BOB)
    assert user_files(home, alice_key) == ["shared.yaml"] and user_files(home) == []

    bob = start_as(BOB)
    assert_clean(bob)
    read_only = f"from {alice_key[:8]}: shared.yaml"
    assert read_only in concept_choice(bob).options
    assert not any(option.startswith("yours: ") for option in concept_choice(bob).options)
    assert not [b for b in bob.button if (b.key or "").startswith("delete-")], "no delete for another's set"
    other = GOOD.replace(b"pay the rent", b"pay the deposit")
    bob.file_uploader(key="concept-upload").upload("shared.yaml", other, "application/x-yaml")
    bob.run()
    assert_clean(bob)
    assert [s.value for s in bob.success] == ["shared.yaml: kept as shared.yaml, 1 sequence(s), selected for the next run"]
    assert user_files(home, bob_key) == ["shared.yaml"]
    assert (home / "concepts" / "users" / alice_key / "shared.yaml").read_bytes() == GOOD
    # Bob may select Alice's set to read it, but not beside his own with the same id.
    bob.multiselect(key="concept_sets").select(read_only).run()
    assert any("is also in" in e.value for e in bob.sidebar.error)


def test_with_sign_in_configured_a_signed_out_visitor_cannot_write(home):
    at = start_as({"is_logged_in": False})
    assert not at.exception
    assert any(i.value.startswith("Sign in (in the sidebar) to upload") for i in at.info)
    assert not at.get("file_uploader")
    assert [b.label for b in at.sidebar.button if b.key == "sign-in"] == ["Sign in"]


# ---------------------------------------------------------------- authoring

def test_authoring_form_starts_empty(home):
    at = start_app("concepts")
    assert_clean(at)
    (editor,) = at.data_editor
    assert editor.key == "author-spans" and editor.editing_mode == "dynamic"
    assert list(editor.value.columns) == ["text", "occurrence", "role"]
    assert not at.code  # no token preview without text and spans
    assert "author-save" not in [b.key for b in at.button]


def fill_authoring_form(at: AppTest, text: str, spans: list[dict]) -> AppTest:
    at.text_input(key="author-id").input("buyer-appeal")
    at.text_input(key="author-concept").input("Permissible Action")
    at.text_area(key="author-text").input(text)
    # AppTest cannot type into st.data_editor cells; a keyed editor takes its edit state instead.
    at.session_state["author-spans"] = {"edited_rows": {0: spans[0]}, "added_rows": spans[1:], "deleted_rows": []}
    return at.run()


# Known bug (app_concepts.py:68-70): a row added in the data editor has NaN in the cells left
# empty; `int(NaN or 1)` raises ValueError (occurrence) and `str(NaN or "")` gives the role "nan".


SPANS = [{"text": "may appeal the decision", "role": "permission"}, {"text": "thirty days", "occurrence": 1, "role": "deadline"}]


def test_authoring_shows_the_token_preview_and_saves(home, micro_demo):
    text = "The buyer may appeal the decision within thirty days."
    at = fill_authoring_form(start_app("concepts"), text, SPANS)
    assert_clean(at)
    sequence = parse_concept_bytes(yaml.safe_dump({"set": "x", "sequences": [{
        "id": "buyer-appeal", "concept": "Permissible Action", "text": text, "spans": SPANS}]}).encode(), "x.yaml").sequences[0]
    aligned = align_sequence(sequence, load_tokenizer(str(micro_demo / "base")))
    assert [c.value for c in at.code] == [format_marked_tokens(aligned.tokens, aligned.concept_mask)]
    assert any(re.fullmatch(rf"Tokens under the tokenizer of stage 'base' \({aligned.n_tokens} tokens, "
                            rf"{int(aligned.concept_mask.sum())} marked\):", c.value) for c in at.caption)

    at.button(key="author-save").click().run()
    assert_clean(at)
    assert [s.value for s in at.success] == ["Saved 'buyer-appeal' in authored.yaml and selected it for the next run."]
    saved = load_concept_file(home / "concepts" / "authored.yaml")
    assert [(s.id, s.concept, s.text) for s in saved.sequences] == [("buyer-appeal", "Permissible Action", text)]
    assert [(s.text, s.role) for s in saved.sequences[0].spans] == [("may appeal the decision", "permission"), ("thirty days", "deadline")]
    assert "yours: authored.yaml" in concept_choice(at).value
    assert any("**authored.yaml** — set `authored`: buyer-appeal" == md.value for md in at.markdown)


def test_authoring_accepts_an_added_row_with_only_its_text(home):
    text = "The buyer may appeal the decision within thirty days."
    at = fill_authoring_form(start_app("concepts"), text, [{"text": "may appeal the decision"}, {"text": "thirty days"}])
    assert_clean(at)
    assert len(at.code) == 1
    at.button(key="author-save").click().run()
    assert_clean(at)
    (sequence,) = load_concept_file(home / "concepts" / "authored.yaml").sequences
    assert [(s.text, s.role) for s in sequence.spans] == [("may appeal the decision", None), ("thirty days", None)]


def test_authoring_reports_a_span_that_is_not_in_the_text(home):
    at = fill_authoring_form(start_app("concepts"), "The buyer may appeal.", [{"text": "the magistrate"}])
    assert not at.exception
    (error,) = at.error
    assert "sequence 'buyer-appeal', span 1, field 'text': 'the magistrate' does not occur in the text" in error.value
    assert "author-save" not in [b.key for b in at.button]
    assert user_files(home) == []


# ---------------------------------------------------------------- results folders

@pytest.fixture()
def no_model(monkeypatch, tmp_path):
    """No demo build and no loader: whatever the app shows must come from the store."""
    monkeypatch.setenv("INTERP_DEMO_DIR", str(tmp_path / "no-demo"))

    def refuse(*args, **kwargs):
        raise AssertionError("a model was loaded")

    monkeypatch.setattr("interp.models.loader.load_stage", refuse)
    monkeypatch.setattr("interp.extraction.tasks.load_stage", refuse)
    monkeypatch.setattr("interp.extraction.pipeline.extract_lineage", refuse)


def test_an_existing_results_folder_opens_without_a_model(run_folder, tmp_path, no_model, monkeypatch):
    elsewhere = tmp_path / "from-the-gpu-machine" / "run"
    shutil.copytree(run_folder, elsewhere)
    monkeypatch.setenv("INTERP_RESULTS_ROOTS", str(tmp_path / "from-the-gpu-machine"))
    at = start_app()
    assert not at.exception
    assert any("not built yet" in w.value for w in at.warning)
    at.sidebar.radio(key="source").set_value(EXISTING).run()
    assert_clean(at)
    assert [i.value for i in at.info] == ["Enter the path of a results folder in the sidebar."]
    at.sidebar.text_input(key="open_folder").input(str(elsewhere)).run()
    assert_clean(at)
    assert len(statistics(at)) == 20
    assert titles(at) == [OVERVIEW_TITLE]
    assert any("Results: `from-the-gpu-machine/run`" in c.value for c in at.caption)
    assert not any(str(tmp_path) in c.value for c in at.caption)
    for view in ("tokens", "structure"):
        at.segmented_control(key="view").set_value(view).run()
        assert_clean(at)
        assert titles(at) == expected_titles(elsewhere, view)


def fewer_sequences(run_folder: Path, to: Path, keep: int) -> Path:
    """A copy of the demo run whose manifest holds only its first `keep` sequences: another run."""
    shutil.copytree(run_folder, to)
    manifest = json.loads((to / "manifest.json").read_text())
    manifest["sequences"] = manifest["sequences"][:keep]
    (to / "manifest.json").write_text(json.dumps(manifest))
    return to


def reload(at: AppTest) -> AppTest:
    """The same address in a new session, as a browser's reload (or a shared link) opens it."""
    return open_address(**{name: at.query_params[name] for name in at.query_params})


def test_an_opened_results_folder_is_in_the_address_and_a_reload_shows_it(run_folder, tmp_path, no_model,
                                                                          monkeypatch):
    elsewhere = fewer_sequences(run_folder, tmp_path / "from-the-gpu-machine" / "run", keep=7)
    monkeypatch.setenv("INTERP_RESULTS_ROOTS", str(tmp_path / "from-the-gpu-machine"))
    at = open_address(run=run_folder.name)  # the demo run, as a link to it opens it
    assert len(statistics(at)) == 20
    at.sidebar.radio(key="source").set_value(EXISTING).run()
    assert "run" not in at.query_params, "the demo run is no longer what the page shows"
    at.sidebar.text_input(key="open_folder").input(str(elsewhere)).run()
    assert_clean(at)
    assert len(statistics(at)) == 14
    assert at.query_params["folder"] == "from-the-gpu-machine/run" and "run" not in at.query_params
    again = reload(at)
    assert_clean(again)
    assert again.session_state["source"] == EXISTING and len(statistics(again)) == 14
    assert any("Results: `from-the-gpu-machine/run`" in c.value for c in again.caption)
    assert not [w.value for w in again.warning]
    # Back to the run: the address names it again, and no longer the folder.
    at.sidebar.radio(key="source").set_value("a run of a lineage").run()
    assert at.query_params["run"] == run_folder.name and "folder" not in at.query_params
    assert len(statistics(at)) == 20


def test_a_results_folder_the_address_names_that_opens_nothing_is_refused(home, no_model):
    at = open_address(folder="/etc")
    assert not at.exception and not at.get("plotly_chart")
    assert [e.value for e in at.error][0].startswith("/etc: not a results folder this app may open")
    at = open_address(folder="runs/no-such-run")
    assert not at.exception and not at.get("plotly_chart")
    assert [e.value for e in at.error][0].endswith("no-such-run: no such results folder")


def test_a_run_named_beside_a_folder_is_refused_with_a_note(run_folder, tmp_path, no_model, monkeypatch):
    elsewhere = fewer_sequences(run_folder, tmp_path / "gpu" / "run", keep=3)
    monkeypatch.setenv("INTERP_RESULTS_ROOTS", str(tmp_path / "gpu"))
    at = open_address(run=run_folder.name, folder="gpu/run")
    assert_clean(at)
    assert len(statistics(at)) == 6
    assert [w.value for w in at.warning] == [f"The address names both the run '{run_folder.name}' and a results "
                                             "folder; the folder is shown."]
    assert ResultsStore(elsewhere).open().sequence_ids == [s["sequence_id"] for s in statistics(at)[::2].to_dict("records")]


def test_every_address_value_a_page_cannot_use_is_refused_with_a_note(home, run_folder, no_run):
    at = open_address(view="heads", sequence="no-such-sequence", stage="ift", reference="later", measure="loudness",
                      exclude="paper,punctuation", first="middle", controls="10000000", run=run_folder.name,
                      set=["built-in: elements", "yours: gone.yaml"])
    assert not at.exception and not at.error
    notes = [w.value for w in at.warning if w.value.startswith("The address names")]
    first = Results(run_folder).sequences[0].id
    expected = [
        "The address names the measure 'loudness', which cannot be used (measures: attention, weighted); the page "
        "shows raw attention.",
        "The address names the excluded tokens 'paper,punctuation', which cannot be used (--exclude "
        "'paper,punctuation': 'paper' is the name of the preset 'paper', which is given alone (--exclude paper); as a "
        "token in a list it would exclude nothing); the page shows the sidebar's excluded tokens.",
        "The address names the first-position rule 'middle', which cannot be used (rules: bos, first, none); the "
        "page shows the sidebar's rule.",
        "The address names the number of control spans '10000000', which cannot be used (the app draws 0 to 2,000 "
        "control spans); the page shows the sidebar's number.",
        "The address names the concept set(s) 'yours: gone.yaml', which are not among this page's sets (deleted, or "
        "another researcher's); the sidebar selects the others it names.",
        "The address names the reference stage 'later', which this run does not have (stages: base, cpt, ift); "
        "shifts are measured against base.",
        f"The address names sequence 'no-such-sequence', which this view does not offer for this run; it shows "
        f"'{first}'.",
    ]
    assert sorted(notes) == sorted(expected), notes
    assert at.session_state["concept_sets"] == ["built-in: elements"]
    assert titles(at)[0].endswith(first) or first in titles(at)[0]
    # The address is left as it came; a reload shows the same page with the same notes.
    assert at.query_params["sequence"] == "no-such-sequence" and at.query_params["measure"] == "loudness"
    assert sorted(w.value for w in reload(at).warning if w.value.startswith("The address names")) == sorted(expected)
    # Choosing a sequence replaces the refused one, and its note goes.
    second = Results(run_folder).sequences[1].id
    at.selectbox(key="choice-heads-sequence").select(second).run()
    assert at.query_params["sequence"] == second and second in titles(at)[0]
    assert not [w for w in at.warning if "no-such-sequence" in w.value]


def test_a_view_the_address_names_that_is_not_one_is_refused_with_a_note(home):
    at = open_address(view="../etc")
    assert_clean(at)
    assert [w.value for w in at.warning] == ["The address names the view '../etc', which is not one of this app's "
                                             "views; the Overview is shown."]
    assert at.session_state["view"] == "overview" and len(statistics(at)) == 20
    assert at.query_params["view"] == "../etc"


def test_analysis_settings_are_in_the_address_and_a_reload_reproduces_the_numbers(home):
    at = start_app()
    at.sidebar.selectbox(key="exclusion").select("punctuation").run()
    at.sidebar.selectbox(key="first_position").select("first").run()
    at.sidebar.number_input(key="n_controls").set_value(50).run()
    at.sidebar.radio(key="measure").set_value("weighted").run()
    assert_clean(at)
    assert {name: at.query_params[name] for name in ("exclude", "first", "controls", "measure")} == {
        "exclude": "punctuation", "first": "first", "controls": "50", "measure": "weighted"}
    again = reload(at)
    assert_clean(again) and not again.warning
    pd_equal(statistics(again), statistics(at))
    assert (again.session_state["exclusion"], again.session_state["first_position"],
            again.session_state["n_controls"]) == ("punctuation", "first", 50)
    at.sidebar.selectbox(key="exclusion").select("custom").run()
    at.sidebar.text_input(key="custom_exclusions").input("▁the, ▁a").run()
    assert_clean(at) and at.query_params["exclude"] == "▁the, ▁a"
    again = reload(at)
    assert (again.session_state["exclusion"], again.session_state["custom_exclusions"]) == ("custom", "▁the, ▁a")
    pd_equal(statistics(again), statistics(at))


def pd_equal(mine, theirs) -> None:
    import pandas as pd

    pd.testing.assert_frame_equal(mine.reset_index(drop=True), theirs.reset_index(drop=True))


def test_a_bogus_results_folder_is_a_one_line_error(home, tmp_path, no_model, monkeypatch):
    root = tmp_path / "results"
    monkeypatch.setenv("INTERP_RESULTS_ROOTS", str(root))
    at = start_app(source=EXISTING)
    not_results = root / "just-a-folder"
    not_results.mkdir(parents=True)
    outside = (f": not a results folder this app may open; it opens folders under {(home / 'runs').resolve()}, "
               f"{root.resolve()} (the server's INTERP_RESULTS_ROOTS adds more)")
    for path, message in [
        (root / "nowhere", f"{root / 'nowhere'}: no such results folder"),
        (not_results, f"{not_results}: not a results folder (no manifest.json); run `python -m interp extract` first"),
        ("/etc", "/etc" + outside),
        ("/nonexistent", "/nonexistent" + outside),
        (tmp_path, f"{tmp_path}" + outside),
    ]:
        at.sidebar.text_input(key="open_folder").input(str(path)).run()
        assert not at.exception
        assert [e.value for e in at.error] == [message]
        assert not at.get("plotly_chart")


def test_a_run_started_while_another_session_writes_the_folder_waits_and_opens_it(home, run_folder):
    at = start_app()
    assert Path(at.session_state["run_folder"]) == run_folder
    lineage, sequences = load_lineage("demo"), builtin_sequences()
    entered, release, outcome = threading.Event(), threading.Event(), {}

    def hold_the_folder(progress) -> None:
        entered.set()  # called inside the folder's lock
        release.wait(120)

    def first_run() -> None:
        try:
            outcome["manifest"] = extract_lineage(lineage, sequences, run_folder, ExtractionSettings(),
                                                  on_progress=hold_the_folder)
        except BaseException as error:  # noqa: BLE001 - reported by the assertion below
            outcome["error"] = error

    thread = threading.Thread(target=first_run, daemon=True)
    thread.start()
    try:
        assert entered.wait(120)
        with pytest.raises(InterpError, match="another extraction is writing to this results folder"):
            extract_lineage(lineage, sequences, run_folder, ExtractionSettings())
        threading.Timer(3.0, release.set).start()
        began = time.monotonic()
        run_button(at).click().run()  # waits for the first session, then opens what it wrote
        waited = time.monotonic() - began
    finally:
        release.set()
        thread.join(120)
    assert "error" not in outcome and outcome["manifest"].complete
    assert waited >= 2.5
    assert_clean(at)
    assert len(statistics(at)) == 20


def test_a_cold_start_serves_every_waiting_session_the_same_results(app_home):
    """Three sessions open a fresh server at once: one runs the demo, the others wait for it."""
    sessions = [AppTest.from_file(APP, default_timeout=TIMEOUT) for _ in range(3)]
    start, failures = threading.Barrier(len(sessions)), []

    def open_page(at: AppTest) -> None:
        start.wait(30)
        try:
            at.run()
        except BaseException as error:  # noqa: BLE001 - reported by the assertion below
            failures.append(error)

    threads = [threading.Thread(target=open_page, args=(at,)) for at in sessions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(TIMEOUT * 2)
    assert failures == []
    for at in sessions:
        assert_clean(at)
        assert len(statistics(at)) == 20
    assert len({at.session_state["run_folder"] for at in sessions}) == 1
    assert len(list((app_home / "runs").iterdir())) == 1


@pytest.mark.slow
def test_unbuilt_demo_offers_a_build_button(tmp_path, monkeypatch):
    monkeypatch.setenv("INTERP_DEMO_DIR", str(tmp_path / "no-demo-yet"))
    monkeypatch.setenv("INTERP_HOME", str(tmp_path / "home"))
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=180)
    at.run()
    assert not at.exception
    assert any("not built yet" in w.value for w in at.warning)
    labels = [b.label for b in at.button]
    assert "Build the demo lineage now (about two minutes, offline)" in labels
    assert not (tmp_path / "home" / "runs").exists(), "nothing runs before the demo exists"


def test_the_app_waits_on_the_lock_the_pipeline_takes():
    import interp.extraction.pipeline
    import ui.run
    from interp.core.locks import LOCK_NAME

    assert ui.run.WRITER_LOCK is interp.extraction.pipeline.WRITER_LOCK is LOCK_NAME


def test_a_view_s_table_downloads_carry_the_settings_and_the_run(run_folder, monkeypatch):
    """The CSV and JSON offered under each table (and the long tables offered as files) hold the
    view, its choices, the analysis settings and the run's provenance."""
    import io

    import pandas as pd
    import streamlit as st

    offered = {}
    original = st.download_button

    def recording(label, data=None, file_name=None, **kwargs):
        if file_name and file_name.endswith((".csv", ".json")):
            offered[file_name] = data
        return original(label, data=data, file_name=file_name, **kwargs)

    monkeypatch.setattr(st, "download_button", recording)
    monkeypatch.setattr(st.delta_generator.DeltaGenerator, "download_button",
                        lambda self, label, data=None, file_name=None, **kwargs: recording(
                            label, data=data, file_name=file_name, **kwargs))
    at = start_app("overview")
    assert_clean(at)
    assert {"overview-statistics.csv", "overview-statistics.json", "overview-shares.csv"} <= set(offered)
    document = json.loads(offered["overview-statistics.json"]())
    assert document["settings"]["view"] == "overview" and document["settings"]["table"] == "statistics"
    assert document["settings"]["controls"] == 200 and document["settings"]["reference"] == "base"
    assert document["provenance"]["folder"] == run_folder.name and len(document["rows"]) == len(statistics(at))
    shares = offered["overview-shares.csv"]().decode()
    assert shares.startswith('# settings.table: "shares"\n# settings.view: "overview"\n')
    results = Results(run_folder)
    layers, heads = results.shape
    assert len(pd.read_csv(io.StringIO(shares), comment="#")) == len(results.sequences) * len(results.stages) * layers * heads


def test_download_everything_is_made_on_request_for_the_chosen_style(run_folder):
    import io
    import zipfile

    at = start_app("overview")
    assert_clean(at)
    labels = [button.label for button in at.get("download_button")]
    assert not any(label.startswith("Download everything") for label in labels)  # nothing made before it is asked for
    at.radio(key="bundle-style").set_value("Paper, page width (7 in)")
    at.button(key="make-bundle").click().run()
    assert_clean(at)
    (label,) = [button.label for button in at.get("download_button") if button.label.startswith("Download everything")]
    assert re.fullmatch(r"Download everything \(zip, [0-9.]+ MB\)", label)
    wanted, data = at.session_state["bundle-made"]
    with zipfile.ZipFile(io.BytesIO(data)) as bundle:
        manifest = json.loads(bundle.read("manifest.json"))
        assert bundle.read("figures/overview/shifts.txt").startswith(b"Mean shift of the concept share")
        assert {"index.html", "index.csv"} <= set(bundle.namelist())
        assert b"200 control spans per sequence (seed 0)" in bundle.read("METHODS.md")
        assert json.loads(bundle.read("tables/overview/statistics.json"))["settings"]["table"] == "overview/statistics"
    assert manifest["figures"]["style"]["width"] == "page" and manifest["analysis"]["controls"] == 200
    assert wanted[0] == str(run_folder) and wanted[-2:] == ("paper", "page")
    # Another choice: the zip made for the old one is no longer offered.
    at.radio(key="bundle-style").set_value("Screen (as shown here)").run()
    assert not any(button.label.startswith("Download everything") for button in at.get("download_button"))
    assert at.button(key="make-bundle").label.startswith("Make the zip")


def test_download_everything_of_a_study_offers_which_sequences_get_figures(app_home, pilot_run, tmp_path, no_model,
                                                                           monkeypatch):
    """Past a few examples per concept type, the zip's per-sequence figures are a choice: the
    examples, every sequence, or those chosen; the manifest says which were drawn."""
    import io
    import zipfile

    study = shutil.copytree(pilot_run, tmp_path / "results" / "pilot")
    monkeypatch.setenv("INTERP_RESULTS_ROOTS", str(tmp_path / "results"))
    at = start_app()
    at.sidebar.radio(key="source").set_value(EXISTING).run()
    at.sidebar.text_input(key="open_folder").input(str(study)).run()
    assert_clean(at)
    at.radio(key="bundle-images").set_value("HTML figures and tables (seconds)").run()
    sequences = at.radio(key="bundle-sequences")
    assert sequences.value == "examples"
    assert sequences.options[0] == "A few examples: the first 2 of each concept type (4 of 12 sequences)"
    sequences.set_value("chosen").run()
    assert_clean(at)
    assert [i.value for i in at.info][-1] == "Choose at least one sequence for the per-sequence figures."
    assert not [b for b in at.button if b.key == "make-bundle"], "no zip before a sequence is chosen"
    at.multiselect(key="bundle-chosen").set_value(["condition-4", "role-6"]).run()
    at.button(key="make-bundle").click().run()
    assert_clean(at)
    wanted, data = at.session_state["bundle-made"]
    assert wanted[4] == ("condition-4", "role-6")
    with zipfile.ZipFile(io.BytesIO(data)) as bundle:
        contents = json.loads(bundle.read("manifest.json"))["contents"]
        texts = {name for name in bundle.namelist() if name.startswith("figures/text/")}
    assert contents["sequences_drawn"] == ["condition-4", "role-6"] and contents["left_out"]["count"] == 10
    assert {name.split("/")[2].rsplit("-", 1)[0] for name in texts} == {"condition-4", "role-6"}
