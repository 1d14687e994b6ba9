"""Map concept spans (character offsets) to the tokens of any Hugging Face tokenizer (docs/design.md §4).

A token is a concept token when its character range, with surrounding whitespace trimmed,
overlaps a span. Trimming matters for SentencePiece-style tokenizers, whose offset for `▁word`
starts at the space before the word: the space alone must not make the token part of a span
that begins right after it. A token that stands only for whitespace never overlaps a span, even
where the offset mapping gives it a character (SentencePiece's prefix `▁` before `<0xE5>` byte
tokens points at the character that follows).

Which of those tokens a share leaves out is analysis, not alignment
(`interp.analysis.exclusions`). Spans are character offsets into the text as given: alignment
does not normalise Unicode (that would move the offsets); concept files are normalised where
they are read.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from interp.concepts.files import ConceptSequence
from interp.concepts.token_text import readable_tokens, token_texts
from interp.core.boundary import quoted_excerpt
from interp.core.errors import InterpError


@dataclass(frozen=True)
class AlignedSequence:
    """A sequence as one tokenizer sees it.

    `concept_mask: [tokens]` marks concept tokens; `span_tokens[i]` lists the token indices of
    span i; `straddling` lists tokens that overlap a span but also reach outside it.
    """

    sequence_id: str
    tokens: tuple[str, ...]
    token_ids: tuple[int, ...]
    offsets: tuple[tuple[int, int], ...]
    concept_mask: np.ndarray
    span_tokens: tuple[tuple[int, ...], ...]
    straddling: tuple[int, ...]
    has_bos: bool

    @property
    def n_tokens(self) -> int:
        return len(self.tokens)


@dataclass(frozen=True)
class EncodedText:
    """A text as one tokenizer splits it: ids and each token's character range `[start, end)`
    in `text`. `char_shift` is where the sequence's own text starts inside `text` (a chat
    template writes a prefix). Lengths can be checked on it before any alignment."""

    text: str
    token_ids: tuple[int, ...]
    offsets: tuple[tuple[int, int], ...]
    char_shift: int = 0

    @property
    def n_tokens(self) -> int:
        return len(self.token_ids)


def encode_text(tokenizer, text: str, char_shift: int = 0, add_special_tokens: bool = True) -> EncodedText:
    """Tokenize `text` once, with the offset mapping that alignment needs."""
    encoding = tokenizer(text, return_offsets_mapping=True, add_special_tokens=add_special_tokens)
    return EncodedText(
        text=text,
        token_ids=tuple(int(i) for i in encoding["input_ids"]),
        offsets=tuple((int(s), int(e)) for s, e in encoding["offset_mapping"]),
        char_shift=char_shift,
    )


def align_sequence(
    sequence: ConceptSequence,
    tokenizer,
    text: str | None = None,
    char_shift: int = 0,
    add_special_tokens: bool = True,
) -> AlignedSequence:
    """Tokenize the sequence (with the tokenizer's BOS) and mark the tokens of each span.

    `text` and `char_shift` let a caller tokenize the sequence inside a larger string (a chat
    template, which may write its own `<s>`; then pass `add_special_tokens=False`): spans are
    moved by `char_shift` characters.
    """
    text = sequence.text if text is None else text
    return align_encoded(sequence, encode_text(tokenizer, text, char_shift, add_special_tokens), tokenizer)


def align_encoded(sequence: ConceptSequence, encoded: EncodedText, tokenizer) -> AlignedSequence:
    """Mark the tokens of each span in an already tokenized text, in O((tokens + spans) · log tokens)."""
    text = encoded.text
    tokens = tuple(tokenizer.convert_ids_to_tokens(list(encoded.token_ids)))
    trimmed = np.array([
        (start, start) if not piece.special and not piece.text.strip() else _trim(text, start, end)
        for piece, (start, end) in zip(token_texts(tokens), encoded.offsets)
    ], dtype=np.int64).reshape(-1, 2)
    spans = np.array([(span.start, span.end) for span in sequence.spans], dtype=np.int64).reshape(-1, 2)
    span_tokens, straddling = compute_span_tokens(trimmed, spans + encoded.char_shift)
    for span, indices in zip(sequence.spans, span_tokens):
        if not indices:
            raise InterpError(f"sequence '{sequence.id}': span {quoted_excerpt(span.text)} covers no token of this "
                              "tokenizer")
    concept_mask = np.zeros(len(tokens), dtype=bool)
    concept_mask[[index for indices in span_tokens for index in indices]] = True
    token_ids = encoded.token_ids
    bos_id = getattr(tokenizer, "bos_token_id", None)
    has_bos = bool(token_ids) and bos_id is not None and token_ids[0] == bos_id
    return AlignedSequence(
        sequence_id=sequence.id,
        tokens=tokens,
        token_ids=token_ids,
        offsets=encoded.offsets,
        concept_mask=concept_mask,
        span_tokens=span_tokens,
        straddling=straddling,
        has_bos=has_bos,
    )


def compute_span_tokens(ranges: np.ndarray, spans: np.ndarray) -> tuple[tuple[tuple[int, ...], ...], tuple[int, ...]]:
    """Per span, the tokens whose range overlaps it (in token order), and the tokens that overlap
    a span but reach outside it (sorted).

    `ranges: [tokens, 2]` trimmed character ranges `[start, end)` (empty ranges overlap nothing);
    `spans: [spans, 2]`. A token overlaps a span when `start < span_end` and `end > span_start`.
    Tokens are sorted by start once; for each span, the tokens starting before its end are a
    prefix of that order (`searchsorted`), and those that may end after its start begin where the
    running maximum of the ends first exceeds it. With offsets that grow with the token index, as
    every tokenizer's do, each span looks only at its own tokens: O((tokens + spans) · log tokens).
    """
    if not len(spans):
        return (), ()
    starts, ends = ranges[:, 0], ranges[:, 1]
    live = np.flatnonzero(starts < ends)
    order = live[np.argsort(starts[live], kind="stable")]
    sorted_starts = starts[order]
    reach = np.maximum.accumulate(ends[order]) if order.size else ends[order]
    first, last = spans[:, 0], spans[:, 1]
    high = np.searchsorted(sorted_starts, last, side="left")
    low = np.minimum(np.searchsorted(reach, first, side="right"), high)
    counts = np.where(first < last, high - low, 0)
    owner = np.repeat(np.arange(len(spans)), counts)
    offsets = np.arange(owner.size) - np.repeat(np.cumsum(counts) - counts, counts)
    candidates = order[np.repeat(low, counts) + offsets]
    keep = ends[candidates] > first[owner]
    owner, candidates = owner[keep], candidates[keep]
    arranged = np.lexsort((candidates, owner))
    owner, candidates = owner[arranged], candidates[arranged]
    outside = (starts[candidates] < first[owner]) | (ends[candidates] > last[owner])
    bounds = np.cumsum(np.bincount(owner, minlength=len(spans)))[:-1]
    span_tokens = tuple(tuple(part.tolist()) for part in np.split(candidates, bounds))
    return span_tokens, tuple(np.unique(candidates[outside]).tolist())


# Sequences this short keep their whole pattern; longer ones a window around the concept.
SHORT_SEQUENCE = 48
WINDOW_MARGIN = 12
MAX_WINDOW = 256


def concept_window(concept_mask: np.ndarray, n: int, margin: int = WINDOW_MARGIN, limit: int = MAX_WINDOW) -> tuple[int, int]:
    """Token window `[start, end)` around the concept tokens: `margin` tokens either side, at most
    `limit` tokens from the start of the first span. Short sequences, and sequences without
    concept tokens, are kept whole (up to `limit`)."""
    positions = np.flatnonzero(np.asarray(concept_mask, dtype=bool))
    if n <= SHORT_SEQUENCE or positions.size == 0:
        return 0, min(n, limit)
    start = max(0, int(positions[0]) - margin)
    return start, min(n, int(positions[-1]) + margin + 1, start + limit)


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    """The token's character range without leading or trailing whitespace (empty if only space)."""
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def format_marked_tokens(tokens: Sequence[str], concept_mask) -> str:
    """Tokens as readable text (`interp.concepts.token_text`), separated by spaces, each run of concept tokens
    wrapped in brackets: `<s> ␣The [␣lessee] ␣shall`."""
    pieces = []
    for index, token in enumerate(readable_tokens(tokens)):
        inside = bool(concept_mask[index])
        opens = inside and (index == 0 or not concept_mask[index - 1])
        closes = inside and (index == len(tokens) - 1 or not concept_mask[index + 1])
        pieces.append(("[" if opens else "") + token + ("]" if closes else ""))
    return " ".join(pieces)


# Span × span attention is kept at extraction and drawn in the Structure view for sequences of at
# most this many spans. It costs layers · heads · spans² numbers to store and spans² cells to draw
# (500 spans: 105 MB per entry and 19 MB per figure), and a heat map of more spans has cells too
# small to read or label. Shares, shifts and every other view use all spans, however many.
MAX_STRUCTURE_SPANS = 32


def unreachable_span_pairs(span_tokens: Sequence[Sequence[int]]) -> np.ndarray:
    """`bool [spans, spans]`: where every query token of span i precedes every key token of span
    j, so causal attention cannot reach and span × span attention is undefined (NaN, not 0)."""
    last = np.array([max(span) for span in span_tokens])
    first = np.array([min(span) for span in span_tokens])
    return np.less.outer(last, first)
