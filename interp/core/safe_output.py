"""Text that leaves the tool is inert: CSV cells a spreadsheet would run, and terminal control.

A concept named `=HYPERLINK("http://…")` is data to this tool but a formula to a spreadsheet, and
one named with ANSI escapes or right-to-left overrides rewrites the terminal that prints it. Every
CSV the project writes goes through `csv_text`, every table printed to a terminal through
`table_text`, and every error line through `escape_controls` (see `interp.core.errors`).
"""

from __future__ import annotations

import io
import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

# C0 and C1 control characters, and the Unicode characters that reorder or hide text when shown:
# bidirectional embeddings, overrides and isolates (U+202A–U+202E, U+2066–U+2069), the marks
# U+200E, U+200F, U+061C, and the line and paragraph separators U+2028, U+2029.
CONTROL_CHARACTERS = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
# OWASP, "CSV Injection": cells starting with these are formulas to Excel, LibreOffice and Sheets.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


def escape_controls(text: str) -> str:
    """Each control or reordering character written as its escape (`\\n`, `\\x1b`, `\\u202e`):
    one line, nothing hidden, and the reader sees what was there."""
    return CONTROL_CHARACTERS.sub(_escape, text)


def strip_controls(text: str) -> str:
    """The text without control or reordering characters (tabs and newlines become spaces)."""
    return CONTROL_CHARACTERS.sub(lambda match: " " if match.group() in "\t\n\r" else "", text)


def neutralise_cell(value: Any) -> Any:
    """A text cell that a spreadsheet would evaluate, prefixed with `'` (OWASP); others as they are.

    A leading `-` or `+` is left alone when the whole cell is a number (`-0.25`, `+3e-05`).
    """
    if not isinstance(value, str) or not value.startswith(FORMULA_START):
        return value
    if value[0] in "+-" and NUMBER.fullmatch(value):
        return value
    return "'" + value


def csv_text(frame: pd.DataFrame) -> str:
    """The table as CSV (no index), its text cells and column names neutralised.

    A cell holding `#` is quoted, so that `pandas.read_csv(..., comment="#")`, which a table's
    block of `# key: value` settings asks for, never cuts a cell at it; so is a cell holding a
    carriage return, which Python's CSV writer leaves bare when lines end in `\n`."""
    frame = _text_cells(frame, neutralise_cell)
    text = frame.to_csv(index=False, lineterminator="\n")
    if "#" in text or "\r" in text:
        # Written again with CRLF line ends, every field holding \r or \n is quoted; read back, each
        # row is written with \n line ends and its fields holding # quoted too.
        text = _requoted(frame.to_csv(index=False, lineterminator="\r\n"))
    return text


def _requoted(text: str) -> str:
    """CSV text again, `\n` line ends, every field holding `#`, `,`, `"`, `\r` or `\n` in quotes."""
    import csv

    def field(cell: str) -> str:
        if any(char in cell for char in '#,"\r\n'):
            return '"' + cell.replace('"', '""') + '"'
        return cell

    def line(row: list[str]) -> str:
        # A row of one empty cell stays `""`: written empty, it would be a blank line, which readers skip.
        return '""\n' if row == [""] else ",".join(field(cell) for cell in row) + "\n"

    return "".join(line(row) for row in csv.reader(io.StringIO(text, newline="")))


def table_text(frame: pd.DataFrame, float_format: str = "{:.4g}") -> str:
    """The table for a terminal, text cells and column names stripped of control characters."""
    return _text_cells(frame, strip_controls).to_string(index=False, float_format=float_format.format)


def _text_cells(frame: pd.DataFrame, clean) -> pd.DataFrame:
    from pandas.api import types

    frame = frame.copy()
    for column in frame.columns:
        values = frame[column]
        if not (types.is_numeric_dtype(values) or types.is_bool_dtype(values) or types.is_datetime64_any_dtype(values)):
            frame[column] = values.map(lambda value: clean(value) if isinstance(value, str) else value)
    frame.columns = [clean(name) if isinstance(name, str) else name for name in frame.columns]
    return frame


def _escape(match: re.Match) -> str:
    character = match.group()
    named = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
    if character in named:
        return named[character]
    code = ord(character)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def unique_name(name: str, taken: set[str]) -> str:
    """`name`, or `name-2`, `name-3`, ...: unique ignoring case among `taken` (lower case, updated),
    since names `X` and `x` would be one file on a case-insensitive file system."""
    candidate, number = name, 1
    while candidate.lower() in taken:
        number += 1
        candidate = f"{name}-{number}"
    taken.add(candidate.lower())
    return candidate
