"""The project's error types: one message per problem, so every boundary can print one line each."""

from interp.concepts.files import ConceptFileError
from interp.core.errors import InterpError


def test_concept_file_errors_are_interp_errors_with_one_line_per_problem():
    error = ConceptFileError(["a.yaml: sequence 'x', field 'id': bad", "a.yaml: sequence 'y', field 'text': is empty"])
    assert isinstance(error, InterpError)
    assert str(error).splitlines() == error.problems


def test_an_interp_error_is_its_message():
    assert str(InterpError("f.yaml: field 'set': missing")) == "f.yaml: field 'set': missing"


def test_control_characters_in_a_message_are_escaped_to_keep_it_one_line():
    error = InterpError("sequence 'a\nb': \x1b[31mred\x1b[0m and \u202eevil")
    assert str(error) == "sequence 'a\\nb': \\x1b[31mred\\x1b[0m and \\u202eevil"
    assert len(str(error).splitlines()) == 1


def test_each_problem_of_a_concept_file_error_is_escaped_on_its_own_line():
    error = ConceptFileError(["x.yaml: sequence 'a\nb', field 'id': bad", "x.yaml: field 'set': \r"])
    assert error.problems == ["x.yaml: sequence 'a\\nb', field 'id': bad", "x.yaml: field 'set': \\r"]
    assert str(error).splitlines() == error.problems
