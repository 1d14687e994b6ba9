"""The project's error types: fields that code reads, and one escaped line per problem for users."""

import pytest

from interp.concepts.files import ConceptFileError, parse_concept_bytes
from interp.core.errors import InputError, InterpError, ParseError, SequenceError, Where


def test_an_input_error_carries_its_place_field_and_reason():
    where = Where("a.jsonl", line=3, item="sequence 'x'")
    error = where.at(span=2).problem("does not occur in the text", field="text")
    assert isinstance(error, InterpError) and isinstance(error, InputError)
    assert (error.file, error.where.line, error.where.item, error.where.span) == ("a.jsonl", 3, "sequence 'x'", 2)
    assert (error.field, error.reason) == ("text", "does not occur in the text")
    assert str(error) == "a.jsonl: line 3, sequence 'x', span 2, field 'text': does not occur in the text"
    assert str(Where("a.yaml").problem("missing", field="set")) == "a.yaml: field 'set': missing"
    assert str(Where("a.yaml").problem("no such file")) == "a.yaml: no such file"


def test_a_parse_error_of_one_record_is_placed_on_its_line_of_the_file():
    error = ParseError("JSON", "Expecting value", where=Where("<record>"), detail_line=1)
    assert str(error) == "<record>: not valid JSON (line 1: Expecting value)"
    moved = error.on_line(Where("d.jsonl", line=7))
    assert (moved.syntax, moved.detail, moved.detail_line, moved.where.line) == ("JSON", "Expecting value", None, 7)
    assert str(moved) == "d.jsonl: line 7: not valid JSON (Expecting value)"


def test_a_concept_file_reports_typed_errors_with_their_fields():
    data = b'{"id": "s", "concept": "Role", "text": "The tenant.", "spans": [{"text": "landlord"}]}\n{"id": 3}\n'
    with pytest.raises(ConceptFileError) as caught:
        parse_concept_bytes(data, "d.jsonl")
    first = caught.value.errors[0]
    assert (first.where.line, first.where.item, first.where.span, first.field) == (1, "sequence 's'", 1, "text")
    assert "does not occur" in first.reason
    assert {error.where.line for error in caught.value.errors} == {1, 2}
    assert str(caught.value).splitlines() == caught.value.problems


def test_a_sequence_error_names_the_sequence_and_stage():
    error = SequenceError("no room for a control span of 17 tokens", sequence="s-1", stage="cpt")
    assert (error.sequence, error.stage, error.reason) == ("s-1", "cpt", "no room for a control span of 17 tokens")
    assert str(error) == "sequence 's-1', stage 'cpt': no room for a control span of 17 tokens"


def test_control_characters_in_a_message_are_escaped_to_keep_it_one_line():
    error = InterpError("sequence 'a\nb': \x1b[31mred\x1b[0m and \u202eevil")
    assert str(error) == "sequence 'a\\nb': \\x1b[31mred\\x1b[0m and \\u202eevil"
    problems = ConceptFileError([Where("x.yaml", item="sequence 'a\nb'").problem("bad", field="id"),
                                 Where("x.yaml").problem("\r", field="set")]).problems
    assert problems == ["x.yaml: sequence 'a\\nb', field 'id': bad", "x.yaml: field 'set': \\r"]
