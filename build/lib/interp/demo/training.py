"""Data, model and training loop of the demo lineage (float32 AdamW on the CPU).

Tensors: `blocks: [n_blocks, seq_len]` token ids of packed text (documents joined with EOS);
an instruction example is `(ids, labels)` with labels -100 everywhere but the response and EOS.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

import torch
from tqdm.auto import tqdm
from transformers import MistralConfig, MistralForCausalLM, PreTrainedTokenizerFast

from interp.demo.corpus import general_texts, instruction_pairs, legal_texts
from interp.models.tiny import train_tokenizer

IGNORE = -100
# Built-in concept texts are repeated in the tokenizer's training data so that their words
# become whole tokens, as they would in a large tokenizer; the model never trains on them.
CONCEPT_REPEATS = 4


@dataclass
class DemoData:
    """The tokenizer, the training data of each stage and the held-out sets."""

    tokenizer: PreTrainedTokenizerFast
    general: torch.Tensor
    legal: torch.Tensor
    instructions: list[tuple[list[int], list[int]]]
    heldout_general: torch.Tensor
    heldout_legal: torch.Tensor
    heldout_instructions: list[tuple[list[int], list[int]]]

    def token_counts(self, settings) -> dict[str, object]:
        """Corpus sizes in tokens, and the tokens each stage trained on (pad tokens not counted)."""
        tokens_per_step = settings.batch_size * settings.seq_len
        mean_instruction = sum(len(ids) for ids, _ in self.instructions) / max(len(self.instructions), 1)
        return {
            "corpus": {
                "general": int(self.general.numel()),
                "legal": int(self.legal.numel()),
                "instruction": sum(len(ids) for ids, _ in self.instructions),
                "instruction_response": sum(_answer_count(labels) for _, labels in self.instructions),
            },
            "trained": {
                "base": settings.steps["base"] * tokens_per_step,
                "cpt": settings.steps["cpt"] * tokens_per_step,
                "ift": round(settings.steps["ift"] * settings.batch_size * mean_instruction),
            },
            "heldout": {
                "general": int(self.heldout_general.numel()),
                "legal": int(self.heldout_legal.numel()),
                "instruction_response": sum(_answer_count(labels) for _, labels in self.heldout_instructions),
            },
            "vocab_size": len(self.tokenizer),
        }


def derived_seed(seed: int, purpose: str) -> int:
    """A seed of its own for each corpus, so held-out text never shares a generator with training."""
    return int.from_bytes(hashlib.sha256(f"{seed}:{purpose}".encode()).digest()[:8], "big")


def concept_texts() -> list[str]:
    """The texts of the built-in concept sets, when the repository's `concepts/` folder is present."""
    from interp.concepts.files import all_sequences, builtin_concepts_dir, load_concepts

    if not builtin_concepts_dir().is_dir():
        return []
    return [sequence.text for sequence in all_sequences(load_concepts([builtin_concepts_dir()]))]


def prepare_data(settings, seed: int, chat_template: str) -> DemoData:
    """Generate the corpora, train the tokenizer on them and tokenize every stage's data."""
    general = general_texts(settings.n_general, derived_seed(seed, "general"))
    legal = legal_texts(settings.n_legal, derived_seed(seed, "legal"))
    pairs = instruction_pairs(settings.n_instructions, derived_seed(seed, "instructions"))
    chats = [f"[INST] {instruction} [/INST] {response}" for instruction, response in pairs]
    tokenizer = train_tokenizer(general + legal + chats + concept_texts() * CONCEPT_REPEATS,
                                settings.vocab_size)
    tokenizer.chat_template = chat_template
    tokenizer.pad_token = tokenizer.unk_token
    tokenizer.model_max_length = 512
    return _tokenize_corpora(tokenizer, settings, seed, general, legal, pairs)


def prepare_pretrained_data(settings, seed: int, tokenizer) -> DemoData:
    """The same corpora for a pretrained model, in its own tokenizer and chat template."""
    general = general_texts(settings.n_general, derived_seed(seed, "general"))
    legal = legal_texts(settings.n_legal, derived_seed(seed, "legal"))
    pairs = instruction_pairs(settings.n_instructions, derived_seed(seed, "instructions"))
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    return _tokenize_corpora(tokenizer, settings, seed, general, legal, pairs)


