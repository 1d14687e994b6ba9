"""Train SentencePiece-style BPE tokenizers like Mistral's, for the demo lineage and the tests.

Mistral-7B's tokenizer is a BPE model over a `▁` metaspace with BOS `<s>`; training the same shape
with the `tokenizers` library keeps the reference study's exclusion list (`▁`, `▁(`, `<s>`, ...)
meaningful for tiny offline models.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from interp.boundary import first_line
from interp.errors import InterpError

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerFast

BOS, EOS, UNK = "<s>", "</s>", "<unk>"
# Words, and runs of punctuation that keep a preceding `▁`: "▁may," -> "▁may" ","; " (a" -> "▁(" "a".
PIECES = r"▁?[^\w\s▁]+|▁?\w+|▁"


def train_tokenizer(texts: Iterable[str], vocab_size: int = 2048) -> PreTrainedTokenizerFast:
    """A BPE tokenizer with a `▁` metaspace that prepends BOS, trained on `texts`.

    Training is deterministic for the same texts in the same order, so a seeded corpus gives
    the same tokenizer on every build.
    """
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE(unk_token=UNK))
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="first"),
        pre_tokenizers.Split(Regex(PIECES), behavior="isolated"),
    ])
    tokenizer.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="first")
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=[UNK, BOS, EOS], show_progress=False
    )
    tokenizer.train_from_iterator(texts, trainer)
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{BOS} $A", pair=f"{BOS} $A {BOS} $B", special_tokens=[(BOS, tokenizer.token_to_id(BOS))]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, bos_token=BOS, eos_token=EOS, unk_token=UNK
    )


def load_tokenizer(name: str, revision: str | None = None, trust_remote_code: bool = False):
    """The tokenizer of a hub id or a local folder, as an `InterpError` if it cannot be loaded."""
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(name, revision=revision, trust_remote_code=trust_remote_code)
    except (OSError, ValueError) as error:
        raise InterpError(f"tokenizer {name!r}: cannot be loaded ({first_line(error)})") from None
