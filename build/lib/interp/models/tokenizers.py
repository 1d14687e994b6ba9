"""Loading the tokenizer of a stage: a hub id or a local folder, one line when it cannot be loaded."""

from __future__ import annotations

from interp.core.boundary import first_line
from interp.core.errors import InterpError


def load_tokenizer(name: str, revision: str | None = None, trust_remote_code: bool = False):
    """The tokenizer of a hub id or a local folder, as an `InterpError` if it cannot be loaded."""
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(name, revision=revision, trust_remote_code=trust_remote_code)
    except (OSError, ValueError) as error:
        raise InterpError(f"tokenizer {name!r}: cannot be loaded ({first_line(error)})") from None
