"""The input boundary: text documents parsed, and validation errors described, in one line each.

Concept files, lineage files and uploads all arrive here, so they are parsed the same way
(YAML through the safe loader only) and their problems read the same way: the file, the item,
the field, and what would be valid.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import yaml

from interp.errors import InterpError

# How a list field's items are named in messages: ("spans", 1, "text") → "span 2, field 'text'".
ITEM_NAMES = {"spans": "span", "stages": "stage", "sequences": "sequence"}


def first_line(error: BaseException) -> str:
    """The first line of an exception's message, or its type's name when it has none."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def parse_document(content: str, origin: str, fmt: str) -> Any:
    """Parse YAML (safe loader) or JSON text; a syntax error is one `InterpError` naming the line."""
    try:
        if fmt == "json":
            return json.loads(content)
        return yaml.safe_load(content)
    except json.JSONDecodeError as error:
        raise InterpError(f"{origin}: not valid JSON (line {error.lineno}: {error.msg})") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark else ""
        problem = getattr(error, "problem", None) or "cannot be parsed"
        raise InterpError(f"{origin}: not valid {fmt.upper()} ({where}{problem})") from None


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
