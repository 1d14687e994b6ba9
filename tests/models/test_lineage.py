"""Lineage presets and lineage YAML files: loading and validation messages."""

from __future__ import annotations

import json

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from interp.core.boundary import parse_document
from interp.core.errors import InterpError
from interp.models.lineage import (
    Lineage,
    Stage,
    list_presets,
    load_lineage,
    parse_lineage,
)


def write(tmp_path, text, name="lineage.yaml"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_presets_are_listed():
    assert list_presets() == ["demo", "demo-smollm2", "saul-7b"]


def test_saul_preset_is_the_reference_study():
    lineage = load_lineage("saul-7b")
    assert lineage == Lineage(
        name="saul-7b",
        stages=(
            Stage("base", "mistralai/Mistral-7B-v0.1"),
            Stage("cpt", "Equall/Saul-7B-Base"),
            Stage("ift", "Equall/Saul-7B-Instruct-v1"),
        ),
        reference="base",
    )
    assert lineage.reference_stage.model == "mistralai/Mistral-7B-v0.1"


def test_demo_preset_has_three_demo_stages():
    lineage = load_lineage("demo")
    assert lineage.labels == ("base", "cpt", "ift")
    assert [stage.model for stage in lineage.stages] == ["demo:base", "demo:cpt", "demo:ift"]
    assert lineage.reference == "base"


def test_file_with_revision_and_reference(tmp_path):
    path = write(tmp_path, """
name: mine
reference: tuned
stages:
  - {label: plain, model: org/plain, revision: abc123}
  - {label: tuned, model: ./folder}
""")
    lineage = load_lineage(str(path))
    assert lineage.stages[0] == Stage("plain", "org/plain", "abc123")
    assert lineage.stages[1].revision is None
    assert lineage.reference == "tuned"


def test_reference_defaults_to_the_first_stage(tmp_path):
    path = write(tmp_path, "name: x\nstages:\n  - {label: a, model: m/a}\n  - {label: b, model: m/b}\n")
    assert load_lineage(path).reference == "a"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("name: x\nstages:\n  - {label: a, model: m/a}\n", "field 'stages': needs at least two stages"),
        ("name: x\nstages:\n  - {label: a, model: m/a}\n  - {label: a, model: m/b}\n", "stage 2, field 'label': duplicate label 'a'"),
        ("name: x\nstages:\n  - {label: a, model: m/a}\n  - {label: b, model: '  '}\n", "stage 2 ('b'), field 'model': is empty"),
        ("name: x\nreference: z\nstages:\n  - {label: a, model: m/a}\n  - {label: b, model: m/b}\n", "field 'reference': 'z' is not a stage label (labels: a, b)"),
        ("name: x\nstages:\n  - {label: 1, model: m/a}\n  - {label: b, model: m/b}\n", "stage 1, field 'label': input should be a valid string"),
        ("name: x\nstages:\n  - {label: a, model: m/a, weights: q}\n  - {label: b, model: m/b}\n", "stage 1, field 'weights': unknown field"),
        ("name: x\nstages:\n  - {label: a}\n  - {label: b, model: m/b}\n", "stage 1, field 'model': is required"),
        ("name: x\nstages: m/a\n", "field 'stages': input should be a valid list"),
        ("stages:\n  - {label: a, model: m/a}\n  - {label: b, model: m/b}\n", "field 'name': is required"),
        ("name: x\nstagez: []\nstages: []\n", "field 'stagez': unknown field"),
        ("name: x\nstages:\n  - {label: 'a b', model: m/a}\n  - {label: b, model: m/b}\n", "stage 1, field 'label': 'a b' must start"),
        ("- just\n- a list\n", "expected a mapping with 'name', 'stages'"),
        ("name: [unclosed\n", "not valid YAML (line"),
        ("name: x\nstages:\n  - {label: '-', model: m/a}\n  - {label: b, model: m/b}\n", "stage 1, field 'label': '-' must start"),
        ("name: x\nstages:\n  - {label: _x, model: m/a}\n  - {label: b, model: m/b}\n", "stage 1, field 'label': '_x' must start"),
        ("name: x\nstages:\n  - {label: " + "L" * 230 + ", model: m/a}\n  - {label: b, model: m/b}\n",
         "stage 1, field 'label': is 230 characters long; at most 100"),
        ("name: x\nstages:\n  - {label: X, model: m/a}\n  - {label: x, model: m/b}\n",
         "stage 2, field 'label': duplicate label 'x' (differs from 'X' only in case)"),
        ("name: x\nstages:\n  - {label: a, model: \"m/a\\e[31m\"}\n  - {label: b, model: m/b}\n",
         "stage 1, field 'model': contains the control character U+001B"),
        ("name: \"x\\ny\"\nstages:\n  - {label: a, model: m/a}\n  - {label: b, model: m/b}\n",
         "field 'name': contains the control character U+000A"),
        ("name: x\nname: y\nstages: []\n", "line 2: key 'name' appears twice in one mapping (first on line 1)"),
        ("[" * 10_000 + "]" * 10_000, "line 1: nested more than 32 levels deep"),
    ],
)
def test_invalid_files_name_the_file_and_field(tmp_path, text, expected):
    path = write(tmp_path, text)
    with pytest.raises(InterpError) as caught:
        load_lineage(path)
    message = str(caught.value)
    assert message.startswith(str(path))
    assert expected in message
    assert "\n" not in message


