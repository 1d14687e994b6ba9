"""A corpus of hostile and careless concept files: each must be refused in one line per problem.

Shared by the registry tests (the library's answer) and the CLI tests (`concepts validate`:
exit code 2, no traceback). Each case is (id, file name, bytes, a fragment of the first problem).
"""

from __future__ import annotations

import json

DEPTH = 10_000
SEQUENCE = {"id": "s-1", "concept": "Role", "text": "The tenant shall pay the rent.", "spans": [{"text": "tenant"}]}


def concept_yaml(**fields) -> bytes:
    """A one-sequence concept file (JSON is YAML) with some fields of its sequence replaced."""
    return json.dumps({"set": "t", "sequences": [{**SEQUENCE, **fields}]}).encode()


def _alias_chain(links: int) -> bytes:
    lines = ["a0: &a0 [x]"] + [f"a{n}: &a{n} [*a{n - 1}]" for n in range(1, links)]
    return ("\n".join(lines) + f"\nset: t\nsequences: *a{links - 1}\n").encode()


_LAUGHS = b"".join(
    f"l{n}: &l{n} [{', '.join([f'*l{n - 1}'] * 9) if n else ', '.join(['lol'] * 9)}]\n".encode() for n in range(9)
) + b"set: t\nsequences: *l8\n"

CASES: list[tuple[str, str, bytes, str]] = [
    ("deep-yaml-flow", "x.yaml", b"[" * DEPTH + b"]" * DEPTH, "line 1: nested more than 32 levels deep"),
    ("deep-yaml-block", "x.yaml", b"- " * DEPTH + b"x\n", "line 1: nested more than 32 levels deep"),
    ("deep-yaml-indented", "x.yaml", "".join(f"{' ' * n}k:\n" for n in range(200)).encode() + b" " * 200 + b"v\n",
     "nested more than 32 levels deep"),
    ("deep-json-lists", "x.json", b"[" * DEPTH + b"]" * DEPTH, "line 1: nested more than 32 levels deep"),
    ("deep-json-objects", "x.json", b'{"a":' * DEPTH + b"1" + b"}" * DEPTH, "nested more than 32 levels deep"),
    ("deep-through-aliases", "x.yaml", _alias_chain(40), "nested more than 32 levels deep"),
    ("billion-laughs", "x.yaml", _LAUGHS, "unknown top-level field"),
    ("duplicate-top-key-yaml", "x.yaml", b"set: a\nsequences: []\nset: b\n",
     "line 3: key 'set' appears twice in one mapping (first on line 1)"),
    ("duplicate-field-yaml", "x.yaml",
     b"set: t\nsequences:\n  - id: a\n    concept: Role\n    text: The tenant.\n    id: b\n    spans: [{text: tenant}]\n",
     "line 6: key 'id' appears twice"),
    ("duplicate-key-flow-yaml", "x.yaml", b"{set: a, set: b}", "key 'set' appears twice"),
    ("duplicate-key-json", "x.json", b'{"set": "a",\n "sequences": [],\n "set": "b"}',
     "line 3: key 'set' appears twice in one object"),
    ("duplicate-escaped-key-json", "x.json", b'{"set": "a", "s\\u0065t": "b", "sequences": []}',
     "key 'set' appears twice"),
    ("python-tag", "x.yaml", b"set: !!python/object/apply:os.system ['echo hi']\nsequences: []\n", "not valid YAML"),
    ("impossible-date", "x.yaml", b"set: 2024-13-45\nsequences: []\n", "not valid YAML (month must be in 1..12)"),
    ("huge-integer-yaml", "x.yaml", b"set: t\nsequences: 1" + b"0" * 5000 + b"\n", "not valid YAML"),
    ("huge-integer-json", "x.json", b"[1" + b"0" * 5000 + b"]", "not valid JSON"),
    ("unhashable-key", "x.yaml", b"? [a]\n: b\n", "not valid YAML (line 1: found unhashable key)"),
    ("two-documents", "x.yaml", b"set: a\n---\nset: b\n", "not valid YAML"),
    ("empty-file", "x.yaml", b"", "expected a mapping with 'set' and 'sequences', found NoneType"),
    ("utf-16", "x.yaml", "set: t\nsequences: []\n".encode("utf-16"), "not UTF-8 text"),
    ("invalid-utf-8", "x.yaml", b"set: caf\xe9\n", "not UTF-8 text (byte 8)"),
    ("id-dash", "x.yaml", concept_yaml(id="-"), "field 'id': '-' must start with a-z or 0-9"),
    ("id-underscore", "x.yaml", concept_yaml(id="_x"), "field 'id': '_x' must start with a-z or 0-9"),
    ("id-too-long", "x.yaml", concept_yaml(id="a" * 230), "field 'id': is 230 characters long; at most 100"),
    ("id-newline", "x.yaml", concept_yaml(id="a\nb"), "sequence 'a\\nb', field 'id'"),
    ("id-path", "x.yaml", concept_yaml(id="../../etc/passwd"), "field 'id'"),
    ("concept-ansi", "x.yaml", concept_yaml(concept="\x1b[2J\x1b[31mRole"), "field 'concept': contains the control character U+001B"),
    ("role-bidi", "x.yaml", concept_yaml(spans=[{"text": "tenant", "role": "exe.\u202efdp"}]),
     "span 1, field 'role': contains the control character U+202E"),
    ("text-nul", "x.yaml", concept_yaml(text="The ten\x00ant shall pay."), "field 'text': contains the control character U+0000"),
    ("set-name-escape", "x.yaml", b'{"set": "t\\u001b]0;pwned\\u0007", "sequences": [{"id": "s", "concept": "C", '
     b'"text": "The tenant.", "spans": [{"text": "tenant"}]}]}', "field 'set': contains the control character U+001B"),
    ("nan-offset", "x.yaml", b"set: t\nsequences:\n  - {id: s, concept: C, text: The tenant., spans: [{start: .nan, end: 3}]}\n",
     "span 1, field 'start': input should be a valid integer"),
    ("huge-offset", "x.yaml", concept_yaml(spans=[{"start": 0, "end": 10**30}]), "field 'end': 1000000000000000000000000000000 is past the end"),
    ("zero-occurrence", "x.yaml", concept_yaml(spans=[{"text": "tenant", "occurrence": 0}]), "field 'occurrence'"),
    ("offsets-split-a-character", "x.yaml",
     concept_yaml(text="The cafe\u0301 pays.", spans=[{"start": 4, "end": 8}]), "split a character that Unicode normalisation (NFC) joins"),
    ("csv-extra-cell", "x.csv", b"id,concept,text,span_text\ns,Role,The tenant.,tenant,surplus\n",
     "row 2: 5 cells, but the header has 4 columns"),
    ("csv-missing-cell", "x.csv", b"id,concept,text,span_text\ns,Role,The tenant.\n", "row 2: 3 cells, but the header has 4 columns"),
    ("csv-repeated-column", "x.csv", b"id,concept,text,span_text,text\ns,Role,The tenant.,tenant,The landlord.\n",
     "header: column(s) text given more than once"),
    ("csv-unterminated-quote", "x.csv", b'id,concept,text,span_text\ns,Role,"The tenant.,tenant\n', "row 2"),
    ("csv-formula-id", "x.csv", b"id,concept,text,span_text\n=cmd|' /C calc'!A0,Role,The tenant.,tenant\n", "field 'id'"),
]
