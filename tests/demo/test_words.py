"""The demo's word lists: enough distinct words that the generated corpora read as varied text."""

from interp.demo import words


def test_word_lists_are_long_distinct_and_clean():
    lists = {name: value for name, value in vars(words).items() if name.isupper() and isinstance(value, tuple)}
    assert len(lists) >= 15
    vocabulary = {word for values in lists.values() for phrase in values for word in phrase.split()}
    assert len(vocabulary) > 500
    for name, values in lists.items():
        assert len(values) == len(set(values)), f"{name} repeats a word"
        assert all(value.strip() == value and value for value in values), name
