"""The project's one error type for bad input, shown to users as a single line."""

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
