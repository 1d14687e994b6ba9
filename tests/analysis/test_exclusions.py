"""Exclusion presets and the first-position rule, with a trained tokenizer and three real ones."""

import unicodedata
from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from interp.analysis.exclusions import (
    EXCLUSION_PRESETS,
    PAPER_EXCLUSIONS,
    compute_excluded_mask,
    compute_punctuation_mask,
    concept_runs,
    resolve_exclusions,
)
from interp.concepts.alignment import (
    align_sequence,
)
from interp.concepts.files import ConceptSequence, Span
from interp.core.errors import InterpError
from interp.models.tiny import train_tokenizer
from tests.packaged_fixtures import REAL_TOKENIZERS

CORPUS = [
    "The licensing authority may revoke a licence under § 12 — after notice — if the holder fails to comply.",
    "A café owner (the applicant) shall not serve alcohol; the applicant's permit lapses at midnight.",
    "Negligence requires a duty of care, a breach of that duty, causation and damage.",
    "Where the tenant is in arrears, the landlord may apply to the tribunal [...] for possession.",
    "The Régie des données may inspect the register: evidence includes a certified copy of the entry.",
]


@pytest.fixture(scope="module")
def tokenizer():
    return train_tokenizer(CORPUS * 30, vocab_size=260)


def sequence_with(text: str, *needles: tuple[str, int]) -> ConceptSequence:
    spans = []
    for needle, occurrence in needles:
        start = -1
        for _ in range(occurrence):
            start = text.index(needle, start + 1)
        spans.append(Span(start, start + len(needle), needle))
    return ConceptSequence(id="s", concept="Test", text=text, spans=tuple(spans))


def marked(aligned) -> list[str]:
    return [token for token, inside in zip(aligned.tokens, aligned.concept_mask) if inside]


def test_paper_exclusions_mark_punctuation_and_bos(tokenizer):
    aligned = align_sequence(sequence_with(CORPUS[3], ("landlord", 1)), tokenizer)
    excluded = compute_excluded_mask(aligned, "paper")
    assert excluded[0]
    for token, is_excluded in zip(aligned.tokens, excluded):
        assert is_excluded == (token in PAPER_EXCLUSIONS)
    assert "▁[...]" in aligned.tokens and "," in aligned.tokens
    custom = compute_excluded_mask(aligned, ["▁the"])
    assert custom.sum() == 1 + aligned.tokens.count("▁the")


def test_concept_runs_drop_excluded_tokens(tokenizer):
    aligned = align_sequence(sequence_with(CORPUS[0], ("holder fails", 1)), tokenizer)
    excluded = compute_excluded_mask(aligned, "paper")
    excluded[aligned.span_tokens[0][0]] = True
    (run,) = concept_runs(aligned, excluded)
    assert list(run) == list(aligned.span_tokens[0][1:])


def test_preset_registry_lists_paper_punctuation_none():
    assert list(EXCLUSION_PRESETS) == ["paper", "punctuation", "none"]
    assert resolve_exclusions("paper").tokens == PAPER_EXCLUSIONS
    assert resolve_exclusions(["▁the"]).name == "custom"
    with pytest.raises(InterpError, match="exclusion presets: paper, punctuation, none, or a list of tokens"):
        resolve_exclusions("papers")


def test_punctuation_preset_reads_tokens_as_text():
    tokens = ["<s>", "▁(", "a", ")", "▁...", "Ġ(", "ĠâĢľ", "<0x28>", "▁§", "▁the", "'s", "\n", "▁-", "x"]
    assert compute_punctuation_mask(tokens[:5]).tolist() == [False, True, False, True, True]  # SentencePiece
    assert compute_punctuation_mask(["Ġ(", "ĠâĢ", "ľ", "'s", "Ċ", "Ġ12"]).tolist() == [True, True, True, False, True, False]
    assert compute_punctuation_mask(["<0x28>", "▁§", "▁the"]).tolist() == [True, True, False]


def test_first_position_rules(tokenizer):
    aligned = align_sequence(sequence_with(CORPUS[0], ("holder", 1)), tokenizer)
    assert compute_excluded_mask(aligned, "none", "bos")[0] and compute_excluded_mask(aligned, "none", "first")[0]
    assert not compute_excluded_mask(aligned, "none", "none").any()
    assert compute_excluded_mask(aligned, "paper", "none")[0], "'<s>' is on the paper list itself"
    without_bos = replace(aligned, has_bos=False, tokens=("The",) + aligned.tokens[1:])
    assert not compute_excluded_mask(without_bos, "none", "bos").any()
    assert compute_excluded_mask(without_bos, "none", "first").tolist() == [True] + [False] * (aligned.n_tokens - 1)
    with pytest.raises(InterpError, match="first-position rule 'sink' is unknown; use one of bos, first, none"):
        compute_excluded_mask(aligned, "paper", "sink")


@pytest.mark.parametrize("name", REAL_TOKENIZERS)
def test_punctuation_preset_is_what_the_tokens_decode_to(real_tokenizers, name):
    """A token is excluded exactly when it is text (no control token) that decodes to
    punctuation and whitespace only; byte pieces of a character are judged by that character."""
    tokenizer = real_tokenizers[name]

    @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(sequence=rich_sequence())
    def check(sequence):
        encoding = tokenizer(sequence.text, return_offsets_mapping=True)
        ids, offsets = encoding["input_ids"], encoding["offset_mapping"]
        specials = set(tokenizer.all_special_ids)
        expected = []
        for token_id, (start, end) in zip(ids, offsets):
            text = tokenizer.decode([token_id])
            if "\ufffd" in text:  # a piece of a character: the character it belongs to
                text = sequence.text[start:end]
            expected.append(token_id not in specials and all(
                c.isspace() or unicodedata.category(c).startswith("P") for c in text))
        assert compute_punctuation_mask(tokenizer.convert_ids_to_tokens(ids)).tolist() == expected

    check()