def test_yaml_is_loaded_safely(tmp_path):
    path = write(tmp_path, "name: !!python/object/apply:os.system ['true']\nstages: []\n")
    with pytest.raises(InterpError, match="not valid YAML"):
        load_lineage(path)


def test_missing_file(tmp_path):
    with pytest.raises(InterpError, match=r"nowhere\.yaml: no such lineage file"):
        load_lineage(str(tmp_path / "nowhere.yaml"))


def test_unknown_preset_lists_the_presets():
    with pytest.raises(InterpError, match=r"'saul-13b': unknown preset \(presets: demo, demo-smollm2, saul-7b\)"):
        load_lineage("saul-13b")


def test_lineage_records_validate_themselves():
    with pytest.raises(InterpError, match="lineage 'solo': field 'stages': needs at least two"):
        Lineage(name="solo", stages=(Stage("a", "m/a"),))
    lineage = Lineage(name="pair", stages=[Stage("a", "m/a"), Stage("b", "m/b")])
    assert lineage.stages == (Stage("a", "m/a"), Stage("b", "m/b"))
    assert lineage.reference == "a"
    with pytest.raises(InterpError, match="no stage 'c' \\(stages: a, b\\)"):
        lineage.stage("c")


_ANY = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
                    max_leaves=30)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(document=_ANY, at=st.sampled_from(["top", "stages", "stage", "reference"]))
def test_arbitrary_nested_structures_give_only_interp_errors(document, at):
    placed = {
        "top": document,
        "stages": {"name": "x", "stages": document},
        "stage": {"name": "x", "stages": [document, {"label": "b", "model": "m/b"}]},
        "reference": {"name": "x", "reference": document, "stages": [{"label": "a", "model": "m"}, {"label": "b", "model": "n"}]},
    }[at]
    for text, fmt in ((json.dumps(placed), "json"), (yaml.safe_dump(placed), "yaml")):
        try:
            parse_lineage(parse_document(text, "l.yaml", fmt), "l.yaml")
        except InterpError as error:
            assert str(error).startswith("l.yaml: ") and "\n" not in str(error)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=300))
def test_arbitrary_bytes_give_a_lineage_or_an_interp_error(tmp_path, data):
    path = tmp_path / "any.yaml"
    path.write_bytes(data)
    try:
        lineage = load_lineage(path)
    except InterpError as error:
        assert "\n" not in str(error)
    else:
        assert len(lineage.stages) >= 2


