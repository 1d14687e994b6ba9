"""The project's error types for bad input, shown to users as a single line each.

`InterpError` is the base every boundary raises. Its subclasses carry the fields a message is built
from, once, so code that needs a field reads it (`error.reason`, `error.line`), never the text:
`InputError` for a place in an input file (file, line or row, item, span, field), `SequenceError`
for one sequence of a run (its stage, if any).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from interp.core.safe_output import escape_controls


class InterpError(Exception):
    """Bad input at a boundary (file, CLI argument, upload, model folder).

    The message names the file, the item and the field, and says what would be valid, e.g.
    ``concepts/x.yaml: sequence 'role-1', span 2: "magistrate" does not occur in the text``.
    The CLI prints it as one line with exit code 2; the app shows it with ``st.error``.
    Control characters in it (a newline in an id, an ANSI escape in a file name) are written as
    escapes, so the message stays one line and cannot rewrite the terminal that prints it.
    """

    def __init__(self, message: object = "", *args: object) -> None:
        super().__init__(escape_controls(message) if isinstance(message, str) else message, *args)


@dataclass(frozen=True)
class Where:
    """A place in an input: `file`, then the `line` (JSON Lines) or `row` (CSV) of the file, the
    `item` ("sequence 'role-1'", "stage 2"), and the `span` (1-based) within it."""

    file: str
    line: int | None = None
    row: int | None = None
    item: str | None = None
    span: int | None = None

    def at(self, **fields) -> Where:
        """This place, narrowed (`where.at(span=2)`)."""
        return replace(self, **fields)

    def problem(self, reason: str, field: str | None = None) -> InputError:
        """The error of a `field` (or the place itself) being wrong, for `reason`."""
        return InputError(reason, where=self, field=field)

    def __str__(self) -> str:
        parts = [f"line {self.line}" if self.line else None, f"row {self.row}" if self.row else None, self.item,
                 f"span {self.span}" if self.span else None]
        located = ", ".join(part for part in parts if part)
        return f"{self.file}: {located}" if located else self.file


class InputError(InterpError):
    """A problem at one place of an input: `where` (file, line or row, item, span), the `field` if
    one is named, and the `reason`. The message is `<where>, field '<field>': <reason>`."""

    def __init__(self, reason: str, *, where: Where, field: str | None = None) -> None:
        self.where, self.field, self.reason = where, field, reason
        named = f", field '{field}'" if field else ""
        super().__init__(f"{where}{named}: {reason}")

    @property
    def file(self) -> str:
        return self.where.file

    def moved(self, where: Where) -> InputError:
        """The same problem at another place (a JSON Lines record's own parse error, placed on the
        file's line)."""
        return InputError(self.reason, where=where, field=self.field)


class SequenceError(InterpError):
    """A sequence of a run cannot give what was asked (no room for control spans, a concept left
    without tokens): the `sequence`, the `stage` where one is concerned, and the `reason`."""

    def __init__(self, reason: str, *, sequence: str, stage: str | None = None) -> None:
        self.sequence, self.stage, self.reason = sequence, stage, reason
        at = f", stage '{stage}'" if stage else ""
        super().__init__(f"sequence '{sequence}'{at}: {reason}")


class ParseError(InputError):
    """A file that does not parse as its `syntax` ("YAML", "JSON"): the parser's `detail`, at
    `detail_line` of the parsed text where the parser knows it."""

    def __init__(self, syntax: str, detail: str, *, where: Where, detail_line: int | None = None) -> None:
        self.syntax, self.detail, self.detail_line = syntax, detail, detail_line
        at = f"line {detail_line}: " if detail_line else ""
        super().__init__(f"not valid {syntax} ({at}{detail})", where=where)

    def on_line(self, where: Where) -> ParseError:
        """The same problem of one record placed at `where` (its line of a JSON Lines file), the
        record's own line number dropped: a record is one line."""
        return ParseError(self.syntax, self.detail, where=where)
