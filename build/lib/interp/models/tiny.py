"""Tiny Mistral-architecture checkpoints and SentencePiece-style tokenizers built from scratch,
for the tests, the benchmark and the offline demo lineage.

The checkpoints have the 7B models' shape in miniature (RoPE, RMSNorm, grouped-query attention,
optional sliding window) and are saved with `save_pretrained`, so they go through the very
loader the 7B checkpoints use. Mistral-7B's tokenizer is a BPE model over a `▁` metaspace with
BOS `<s>`; training the same shape with the `tokenizers` library keeps the reference study's
exclusion list (`▁`, `▁(`, `<s>`, ...) meaningful for tiny offline models.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase, PreTrainedTokenizerFast



def build_tiny_mistral(
    folder: str | Path,
    tokenizer: PreTrainedTokenizerBase,
    *,
    seed: int = 0,
    hidden_size: int = 64,
    num_hidden_layers: int = 2,
    num_attention_heads: int = 4,
    num_key_value_heads: int = 2,
    intermediate_size: int = 128,
    sliding_window: int | None = None,
    max_position_embeddings: int = 512,
    **overrides: Any,
) -> Path:
    """Save a randomly initialised tiny `MistralForCausalLM` and its tokenizer in `folder`.

    The vocabulary (unless `vocab_size` is given, e.g. 32000 for a benchmark at 7B width) and
    BOS/EOS ids are the tokenizer's; `overrides` are any other
    `MistralConfig` fields (e.g. `initializer_range`, `rope_theta`). The same seed gives the
    same weights, and the global torch random state is left as it was. Returns the folder's
    absolute path.
    """
    import torch
    from transformers import MistralConfig, MistralForCausalLM

    config = MistralConfig(
        vocab_size=overrides.pop("vocab_size", len(tokenizer)),
        hidden_size=hidden_size,
        num_hidden_layers=num_hidden_layers,
        num_attention_heads=num_attention_heads,
        num_key_value_heads=num_key_value_heads,
        intermediate_size=intermediate_size,
        sliding_window=sliding_window,
        max_position_embeddings=max_position_embeddings,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        **overrides,
    )
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = MistralForCausalLM(config)
    model.save_pretrained(folder, safe_serialization=True)
    tokenizer.save_pretrained(folder)
    return folder.resolve()


BOS, EOS, UNK = "<s>", "</s>", "<unk>"
# Words, and runs of punctuation that keep a preceding `▁`: "▁may," -> "▁may" ","; " (a" -> "▁(" "a".
PIECES = r"▁?[^\w\s▁]+|▁?\w+|▁"


def train_tokenizer(texts: Iterable[str], vocab_size: int = 2048) -> PreTrainedTokenizerFast:
    """A BPE tokenizer with a `▁` metaspace that prepends BOS, trained on `texts`.

    Training is deterministic for the same texts in the same order, so a seeded corpus gives
    the same tokenizer on every build.
    """
    from tokenizers import (
        Regex,
        Tokenizer,
        decoders,
        models,
        pre_tokenizers,
        processors,
        trainers,
    )
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
