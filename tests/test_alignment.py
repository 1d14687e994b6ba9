"""Span → token alignment with a SentencePiece-style tokenizer trained here."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from interp.alignment import (
    concept_window,
    PAPER_EXCLUSIONS,
    align_sequence,
    compute_excluded_mask,
    concept_runs,
    resolve_exclusions,
)
from interp.errors import InterpError
from interp.registry import ConceptSequence, Span
from interp.tokenizer import train_tokenizer

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


def test_bos_is_first_and_detected(tokenizer):
    aligned = align_sequence(sequence_with(CORPUS[0], ("holder", 1)), tokenizer)
    assert aligned.tokens[0] == "<s>" and aligned.has_bos
    assert compute_excluded_mask(aligned, "none").tolist() == [True] + [False] * (aligned.n_tokens - 1)


def test_multi_token_word_is_marked_whole(tokenizer):
    aligned = align_sequence(sequence_with(CORPUS[3], ("tribunal", 1)), tokenizer)
    pieces = marked(aligned)
    assert "".join(pieces).replace("▁", "") == "tribunal"
    run = aligned.span_tokens[0]
    assert list(run) == list(range(run[0], run[0] + len(run)))


def test_repeated_substring_is_chosen_by_occurrence(tokenizer):
    text = CORPUS[1]
    first = align_sequence(sequence_with(text, ("applicant", 1)), tokenizer)
    second = align_sequence(sequence_with(text, ("applicant", 2)), tokenizer)
    assert first.span_tokens[0][0] < second.span_tokens[0][0]
    assert marked(first) == marked(second)


def test_leading_space_marker_alone_is_not_overlap(tokenizer):
    text = CORPUS[0]
    aligned = align_sequence(sequence_with(text, ("licensing ", 1)), tokenizer)
    assert marked(aligned) == ["▁licensing"]
    following = aligned.span_tokens[0][-1] + 1
    start, _ = aligned.offsets[following]
    assert aligned.tokens[following] == "▁authority" and text[start] == " "


def test_spans_at_the_very_start_and_end(tokenizer):
    text = CORPUS[2]
    aligned = align_sequence(sequence_with(text, ("Negligence", 1), ("damage.", 1)), tokenizer)
    assert aligned.span_tokens[0][0] == 1
    assert aligned.span_tokens[1][-1] == aligned.n_tokens - 1


def test_accents_section_sign_and_em_dash(tokenizer):
    text = CORPUS[0]
    aligned = align_sequence(sequence_with(text, ("§ 12", 1), ("— after notice —", 1)), tokenizer)
    section, dashed = ("".join(aligned.tokens[i] for i in run) for run in aligned.span_tokens)
    assert section.replace("▁", " ").strip() == "§ 12"
    assert dashed.replace("▁", " ").strip() == "— after notice —"
    accented = align_sequence(sequence_with(CORPUS[4], ("Régie des données", 1)), tokenizer)
    assert "".join(marked(accented)).replace("▁", " ").strip() == "Régie des données"


def test_several_spans_and_straddling_tokens(tokenizer):
    text = CORPUS[1]
    aligned = align_sequence(sequence_with(text, ("café", 1), ("permit", 1), ("applican", 2)), tokenizer)
    assert len(aligned.span_tokens) == 3
    straddler = aligned.straddling
    assert straddler, "a span ending inside a word reports the token that crosses its end"
    for index in straddler:
        start, end = aligned.offsets[index]
        assert "applicant" in text[start:end]


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


def test_unknown_preset_and_span_without_tokens(tokenizer):
    with pytest.raises(InterpError, match="exclusion preset 'papers' is unknown"):
        resolve_exclusions("papers")
    with pytest.raises(InterpError, match="covers no token"):
        align_sequence(ConceptSequence("s", "T", "a  b", (Span(1, 3, "  "),)), tokenizer)


def test_span_shift_inside_a_larger_string(tokenizer):
    sequence = sequence_with(CORPUS[2], ("duty of care", 1))
    prefix = "[INST] "
    plain = align_sequence(sequence, tokenizer)
    wrapped = align_sequence(sequence, tokenizer, text=prefix + sequence.text, char_shift=len(prefix))
    assert marked(wrapped) == marked(plain)


@st.composite
def text_and_spans(draw):
    text = draw(st.sampled_from(CORPUS))
    cuts = sorted(draw(st.sets(st.integers(0, len(text)), min_size=2, max_size=6)))
    spans = []
    for start, end in zip(cuts[::2], cuts[1::2]):
        if text[start:end].strip():
            spans.append(Span(start, end, text[start:end]))
    return ConceptSequence("p", "T", text, tuple(spans))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sequence=text_and_spans())
def test_alignment_properties(tokenizer, sequence):
    """Every non-space character of a span lies in a concept token; no other token overlaps a span."""
    if not sequence.spans:
        return
    aligned = align_sequence(sequence, tokenizer)
    covered = np.zeros(len(sequence.text), dtype=bool)
    for index, (start, end) in enumerate(aligned.offsets):
        if aligned.concept_mask[index]:
            covered[start:end] = True
    for span in sequence.spans:
        for position in range(span.start, span.end):
            if not sequence.text[position].isspace():
                assert covered[position], (span, position)
    for index, (start, end) in enumerate(aligned.offsets):
        shared = "".join(sequence.text[max(start, s.start):min(end, s.end)] for s in sequence.spans)
        assert bool(shared.strip()) == bool(aligned.concept_mask[index]), (aligned.tokens[index], sequence.spans)


def test_concept_window():
    """Around the concept with a margin, whole when short, and never longer than the limit."""
    short = np.zeros(30, dtype=bool)
    short[10] = True
    assert concept_window(short, 30) == (0, 30)
    long = np.zeros(200, dtype=bool)
    long[[50, 52]] = True
    assert concept_window(long, 200) == (38, 65)
    assert concept_window(long, 200, margin=60) == (0, 113)
    assert concept_window(np.zeros(200, dtype=bool), 200) == (0, 200)
    assert concept_window(long, 2000, limit=10) == (38, 48)
