"""Concept files: loading YAML, JSON and CSV, and one precise line per problem."""

import json
import time
import unicodedata
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from interp.concepts.files import (
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

REPO = Path(__file__).resolve().parents[2]

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
        "c.csv: header: missing column(s) span_text (expected id,concept,text,span_text[,occurrence,role,source,answer,contrast])"
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
    from interp.core.boundary import is_store_name

    (sequence,) = parse_concept_bytes(concept_item_yaml(id=sequence_id), "i.yaml").sequences
    assert sequence.id == sequence_id and is_store_name(sequence_id)


def concept_item_yaml(**fields) -> bytes:
    item = {"id": "s-1", "concept": "Role", "text": "The tenant shall pay the rent.", "spans": [{"text": "tenant"}]}
    item.update(fields)
    return yaml.safe_dump({"set": "t", "sequences": [item]}, allow_unicode=True).encode("utf-8")


def test_json_lines_datasets_name_the_line_of_each_problem(tmp_path):
    import json as json_module

    from interp.concepts.files import load_concept_file

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


# ---------------------------------------------------------------- work proportional to the input

def holder_file(count: int, by: str = "occurrence") -> bytes:
    """`"holder " × count` with one span per word, by occurrence or by offsets."""
    spans = ([{"text": "holder", "occurrence": k} for k in range(1, count + 1)] if by == "occurrence"
             else [{"start": 7 * k, "end": 7 * k + 6} for k in range(count)])
    return json.dumps({"set": "t", "sequences": [
        {"id": "h", "concept": "Role", "text": "holder " * count, "spans": spans}]}).encode()


def best_time(call, repeat: int = 3) -> float:
    timings = []
    for _ in range(repeat):
        began = time.perf_counter()
        call()
        timings.append(time.perf_counter() - began)
    return min(timings)


def test_spans_by_occurrence_cost_about_what_spans_by_offsets_do(monkeypatch):
    """`{"text": "holder", "occurrence": k}` for k = 1..n searches the text once, not n times:
    n = 20,000 took 44 s when each span searched the whole text again."""
    monkeypatch.setenv("INTERP_MAX_SPANS", "20000")
    by_occurrence, by_offsets = holder_file(20_000), holder_file(20_000, "offsets")
    (sequence,) = parse_concept_bytes(by_occurrence, "o.json").sequences
    assert len(sequence.spans) == 20_000 and sequence.spans == parse_concept_bytes(by_offsets, "f.json").sequences[0].spans
    occurrence = best_time(lambda: parse_concept_bytes(by_occurrence, "o.json"))
    offsets = best_time(lambda: parse_concept_bytes(by_offsets, "f.json"))
    assert occurrence < 5 * offsets + 0.1, (occurrence, offsets)


def test_many_needles_asked_for_late_occurrences_exhaust_one_budget():
    """Different needles, each asked for an occurrence near the end, would search the text once
    per needle: the searches of one sequence are bounded by its length, and refused past it."""
    text = "a" * 20_000
    spans = [{"text": "a" * length, "occurrence": len(text) - length + 1} for length in range(1, 2_001)]
    data = json.dumps({"set": "t", "sequences": [{"id": "a", "concept": "Role", "text": text, "spans": spans}]})
    began = time.perf_counter()
    problems = problems_of(data, "n.json")
    assert time.perf_counter() - began < 2
    assert problems == ["n.json: sequence 'a', span 2, field 'occurrence': the spans of this sequence ask to search "
                        "through more than 22,000 occurrences (the text's characters plus one per span); give spans by "
                        "'start' and 'end'"]


def test_many_absent_spans_cost_a_few_hints_not_one_each(monkeypatch):
    """"Did you mean" compares a missing span with every window of its text's words (0.2–0.6 s for
    a 200,000-character text): a file computes it for its first `MAX_HINTS` missing spans only."""
    import interp.concepts.files as registry

    compared = []
    real_near_miss = registry._near_miss
    monkeypatch.setattr(registry, "_near_miss",
                        lambda text, needle: compared.append(needle) or real_near_miss(text, needle))
    text = " ".join(["the lessee shall pay the rent within thirty days"] * 4_000)
    items = [{"id": f"s-{i}", "concept": "Role", "text": text, "spans": [{"text": "lesee shall"}, {"text": "thrity days"}]}
             for i in range(20)]
    problems = problems_of(json.dumps({"set": "t", "sequences": items}), "h.json")
    assert len(problems) == 40 and len(compared) == registry.MAX_HINTS == 10
    hinted = [problem for problem in problems if "did you mean" in problem]
    assert len(hinted) == 10 and hinted[0].endswith("did you mean 'lessee shall'?")
    compared.clear()
    problems_of(sequence_yaml(spans=[{"text": "x" * (registry.HINT_SPAN_CHARS + 1)}]))
    assert compared == []


@pytest.mark.parametrize("variable, value, fragment", [
    ("INTERP_MAX_TEXT_CHARS", "20", "field 'text': 30 characters; at most 20 per text (INTERP_MAX_TEXT_CHARS sets the limit)"),
    ("INTERP_MAX_SPANS", "1", "field 'spans': 2 spans; at most 1 per sequence (INTERP_MAX_SPANS sets the limit)"),
])
def test_limits_on_texts_and_spans_name_file_item_and_field_in_every_format(monkeypatch, tmp_path, variable, value,
                                                                             fragment):
    monkeypatch.setenv(variable, value)
    text = "The tenant shall pay the rent."
    item = {"id": "s-1", "concept": "Role", "text": text, "spans": [{"text": "tenant"}, {"text": "rent"}]}
    assert problems_of(sequence_yaml(spans=item["spans"]), "l.yaml") == [f"l.yaml: sequence 's-1', {fragment}"]
    assert problems_of(json.dumps(item) + "\n", "l.jsonl") == [f"l.jsonl: line 1, sequence 's-1', {fragment}"]
    rows = "".join(f'{item["id"]},Role,{text},{needle}\n' for needle in ("tenant", "rent"))
    assert problems_of("id,concept,text,span_text\n" + rows, "l.csv") == [f"l.csv: sequence 's-1', {fragment}"]
    (tmp_path / "l.json").write_text(sequence_yaml(spans=item["spans"]))
    with pytest.raises(ConceptFileError) as caught:
        load_concepts([tmp_path / "l.json"])
    assert caught.value.problems == [f"{tmp_path / 'l.json'}: sequence 's-1', {fragment}"]


def test_default_limits_and_a_bad_setting():
    from interp.concepts.files import (
        MAX_SPANS,
        MAX_TEXT_CHARS,
        max_spans,
        max_text_chars,
    )
    from interp.core.errors import InterpError

    assert (max_spans(), max_text_chars()) == (MAX_SPANS, MAX_TEXT_CHARS) == (10_000, 500_000)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("INTERP_MAX_SPANS", "ten")
        with pytest.raises(InterpError, match=r"^INTERP_MAX_SPANS='ten': give a whole number of at least 1$"):
            parse_concept_bytes(sequence_yaml().encode(), "x.yaml")
        patch.setenv("INTERP_MAX_SPANS", "0")
        with pytest.raises(InterpError, match="INTERP_MAX_SPANS='0'"):
            max_spans()


def test_a_text_past_the_limit_is_refused_before_its_spans_are_read(monkeypatch):
    monkeypatch.setenv("INTERP_MAX_TEXT_CHARS", "100000")
    text = "holder " * 300_000
    spans = [{"text": "holder", "occurrence": 300_000}, {"start": 0, "end": 6, "text": "x" * 10}]
    began = time.perf_counter()
    problems = problems_of(json.dumps({"set": "t", "sequences": [{"id": "b", "concept": "R", "text": text,
                                                                   "spans": spans}]}), "b.json")
    assert problems == ["b.json: sequence 'b', field 'text': 2,100,000 characters; at most 100,000 per text "
                        "(INTERP_MAX_TEXT_CHARS sets the limit)"]
    assert time.perf_counter() - began < 2


def test_overlaps_of_spans_as_long_as_the_text_copy_nothing_and_are_named_by_their_number():
    """Two thousand spans over the whole of a long text: the overlap is found from the offsets
    alone (no span's text is cut out, 600 MB here), in the memory that reading as many spans
    that do not overlap takes, and each message stays short."""
    import tracemalloc

    text = "The tenant shall pay the rent. " * 10_000
    sentence = len("The tenant shall pay the rent. ")

    def peak_of(spans):
        data = json.dumps({"set": "t", "sequences": [{"id": "o", "concept": "R", "text": text, "spans": spans}]})
        tracemalloc.start()
        try:
            try:
                parse_concept_bytes(data.encode(), "o.json")
            except ConceptFileError as error:
                problems = error.problems
            else:
                problems = []
            return tracemalloc.get_traced_memory()[1], problems
        finally:
            tracemalloc.stop()

    legitimate, none = peak_of([{"start": sentence * k, "end": sentence * k + 10} for k in range(2_000)])
    overlapping, problems = peak_of([{"start": 0, "end": len(text) - k} for k in range(2_000)])
    assert none == [] and len(problems) == 1_999 and overlapping < 3 * legitimate, (overlapping, legitimate)
    assert problems[0] == ("o.json: sequence 'o', span 2: 'The tenant shall pay the rent. The tenant shall pay the rent…' "
                           "overlaps span 1 ('The tenant shall pay the rent. The tenant shall pay the rent…')")
    numbered = problems_of(sequence_yaml(spans=[{"text": "landlord"}, {"text": "tenant shall"}, {"text": "shall pay"}]))
    assert numbered[1] == "x.yaml: sequence 's-1', span 3: 'shall pay' overlaps span 2 ('tenant shall')"


def test_blank_spans_by_offsets_are_found_without_scanning_them():
    text = "x" + " " * 200_000 + "y"
    spans = [{"start": 1, "end": 200_001 - k} for k in range(3)] + [{"start": 0, "end": 2}]
    problems = problems_of(json.dumps({"set": "t", "sequences": [{"id": "w", "concept": "R", "text": text,
                                                                   "spans": spans}]}), "w.json")
    assert problems[:3] == [f"w.json: sequence 'w', span {n + 1}: characters [1, {200_001 - n}) are only whitespace"
                            for n in range(3)]


def test_characters_that_join_the_one_before_them_are_the_ones_unicodedata_says():
    """`JOINS_PREVIOUS`: every character of combining class 0 that is the second of a canonical
    pair, and the Hangul vowels and final consonants that compose by rule."""
    import sys

    from interp.concepts.files import JOINS_PREVIOUS

    second = set()
    for code in range(sys.maxunicode + 1):
        decomposition = unicodedata.decomposition(chr(code))
        if decomposition and not decomposition.startswith("<") and len(decomposition.split()) == 2:
            joined = chr(int(decomposition.split()[1], 16))
            if unicodedata.combining(joined) == 0:
                second.add(joined)
    hangul = {c for c in JOINS_PREVIOUS if 0x1100 <= ord(c) <= 0x11FF}
    assert JOINS_PREVIOUS - hangul == second
    assert all(len(unicodedata.normalize("NFC", ("\u1100" if ord(c) < 0x11A8 else "\uac00") + c)) == 1 for c in hangul)
    assert len(hangul) == 21 + 27


TRICKY = ["e", "x", " ", "\u0301", "\u0327", "\u0f71", "\u0f72", "\u0f73", "\u1100", "\u1161", "\u11a8", "\uac00",
          "\u0cbf", "\u0cc2", "\u0cd5", "\u212b", "A", "\u030a", "\u0344"]


@settings(max_examples=400, deadline=None)
@given(text=st.lists(st.sampled_from(TRICKY), min_size=1, max_size=14).map("".join),
       offsets=st.lists(st.integers(0, 14), max_size=6))
def test_offsets_move_with_normalisation_as_the_prefix_they_end(text, offsets):
    """Where an offset is a boundary, its place in the NFC text is the length of the NFC of the
    text before it, and the text after it normalises on its own."""
    from interp.concepts.files import _normalised_offsets

    offsets = [offset for offset in offsets if offset <= len(text)]
    moved = _normalised_offsets(text, offsets)
    whole = unicodedata.normalize("NFC", text)
    for offset in offsets:
        if moved[offset] is not None:
            before, after = (unicodedata.normalize("NFC", part) for part in (text[:offset], text[offset:]))
            assert moved[offset] == len(before) and before + after == whole


def test_offsets_into_nfd_text_cost_one_pass_however_many_spans():
    """Ten thousand offsets into decomposed text move with normalisation at about the cost of
    offsets into text that needs none (each used to normalise the whole text before it)."""
    unit = unicodedata.normalize("NFD", "créance échue ")
    assert len(unit) == 16
    spans = [{"start": 16 * k, "end": 16 * k + 8} for k in range(10_000)]

    def data(text):
        return json.dumps({"set": "t", "sequences": [{"id": "d", "concept": "R", "text": text, "spans": spans}]}).encode()

    decomposed, plain = data(unit * 20_000), data("creance  echue  " * 20_000)
    (sequence,) = parse_concept_bytes(decomposed, "d.json").sequences
    assert [s.text for s in sequence.spans[:2]] == ["créance", "créance"] and sequence.spans[1].start == 14
    normalised_time = best_time(lambda: parse_concept_bytes(decomposed, "d.json"))
    plain_time = best_time(lambda: parse_concept_bytes(plain, "a.json"))
    assert normalised_time < 5 * plain_time + 0.1, (normalised_time, plain_time)
    problems = problems_of(concept_item_yaml(text=unit, spans=[{"start": 0, "end": 3}]), "s.yaml")
    assert problems == ["s.yaml: sequence 's-1', span 1: characters [0, 3) split a character that Unicode "
                        "normalisation (NFC) joins; give the span by its text instead"]


@pytest.mark.parametrize("separator, second_line", [
    ("\u2028", None), ("\u2029", None),
    ("\u0085", "line 2, sequence 'a-2', field 'source': contains the control character U+0085 at character 4"),
    *[(raw, "line 2: not valid JSON (Invalid control character at") for raw in "\x0b\x0c\x1c\x1d\x1e\r"],
])
def test_json_lines_end_at_newlines_only(tmp_path, separator, second_line):
    """Characters that `str.splitlines()` takes for line ends, raw inside a JSON string (valid JSON
    from U+0085 up), split no line: every later line keeps its number. "\r\n" ends a line."""
    good = {"id": "a-1", "concept": "Role", "text": "The tenant shall pay.", "spans": [{"text": "tenant"}]}
    inner = json.dumps({**good, "id": "a-2", "source": "page|2"}).replace("|", separator)  # json.dumps would escape it
    bad = json.dumps({**good, "id": "a-3", "spans": [{"text": "landlord"}]})
    path = tmp_path / "d.jsonl"
    path.write_bytes(f"{json.dumps(good)}\r\n{inner}\r\n{bad}\n".encode())
    with pytest.raises(ConceptFileError) as caught:
        load_concept_file(path)
    last = f"{path}: line 3, sequence 'a-3', span 1, field 'text': 'landlord' does not occur in the text"
    if second_line is None:
        assert caught.value.problems == [last]
        path.write_bytes(f"{json.dumps(good)}\r\n{inner}\n".encode())
        assert [s.source for s in load_concept_file(path).sequences] == ["", f"page{separator}2"]
    else:
        first, *rest = caught.value.problems
        assert first.startswith(f"{path}: {second_line}") and rest == [last]
