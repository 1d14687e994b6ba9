"""Which keys a share leaves out: exclusion presets and the first-position rule (docs/design.md §4).

Excluded keys E are the tokens an exclusion preset names (`paper`: the reference study's list,
byte-exact for SentencePiece; `punctuation`: decided on the characters a token covers, so the
same text excludes the same characters under any tokenizer; `none`; or a list of token
strings) plus the first position under a first-position rule (`FIRST_POSITION_RULES`).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from interp.concepts.token_text import token_texts
from interp.core.errors import InterpError
from interp.core.registry import Registry

if TYPE_CHECKING:
    from interp.concepts.alignment import AlignedSequence

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


EXCLUSION_PRESETS: Registry[ExclusionPreset] = Registry("exclusion preset")


def register_exclusion_preset(preset: ExclusionPreset) -> ExclusionPreset:
    """Add a preset to the registry that the CLI's `--exclude`, the app's picker and the tests read."""
    if preset.name == "custom":
        raise ValueError("exclusion preset 'custom' is reserved for lists of tokens")
    return EXCLUSION_PRESETS.add(preset)


register_exclusion_preset(ExclusionPreset(
    "paper", "the reference study's list, byte-exact for SentencePiece tokenizers: " + " ".join(PAPER_EXCLUSIONS),
    tokens=PAPER_EXCLUSIONS,
))
register_exclusion_preset(ExclusionPreset(
    "punctuation", "every token that is only punctuation or whitespace once read as text, for any tokenizer",
    rule=compute_punctuation_mask,
))
register_exclusion_preset(ExclusionPreset("none", "no tokens (only the first-position rule applies)"))


def resolve_exclusions(preset: str | Sequence[str]) -> ExclusionPreset:
    """The preset called `preset` (see `EXCLUSION_PRESETS`), or a custom list of token strings."""
    if isinstance(preset, str):
        return EXCLUSION_PRESETS.named(preset, "a list of tokens separated by commas")
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


def concept_runs(aligned: AlignedSequence, excluded_mask: np.ndarray) -> list[np.ndarray]:
    """Per span, the indices of its tokens that are not excluded (the keys that count)."""
    runs = [np.array([i for i in indices if not excluded_mask[i]], dtype=int) for indices in aligned.span_tokens]
    return [run for run in runs if run.size]
