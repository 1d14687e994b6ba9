"""Tokens as readable text: hand-worked spellings of each family, then real tokenizers on any text."""

import unicodedata

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from interp.concepts.token_text import (
    BYTE_LEVEL,
    PLAIN,
    SENTENCEPIECE,
    byte_level_alphabet,
    is_special_token,
    readable_tokens,
    show_characters,
    token_kind,
    token_texts,
)
from tests.packaged_fixtures import REAL_TOKENIZERS


def test_byte_level_alphabet_is_gpt2s_bijection():
    alphabet = byte_level_alphabet()
    assert sorted(alphabet.values()) == list(range(256))
    assert alphabet["Ġ"] == 0x20 and alphabet["Ċ"] == 0x0A and alphabet["A"] == 0x41 and alphabet["Â"] == 0xC2


def test_sentencepiece_marker_and_byte_fallback():
    tokens = ["<s>", "▁The", "▁", "<0xE5>", "<0xA5>", "<0x91>", "約", "▁(", "a", ")"]
    assert token_kind(tokens) == SENTENCEPIECE
    assert readable_tokens(tokens) == ("<s>", "␣The", "␣", "契(1/3)", "契(2/3)", "契(3/3)", "約", "␣(", "a", ")")
    texts = token_texts(tokens)
    assert texts[0].special and texts[0].text == ""
    assert [t.text for t in texts[3:6]] == ["契"] * 3 and [t.completed for t in texts[3:6]] == ["", "", "契"]


def test_byte_level_tokens_read_as_the_text_they_cover():
    """SmolLM2's tokens of `The lessee shall pay “rent” § 12` and GPT-2's split quotation mark."""
    tokens = ["The", "Ġles", "see", "Ġshall", "Ġpay", "ĠâĢľ", "rent", "âĢĿ", "ĠÂ§", "Ġ", "1", "2"]
    assert token_kind(tokens) == BYTE_LEVEL
    assert readable_tokens(tokens) == ("The", "␣les", "see", "␣shall", "␣pay", "␣“", "rent", "”", "␣§", "␣", "1", "2")
    assert "".join(t.completed for t in token_texts(tokens)) == "The lessee shall pay “rent” § 12"
    assert readable_tokens(["ĠâĢ", "ľ"]) == ("␣“(1/2)", "“(2/2)")


def test_special_tokens_split_byte_runs_and_stay_as_they_are():
    tokens = ["<|im_start|>", "user", "Ċ", "Hi", "<|im_end|>", "[INST]", "Ġok", "</s>"]
    assert [is_special_token(t) for t in tokens] == [True, False, False, False, True, True, False, True]
    assert readable_tokens(tokens) == ("<|im_start|>", "user", "↵", "Hi", "<|im_end|>", "[INST]", "␣ok", "</s>")


def test_plain_tokens_are_unchanged_but_whitespace_is_visible():
    tokens = ["tenant", "café", " ", "\t"]
    assert token_kind(tokens) == PLAIN
    assert readable_tokens(tokens) == ("tenant", "café", "␣", "⇥")


def test_invisible_characters_and_combining_marks_are_shown():
    assert show_characters("a\u200db") == "a⟨U+200D⟩b"
    assert show_characters("\u0301") == "◌\u0301" and show_characters("e\u0301") == "e\u0301"
    assert show_characters("\ufe0f\xa0\r") == "⟨U+FE0F⟩⟨U+00A0⟩␍"


def test_bytes_that_are_not_utf8_are_shown_as_escapes():
    texts = token_texts(["<0xE5>", "<0xA5>", "▁x"], SENTENCEPIECE)  # a character cut off by the next word
    assert [t.display for t in texts] == ["\\xE5", "\\xA5", "␣x"]


def test_an_unknown_kind_is_refused():
    with pytest.raises(ValueError, match="token kind 'bert' is unknown"):
        token_texts(["a"], "bert")


TEXT = st.text(
    alphabet=st.sampled_from(list("The lessee shall pay (a) rent; “§ 12”—naïve café 契約の解除 العقد ⚖👩\u200d\ufe0f\u0301\n\t 0123")),
    min_size=1, max_size=40,
)


@pytest.mark.parametrize("name", REAL_TOKENIZERS)
def test_real_tokens_decode_back_to_the_text(real_tokenizers, name):
    """For every real tokenizer, the characters each token completes, joined, are the text (with
    SentencePiece's prefix space), and every readable token is printable and not empty."""
    tokenizer = real_tokenizers[name]

    @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(text=TEXT)
    def check(text):
        tokens = tokenizer.convert_ids_to_tokens(tokenizer(text)["input_ids"])
        texts = token_texts(tokens)
        decoded = "".join(t.completed for t in texts)
        assert decoded in (text, " " + text)
        assert all(t.display and t.display.isprintable() for t in texts), [t.display for t in texts]
        assert not any(marker in t.display for t in texts for marker in ("▁", "Ġ", "Ċ", "<0x"))

    check()


@pytest.mark.parametrize("name", REAL_TOKENIZERS)
def test_one_space_marker_for_every_family(real_tokenizers, name):
    tokenizer = real_tokenizers[name]
    text = "The lessee shall pay “rent” under § 12."
    shown = [t for t in readable_tokens(tokenizer.convert_ids_to_tokens(tokenizer(text)["input_ids"])) if t != "<s>"]
    assert "␣shall" in shown and "␣pay" in shown and ("␣§" in shown or "§" in shown)
    assert "".join(shown).replace("␣", " ").strip() == text


def test_nfd_text_shows_its_combining_marks(real_tokenizers):
    """Decomposed text keeps its combining marks as their own (pieces of) tokens, shown on `◌`."""
    tokenizer = real_tokenizers["smollm2-tokenizer"]
    nfd = unicodedata.normalize("NFD", "naïve café")
    shown = readable_tokens(tokenizer.convert_ids_to_tokens(tokenizer(nfd)["input_ids"]))
    assert shown == ("nai", "◌\u0308(1/2)", "◌\u0308(2/2)", "ve", "␣ca", "fe", "◌\u0301(1/2)", "◌\u0301(2/2)")
    nfc = readable_tokens(tokenizer.convert_ids_to_tokens(tokenizer("naïve café")["input_ids"]))
    assert nfc == ("na", "ïve", "␣café")
