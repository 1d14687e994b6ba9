"""Token strings as the text they cover, whatever the tokenizer: one home for showing tokens.

Tokenizers spell the same text differently: SentencePiece writes a leading space as `▁` and
characters outside its vocabulary as byte tokens `<0xE5><0xA5><0x91>`; byte-level BPE (GPT-2,
SmolLM2, Mistral's tekken, Llama 3) writes every byte as a printable stand-in, so ` “` becomes
`ĠâĢľ` and `§` becomes `Â§`. Everything that shows tokens (`concepts show`, the app's axes and
hovers, exported figures) goes through `token_texts`, which works from the stored token strings
alone, so a results folder made anywhere reads the same:

- each token becomes the characters it covers; a space is shown as `␣` (the one visible marker
  of a leading space), a newline as `↵`, a tab as `⇥`, other invisible characters as `⟨U+XXXX⟩`;
- a character whose bytes are split over k tokens is shown in each of them with its piece,
  `契(1/3)`, `契(2/3)`, `契(3/3)`;
- special tokens (`<s>`, `<|im_start|>`, `[INST]`) are shown as they are.

The kind of spelling is read from the tokens themselves (`token_kind`): SentencePiece when any
token holds `▁` or is a byte token; byte-level when every token is made of the 256 byte
stand-ins and their bytes form valid UTF-8 that differs from the strings; plain otherwise.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

SENTENCEPIECE, BYTE_LEVEL, PLAIN = "sentencepiece", "byte-level", "plain"
KINDS = (SENTENCEPIECE, BYTE_LEVEL, PLAIN)
METASPACE = "▁"
SHOWN_SPACE = "␣"
BYTE_TOKEN = re.compile(r"<0x([0-9A-Fa-f]{2})>")
# Control and chat tokens of the common families: <s>, </s>, <unk>, <pad>, <|im_start|>, [INST], [/INST].
SPECIAL_TOKEN = re.compile(r"<\|[^|<>]*\|>|</?[a-z_]+>|\[/?[A-Z_]+\]")
SHOWN_WHITESPACE = {" ": SHOWN_SPACE, "\n": "↵", "\t": "⇥", "\r": "␍"}
# Unicode categories with no glyph of their own: controls, formats (ZWJ), separators, unassigned.
INVISIBLE = ("Cc", "Cf", "Zl", "Zp", "Zs", "Co", "Cn", "Cs")


@dataclass(frozen=True)
class TokenText:
    """What one token covers.

    `text`: every character the token holds at least one byte of, in order (a character split
    over several tokens appears in each); `completed`: the characters whose last byte is in this
    token, so that joining `completed` over a sequence gives the decoded text once;
    `display`: the readable form; `special`: a control token that covers no text.
    """

    text: str
    completed: str
    display: str
    special: bool = False


@cache
def byte_level_alphabet() -> dict[str, int]:
    """GPT-2's printable stand-in of each byte (`bytes_to_unicode`), read backwards: char → byte.

    Printable Latin-1 bytes stand for themselves; the other 68 (controls, space, NBSP, soft
    hyphen) are moved to U+0100 upwards, so a space is `Ġ` (U+0120) and a newline `Ċ`.
    """
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    moved = [byte for byte in range(256) if byte not in printable]
    table = {chr(byte): byte for byte in printable}
    table.update({chr(256 + index): byte for index, byte in enumerate(moved)})
    return table


def is_special_token(token: str) -> bool:
    """Whether a token string is a control token (`<s>`, `<|im_start|>`, `[INST]`), not text."""
    return bool(SPECIAL_TOKEN.fullmatch(token))


def token_kind(tokens: Sequence[str]) -> str:
    """How the tokens spell text: `sentencepiece`, `byte-level` or `plain` (see the module doc)."""
    texts = [token for token in tokens if not is_special_token(token)]
    if any(METASPACE in token or BYTE_TOKEN.fullmatch(token) for token in texts):
        return SENTENCEPIECE
    alphabet = byte_level_alphabet()
    if texts and all(char in alphabet for token in texts for char in token):
        joined = "".join(texts)
        try:
            decoded = bytes(alphabet[char] for char in joined).decode("utf-8")
        except UnicodeDecodeError:
            return PLAIN
        if decoded != joined:
            return BYTE_LEVEL
    return PLAIN


def token_bytes(token: str, kind: str) -> bytes:
    """The UTF-8 bytes a (non-special) token stands for under a spelling kind."""
    if kind == BYTE_LEVEL:
        alphabet = byte_level_alphabet()
        return bytes(alphabet[char] for char in token)
    if kind == SENTENCEPIECE:
        match = BYTE_TOKEN.fullmatch(token)
        if match:
            return bytes([int(match.group(1), 16)])
        return token.replace(METASPACE, " ").encode("utf-8")
    return token.encode("utf-8")


def token_texts(tokens: Sequence[str], kind: str | None = None) -> tuple[TokenText, ...]:
    """Each token as the text it covers (see `TokenText`); `kind` defaults to `token_kind(tokens)`.

    Runs of text tokens between special tokens are decoded as one byte stream, so that a
    character split over byte tokens is found whole; bytes that are not valid UTF-8 are shown
    as `\\xNN`.
    """
    kind = kind or token_kind(tokens)
    if kind not in KINDS:
        raise ValueError(f"token kind {kind!r} is unknown; kinds: {', '.join(KINDS)}")
    result: list[TokenText] = []
    run: list[bytes] = []
    for token in tokens:
        if is_special_token(token):
            result.extend(_decode_run(run))
            run = []
            result.append(TokenText(text="", completed="", display=token, special=True))
        else:
            run.append(token_bytes(token, kind))
    result.extend(_decode_run(run))
    return tuple(result)


def readable_tokens(tokens: Sequence[str], kind: str | None = None) -> tuple[str, ...]:
    """The readable form of each token: `▁shall` and `Ġshall` are both `␣shall`."""
    return tuple(text.display for text in token_texts(tokens, kind))


def show_characters(text: str) -> str:
    """Characters with whitespace and invisible ones made visible (`␣`, `↵`, `⇥`, `⟨U+200D⟩`)."""
    return "".join(_show_character(char, index == 0) for index, char in enumerate(text))


def _decode_run(pieces: list[bytes]) -> list[TokenText]:
    """Decode consecutive tokens' bytes as one UTF-8 stream and give each token its characters."""
    if not pieces:
        return []
    stream = b"".join(pieces)
    owner: list[int] = [index for index, piece in enumerate(pieces) for _ in piece]
    texts = [""] * len(pieces)
    completed = [""] * len(pieces)
    shown = [""] * len(pieces)
    position = 0
    while position < len(stream):
        char, length = _next_character(stream, position)
        tokens = list(dict.fromkeys(owner[position:position + length]))
        for piece, index in enumerate(tokens, start=1):
            texts[index] += char
            visible = _show_character(char, not shown[index])
            shown[index] += visible if len(tokens) == 1 else f"{visible}({piece}/{len(tokens)})"
        completed[tokens[-1]] += char
        position += length
    return [TokenText(text=t, completed=c, display=s) for t, c, s in zip(texts, completed, shown)]


def _next_character(stream: bytes, position: int) -> tuple[str, int]:
    """The character starting at `position` and its length in bytes; a byte that starts no valid
    UTF-8 sequence stands alone as `\\xNN`."""
    lead = stream[position]
    length = 1 if lead < 0x80 else 2 if lead >> 5 == 0b110 else 3 if lead >> 4 == 0b1110 else 4 if lead >> 3 == 0b11110 else 0
    if length:
        try:
            return stream[position:position + length].decode("utf-8"), length
        except UnicodeDecodeError:
            pass
    return f"\\x{lead:02X}", 1


def _show_character(char: str, first: bool) -> str:
    if char in SHOWN_WHITESPACE:
        return SHOWN_WHITESPACE[char]
    if len(char) > 1:  # an undecodable byte, already written as \xNN
        return char
    category = unicodedata.category(char)
    if category in INVISIBLE or 0xFE00 <= ord(char) <= 0xFE0F:  # variation selectors are marks, but invisible
        return f"⟨U+{ord(char):04X}⟩"
    if category in ("Mn", "Me") and first:
        return "◌" + char  # a combining mark alone would sit on whatever precedes it in a label
    return char
