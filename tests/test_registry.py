"""Concept files: loading YAML, JSON and CSV, and one precise line per problem."""

import json
import unicodedata
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from interp.registry import (
    MAX_FILE_BYTES,
    TEXT_NORMALISATION,
    ConceptFileError,
    ConceptSet,
    all_sequences,
    concept_set_hash,
    dump_concept_set,
    load_concept_file,
    load_concepts,
    parse_concept_bytes,
    sequence_from_item,
    sequence_item,
)
from tests.hostile import CASES

REPO = Path(__file__).resolve().parents[1]

GOOD_YAML = """\
set: demo
sequences:
  - id: role-1
    concept: Role
    source: written for the tests
    text: "The licensing authority may refuse; the licensing authority shall give reasons."
    spans:
      - text: licensing authority
        occurrence: 2
        role: decider
      - start: 4
        end: 13
"""


def problems_of(data: str | bytes, name: str = "x.yaml") -> list[str]:
    raw = data.encode("utf-8") if isinstance(data, str) else data
    with pytest.raises(ConceptFileError) as caught:
        parse_concept_bytes(raw, name)
    return caught.value.problems


def sequence_yaml(**fields) -> str:
    item = {"id": "s-1", "concept": "Role", "text": "The tenant shall pay the rent.", "spans": [{"text": "tenant"}]}
    item.update(fields)
    return json.dumps({"set": "t", "sequences": [item]})


def test_yaml_loads_into_typed_records():
    concept_set = parse_concept_bytes(GOOD_YAML.encode(), "good.yaml")
    assert isinstance(concept_set, ConceptSet) and concept_set.name == "demo"
    (sequence,) = concept_set.sequences
    first, second = sequence.spans
    assert sequence.text[first.start:first.end] == "licensing authority"
    assert first.start == sequence.text.index("licensing authority", 5)
    assert first.role == "decider"
    assert (second.start, second.end, second.text) == (4, 13, "licensing")
    assert sequence.source == "written for the tests"


def test_json_and_csv_give_the_same_sequence_as_yaml():
    yaml_set = parse_concept_bytes(GOOD_YAML.encode(), "good.yaml")
    json_set = parse_concept_bytes(sequence_yaml().encode(), "good.json")
    assert json_set.sequences[0].spans[0].text == "tenant"
    csv_text = (
        "id,concept,text,span_text,occurrence,role\n"
        'role-1,Role,"The licensing authority may refuse; the licensing authority shall give reasons.",licensing authority,2,decider\n'
        'role-1,Role,"The licensing authority may refuse; the licensing authority shall give reasons.",licensing,1,\n'
    )
    csv_set = parse_concept_bytes(csv_text.encode(), "bulk.csv")
    assert csv_set.name == "bulk"
    assert csv_set.sequences[0].spans == yaml_set.sequences[0].spans


@pytest.mark.parametrize(
    "fields, expected",
    [
        ({"colour": "red"}, "sequence 's-1', field 'colour': unknown field"),
        ({"text": "   "}, "sequence 's-1', field 'text': is empty"),
        ({"id": "Role 1"}, "sequence 'Role 1', field 'id': 'Role 1' must start with a-z or 0-9 and use only a-z, 0-9, '-' and '_'"),
        ({"spans": [{"text": "landlord"}]}, "sequence 's-1', span 1, field 'text': 'landlord' does not occur in the text"),
        ({"spans": [{"text": "the", "occurrence": 3}]}, "sequence 's-1', span 1, field 'occurrence': 3 asked, but 'the' occurs 1 time(s)"),
        ({"spans": [{"start": 4, "end": 99}]}, "sequence 's-1', span 1, field 'end': 99 is past the end of the text (30 characters)"),
        ({"spans": [{"start": 9, "end": 4}]}, "sequence 's-1', span 1, field 'end': 4 must be greater than start 9"),
        ({"spans": [{"start": -1, "end": 4}]}, "sequence 's-1', span 1, field 'start': input should be greater than or equal to 0"),
        ({"spans": [{"text": "tenant shall"}, {"text": "shall pay"}]}, "sequence 's-1', span 2: 'shall pay' overlaps span 1 ('tenant shall')"),
        ({"spans": [{"role": "x"}]}, "sequence 's-1', span 1: give 'text' (an exact substring) or 'start' and 'end'"),
        ({"spans": []}, "sequence 's-1', field 'spans': list should have at least 1 item after validation, not 0"),
        ({"spans": [{"text": "tenant", "start": 0, "end": 3}]}, "sequence 's-1', span 1, field 'text': 'tenant' differs from the text at [0, 3) ('The')"),
    ],
)
def test_each_problem_is_one_line_naming_file_sequence_and_field(fields, expected):
    assert problems_of(sequence_yaml(**fields), "bad.yaml") == [f"bad.yaml: {expected}"]


