"""The generated concept dataset: seven types, spans by construction, valid and reproducible."""

import collections

from interp.demo.dataset import CONCEPT_TYPES, generate_concept_sequences
from interp.registry import parse_concept_bytes, sequence_item, write_concept_lines


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
