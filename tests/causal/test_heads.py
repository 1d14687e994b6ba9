"""Query heads from the command line, the top heads of a score, random sets matched by layer."""

import numpy as np
import pytest

from interp.causal.heads import Head, HeadSet, parse_heads, random_sets_matched_by_layer, top_heads
from interp.core.errors import InterpError


def test_heads_are_parsed_checked_and_kept_once():
    assert parse_heads("1.2, 0.3,1.2", (2, 4)) == (Head(1, 2), Head(0, 3))
    with pytest.raises(InterpError, match=r"head 2\.0 is out of range; this lineage has layers 0–1 and heads 0–3"):
        parse_heads("2.0", (2, 4))
    with pytest.raises(InterpError, match="'one' is not LAYER.HEAD"):
        parse_heads("one", (2, 4))
    with pytest.raises(InterpError, match=r"'\(empty\)' is not LAYER.HEAD"):
        parse_heads("1.2,,", (2, 4))


def test_a_set_of_no_heads_is_refused():
    with pytest.raises(InterpError, match="a set needs at least one head"):
        HeadSet("empty", ())


def test_top_heads_rank_by_magnitude_with_nan_last():
    scores = np.array([[0.1, -0.9, np.nan], [0.5, 0.0, -0.2]])
    assert top_heads(scores, 3) == (Head(0, 1), Head(1, 0), Head(1, 2))
    assert top_heads(scores, 6)[-1] == Head(0, 2)


def test_random_sets_match_the_layers_and_avoid_the_reference():
    reference = (Head(0, 1), Head(0, 2), Head(3, 5))
    sets = random_sets_matched_by_layer(reference, (4, 8), 40, seed=7)
    assert len(sets) == 40 and len({s.heads for s in sets}) > 30
    for chosen in sets:
        layers = sorted(head.layer for head in chosen.heads)
        assert layers == [0, 0, 3] and not set(chosen.heads) & set(reference) and chosen.kind == "random"
    assert random_sets_matched_by_layer(reference, (4, 8), 40, seed=7) == sets


def test_a_layer_without_enough_other_heads_draws_among_all_of_its_heads():
    reference = tuple(Head(1, h) for h in range(3))  # three of a layer's four heads
    sets = random_sets_matched_by_layer(reference, (2, 4), 20, seed=0)
    assert all(sorted(h.layer for h in s.heads) == [1, 1, 1] and len(set(s.heads)) == 3 for s in sets)
