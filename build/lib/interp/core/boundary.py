"""The input boundary: documents parsed, names checked and validation errors worded in one place.

Concept files, lineage files and uploads all arrive here, so they obey one contract: YAML
through the safe loader only, nesting at most `MAX_DEPTH` deep (a 10,000-level document is one
line, not a `RecursionError`), no key given twice in one mapping (YAML and JSON would otherwise
keep one value silently), and one rule for the names that become file names in a results folder.
Problems read the same way: the file, the item, the field, and what would be valid.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

import yaml

from interp.core.errors import ParseError, Where

# How a list field's items are named in messages: ("spans", 1, "text") → "span 2, field 'text'".
ITEM_NAMES = {"spans": "span", "stages": "stage", "sequences": "sequence"}
# Concept and lineage files nest four levels; 32 leaves room and keeps every reader iterative-safe.
MAX_DEPTH = 32
# Stage labels and sequence ids name folders and files of a results folder
# (`entries/{stage}/{sequence}.patterns.npy`, written through `.{name}.XXXXXXXX.tmp`): 100
# characters leave over 100 bytes of the file system's 255 for every suffix the store derives.
MAX_NAME_LENGTH = 100
# The store's rule for a stage label or sequence id: starts with a letter or digit (never `.`,
# `-` or `_`, so never a hidden file or an option), then letters, digits, '_', '-', '.'.
STORE_NAME = re.compile(rf"[A-Za-z0-9][A-Za-z0-9_.-]{{0,{MAX_NAME_LENGTH - 1}}}")
# Sequence ids, a subset of store names: lower case (so no two ids differ only in case, which a
# case-insensitive file system would merge) and no '.'.
SEQUENCE_ID = re.compile(rf"[a-z0-9][a-z0-9_-]{{0,{MAX_NAME_LENGTH - 1}}}")
# One JSON token: a string (escapes included) or a structural character; all else lies between.
# The string is matched as runs of plain characters between escapes, possessively: no state is
# kept per character or per escape, so a 10 MB string costs its own size, not 100 times that
# (an alternation repeated per character keeps a backtracking point for each).
_JSON_TOKEN = re.compile(r'"[^"\\]*+(?:\\.[^"\\]*+)*+"|[{}\[\]:,]', re.DOTALL)


def first_line(error: BaseException) -> str:
    """The first line of an exception's message, or its type's name when it has none."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def is_store_name(name: object) -> bool:
    """Whether `name` may name a stage or sequence in a results folder (see `STORE_NAME`)."""
    return isinstance(name, str) and STORE_NAME.fullmatch(name) is not None


def sequence_id_problem(value: str) -> str | None:
    """Why `value` is not a valid sequence id, or None when it is."""
    if SEQUENCE_ID.fullmatch(value):
        return None
    if len(value) > MAX_NAME_LENGTH:
        return f"is {len(value)} characters long; at most {MAX_NAME_LENGTH}"
    return f"{value!r} must start with a-z or 0-9 and use only a-z, 0-9, '-' and '_'"


def label_problem(value: str) -> str | None:
    """Why `value` is not a valid stage label, or None when it is."""
    if STORE_NAME.fullmatch(value):
        return None
    if len(value) > MAX_NAME_LENGTH:
        return f"is {len(value)} characters long; at most {MAX_NAME_LENGTH}"
    return f"{value!r} must start with a letter or digit and use only letters, digits, '_', '-' and '.'"


def parse_document(content: str, origin: str, fmt: str) -> Any:
    """Parse YAML (safe loader) or JSON text into plain values, under the contract above.

    Every refusal is one `InterpError` naming the file and the line: a syntax error, nesting
    deeper than `MAX_DEPTH`, or a key given twice in one mapping.
    """
    if fmt == "json":
        return _parse_json(content, origin)
    loader = None
    try:
        loader = _ContractLoader(content, origin)
        return loader.get_single_data()
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        problem = error.problem or error.context or "cannot be parsed"
        if error.context and "quoted scalar" in error.context and error.context_mark:
            # The end of the file is where the scanner gave up, not where the mistake is.
            problem += f"; a quote opened on line {error.context_mark.line + 1} is not closed"
        raise ParseError("YAML", problem, where=Where(origin), detail_line=mark.line + 1 if mark else None) from None
    except (yaml.YAMLError, ValueError, TypeError, OverflowError) as error:
        # A timestamp like 2024-13-45 matches YAML's implicit pattern, then fails as a date.
        raise ParseError("YAML", first_line(error), where=Where(origin)) from None
    finally:
        if loader is not None:
            loader.dispose()


