"""Parsing at the boundary and the words for validation errors, shared by concept and lineage files."""

import json
import re

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ConfigDict, ValidationError

from interp.core.boundary import (
    MAX_DEPTH,
    MAX_NAME_LENGTH,
    SEQUENCE_ID,
    STORE_NAME,
    describe_validation_error,
    field_path,
    first_line,
    is_store_name,
    label_problem,
    parse_document,
    sequence_id_problem,
)
from interp.core.errors import InterpError


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


# ---------------------------------------------------------------- depth and duplicate keys

def nested(depth: int) -> str:
    """`depth` levels of lists around one number, as JSON (flow style, so also YAML)."""
    return "[" * depth + "1" + "]" * depth


@pytest.mark.parametrize("fmt", ["yaml", "json"])
def test_nesting_up_to_the_bound_parses_and_one_level_more_is_one_line(fmt):
    value = parse_document(nested(MAX_DEPTH), "d", fmt)
    for _ in range(MAX_DEPTH):
        (value,) = value
    assert value == 1
    with pytest.raises(InterpError, match=rf"^d: line 1: nested more than {MAX_DEPTH} levels deep"):
        parse_document(nested(MAX_DEPTH + 1), "d", fmt)


@pytest.mark.parametrize("fmt", ["yaml", "json"])
def test_ten_thousand_levels_are_refused_without_recursion(fmt):
    with pytest.raises(InterpError) as caught:
        parse_document(nested(10_000), "deep", fmt)
    assert str(caught.value).splitlines() == [str(caught.value)]


def test_depth_through_aliases_counts_the_levels_the_alias_brings():
    chain = "\n".join(["a0: &a0 [x]"] + [f"a{n}: &a{n} [*a{n - 1}]" for n in range(1, MAX_DEPTH - 1)])
    assert len(parse_document(chain, "ok.yaml", "yaml")) == MAX_DEPTH - 1  # the deepest is MAX_DEPTH levels
    with pytest.raises(InterpError, match="nested more than"):
        parse_document(chain + f"\nb: [*a{MAX_DEPTH - 2}]", "deep.yaml", "yaml")


@pytest.mark.parametrize(("content", "fmt", "message"), [
    ("a: 1\nb: 2\na: 3\n", "yaml", "f: line 3: key 'a' appears twice in one mapping (first on line 1); give each key once"),
    ("{a: 1, a: 2}", "yaml", "f: line 1: key 'a' appears twice in one mapping (first on line 1); give each key once"),
    ("x:\n  - k: 1\n    k: 1\n", "yaml", "f: line 3: key 'k' appears twice in one mapping (first on line 2); give each key once"),
    ("1: a\n1.0: b\n", "yaml", "f: line 2: key 1.0 appears twice in one mapping (first on line 1); give each key once"),
    ('{"a": {"b": 1,\n "b": 2}}', "json", "f: line 2: key 'b' appears twice in one object; give each key once"),
    ('[{"a": 1}, {"a": 2}, {"c": [1, {"d": 0, "d": 0}]}]', "json", "f: line 1: key 'd' appears twice in one object; give each key once"),
])
def test_duplicate_keys_are_refused_naming_the_key_and_line(content, fmt, message):
    with pytest.raises(InterpError) as caught:
        parse_document(content, "f", fmt)
    assert str(caught.value) == message


def test_equal_keys_in_different_mappings_and_merge_keys_are_fine():
    assert parse_document("a: {k: 1}\nb: {k: 2}\n", "f", "yaml") == {"a": {"k": 1}, "b": {"k": 2}}
    assert parse_document('[{"k": 1}, {"k": 2}]', "f", "json") == [{"k": 1}, {"k": 2}]
    assert parse_document("base: &b {k: 1}\nuse:\n  <<: *b\n  j: 2\n", "f", "yaml")["use"] == {"k": 1, "j": 2}
    assert parse_document('{"a": "{\\"a\\": 1}", "b": "[[["}', "f", "json") == {"a": '{"a": 1}', "b": "[[["}


_JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=30,
)


