"""Parsing at the boundary and the words for validation errors, shared by concept and lineage files."""

import pytest
from pydantic import BaseModel, ConfigDict, ValidationError

from interp.boundary import describe_validation_error, field_path, first_line, parse_document
from interp.errors import InterpError


def test_documents_parse_and_syntax_errors_name_the_line():
    assert parse_document("a: [1, 2]\n", "f.yaml", "yaml") == {"a": [1, 2]}
    assert parse_document('{"a": 1}', "f.json", "json") == {"a": 1}
    with pytest.raises(InterpError, match=r"^f.yaml: not valid YAML \(line 3: "):
        parse_document("a: 1\nb: [\n", "f.yaml", "yaml")
    with pytest.raises(InterpError, match=r"^f.json: not valid JSON \(line 1: "):
        parse_document("{", "f.json", "json")
    with pytest.raises(InterpError, match="not valid YAML"):
        parse_document("!!python/object:os.system ls\n", "f.yaml", "yaml")


def test_locations_in_words():
    assert field_path(("stages", 0, "model")) == "stage 1, field 'model'"
    assert field_path(("spans", 2)) == "span 3"
    assert field_path(("id",)) == "field 'id'"


class _Item(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    name: str
    count: int


@pytest.mark.parametrize(("value", "message"), [
    ({"count": 1}, "field 'name': is required"),
    ({"name": "a", "count": 1, "extra": 2}, "field 'extra': unknown field"),
    ({"name": "a", "count": "3"}, "field 'count': input should be a valid integer (got str)"),
])
def test_validation_errors_in_words(value, message):
    with pytest.raises(ValidationError) as caught:
        _Item.model_validate(value)
    assert describe_validation_error(caught.value.errors()[0]) == message


def test_first_line():
    assert first_line(ValueError("one\ntwo")) == "one"
    assert first_line(KeyError()) == "KeyError"