def test_missing_field_and_wrong_type():
    item = {"id": "s-1", "text": "The tenant.", "spans": [{"text": "tenant", "occurrence": "two"}]}
    problems = problems_of(json.dumps({"set": "t", "sequences": [item]}), "f.json")
    assert "f.json: sequence 's-1', field 'concept': is required" in problems
    assert "f.json: sequence 's-1', span 1, field 'occurrence': input should be a valid integer (got str)" in problems


def test_duplicate_ids_within_a_file_and_across_files(tmp_path):
    item = {"id": "same", "concept": "Role", "text": "The tenant.", "spans": [{"text": "tenant"}]}
    doc = json.dumps({"set": "t", "sequences": [item, item]})
    assert problems_of(doc, "d.json") == ["d.json: sequence 'same', field 'id': duplicate id in this file"]
    (tmp_path / "a.json").write_text(json.dumps({"set": "a", "sequences": [item]}))
    (tmp_path / "b.json").write_text(json.dumps({"set": "b", "sequences": [item]}))
    with pytest.raises(ConceptFileError) as caught:
        load_concepts([tmp_path])
    assert caught.value.problems == [
        f"{tmp_path / 'b.json'}: sequence 'same', field 'id': duplicate of the id in {tmp_path / 'a.json'}"
    ]


@pytest.mark.parametrize(
    "data, expected",
    [
        (b"set: t\nsequences: [1, 2", "x.yaml: not valid YAML (line 2: expected ',' or ']', but got '<stream end>')"),
        (b"- just\n- a list\n", "x.yaml: expected a mapping with 'set' and 'sequences', found list"),
        (b"set: t\n", "x.yaml: field 'sequences': missing or not a non-empty list"),
        (b"set: t\nsequences: [hello]\n", "x.yaml: sequence #1: expected a mapping with id, concept, text, spans"),
        ("set: t\nsequences: []\n".encode("utf-16"), "x.yaml: not UTF-8 text (byte 0)"),
    ],
)
def test_file_level_problems(data, expected):
    assert problems_of(data) == [expected]


def test_python_tags_are_refused_by_the_safe_loader():
    problems = problems_of("set: !!python/object/apply:os.system ['echo hi']\nsequences: []\n")
    assert len(problems) == 1 and problems[0].startswith("x.yaml: not valid YAML")


def test_json_syntax_error_names_the_line():
    assert problems_of('{"set": "t",\n "sequences": [}', "j.json") == ["j.json: not valid JSON (line 2: Expecting value)"]


def test_csv_problems_name_the_row():
    header_only = "id,concept,text\n"
    assert problems_of(header_only, "c.csv") == [
        "c.csv: header: missing column(s) span_text (expected id,concept,text,span_text[,occurrence,role,source])"
    ]
    rows = "id,concept,text,span_text,occurrence\ns,Role,The tenant.,tenant,x\ns,Duty,The tenant.,tenant,1\n"
    assert problems_of(rows, "c.csv") == [
        "c.csv: row 2, sequence 's', field 'occurrence': 'x' is not a whole number",
        "c.csv: row 3, sequence 's', field 'concept': differs from the first row of this id",
    ]


def test_size_limit_and_unknown_suffix(tmp_path):
    big = tmp_path / "big.yaml"
    big.write_bytes(b"#" * (MAX_FILE_BYTES + 1))
    with pytest.raises(ConceptFileError, match="big.yaml: file is larger than 5 MB"):
        load_concept_file(big)
    assert problems_of(b"x", "notes.txt")[0].startswith("notes.txt: unknown format")
    with pytest.raises(ConceptFileError, match="no such file"):
        load_concept_file(tmp_path / "absent.yaml")