def test_a_trajectory_names_many_revisions_of_one_hub_model(tmp_path):
    path = write(tmp_path, """
name: pythia-160m
model: EleutherAI/pythia-160m
revisions: [step1000, step2000, refs/pr/7]
reference: step2000
""")
    lineage = load_lineage(path)
    assert lineage.stages == (Stage("step1000", "EleutherAI/pythia-160m", "step1000"),
                              Stage("step2000", "EleutherAI/pythia-160m", "step2000"),
                              Stage("refs-pr-7", "EleutherAI/pythia-160m", "refs/pr/7"))
    assert lineage.reference == "step2000"
    by_revision = write(tmp_path, "name: p\nmodel: o/m\nrevisions: [a/1, b]\nreference: a/1\n", "by-revision.yaml")
    assert load_lineage(by_revision).reference == "a-1"


def test_a_trajectory_of_a_local_folder_names_its_subfolders(tmp_path):
    path = write(tmp_path, f"name: run\nmodel: {tmp_path}/run\nrevisions: [checkpoint-500, checkpoint-1000]\n")
    lineage = load_lineage(path)
    assert lineage.stages == (Stage("checkpoint-500", f"{tmp_path}/run/checkpoint-500"),
                              Stage("checkpoint-1000", f"{tmp_path}/run/checkpoint-1000"))


@pytest.mark.parametrize(("text", "expected"), [
    ("name: x\nmodel: o/m\nrevisions: [s1, s1]\n", "field 'revisions', item 2: 's1' is listed twice"),
    ("name: x\nmodel: o/m\nrevisions: [s/1, s-1]\n", "field 'revisions', item 2: 's-1' and item 1 ('s/1') give one label 's-1'"),
    ("name: x\nmodel: o/m\nrevisions: [Step1, step1]\n", "item 2: 'step1' and item 1 ('Step1') give one label 'step1'"),
    ("name: x\nmodel: o/m\nrevisions: [step1]\n", "field 'revisions': needs at least two revisions to compare, found 1"),
    ("name: x\nrevisions: [a, b]\n", "field 'model': is required with 'revisions'"),
    ("name: x\nmodel: o/m\n", "field 'revisions': is required with 'model' (e.g. [step1000, step2000])"),
    ("name: x\nmodel: o/m\nrevisions: [a, 3]\n", "field 'revisions.1': input should be a valid string"),
    ("name: x\nmodel: o/m\nrevisions: ['///', b]\n", "field 'revisions', item 1: '///' cannot name a stage"),
    ("name: x\nmodel: /ckpt\nrevisions: [a, ../b]\n", "field 'revisions', item 2: '../b' must name a subfolder of /ckpt"),
    ("name: x\nmodel: o/m\nrevisions: [a, b]\nstages: []\n", "give either 'stages' or 'model' with 'revisions', not both"),
    ("name: x\n", "field 'stages': is required (or 'model' with 'revisions'"),
    ("name: x\nmodel: o/m\nrevisions: [a, b]\nreference: c\n", "field 'reference': 'c' is not a stage label (labels: a, b)"),
])
def test_invalid_trajectories_are_one_line(tmp_path, text, expected):
    path = write(tmp_path, text)
    with pytest.raises(InterpError) as caught:
        load_lineage(path)
    assert str(caught.value).startswith(f"{path}: ") and expected in str(caught.value) and "\n" not in str(caught.value)


def test_a_revision_label_is_a_safe_file_name():
    from interp.core.boundary import is_store_name
    from interp.models.lineage import revision_label

    assert revision_label("step20000-tokens84B") == "step20000-tokens84B"
    assert revision_label("refs/pr/7") == "refs-pr-7" and revision_label(".hidden") == "hidden"
    assert is_store_name(revision_label("-x y/z" * 40)) and len(revision_label("a" * 300)) == 100
