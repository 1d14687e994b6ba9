"""The demo's seeded corpora: general English, statute-style legal text, instruction pairs."""

import random

import pytest

from interp.demo.corpus import general_texts, instruction_pairs, legal_texts

# ---------------------------------------------------------------- corpora and tokenizer

@pytest.mark.parametrize("generate", [general_texts, legal_texts, instruction_pairs])
def test_corpus_is_fixed_by_its_seed_alone(generate):
    random.seed(1)
    first = generate(40, seed=3)
    random.seed(2)
    assert generate(40, seed=3) == first
    assert generate(40, seed=4) != first
    assert len(first) == 40


def test_corpus_vocabulary_is_broad():
    def vocabulary(texts):
        return {word.strip(".,;:()“”").lower() for text in texts for word in text.split()}

    assert len(vocabulary(general_texts(2000, 0))) > 500
    assert len(vocabulary(legal_texts(2000, 0))) > 500


def test_legal_texts_read_like_statutes():
    joined = " ".join(legal_texts(300, 0))
    for marker in ("means", " may ", "shall not", "§", "(1)", "a certified copy of", "Unless", "Where", " if "):
        assert marker in joined


def test_instruction_responses_are_copied_from_the_text():
    pairs = instruction_pairs(200, 0)
    conditions = [(i, r) for i, r in pairs if i.startswith("Identify the condition in: ")]
    assert conditions
    for instruction, response in conditions:
        assert response[:-1].lower() in instruction.lower()
