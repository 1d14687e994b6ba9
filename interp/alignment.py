"""Map concept spans (character offsets) to the tokens of any Hugging Face tokenizer.

A token is a concept token when its character range, with surrounding whitespace trimmed,
overlaps a span. Trimming matters for SentencePiece-style tokenizers, whose offset for `▁word`
starts at the space before the word: the space alone must not make the token part of a span
that begins right after it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from interp.errors import InterpError
from interp.registry import ConceptSequence

PAPER_EXCLUSIONS = ("'", "(", ")", ",", "-", ".", ":", "<s>", "▁", "▁(", "▁...", "▁[...]")
EXCLUSION_PRESETS: dict[str, tuple[str, ...]] = {"paper": PAPER_EXCLUSIONS, "none": ()}


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


def resolve_exclusions(preset: str | Sequence[str]) -> tuple[str, ...]:
    """Token strings to exclude: a preset name (`paper`, `none`) or a custom list."""
    if isinstance(preset, str):
        if preset not in EXCLUSION_PRESETS:
            raise InterpError(f"exclusion preset {preset!r} is unknown; use one of {', '.join(EXCLUSION_PRESETS)} or a list of tokens")
        return EXCLUSION_PRESETS[preset]
    return tuple(preset)


def parse_exclusions(text: str) -> str | tuple[str, ...]:
    """What a user typed for the excluded tokens: a preset name, or tokens separated by commas.

    The one parser behind the CLI's `--exclude` and the app's box. Tokens are stripped of
    surrounding spaces; an empty list is refused rather than read as "exclude nothing".
    """
    text = text.strip()
    if text in EXCLUSION_PRESETS:
        return text
    tokens = tuple(token.strip() for token in text.split(",") if token.strip())
    if not tokens:
        raise InterpError("custom exclusions: list at least one token, separated by commas")
    return tokens


def compute_excluded_mask(aligned: AlignedSequence, exclusions: str | Sequence[str] = "paper") -> np.ndarray:
    """Excluded keys E as `bool [tokens]`: BOS and every token whose string is in the list."""
    excluded = set(resolve_exclusions(exclusions))
    mask = np.array([token in excluded for token in aligned.tokens], dtype=bool)
    if aligned.has_bos:
        mask[0] = True
    return mask


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
    encoding = tokenizer(text, return_offsets_mapping=True, add_special_tokens=add_special_tokens)
    token_ids = tuple(int(i) for i in encoding["input_ids"])
    offsets = tuple((int(s), int(e)) for s, e in encoding["offset_mapping"])
    tokens = tuple(tokenizer.convert_ids_to_tokens(list(token_ids)))
    trimmed = [_trim(text, start, end) for start, end in offsets]
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
        sequence_id=sequence.id,
        tokens=tokens,
        token_ids=token_ids,
        offsets=offsets,
        concept_mask=concept_mask,
        span_tokens=tuple(span_tokens),
        straddling=tuple(sorted(straddling)),
        has_bos=has_bos,
    )


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


def concept_runs(aligned: AlignedSequence, excluded_mask: np.ndarray) -> list[np.ndarray]:
    """Per span, the indices of its tokens that are not excluded (the keys that count)."""
    runs = [np.array([i for i in indices if not excluded_mask[i]], dtype=int) for indices in aligned.span_tokens]
    return [run for run in runs if run.size]


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    """The token's character range without leading or trailing whitespace (empty if only space)."""
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def format_marked_tokens(tokens: Sequence[str], concept_mask) -> str:
    """Tokens separated by spaces, each run of concept tokens wrapped in brackets."""
    pieces = []
    for index, token in enumerate(tokens):
        inside = bool(concept_mask[index])
        opens = inside and (index == 0 or not concept_mask[index - 1])
        closes = inside and (index == len(tokens) - 1 or not concept_mask[index + 1])
        pieces.append(("[" if opens else "") + token + ("]" if closes else ""))
    return " ".join(pieces)
