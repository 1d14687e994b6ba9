"""Tokenizers like Mistral's for the tests and the demo, and loading any tokenizer with a clear error."""

import pytest

from interp.core.errors import InterpError
from interp.models.tiny import train_tokenizer
from interp.models.tokenizers import load_tokenizer
from tests.conftest import legal_sentences


def test_trained_tokenizer_is_deterministic_and_sentencepiece_shaped(legal_tokenizer):
    again = train_tokenizer(legal_sentences(), vocab_size=400)
    assert again.backend_tokenizer.to_str() == legal_tokenizer.backend_tokenizer.to_str()
    encoding = legal_tokenizer("The lessee shall pay the rent unless the court orders otherwise.", return_offsets_mapping=True)
    tokens = legal_tokenizer.convert_ids_to_tokens(encoding["input_ids"])
    assert tokens[0] == "<s>" and tokens[1] == "▁The" and tokens[-1] == "."
    assert "▁unless" in tokens and "unless" not in tokens, "words carry the metaspace"
    assert encoding["offset_mapping"][0] == (0, 0)


def test_saved_tokenizer_loads_and_a_missing_one_is_one_line(legal_tokenizer, tmp_path):
    legal_tokenizer.save_pretrained(tmp_path / "tok")
    loaded = load_tokenizer(str(tmp_path / "tok"))
    assert loaded("The tenant.")["input_ids"] == legal_tokenizer("The tenant.")["input_ids"]
    with pytest.raises(InterpError, match=r"^tokenizer '.*nowhere': cannot be loaded \(") as caught:
        load_tokenizer(str(tmp_path / "nowhere"))
    assert "\n" not in str(caught.value)


def packaged_folder(root, name, tokenizer):
    """A finished packaged folder as `interp.models.packaged.ensure_packaged` leaves it (the tokenizer
    here is the test's own; the record names the pinned source)."""
    import json

    from interp.models.packaged import RECORD, get_packaged

    folder = root / name
    tokenizer.save_pretrained(folder)
    (folder / RECORD).write_text(json.dumps({"name": name, "sha256": get_packaged(name).source.sha256}))
    return folder


def test_a_name_fetch_knows_is_its_packaged_folder_never_the_hub(legal_tokenizer, tmp_path, monkeypatch, offline):
    monkeypatch.setenv("INTERP_PACKAGED_DIR", str(tmp_path))
    with pytest.raises(InterpError) as caught:
        load_tokenizer("mistral-v0.1-tokenizer")
    assert str(caught.value) == ("tokenizer 'mistral-v0.1-tokenizer': a packaged tokenizer that is not fetched yet; "
                                 "run `python -m interp fetch mistral-v0.1-tokenizer` and pass the folder it prints "
                                 "(or this name again)")
    packaged_folder(tmp_path, "mistral-v0.1-tokenizer", legal_tokenizer)
    loaded = load_tokenizer("mistral-v0.1-tokenizer")
    assert loaded.get_vocab() == legal_tokenizer.get_vocab()


def test_a_hub_id_on_a_machine_without_the_hub_fails_at_once_and_says_why(monkeypatch):
    import socket
    import time

    import huggingface_hub.constants

    from interp.models import hub

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(hub, "_probed", {})

    def unreachable(*args, **kwargs):
        raise OSError("Name or service not known")

    monkeypatch.setattr(socket, "create_connection", unreachable)
    began = time.monotonic()
    with pytest.raises(InterpError) as caught:
        load_tokenizer("someone-else/not-cached-tokenizer")
    assert time.monotonic() - began < 10, "no retries on a network that is not there (they took about 50 s)"
    assert str(caught.value).endswith("it is not in the local Hugging Face cache and the Hugging Face hub cannot be "
                                      "reached from this machine")