def depth_of(value) -> int:
    if isinstance(value, dict):
        return 1 + max(map(depth_of, value.values()), default=0)
    if isinstance(value, list):
        return 1 + max(map(depth_of, value), default=0)
    return 0


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_JSON_VALUES)
def test_any_document_within_the_bound_reads_back_as_written(value):
    assert depth_of(value) <= MAX_DEPTH
    assert parse_document(json.dumps(value), "p", "json") == value
    assert parse_document(yaml.safe_dump(value), "p", "yaml") == value


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200), st.sampled_from(["yaml", "json"]))
def test_any_text_parses_or_is_one_interp_error(text, fmt):
    try:
        parse_document(text, "t", fmt)
    except InterpError as error:
        assert "\n" not in str(error) and str(error).startswith("t: ")


@pytest.mark.parametrize("string", ["holder " * 300_000, "\\n" * 1_000_000, "a\\\"" * 600_000])
def test_a_long_string_is_scanned_in_memory_proportional_to_it(string):
    """A 2 MB JSON string (plain, or made of escapes) costs its own size to scan, not 140 times it:
    the token pattern keeps no backtracking state per character or per escape."""
    import tracemalloc

    content = '[{"text": "' + string + '", "text2": 1}]'
    tracemalloc.start()
    try:
        assert parse_document(content, "long.json", "json") == [{"text": json.loads('"' + string + '"'), "text2": 1}]
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4 * len(content), peak


def test_quoted_excerpts_stay_short_whatever_the_text():
    from interp.core.boundary import quoted_excerpt

    assert quoted_excerpt("tenant") == "'tenant'" and quoted_excerpt("a'b\n") == repr("a'b\n")
    assert quoted_excerpt("x" * 500_000) == repr("x" * 60 + "…")
    assert quoted_excerpt("The tenant shall pay.", 4, 10) == "'tenant'"


_OLD_JSON_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[{}\[\]:,]', re.DOTALL)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet='"\\{}[]:,ab \n', max_size=60))
def test_json_tokens_are_the_ones_the_backtracking_pattern_found(text):
    from interp.core.boundary import _JSON_TOKEN

    assert [(m.start(), m.group()) for m in _JSON_TOKEN.finditer(text)] == \
        [(m.start(), m.group()) for m in _OLD_JSON_TOKEN.finditer(text)]


# ---------------------------------------------------------------- one name rule for the store

@pytest.mark.parametrize("name", ["-", "_x", ".hidden", "", "a/b", "..", "a b", "é", "a" * (MAX_NAME_LENGTH + 1), "x\n"])
def test_names_the_store_refuses(name):
    assert not is_store_name(name)
    assert sequence_id_problem(name) and label_problem(name)


def test_long_names_say_how_long():
    assert sequence_id_problem("a" * 230) == f"is 230 characters long; at most {MAX_NAME_LENGTH}"
    assert label_problem("B" * 101) == f"is 101 characters long; at most {MAX_NAME_LENGTH}"
    assert sequence_id_problem("a" * MAX_NAME_LENGTH) is None and label_problem("B" * MAX_NAME_LENGTH) is None


@given(st.from_regex(SEQUENCE_ID, fullmatch=True))
def test_every_sequence_id_is_a_store_name_whose_files_fit_the_file_system(sequence_id):
    assert is_store_name(sequence_id) and STORE_NAME.fullmatch(sequence_id)
    # The store's longest file: the temporary `.{id}{suffix}.XXXXXXXX.tmp` of its longest suffix,
    # with 20 bytes to spare.
    from interp.store.folder import SUFFIXES

    longest = f".{sequence_id}{max(SUFFIXES.values(), key=len)}.XXXXXXXX.tmp" + "x" * 20
    assert len(longest.encode("utf-8")) < 255


def test_an_unclosed_quote_names_the_line_it_opened_on():
    text = 'set: s\nsequences:\n  - id: a\n    text: "The tenant shall pay\n    spans: []\n'
    with pytest.raises(InterpError, match=r"u\.yaml: not valid YAML \(line \d+: .*a quote opened on line 4 is not closed"):
        parse_document(text, "u.yaml", "yaml")
