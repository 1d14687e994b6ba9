"""Shard specs and the round-robin deal of sequences, and its exact inverse."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from interp.core.errors import InterpError
from interp.store.shards import Shard, interleave, parse_shard


def test_a_spec_is_i_of_n():
    assert parse_shard("3/8") == Shard(3, 8) and str(parse_shard(" 1 / 2 ")) == "1/2"
    assert parse_shard("1/1") == Shard(1, 1)


@pytest.mark.parametrize(("spec", "message"), [
    ("0/4", "--shard 0/4: I must lie between 1 and N (1/4 … 4/4)"),
    ("5/4", "--shard 5/4: I must lie between 1 and N (1/4 … 4/4)"),
    ("1/0", "--shard 1/0: I must lie between 1 and N"),
    ("3", "--shard '3': expected I/N, two whole numbers with 1 ≤ I ≤ N (e.g. 3/8)"),
    ("a/b", "--shard 'a/b': expected I/N"),
    ("-1/2", "--shard '-1/2': expected I/N"),
    ("1/2/3", "--shard '1/2/3': expected I/N"),
    ("1/10001", "--shard 1/10001: N is at most 10,000 shards"),
    ("1/1000000000000000000000000000000", "--shard '1/1000000000000000000000000000000': N is at most 10,000"),
    ("1/" + "9" * 5000, "--shard '1/999999999999999999'… (5,002 characters): N is at most 10,000 shards"),
    ("9" * 5000 + "/8", "--shard '99999999999999999999'… (5,002 characters): I must lie between 1 and N"),
    ("x" * 10**6, "--shard 'xxxxxxxxxxxxxxxxxxxx'… (1,000,000 characters): expected I/N"),
])
def test_bad_specs_are_one_line(spec, message):
    with pytest.raises(InterpError) as raised:
        parse_shard(spec)
    assert str(raised.value).startswith(message) and "\n" not in str(raised.value) and len(str(raised.value)) < 200


def test_the_bound_holds_for_records_too():
    assert Shard(10_000, 10_000).count == 10_000 and parse_shard("0003/00010000") == Shard(3, 10_000)
    with pytest.raises(InterpError, match="N is at most 10,000 shards"):
        Shard(1, 10**30)


def test_sequences_are_dealt_round_robin():
    items = list("abcdefg")
    assert [Shard(i, 3).select(items) for i in (1, 2, 3)] == [list("adg"), list("be"), list("cf")]
    assert Shard(5, 8).select(items) == ["e"] and Shard(8, 8).select(items) == []


@given(total=st.integers(0, 40), count=st.integers(1, 9))
def test_interleave_undoes_the_deal(total, count):
    items = list(range(total))
    assert interleave([Shard(i, count).select(items) for i in range(1, count + 1)]) == items


def test_parts_that_a_deal_cannot_give_are_refused():
    with pytest.raises(InterpError, match=r"^shard 1/2 holds 1 sequence\(s\); dealing 3 sequences into 2 shards gives it 2"):
        interleave([[1], [2, 3]])