def _tokenize_corpora(tokenizer, settings, seed: int, general, legal, pairs) -> DemoData:
    check_chat_template(tokenizer)
    n = settings.n_heldout
    return DemoData(
        tokenizer=tokenizer,
        general=pack(tokenizer, general, settings.seq_len),
        legal=pack(tokenizer, legal, settings.seq_len),
        instructions=chat_examples(tokenizer, pairs, settings.max_instruction_tokens),
        heldout_general=pack(tokenizer, general_texts(n, derived_seed(seed, "heldout-general")), settings.seq_len),
        heldout_legal=pack(tokenizer, legal_texts(n, derived_seed(seed, "heldout-legal")), settings.seq_len),
        heldout_instructions=chat_examples(
            tokenizer, instruction_pairs(n, derived_seed(seed, "heldout-instructions")),
            settings.max_instruction_tokens,
        ),
    )


def check_chat_template(tokenizer) -> None:
    """The template renders a user message verbatim (a bug here would be silent in training)."""
    probe = "Identify the condition in: (1) the tenant “may” pay — § 3."
    rendered = tokenizer.apply_chat_template([{"role": "user", "content": probe}], tokenize=False)
    if probe not in rendered:
        raise AssertionError(f"demo chat template lost the user text: {rendered!r}")


def pack(tokenizer, texts: list[str], seq_len: int) -> torch.Tensor:
    """`[n_blocks, seq_len]`: every text with BOS and EOS, joined, cut into blocks (remainder dropped)."""
    stream: list[int] = []
    for ids in tokenizer(texts, add_special_tokens=True)["input_ids"]:
        stream.extend(ids)
        stream.append(tokenizer.eos_token_id)
    n_blocks = len(stream) // seq_len
    return torch.tensor(stream[: n_blocks * seq_len], dtype=torch.long).view(n_blocks, seq_len)


def chat_examples(tokenizer, pairs, max_tokens: int) -> list[tuple[list[int], list[int]]]:
    """Chat-formatted pairs as `(ids, labels)` with the loss on the response and EOS only."""
    examples = []
    for instruction, response in pairs:
        user = [{"role": "user", "content": instruction}]
        prompt = tokenizer(tokenizer.apply_chat_template(user, tokenize=False), add_special_tokens=False)["input_ids"]
        whole = tokenizer(
            tokenizer.apply_chat_template(user + [{"role": "assistant", "content": response}], tokenize=False),
            add_special_tokens=False,
        )["input_ids"]
        if whole[: len(prompt)] != prompt:
            raise AssertionError(f"the prompt's tokens are not a prefix of the chat's: {instruction!r}")
        if len(whole) > max_tokens:
            continue
        examples.append((whole, [IGNORE] * len(prompt) + whole[len(prompt):]))
    return examples


