"""Map concept spans (character offsets) to the tokens of any Hugging Face tokenizer, and say
which keys a share leaves out.

A token is a concept token when its character range, with surrounding whitespace trimmed,
overlaps a span. Trimming matters for SentencePiece-style tokenizers, whose offset for `▁word`
starts at the space before the word: the space alone must not make the token part of a span
that begins right after it. A token that stands only for whitespace never overlaps a span, even
where the offset mapping gives it a character (SentencePiece's prefix `▁` before `<0xE5>` byte
tokens points at the character that follows).

Excluded keys E are the tokens an exclusion preset names plus the first position under a
first-position rule (`FIRST_POSITION_RULES`). Spans are character offsets into the text as
given: alignment does not normalise Unicode (that would move the offsets); concept files are
normalised where they are read.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from interp.boundary import quoted_excerpt
from interp.errors import InterpError
from interp.registry import ConceptSequence
from interp.tokens import readable_tokens, token_texts

PAPER_EXCLUSIONS = ("'", "(", ")", ",", "-", ".", ":", "<s>", "▁", "▁(", "▁...", "▁[...]")
FIRST_POSITION_RULES = {
    "bos": "the first token where the tokenizer put a BOS there (the reference study)",
    "first": "always the first token, the attention sink of models with or without a BOS",
    "none": "nothing for being first (tokens the exclusion list names are still excluded)",
}


@dataclass(frozen=True)
class ExclusionPreset:
    """A named set of excluded key tokens: exact token strings, a rule over the tokens, or both.

    `rule(tokens) -> bool [tokens]` sees the whole sequence, so it can read byte-level tokens
    as the text they cover.
    """

    name: str
    description: str
    tokens: tuple[str, ...] = ()
    rule: Callable[[Sequence[str]], np.ndarray] | None = None

    def mask(self, tokens: Sequence[str]) -> np.ndarray:
        """`bool [tokens]`: the tokens this preset excludes."""
        listed = set(self.tokens)
        mask = np.array([token in listed for token in tokens], dtype=bool)
        if self.rule is not None:
            mask |= np.asarray(self.rule(tokens), dtype=bool)
        return mask


def compute_punctuation_mask(tokens: Sequence[str]) -> np.ndarray:
    """`bool [tokens]`: tokens that cover only punctuation (Unicode P*) or whitespace once read as
    the text they cover, so `▁(`, `Ġ(` and `<0x28>` alike. Control tokens (`<s>`) are not text and
    are left to the first-position rule."""
    return np.array([
        not text.special and all(_is_punctuation_or_space(char) for char in text.text) for text in token_texts(tokens)
    ], dtype=bool)


def _is_punctuation_or_space(char: str) -> bool:
    return len(char) == 1 and (char.isspace() or unicodedata.category(char).startswith("P"))


EXCLUSION_PRESETS: dict[str, ExclusionPreset] = {}


def register_exclusion_preset(preset: ExclusionPreset) -> ExclusionPreset:
    """Add a preset to the registry that the CLI's `--exclude`, the app's picker and the tests read."""
    if preset.name in EXCLUSION_PRESETS or preset.name == "custom":
        raise ValueError(f"exclusion preset {preset.name!r} is registered twice or reserved")
    EXCLUSION_PRESETS[preset.name] = preset
    return preset


register_exclusion_preset(ExclusionPreset(
    "paper", "the reference study's list, byte-exact for SentencePiece tokenizers: " + " ".join(PAPER_EXCLUSIONS),
    tokens=PAPER_EXCLUSIONS,
))
register_exclusion_preset(ExclusionPreset(
    "punctuation", "every token that is only punctuation or whitespace once read as text, for any tokenizer",
    rule=compute_punctuation_mask,
))
register_exclusion_preset(ExclusionPreset("none", "no tokens (only the first-position rule applies)"))


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


def resolve_exclusions(preset: str | Sequence[str]) -> ExclusionPreset:
    """The preset called `preset` (see `EXCLUSION_PRESETS`), or a custom list of token strings."""
    if isinstance(preset, str):
        if preset not in EXCLUSION_PRESETS:
            raise InterpError(f"exclusion preset {preset!r} is unknown; use one of {', '.join(EXCLUSION_PRESETS)} or a list of tokens")
        return EXCLUSION_PRESETS[preset]
    return ExclusionPreset("custom", "a list of token strings", tokens=tuple(preset))


def check_first_position(rule: str) -> str:
    """`rule` if it is a first-position rule, else an `InterpError` listing them."""
    if rule not in FIRST_POSITION_RULES:
        raise InterpError(f"first-position rule {rule!r} is unknown; use one of {', '.join(FIRST_POSITION_RULES)}")
    return rule


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


def compute_excluded_mask(
    aligned: AlignedSequence, exclusions: str | Sequence[str] = "paper", first_position: str = "bos"
) -> np.ndarray:
    """Excluded keys E as `bool [tokens]`: the tokens the preset (or list) excludes, and the first
    token under the first-position rule (`bos`: where it is a BOS; `first`: always; `none`: never)."""
    mask = resolve_exclusions(exclusions).mask(aligned.tokens)
    rule = check_first_position(first_position)
    if mask.size and (rule == "first" or (rule == "bos" and aligned.has_bos)):
        mask[0] = True
    return mask


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
    """Tokens as readable text (`interp.tokens`), separated by spaces, each run of concept tokens
    wrapped in brackets: `<s> ␣The [␣lessee] ␣shall`."""
    pieces = []
    for index, token in enumerate(readable_tokens(tokens)):
        inside = bool(concept_mask[index])
        opens = inside and (index == 0 or not concept_mask[index - 1])
        closes = inside and (index == len(tokens) - 1 or not concept_mask[index + 1])
        pieces.append(("[" if opens else "") + token + ("]" if closes else ""))
    return " ".join(pieces)
