"""The project's one error type for bad input, shown to users as a single line."""


class InterpError(Exception):
    """Bad input at a boundary (file, CLI argument, upload, model folder).

    The message names the file, the item and the field, and says what would be valid, e.g.
    ``concepts/x.yaml: sequence 'role-1', span 2: "magistrate" does not occur in the text``.
    The CLI prints it as one line with exit code 2; the app shows it with ``st.error``.
    """