def test_all_problems_of_a_file_are_reported_together():
    items = [
        {"id": "a", "concept": "Role", "text": "The tenant.", "spans": [{"text": "landlord"}]},
        {"id": "b", "concept": "Role", "text": "The tenant.", "spans": [{"start": 3, "end": 2}]},
    ]
    assert len(problems_of(json.dumps({"set": "t", "sequences": items}), "m.json")) == 2


def test_dump_round_trips_and_hash_tracks_content():
    concept_set = parse_concept_bytes(GOOD_YAML.encode(), "good.yaml")
    again = parse_concept_bytes(dump_concept_set(concept_set).encode(), "again.yaml")
    assert again.sequences == concept_set.sequences
    assert concept_set_hash(again.sequences) == concept_set_hash(concept_set.sequences)
    changed = parse_concept_bytes(GOOD_YAML.replace("may refuse", "may decline").encode(), "c.yaml")
    assert concept_set_hash(changed.sequences) != concept_set_hash(concept_set.sequences)


def test_built_in_concept_sets_are_valid():
    sets = load_concepts([REPO / "concepts"])
    by_name = {concept_set.name: concept_set for concept_set in sets}
    paper = by_name["paper-types"].sequences
    assert [s.concept for s in paper] == [
        "Definiendum", "Role", "Permissible Action", "Prohibitory Action", "Condition", "Evidence Object", "Fact Elements",
    ]
    assert all(40 <= len(s.text.split()) <= 120 for s in paper)
    elements = by_name["elements"].sequences
    assert len(elements) >= 3
    assert all(len(s.spans) >= 2 and all(span.role for span in s.spans) for s in elements)
    assert len({s.id for s in all_sequences(sets)}) == len(all_sequences(sets))


# ---------------------------------------------------------------- the input contract

@pytest.mark.parametrize(("name", "data", "fragment"), [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_hostile_files_are_refused_in_one_line_per_problem(name, data, fragment):
    problems = problems_of(data, name)
    assert fragment in problems[0], problems
    assert all(problem.startswith(f"{name}: ") and "\n" not in problem and "\r" not in problem for problem in problems)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.binary(max_size=400), suffix=st.sampled_from([".yaml", ".json", ".csv"]))
def test_arbitrary_bytes_give_a_concept_set_or_a_concept_file_error(data, suffix):
    try:
        concept_set = parse_concept_bytes(data, f"any{suffix}")
    except ConceptFileError as error:
        assert error.problems and all("\n" not in problem for problem in error.problems)
    else:
        assert isinstance(concept_set, ConceptSet) and concept_set.sequences


_SCALARS = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12)
_NESTED = st.recursive(_SCALARS, lambda inner: st.lists(inner, max_size=4)
                       | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=40)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(document=_NESTED, at=st.sampled_from(["top", "sequences", "item", "spans", "span"]))
def test_arbitrary_nested_structures_give_only_concept_file_errors(document, at):
    """Any shape, anywhere in a concept file, as JSON and as YAML."""
    item = {"id": "s", "concept": "Role", "text": "The tenant.", "spans": [{"text": "tenant"}]}
    placed = {
        "top": document,
        "sequences": {"set": "t", "sequences": document},
        "item": {"set": "t", "sequences": [document]},
        "spans": {"set": "t", "sequences": [{**item, "spans": document}]},
        "span": {"set": "t", "sequences": [{**item, "spans": [document]}]},
    }[at]
    for name, data in (("n.json", json.dumps(placed).encode()), ("n.yaml", yaml.safe_dump(placed).encode())):
        try:
            parse_concept_bytes(data, name)
        except ConceptFileError as error:
            assert all(problem.startswith(f"{name}: ") and "\n" not in problem for problem in error.problems)


def test_long_texts_in_csv_are_read_whole():
    text = "The tenant shall pay. " * 20_000  # 440,000 characters, past the csv module's default cap
    data = f"id,concept,text,span_text\nlong,Role,{text},tenant\n".encode()
    (sequence,) = parse_concept_bytes(data, "long.csv").sequences
    assert sequence.text == text


