"""Span → token alignment, exclusions and the first position: with a SentencePiece-style tokenizer
trained here, then with three real tokenizers (Mistral-7B-v0.1's SentencePiece, Mistral's tekken
byte-level BPE, SmolLM2's GPT-2-style byte-level BPE)."""

import time
import unicodedata

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from interp.analysis.exclusions import (
    compute_excluded_mask,
    resolve_exclusions,
)
from interp.concepts.alignment import (
    AlignedSequence,
    align_encoded,
    align_sequence,
    compute_span_tokens,
    concept_window,
    encode_text,
)
from interp.concepts.files import ConceptSequence, Span
from interp.concepts.token_text import readable_tokens, token_texts
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


# ---------------------------------------------------------------- against the quadratic alignment

def reference_align_sequence(sequence, tokenizer, text=None, char_shift=0, add_special_tokens=True) -> AlignedSequence:
    """`align_sequence` as it was before alignment used sorted offsets: every span compared with
    every token. Kept as the reference the fast version must agree with."""
    text = sequence.text if text is None else text
    encoding = tokenizer(text, return_offsets_mapping=True, add_special_tokens=add_special_tokens)
    token_ids = tuple(int(i) for i in encoding["input_ids"])
    offsets = tuple((int(s), int(e)) for s, e in encoding["offset_mapping"])
    tokens = tuple(tokenizer.convert_ids_to_tokens(list(token_ids)))
    covered = token_texts(tokens)
    trimmed = [
        (start, start) if not piece.special and not piece.text.strip() else reference_trim(text, start, end)
        for piece, (start, end) in zip(covered, offsets)
    ]
    span_tokens = []
    straddling: set[int] = set()
    for span in sequence.spans:
        start, end = span.start + char_shift, span.end + char_shift
        inside = tuple(i for i, (s, e) in enumerate(trimmed) if s < e and max(s, start) < min(e, end))
        if not inside:
            raise InterpError(f"sequence '{sequence.id}': span {span.text!r} covers no token of this tokenizer")
        straddling.update(i for i in inside if trimmed[i][0] < start or trimmed[i][1] > end)
        span_tokens.append(inside)
    concept_mask = np.zeros(len(tokens), dtype=bool)
    for indices in span_tokens:
        concept_mask[list(indices)] = True
    bos_id = getattr(tokenizer, "bos_token_id", None)
    has_bos = bool(token_ids) and bos_id is not None and token_ids[0] == bos_id
    return AlignedSequence(
        sequence_id=sequence.id, tokens=tokens, token_ids=token_ids, offsets=offsets, concept_mask=concept_mask,
        span_tokens=tuple(span_tokens), straddling=tuple(sorted(straddling)), has_bos=has_bos,
    )


def reference_trim(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


class GivenOffsets:
    """A tokenizer that answers with the tokens and offsets it was made with, whatever the text:
    offsets need not grow, may overlap, be empty or reach past the text."""

    bos_token_id = 0

    def __init__(self, tokens, offsets):
        self.tokens, self.offsets = list(tokens), list(offsets)

    def __call__(self, text, return_offsets_mapping=True, add_special_tokens=True):
        return {"input_ids": list(range(len(self.tokens))), "offset_mapping": self.offsets}

    def convert_ids_to_tokens(self, ids):
        return [self.tokens[i] for i in ids]


def same_alignment(sequence, tokenizer, **options):
    """Both alignments of `sequence`, or both refusals with the same message."""
    try:
        expected = reference_align_sequence(sequence, tokenizer, **options)
    except InterpError as error:
        with pytest.raises(InterpError) as raised:
            align_sequence(sequence, tokenizer, **options)
        assert str(raised.value) == str(error)
        return
    aligned = align_sequence(sequence, tokenizer, **options)
    assert aligned.span_tokens == expected.span_tokens
    assert aligned.straddling == expected.straddling
    assert aligned.concept_mask.tolist() == expected.concept_mask.tolist()
    assert (aligned.tokens, aligned.token_ids, aligned.offsets, aligned.has_bos) == \
        (expected.tokens, expected.token_ids, expected.offsets, expected.has_bos)
    assert all(type(index) is int for run in aligned.span_tokens for index in run)


@st.composite
def offsets_and_spans(draw):
    """A text, tokens with any offsets into it (growing, overlapping, empty, out of order) and
    spans anywhere in it, empty ones included."""
    text = draw(st.text(alphabet="ab ́\n", min_size=1, max_size=40))
    size = len(text)
    count = draw(st.integers(0, 30))
    tokens = draw(st.lists(st.sampled_from(["a", "ab", "▁a", "▁", " ", "<s>", "b "]), min_size=count, max_size=count))
    if draw(st.booleans()):  # offsets as a tokenizer makes them: growing with the index
        cuts = sorted(draw(st.lists(st.integers(0, size), min_size=count + 1, max_size=count + 1)))
        offsets = list(zip(cuts, cuts[1:]))
    else:
        offsets = [tuple(sorted(draw(st.tuples(st.integers(0, size), st.integers(0, size))))) for _ in range(count)]
    spans = []
    for _ in range(draw(st.integers(1, 8))):
        start, end = sorted(draw(st.tuples(st.integers(0, size), st.integers(0, size))))
        spans.append(Span(start, end, text[start:end]))
    shift = draw(st.integers(0, 3))
    return GivenOffsets(tokens, offsets), ConceptSequence("p", "T", text, tuple(spans)), shift


@settings(max_examples=400, deadline=None)
@given(case=offsets_and_spans())
def test_alignment_matches_the_quadratic_reference_on_random_offsets(case):
    tokenizer, sequence, shift = case
    same_alignment(sequence, tokenizer, text=" " * shift + sequence.text, char_shift=shift)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sequence=text_and_spans())
