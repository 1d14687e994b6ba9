"""The project's error types: one message per problem, so every boundary can print one line each."""

from interp.errors import InterpError
from interp.registry import ConceptFileError


def test_concept_file_errors_are_interp_errors_with_one_line_per_problem():
    error = ConceptFileError(["a.yaml: sequence 'x', field 'id': bad", "a.yaml: sequence 'y', field 'text': is empty"])
    assert isinstance(error, InterpError)
    assert str(error).splitlines() == error.problems


def test_an_interp_error_is_its_message():
    assert str(InterpError("f.yaml: field 'set': missing")) == "f.yaml: field 'set': missing"
