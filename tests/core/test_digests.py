"""Digests: one format, the same value for the same bytes however they are read."""

import hashlib
import json

from interp.core.digests import (
    CHUNK,
    bytes_digest,
    file_digest,
    files_digest,
    hex_of,
    value_digest,
)


def test_file_and_bytes_digests_agree_across_chunk_boundaries(tmp_path):
    data = bytes(range(256)) * (CHUNK // 256 + 3)  # more than one chunk
    path = tmp_path / "weights.bin"
    path.write_bytes(data)
    expected = "sha256:" + hashlib.sha256(data).hexdigest()
    assert file_digest(path) == bytes_digest(data) == expected
    assert hex_of(expected) == hashlib.sha256(data).hexdigest()


def test_several_files_are_one_digest_in_the_order_given(tmp_path):
    first, second = tmp_path / "a", tmp_path / "b"
    first.write_bytes(b"first")
    second.write_bytes(b"second")
    assert files_digest([first, second]) == bytes_digest(b"firstsecond")
    assert files_digest([second, first]) != files_digest([first, second])


def test_value_digests_ignore_key_order_but_not_values():
    assert value_digest({"a": 1, "b": [1, 2]}) == value_digest({"b": [1, 2], "a": 1})
    assert value_digest({"a": 1}) != value_digest({"a": 2})
    assert value_digest({"é": 1}) == bytes_digest(json.dumps({"é": 1}, ensure_ascii=False).encode("utf-8"))
