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