def test_alignment_matches_the_quadratic_reference_on_a_tokenizer(tokenizer, sequence):
    same_alignment(sequence, tokenizer)


def test_compute_span_tokens_by_hand():
    ranges = np.array([[0, 0], [0, 3], [4, 9], [4, 6], [10, 12], [2, 11]])
    spans = np.array([[4, 6], [11, 20], [5, 5], [0, 1]])
    span_tokens, straddling = compute_span_tokens(ranges, spans)
    assert span_tokens == ((2, 3, 5), (4,), (), (1,))
    assert straddling == (1, 2, 4, 5)
    assert compute_span_tokens(ranges, np.zeros((0, 2), dtype=int)) == ((), ())


def test_thousands_of_spans_align_in_time_linear_in_tokens_and_spans(tokenizer):
    """Alignment of 1,000 spans over 8,000 tokens costs about what tokenizing them does (the
    legitimate work), not spans × tokens: the quadratic version needed about 8 million comparisons."""
    sentence = "The licensing authority may revoke a licence if the holder fails to comply. "
    text = sentence * 500
    starts = [i * len(sentence) + sentence.index(word) for i in range(500) for word in ("holder", "licence", "authority")]
    sequence = ConceptSequence("long", "T", text, tuple(Span(s, s + 6, text[s:s + 6]) for s in starts[:1_000]))
    timings = []
    for _ in range(3):
        began = time.perf_counter()
        encoded = encode_text(tokenizer, text)
        tokenized = time.perf_counter()
        aligned = align_encoded(sequence, encoded, tokenizer)
        timings.append((tokenized - began, time.perf_counter() - tokenized))
    assert aligned.n_tokens >= 8_000 and len(aligned.span_tokens) == 1_000
    tokenizing, aligning = min(t for t, _ in timings), min(a for _, a in timings)
    assert aligning < 5 * tokenizing + 0.2, timings


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


# ---------------------------------------------------------------- presets and the first position


# ---------------------------------------------------------------- real tokenizers

RICH = list("The lessee shall pay (a) rent; “§ 12”—naïve café 契約の解除 العقد باطل ⚖👩") + [
    "\u200d", "\ufe0f", "\u0301", "\n", "  ", " ", " ", " "]


@st.composite
def rich_sequence(draw):
    """Any text over letters, punctuation, accents, CJK, Arabic, emoji with joiners and
    variation selectors, combining marks and runs of whitespace; spans cut anywhere."""
    text = draw(st.lists(st.sampled_from(RICH), min_size=1, max_size=50).map("".join))
    cuts = sorted(draw(st.sets(st.integers(0, len(text)), min_size=2, max_size=6)))
    spans = tuple(Span(a, b, text[a:b]) for a, b in zip(cuts[::2], cuts[1::2]) if text[a:b].strip())
    return ConceptSequence("p", "T", text, spans)


