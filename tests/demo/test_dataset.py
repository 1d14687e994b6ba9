"""The generated concept dataset: seven types, spans by construction, valid and reproducible."""

import collections

from interp.concepts.files import (
    parse_concept_bytes,
    sequence_item,
    write_concept_lines,
)
from interp.demo.dataset import CONCEPT_TYPES, generate_concept_sequences


def test_every_type_with_spans_from_its_own_clause():
    sequences = generate_concept_sequences(25, seed=3)
    assert collections.Counter(s.concept for s in sequences) == {concept: 25 for concept in CONCEPT_TYPES}
    for sequence in sequences:
        for span in sequence.spans:
            assert sequence.text[span.start:span.end] == span.text
    definitions = [s for s in sequences if s.concept == "Definiendum"]
    assert all(s.spans[0].text.startswith("“") and f"{s.spans[0].text} means" in s.text for s in definitions)
    facts = [s for s in sequences if s.concept == "Fact Elements"]
    assert all([span.role for span in s.spans] == ["person", "date", "event"] for s in facts)
    permissions = [s for s in sequences if s.concept == "Permissible Action"]
    assert all(s.text[:s.spans[0].start].rstrip().endswith(("may", "may,")) or " may" in s.text for s in permissions)


def test_the_same_seed_gives_the_same_dataset_and_it_validates(tmp_path):
    first, again = generate_concept_sequences(5, seed=1), generate_concept_sequences(5, seed=1)
    assert [sequence_item(s) for s in first] == [sequence_item(s) for s in again]
    assert [s.text for s in generate_concept_sequences(5, seed=2)] != [s.text for s in first]
    path = write_concept_lines(first, tmp_path / "set.jsonl")
    assert parse_concept_bytes(path.read_bytes(), str(path)).sequences == tuple(first)


def test_the_largest_dataset_generate_makes_fits_what_the_loaders_read(tmp_path):
    """`MAX_PER_TYPE` per type, at the longest line seen over several seeds (with 5% to spare),
    is within `MAX_DATASET_BYTES`; a dataset past it is refused by the writer, not written."""
    import json

    import pytest

    from interp.concepts.files import MAX_DATASET_BYTES, ConceptFileError
    from interp.demo.dataset import MAX_PER_TYPE

    longest = max(len((json.dumps(sequence_item(s), ensure_ascii=False) + "\n").encode())
                  for seed in range(3) for s in generate_concept_sequences(300, seed=seed))
    assert len(CONCEPT_TYPES) * MAX_PER_TYPE * longest * 1.05 <= MAX_DATASET_BYTES
    one = generate_concept_sequences(1, seed=0)[0]
    line = len((json.dumps(sequence_item(one), ensure_ascii=False) + "\n").encode())
    many = [one] * (MAX_DATASET_BYTES // line + 1)
    with pytest.raises(ConceptFileError, match=r"big.jsonl: [\d,]+ bytes of JSON Lines, more than the 64 MB"):
        write_concept_lines(many, tmp_path / "big.jsonl")
    assert not (tmp_path / "big.jsonl").exists()
