"""Preparing the demo's training data: a tokenizer fixed by the seed, response-only IFT loss, held-out sets."""

import pytest

from interp.demo import build as demo_build
from interp.demo import training

MICRO = demo_build.SCALES["micro"]


@pytest.fixture(scope="module")
def micro_data():
    """The micro scale's corpora, tokenizer and tokenized data for seed 0."""
    return training.prepare_data(MICRO, 0, demo_build.CHAT_TEMPLATE)


def test_tokenizer_is_fixed_by_the_seed(micro_data):
    def tokenizer_json(seed):
        return training.prepare_data(MICRO, seed, demo_build.CHAT_TEMPLATE).tokenizer.backend_tokenizer.to_str()

    first = micro_data.tokenizer.backend_tokenizer.to_str()
    assert tokenizer_json(0) == first
    assert tokenizer_json(1) != first


def test_instruction_examples_train_on_the_response_only(micro_data):
    tokenizer = micro_data.tokenizer
    [(ids, labels)] = training.chat_examples(tokenizer, [("Who holds the duty?", "The tenant.")], 256)
    answer = [label for label in labels if label != training.IGNORE]
    assert tokenizer.decode(answer) == "The tenant.</s>"
    assert ids[-len(answer):] == answer
    assert tokenizer.decode(ids).startswith("<s>[INST] Who holds the duty? [/INST]")


def test_held_out_sets_are_not_training_text(micro_data):
    train_rows = {tuple(row) for row in micro_data.legal.tolist()}
    assert not any(tuple(row) in train_rows for row in micro_data.heldout_legal.tolist())
    train_pairs = {tuple(ids) for ids, _ in micro_data.instructions}
    assert not any(tuple(ids) in train_pairs for ids, _ in micro_data.heldout_instructions)