def new_model(settings, tokenizer) -> MistralForCausalLM:
    """A freshly initialised tiny Mistral (grouped-query attention, no sliding window, untied head)."""
    config = MistralConfig(
        vocab_size=len(tokenizer),
        hidden_size=settings.hidden_size,
        intermediate_size=settings.intermediate_size,
        num_hidden_layers=settings.num_hidden_layers,
        num_attention_heads=settings.num_attention_heads,
        num_key_value_heads=settings.num_key_value_heads,
        max_position_embeddings=512,
        sliding_window=None,
        tie_word_embeddings=False,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    return MistralForCausalLM(config).float()


def train_stage(model, data: DemoData, settings, stage: str, seed: int, progress: bool) -> None:
    """Train one stage in place: base on general text, cpt on legal text with general replay,
    ift on instruction pairs (loss on responses only)."""
    steps, lr = settings.steps[stage], settings.learning_rate[stage]
    generator = torch.Generator().manual_seed(derived_seed(seed, f"order-{stage}") % 2**63)
    batches = _batches(data, settings, stage, generator)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, betas=(0.9, 0.95), weight_decay=0.01)
    warmup = max(1, steps // 10)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: _lr_factor(step, warmup, steps))
    model.train()
    bar = tqdm(total=steps, desc=f"demo {stage}", unit="step", disable=not progress, leave=True)
    try:
        for _ in range(steps):
            input_ids, attention_mask, labels = next(batches)
            loss = model(input_ids=input_ids, attention_mask=attention_mask, labels=labels).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            schedule.step()
            optimizer.zero_grad(set_to_none=True)
            bar.set_postfix(loss=f"{loss.item():.3f}", refresh=False)
            bar.update(1)
    finally:
        bar.close()
    model.eval()


@torch.no_grad()
def heldout_losses(model, data: DemoData) -> dict[str, float]:
    """Mean next-token cross-entropy (nats per token) on each held-out set."""
    model.eval()
    losses = {}
    for name, blocks in (("general", data.heldout_general), ("legal", data.heldout_legal)):
        losses[name] = _mean_loss(model, [(blocks[i : i + 16], None, blocks[i : i + 16])
                                          for i in range(0, len(blocks), 16)])
    examples = data.heldout_instructions
    losses["instruction"] = _mean_loss(model, [_pad(examples[i : i + 16], data.tokenizer.pad_token_id)
                                               for i in range(0, len(examples), 16)])
    return {name: round(value, 4) for name, value in losses.items()}


def _mean_loss(model, batches) -> float:
    total, count = 0.0, 0
    for input_ids, attention_mask, labels in batches:
        logits = model(input_ids=input_ids, attention_mask=attention_mask).logits[:, :-1]
        targets = labels[:, 1:]
        total += torch.nn.functional.cross_entropy(
            logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=IGNORE, reduction="sum"
        ).item()
        count += int((targets != IGNORE).sum())
    return total / max(count, 1)


def _batches(data: DemoData, settings, stage: str, generator: torch.Generator):
    """Endless batches `(input_ids, attention_mask or None, labels)` for a stage, in seeded order."""
    if stage == "ift":
        return _instruction_batches(data, settings.batch_size, generator)
    blocks = data.general if stage == "base" else data.legal
    n_replay = round(settings.batch_size * settings.replay) if stage == "cpt" else 0
    return _text_batches(blocks, data.general, settings.batch_size - n_replay, n_replay, generator)


def _instruction_batches(data: DemoData, size: int, generator: torch.Generator):
    examples = data.instructions
    _check_enough(len(examples), size, "instruction pairs")
    for order in _epochs(len(examples), generator):
        for start in range(0, len(order) - size + 1, size):
            yield _pad([examples[i] for i in order[start : start + size]], data.tokenizer.pad_token_id)


def _text_batches(blocks: torch.Tensor, general: torch.Tensor, size: int, n_replay: int, generator):
    """Rows of `blocks`, plus `n_replay` rows of general text per batch (CPT's replay)."""
    _check_enough(len(blocks), size, "text blocks")
    replay = _epochs(len(general), generator)
    pending: list[int] = []
    for order in _epochs(len(blocks), generator):
        for start in range(0, len(order) - size + 1, size):
            rows = blocks[order[start : start + size]]
            if n_replay:
                while len(pending) < n_replay:
                    pending.extend(next(replay))
                rows = torch.cat([rows, general[pending[:n_replay]]])
                del pending[:n_replay]
            yield rows, None, rows


def _check_enough(available: int, size: int, what: str) -> None:
    if available < size:
        raise ValueError(f"demo corpus too small: {available} {what} for batches of {size}")


def _epochs(n: int, generator: torch.Generator):
    while True:
        yield torch.randperm(n, generator=generator).tolist()


def _pad(examples, pad_id: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Right-padded `[batch, longest]` ids, attention mask and labels (-100 on padding)."""
    longest = max(len(ids) for ids, _ in examples)
    ids = torch.full((len(examples), longest), pad_id, dtype=torch.long)
    labels = torch.full((len(examples), longest), IGNORE, dtype=torch.long)
    mask = torch.zeros((len(examples), longest), dtype=torch.long)
    for row, (example_ids, example_labels) in enumerate(examples):
        ids[row, : len(example_ids)] = torch.tensor(example_ids)
        labels[row, : len(example_labels)] = torch.tensor(example_labels)
        mask[row, : len(example_ids)] = 1
    return ids, mask, labels


def _lr_factor(step: int, warmup: int, total: int) -> float:
    """Linear warm-up, then cosine decay to a tenth of the peak."""
    if step < warmup:
        return (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return 0.1 + 0.45 * (1 + math.cos(math.pi * min(progress, 1.0)))


def _answer_count(labels: list[int]) -> int:
    return sum(1 for label in labels if label != IGNORE)