class _ContractLoader(yaml.SafeLoader):
    """The safe loader with a depth bound (aliases included) and no duplicate keys."""

    def __init__(self, content: str, origin: str):
        super().__init__(content)
        self.origin = origin
        self.depth = 0
        self.heights: dict[int, int] = {}  # id(collection node) → levels of collections it holds

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            target = self.anchors.get(event.anchor)
            if target is not None and self.depth + self.heights.get(id(target), 0) > MAX_DEPTH:
                raise Where(self.origin, line=event.start_mark.line + 1).problem(_too_deep())
            return super().compose_node(parent, index)
        if not self.check_event(yaml.SequenceStartEvent, yaml.MappingStartEvent):
            return super().compose_node(parent, index)
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise Where(self.origin, line=self.peek_event().start_mark.line + 1).problem(_too_deep())
        try:
            node = super().compose_node(parent, index)
        finally:
            self.depth -= 1
        children = node.value if isinstance(node, yaml.SequenceNode) else [n for pair in node.value for n in pair]
        self.heights[id(node)] = 1 + max((self.heights.get(id(child), 0) for child in children), default=0)
        return node

    def construct_mapping(self, node, deep=False):
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == "tag:yaml.org,2002:merge":
                continue  # a collection as a key is refused by the constructor itself
            key, line = self.construct_object(key_node), key_node.start_mark.line + 1
            if key in seen:
                raise Where(self.origin, line=line).problem(
                    f"key {_key_text(key)} appears twice in one mapping (first on line {seen[key]}); give each key once")
            seen[key] = line
        return super().construct_mapping(node, deep)


def _parse_json(content: str, origin: str) -> Any:
    _check_json_structure(content, origin)
    try:
        return json.loads(content)
    except json.JSONDecodeError as error:
        raise ParseError("JSON", error.msg, where=Where(origin), detail_line=error.lineno) from None
    except (RecursionError, ValueError) as error:  # numbers too long to convert, and the like
        raise ParseError("JSON", first_line(error), where=Where(origin)) from None


def _check_json_structure(content: str, origin: str) -> None:
    """Depth and duplicate keys, in one pass over the tokens, before the document is built.

    The standard parser recurses once per level and keeps the last of two equal keys; this pass
    does neither. Malformed text is left for `json.loads` to describe.
    """
    stack: list[tuple[str, set[str]]] = []
    expect_key = False
    for token in _JSON_TOKEN.finditer(content):
        text = token.group()
        if text in "{[":
            if len(stack) >= MAX_DEPTH:
                raise Where(origin, line=_line(content, token.start())).problem(_too_deep())
            stack.append((text, set()))
            expect_key = text == "{"
        elif text in "}]":
            if stack:
                stack.pop()
            expect_key = False
        elif text == ",":
            expect_key = bool(stack) and stack[-1][0] == "{"
        elif text == ":":
            expect_key = False
        elif expect_key:
            try:
                key = json.loads(text)
            except ValueError:
                return
            keys = stack[-1][1]
            if key in keys:
                raise Where(origin, line=_line(content, token.start())).problem(
                    f"key {_key_text(key)} appears twice in one object; give each key once")
            keys.add(key)
            expect_key = False


def _line(content: str, offset: int) -> int:
    return content.count("\n", 0, offset) + 1


def _too_deep() -> str:
    return f"nested more than {MAX_DEPTH} levels deep; concept and lineage files need four"


def _key_text(key: Any) -> str:
    text = repr(key)
    return text if len(text) <= 60 else text[:57] + "…"


def quoted_excerpt(text: str, start: int = 0, end: int | None = None, limit: int = 60) -> str:
    """`repr(text[start:end])` for a message, cut to `limit` characters without copying more: a
    span can be as long as its text, and a problem stays one short line."""
    end = len(text) if end is None else end
    return repr(text[start:end]) if end - start <= limit else repr(text[start:start + limit] + "…")


def field_path(loc: tuple | list) -> str:
    """A pydantic error location in words: `("stages", 0, "model")` → "stage 1, field 'model'"."""
    parts = list(loc)
    if len(parts) >= 2 and parts[0] in ITEM_NAMES and isinstance(parts[1], int):
        rest = field_path(parts[2:]) if parts[2:] else ""
        return f"{ITEM_NAMES[parts[0]]} {parts[1] + 1}" + (f", {rest}" if rest else "")
    return "field '" + ".".join(str(part) for part in parts) + "'"


def describe_problem(error: Mapping[str, Any]) -> str:
    """What is wrong with a value, from one pydantic error: "is required", "unknown field", ..."""
    kind = error["type"]
    if kind == "missing":
        return "is required"
    if kind == "extra_forbidden":
        return "unknown field"
    if kind == "string_too_short":
        return "is empty"
    message = error["msg"].lower()
    if "type" in kind:
        return f"{message} (got {type(error.get('input')).__name__})"
    return message


def describe_validation_error(error: Mapping[str, Any]) -> str:
    """"<where>: <problem>" for one pydantic error."""
    return f"{field_path(error['loc'])}: {describe_problem(error)}"