def test_a_span_in_nfc_is_found_in_text_written_in_nfd():
    nfd = unicodedata.normalize("NFD", "Le bénéficiaire désigné reçoit la créance.")
    assert nfd != unicodedata.normalize("NFC", nfd)
    data = concept_item_yaml(text=nfd, spans=[{"text": "bénéficiaire désigné"}])
    (sequence,) = parse_concept_bytes(data, "nfd.yaml").sequences
    assert TEXT_NORMALISATION == "NFC" and sequence.normalised
    assert sequence.text == unicodedata.normalize("NFC", nfd)
    (span,) = sequence.spans
    assert sequence.text[span.start:span.end] == span.text == "bénéficiaire désigné"


def test_offsets_into_nfd_text_move_with_normalisation():
    nfd = unicodedata.normalize("NFD", "Le bénéficiaire désigné reçoit.")
    start = nfd.index("désigné"[0])  # 'd' of désigné in the decomposed text
    end = start + len(unicodedata.normalize("NFD", "désigné"))
    (sequence,) = parse_concept_bytes(concept_item_yaml(text=nfd, spans=[{"start": start, "end": end}]), "o.yaml").sequences
    (span,) = sequence.spans
    assert span.text == "désigné" and sequence.text[span.start:span.end] == "désigné"


def test_nfc_and_nfd_spellings_are_one_sequence_with_one_hash():
    text = "La créance échue est exigible."
    forms = [parse_concept_bytes(concept_item_yaml(text=unicodedata.normalize(form, text),
                                                   spans=[{"text": unicodedata.normalize(form, "créance")}]), "f.yaml")
             for form in ("NFC", "NFD")]
    assert forms[0].sequences == forms[1].sequences
    assert concept_set_hash(forms[0].sequences) == concept_set_hash(forms[1].sequences)
    assert [s.normalised for f in forms for s in f.sequences] == [False, True]
    # The manifest's items read back as they were written: already normalised.
    again = sequence_from_item(sequence_item(forms[1].sequences[0]))
    assert again == forms[1].sequences[0] and not again.normalised


def test_a_span_that_does_not_occur_in_non_ascii_text_names_normalisation():
    problems = problems_of(concept_item_yaml(text="La créance échue.", spans=[{"text": "creance"}]), "u.yaml")
    assert problems == ["u.yaml: sequence 's-1', span 1, field 'text': 'creance' does not occur in the text "
                        "(compared after Unicode NFC normalisation of both); did you mean 'créance'?"]


@pytest.mark.parametrize("sequence_id", ["a", "0", "a" * 100, "role-1", "x_y", "9-lives"])
def test_ids_the_store_accepts_are_valid(sequence_id):
    from interp.boundary import is_store_name

    (sequence,) = parse_concept_bytes(concept_item_yaml(id=sequence_id), "i.yaml").sequences
    assert sequence.id == sequence_id and is_store_name(sequence_id)


def concept_item_yaml(**fields) -> bytes:
    item = {"id": "s-1", "concept": "Role", "text": "The tenant shall pay the rent.", "spans": [{"text": "tenant"}]}
    item.update(fields)
    return yaml.safe_dump({"set": "t", "sequences": [item]}, allow_unicode=True).encode("utf-8")


def test_json_lines_datasets_name_the_line_of_each_problem(tmp_path):
    import json as json_module

    from interp.registry import load_concept_file

    good = {"id": "a-1", "concept": "Role", "text": "The tenant shall pay.", "spans": [{"text": "The tenant"}]}
    lines = [json_module.dumps(good), "", json_module.dumps({**good, "id": "a-2", "spans": [{"text": "landlord"}]}),
             "{not json", json_module.dumps(good)]
    path = tmp_path / "data.jsonl"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ConceptFileError) as caught:
        load_concept_file(path)
    assert caught.value.problems == [
        f"{path}: line 3, sequence 'a-2', span 1, field 'text': 'landlord' does not occur in the text",
        f"{path}: line 4: not valid JSON (Expecting property name enclosed in double quotes)",
        f"{path}: line 5, sequence 'a-1', field 'id': duplicate of the id on line 1",
    ]
    path.write_text("\n".join(json_module.dumps({**good, "id": f"s-{i}"}) for i in range(3000)))
    assert len(load_concept_file(path).sequences) == 3000
    path.write_text("\n".join(json_module.dumps({**good, "id": f"s-{i}", "spans": []}) for i in range(80)))
    with pytest.raises(ConceptFileError) as caught:
        load_concept_file(path)
    assert len(caught.value.problems) == 51 and caught.value.problems[-1].endswith("and 30 more problem(s)")