def test_punctuation_preset_excludes_the_same_characters_under_three_tokenizers(real_tokenizers):
    @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(text=statute_text())
    def check(text):
        found = {name: excluded_characters(tokenizer, text) for name, tokenizer in real_tokenizers.items()}
        punctuation = {p for p, c in enumerate(text) if unicodedata.category(c).startswith("P")}
        assert all(characters == punctuation for characters in found.values()), (text, found)

    check()


def test_paper_preset_is_byte_exact_and_differs_across_tokenizers(real_tokenizers):
    """The reference study's list fits SentencePiece only: `▁(` is on it, `Ġ(` is not."""
    text = "The lessee (the tenant) shall pay - at once - the rent..."
    found = {name: excluded_characters(tokenizer, text, "paper") for name, tokenizer in real_tokenizers.items()}
    parentheses = {text.index("("), text.index(")")}
    assert parentheses <= found["mistral-v0.1-tokenizer"]
    assert text.index("(") not in found["smollm2-tokenizer"] and text.index("(") not in found["tekken-tokenizer"]


def test_where_tokenizers_glue_punctuation_to_words_the_preset_keeps_it(real_tokenizers):
    """On the built-in concept sets the three tokenizers exclude the same characters except
    punctuation that a byte-level tokenizer keeps in one token with letters or digits: `'s`
    (both), `-trader` and `p.m` (tekken)."""
    from interp.concepts.files import all_sequences, builtin_concepts_dir, load_concepts

    for sequence in all_sequences(load_concepts([builtin_concepts_dir()])):
        found = {name: excluded_characters(tokenizer, sequence.text) for name, tokenizer in real_tokenizers.items()}
        reference = found["mistral-v0.1-tokenizer"]
        for name, characters in found.items():
            assert characters <= reference, (sequence.id, name)
            for position in reference - characters:
                assert unicodedata.category(sequence.text[position]).startswith("P")
                glued = sequence.text[max(0, position - 1):position + 2]
                assert any(c.isalnum() for c in glued.replace(sequence.text[position], "")), (sequence.id, name, glued)


def test_a_model_without_bos_keeps_its_first_token_unless_asked(real_tokenizers):
    text = "The lessee shall pay the rent."
    smollm2 = align_sequence(sequence_with(text, ("rent", 1)), real_tokenizers["smollm2-tokenizer"])
    mistral = align_sequence(sequence_with(text, ("rent", 1)), real_tokenizers["mistral-v0.1-tokenizer"])
    assert not smollm2.has_bos and mistral.has_bos and smollm2.tokens[0] == "The"
    assert not compute_excluded_mask(smollm2, "punctuation", "bos")[0]
    assert compute_excluded_mask(smollm2, "punctuation", "first")[0]
    assert compute_excluded_mask(mistral, "punctuation", "bos")[0]


@st.composite
def statute_text(draw):
    """Words joined by spaces and punctuation as statute text writes them, without the cases in
    which a tokenizer puts punctuation and letters in one token (possessive 's, hyphenated
    words, an opening bracket glued to a word)."""
    words = draw(st.lists(st.sampled_from(WORDS), min_size=2, max_size=16))
    separators = draw(st.lists(st.sampled_from(SEPARATORS), min_size=len(words) - 1, max_size=len(words) - 1))
    text = words[0] + "".join(sep + word for sep, word in zip(separators, words[1:]))
    return text.replace("  ", " ") + "."


def excluded_characters(tokenizer, text: str, exclusions: str = "punctuation") -> set[int]:
    """Positions of the non-space characters that excluded tokens cover (first position not counted)."""
    aligned = align_sequence(ConceptSequence("s", "T", text, (Span(0, len(text), text),)), tokenizer)
    excluded = compute_excluded_mask(aligned, exclusions, "none")
    return set().union(set(), *(covered_characters(tokenizer, text, token_id, start, end)
                                for token_id, (start, end), out in zip(aligned.token_ids, aligned.offsets, excluded) if out))


@st.composite
def rich_sequence(draw):
    """Any text over letters, punctuation, accents, CJK, Arabic, emoji with joiners and
    variation selectors, combining marks and runs of whitespace; spans cut anywhere."""
    text = draw(st.lists(st.sampled_from(RICH), min_size=1, max_size=50).map("".join))
    cuts = sorted(draw(st.sets(st.integers(0, len(text)), min_size=2, max_size=6)))
    spans = tuple(Span(a, b, text[a:b]) for a, b in zip(cuts[::2], cuts[1::2]) if text[a:b].strip())
    return ConceptSequence("p", "T", text, spans)


WORDS = ["the", "lessee", "shall", "pay", "rent", "within", "thirty", "days", "Section", "12", "§", "3", "café",
         "notice", "tribunal", "契約", "عقد", "naïve", "deed"]


SEPARATORS = [" ", " ", " ", ", ", "; ", ": ", " — ", " (", ") ", " “", "” ", ". ", "... ", " [...] ", " - "]


RICH = list("The lessee shall pay (a) rent; “§ 12”—naïve café 契約の解除 العقد باطل ⚖👩") + [
    "\u200d", "\ufe0f", "\u0301", "\n", "  ", " ", " ", " "]


def covered_characters(tokenizer, text: str, token_id: int, start: int, end: int) -> set[int]:
    """The non-space character positions a token covers, from the tokenizer's own decoding: a
    token that decodes to whitespace (SentencePiece's prefix `▁`) covers none, whatever its
    offsets say."""
    if start < end and not tokenizer.decode([token_id]).strip():
        return set()
    return {p for p in range(start, end) if not text[p].isspace()}