def covered_characters(tokenizer, text: str, token_id: int, start: int, end: int) -> set[int]:
    """The non-space character positions a token covers, from the tokenizer's own decoding: a
    token that decodes to whitespace (SentencePiece's prefix `▁`) covers none, whatever its
    offsets say."""
    if start < end and not tokenizer.decode([token_id]).strip():
        return set()
    return {p for p in range(start, end) if not text[p].isspace()}


@pytest.mark.parametrize("name", REAL_TOKENIZERS)
def test_span_tokens_cover_exactly_the_span_on_real_tokenizers(real_tokenizers, name):
    """Every non-space character of a span lies in one of the span's tokens; no other token
    covers one; a span token covering characters outside the span is reported as straddling."""
    tokenizer = real_tokenizers[name]

    @settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(sequence=rich_sequence())
    def check(sequence):
        if not sequence.spans:
            return
        aligned = align_sequence(sequence, tokenizer)
        covers = [covered_characters(tokenizer, sequence.text, i, s, e)
                  for i, (s, e) in zip(aligned.token_ids, aligned.offsets)]
        straddling = set()
        for span, tokens in zip(sequence.spans, aligned.span_tokens):
            inside = {p for p in range(span.start, span.end) if not sequence.text[p].isspace()}
            assert inside <= set().union(*(covers[i] for i in tokens)), (span, tokens)
            assert all(covers[i] & inside for i in tokens), span
            others = set(range(aligned.n_tokens)) - set(tokens)
            assert not any(covers[i] & inside for i in others), span
            straddling.update(i for i in tokens if covers[i] - inside)
        assert set(aligned.straddling) == straddling

    check()


@pytest.mark.parametrize("name", REAL_TOKENIZERS)
def test_leading_space_is_not_part_of_a_span(real_tokenizers, name):
    text = "The lessee shall pay the rent within thirty days."
    aligned = align_sequence(sequence_with(text, ("shall", 1), ("pay the ", 1)), real_tokenizers[name])
    shown = readable_tokens(aligned.tokens)
    assert [shown[i] for i in aligned.span_tokens[0]] == ["␣shall"]
    assert "".join(shown[i] for i in aligned.span_tokens[1]) == "␣pay␣the"
    assert aligned.straddling == ()


@pytest.mark.parametrize("name", REAL_TOKENIZERS)
@pytest.mark.parametrize("text, needle", [
    ("Le bailleur dénonce le contrat après préavis.", "dénonce le contrat"),
    ("契約の解除は書面で行う。", "契約の解除"),
    ("يجوز للمؤجر فسخ العقد بعد الإنذار.", "فسخ العقد"),
    ("The judge ⚖️ and the clerk 👩‍⚖️ sign.", "👩‍⚖️"),
])
def test_accented_cjk_right_to_left_and_emoji_spans(real_tokenizers, name, text, needle):
    """The concept tokens hold the span's text and nothing else, whatever the script; characters
    split over byte tokens are in the span whole."""
    aligned = align_sequence(sequence_with(text, (needle, 1)), real_tokenizers[name])
    pieces = token_texts(aligned.tokens)
    covered = "".join(pieces[i].completed for i in aligned.span_tokens[0])
    assert covered.strip() == needle and aligned.straddling == ()
    assert not any(pieces[i].text and not pieces[i].completed for i in (aligned.span_tokens[0][-1],)), \
        "the span's last token completes its last character"


@pytest.mark.parametrize("name", REAL_TOKENIZERS)
def test_nfc_and_nfd_text_both_align_but_tokenize_differently(real_tokenizers, name):
    """Alignment takes the text as given: in NFD text the span (written in NFD) covers the base
    letters and their combining marks. The two forms give different tokens, so a comparison holds
    only within one form; concept files are normalised to NFC where they are read."""
    nfc = "La société naïve dénonce le contrat."
    nfd = unicodedata.normalize("NFD", nfc)
    tokenizer = real_tokenizers[name]
    composed = align_sequence(sequence_with(nfc, ("société naïve", 1)), tokenizer)
    decomposed = align_sequence(sequence_with(nfd, (unicodedata.normalize("NFD", "société naïve"), 1)), tokenizer)
    for aligned, form in ((composed, "NFC"), (decomposed, "NFD")):
        pieces = token_texts(aligned.tokens)
        covered = "".join(pieces[i].completed for i in aligned.span_tokens[0]).strip()
        assert covered == unicodedata.normalize(form, "société naïve") and aligned.straddling == ()
    assert decomposed.n_tokens > composed.n_tokens


