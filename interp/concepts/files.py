"""Concept registry: load concept files (YAML, JSON, CSV) into typed, validated records.

Every problem is reported as one line naming the file, the sequence and the field, and all
problems of a file are reported together so a user can fix them in one pass.

Text is normalised to Unicode NFC at load (`TEXT_NORMALISATION`): the same words typed on two
systems (a precomposed "é" or "e" + combining accent) then give one text, one span and one
cache key, and a span written in NFC finds itself in text written in NFD. A sequence whose
input changed under NFC says so (`ConceptSequence.normalised`).
"""

from __future__ import annotations

import bisect
import csv
import difflib
import hashlib
import io
import json
import os
import re
import unicodedata
from array import array
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from interp.core.boundary import (
    describe_problem,
    parse_document,
    quoted_excerpt,
    sequence_id_problem,
)
from interp.core.errors import InputError, InterpError, ParseError, Where
from interp.core.safe_output import CONTROL_CHARACTERS

MAX_FILE_BYTES = 5 * 1024 * 1024
# Datasets (JSON Lines, one sequence per line) may hold tens of thousands of sequences.
MAX_DATASET_BYTES = 64 * 1024 * 1024
CONCEPT_SUFFIXES = (".yaml", ".yml", ".json", ".csv", ".jsonl")
# A dataset with thousands of bad lines reports the first ones and how many more there are.
MAX_REPORTED_PROBLEMS = 50
TEXT_NORMALISATION = "NFC"
# Bounds on one sequence that keep the work of reading, aligning and extracting it proportional
# to a file's size (the environment variables of the same names override them): 500,000
# characters is about 128,000 tokens, the longest context of today's open models.
MAX_SPANS = 10_000
MAX_TEXT_CHARS = 500_000
LIMIT_VARIABLES = {"spans": "INTERP_MAX_SPANS", "text": "INTERP_MAX_TEXT_CHARS"}
# "Did you mean ...?" compares a missing span with every window of words of its text: a few per
# file, for spans of up to this many characters, so that a file of wrong spans costs no more
# to refuse than to read.
MAX_HINTS = 10
HINT_SPAN_CHARS = 200
# In texts, line breaks and tabs are text; other control characters are not.
TEXT_CONTROLS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
CSV_REQUIRED = ("id", "concept", "text", "span_text")
CSV_OPTIONAL = ("occurrence", "role", "source", "answer", "contrast")


@dataclass(frozen=True)
class Span:
    """A concept span: characters `[start, end)` of its sequence's text."""

    start: int
    end: int
    text: str
    role: str | None = None


@dataclass(frozen=True)
class ConceptSequence:
    """A text with the character spans that carry one legal concept."""

    id: str
    concept: str
    text: str
    spans: tuple[Span, ...]
    source: str = ""
    # True when the text as given differed from its NFC form (it is stored normalised).
    normalised: bool = field(default=False, compare=False)
    # What the causal check's `answer` metric reads after the text: the answer's log-probability,
    # less the contrast answer's when there is one (docs/design.md §10.3).
    answer: str = ""
    contrast: str = ""


@dataclass(frozen=True)
class ConceptSet:
    """The sequences of one concept file; `origin` is the file name shown in messages."""

    name: str
    sequences: tuple[ConceptSequence, ...]
    origin: str = ""


class ConceptFileError(InterpError):
    """A concept file with one or more problems: `errors`, each an `InputError` with its place and
    field; `problems`, the same as the lines a user reads (control characters escaped)."""

    def __init__(self, errors: Sequence[InputError]):
        self.errors = tuple(errors)
        self.problems = [str(error) for error in self.errors]
        super().__init__()
        self.args = ("\n".join(self.problems),)


class _SpanEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    text: str | None = None
    start: int | None = Field(default=None, ge=0)
    end: int | None = Field(default=None, ge=0)
    occurrence: int = Field(default=1, ge=1)
    role: str | None = None


class _SequenceEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    id: str
    concept: str = Field(min_length=1)
    text: str
    source: str = ""
    spans: list[_SpanEntry] = Field(min_length=1)
    answer: str = ""
    contrast: str = ""


def builtin_concepts_dir() -> Path:
    """The concept sets shipped with the project: the checkout's `concepts/` folder."""
    return Path(__file__).resolve().parents[2] / "concepts"


def builtin_sequences() -> list[ConceptSequence]:
    """Every sequence of the built-in sets, in the order the app selects them (by file name)."""
    return all_sequences(load_concepts(sorted(builtin_concepts_dir().glob("*.yaml"))))


def load_concept_file(path: str | Path) -> ConceptSet:
    """Read and validate one concept file (`.yaml`, `.yml`, `.json` or `.csv`)."""
    path = Path(path)
    if not path.is_file():
        raise ConceptFileError([Where(str(path)).problem("no such file")])
    limit = _size_limit(path.suffix.lower())
    if path.stat().st_size > limit:
        raise ConceptFileError([Where(str(path)).problem(f"file is larger than {limit // 2**20} MB")])
    return parse_concept_bytes(path.read_bytes(), str(path))


def _size_limit(suffix: str) -> int:
    return MAX_DATASET_BYTES if suffix == ".jsonl" else MAX_FILE_BYTES


def parse_concept_bytes(data: bytes, name: str, suffix: str | None = None) -> ConceptSet:
    """Validate the bytes of a concept file called `name`.

    The format comes from `suffix` (".yaml", ".json", ".csv") or else from the name's suffix;
    `name` is what every message calls the file (e.g. "the authoring form").
    """
    suffix = (suffix or Path(name).suffix).lower()
    if suffix not in CONCEPT_SUFFIXES:
        raise ConceptFileError([Where(name).problem(f"unknown format; use one of {', '.join(CONCEPT_SUFFIXES)}")])
    if len(data) > _size_limit(suffix):
        raise ConceptFileError([Where(name).problem(f"file is larger than {_size_limit(suffix) // 2**20} MB")])
    try:
        content = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ConceptFileError([Where(name).problem(f"not UTF-8 text (byte {error.start})")]) from None
    if suffix == ".jsonl":
        return _concept_set_from_lines(content, name)
    if suffix == ".csv":
        document = _document_from_csv(content, name)
    else:
        document = _parse_document(content, name, suffix)
    return _concept_set_from_document(document, name)


def load_concepts(paths: Iterable[str | Path]) -> list[ConceptSet]:
    """Load files and folders (every concept file inside, sorted); ids must be unique across all."""
    sets: list[ConceptSet] = []
    problems: list[str] = []
    for path in _expand(paths):
        try:
            sets.append(load_concept_file(path))
        except ConceptFileError as error:
            problems.extend(error.errors)
    problems.extend(_duplicate_id_problems(sets))
    if problems:
        raise ConceptFileError(problems)
    return sets


def all_sequences(sets: Iterable[ConceptSet]) -> list[ConceptSequence]:
    """The sequences of several sets, in order."""
    return [sequence for concept_set in sets for sequence in concept_set.sequences]


def concept_set_hash(sequences: Iterable[ConceptSequence]) -> str:
    """SHA-256 of the sequences' ids, texts and spans: what a result depends on."""
    digest = hashlib.sha256()
    for sequence in sequences:
        record = [sequence.id, sequence.concept, sequence.text, [(s.start, s.end, s.role) for s in sequence.spans]]
        if sequence.answer:  # only where given, so sets without answers keep the hashes they had
            record.append([sequence.answer, sequence.contrast])
        digest.update(json.dumps(record, ensure_ascii=False).encode("utf-8"))
    return digest.hexdigest()


def sequence_item(sequence: ConceptSequence) -> dict[str, Any]:
    """The sequence as an item of a concept file, which `sequence_from_item` reads back.

    Spans keep both their text and their offsets, so the item is readable and unambiguous; the
    one form serves the results manifest, the user's saved sets and `dump_concept_set`.
    """
    spans = []
    for span in sequence.spans:
        entry: dict[str, Any] = {"text": span.text, "start": span.start, "end": span.end}
        if span.role:
            entry["role"] = span.role
        spans.append(entry)
    item: dict[str, Any] = {"id": sequence.id, "concept": sequence.concept, "text": sequence.text}
    if sequence.source:
        item["source"] = sequence.source
    for key in ("answer", "contrast"):
        if getattr(sequence, key):
            item[key] = getattr(sequence, key)
    item["spans"] = spans
    return item


def sequence_from_item(item: Any, where: Where = Where("sequence")) -> ConceptSequence:
    """Validate one concept-file item (as `sequence_item` writes it) into a `ConceptSequence`."""
    return _build_sequence(item, where)


def dump_concept_set(concept_set: ConceptSet) -> str:
    """The set as YAML in the concept file format."""
    document = {"set": concept_set.name, "sequences": [sequence_item(s) for s in concept_set.sequences]}
    return yaml.safe_dump(document, allow_unicode=True, sort_keys=False, width=100)


def _expand(paths: Iterable[str | Path]) -> list[Path]:
    files: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.suffix.lower() in CONCEPT_SUFFIXES)
            if not found:
                raise ConceptFileError([Where(str(path)).problem(
                    f"folder holds no concept files ({', '.join(CONCEPT_SUFFIXES)})")])
            files.extend(found)
        else:
            files.append(path)
    return files


def _duplicate_id_problems(sets: list[ConceptSet]) -> list[InputError]:
    first_seen: dict[str, str] = {}
    problems = []
    for concept_set in sets:
        for sequence in concept_set.sequences:
            if sequence.id in first_seen:
                problems.append(
                    Where(concept_set.origin, item=f"sequence '{sequence.id}'").problem(
                        f"duplicate of the id in {first_seen[sequence.id]}", field="id")
                )
            else:
                first_seen[sequence.id] = concept_set.origin
    return problems


def _parse_document(content: str, name: str, suffix: str) -> Any:
    try:
        return parse_document(content, name, "json" if suffix == ".json" else "yaml")
    except InterpError as error:
        raise ConceptFileError([error]) from None


def _document_from_csv(content: str, name: str) -> dict[str, Any]:
    """Group CSV rows (one per span) into the document shape of a YAML concept file.

    The header names each column once, and every row has exactly the header's cells: a cell too
    many or too few shifts values into the wrong field, which is refused rather than guessed.
    """
    # A text may be as long as the file; the csv module's default cap is 128 KiB per field.
    csv.field_size_limit(max(csv.field_size_limit(), MAX_FILE_BYTES))
    reader = csv.reader(io.StringIO(content))
    try:
        header = [column.strip() for column in next(reader, [])]
        rows = list(reader)
    except csv.Error as error:
        raise ConceptFileError([Where(name, row=reader.line_num).problem(f"not valid CSV ({error})")]) from None
    repeated = sorted({column for column in header if header.count(column) > 1})
    missing = [column for column in CSV_REQUIRED if column not in header]
    unknown = [column for column in header if column not in CSV_REQUIRED + CSV_OPTIONAL]
    detail = "; ".join(
        part
        for part in (
            f"column(s) {', '.join(repeated)} given more than once" if repeated else "",
            f"missing column(s) {', '.join(missing)}" if missing else "",
            f"unknown column(s) {', '.join(unknown)}" if unknown else "",
        )
        if part
    )
    if detail:
        expected = f"{','.join(CSV_REQUIRED)}[,{','.join(CSV_OPTIONAL)}]"
        raise ConceptFileError([Where(name, item="header").problem(f"{detail} (expected {expected})")])
    sequences: dict[str, dict[str, Any]] = {}
    problems = []
    for row_number, cells in enumerate(rows, start=2):
        if not cells:
            continue
        if len(cells) != len(header):
            problems.append(Where(name, row=row_number).problem(f"{len(cells)} cells, but the header has {len(header)} columns"))
            continue
        row = dict(zip(header, cells))
        sequence = sequences.setdefault(
            row["id"], {"id": row["id"], "concept": row["concept"], "text": row["text"], "spans": []}
        )
        for key in ("source", "answer", "contrast"):
            if row.get(key):
                sequence[key] = row[key]
        for column in ("concept", "text"):
            if row[column] != sequence[column]:
                problems.append(Where(name, row=row_number, item=f"sequence '{row['id']}'").problem(
                    "differs from the first row of this id", field=column))
        span: dict[str, Any] = {"text": row["span_text"]}
        if row.get("occurrence", "").strip():
            try:
                span["occurrence"] = int(row["occurrence"])
            except ValueError:
                problems.append(Where(name, row=row_number, item=f"sequence '{row['id']}'").problem(
                    f"{row['occurrence']!r} is not a whole number", field="occurrence"))
        if row.get("role", "").strip():
            span["role"] = row["role"].strip()
        sequence["spans"].append(span)
    if problems:
        raise ConceptFileError(problems)
    if not sequences:
        raise ConceptFileError([Where(name).problem("no rows after the header")])
    return {"set": Path(name).stem, "sequences": list(sequences.values())}


def _concept_set_from_document(document: Any, name: str) -> ConceptSet:
    if not isinstance(document, dict):
        found = type(document).__name__
        raise ConceptFileError([Where(name).problem(f"expected a mapping with 'set' and 'sequences', found {found}")])
    unknown = sorted(set(document) - {"set", "sequences"})
    problems = [Where(name).problem("unknown top-level field (expected 'set', 'sequences')", field=key) for key in unknown]
    set_name = document.get("set")
    if not isinstance(set_name, str) or not set_name.strip():
        problems.append(Where(name).problem("missing or not a non-empty string", field="set"))
    else:
        set_name = unicodedata.normalize(TEXT_NORMALISATION, set_name.strip())
        problems.extend(Where(name).problem(problem, field="set") for problem in _label_problems(set_name))
    items = document.get("sequences")
    if not isinstance(items, list) or not items:
        problems.append(Where(name).problem("missing or not a non-empty list", field="sequences"))
        raise ConceptFileError(problems)
    sequences = []
    seen: set[str] = set()
    hints = _Hints()
    for index, item in enumerate(items):
        label = _sequence_label(item, index)
        try:
            sequence = _build_sequence(item, Where(name, item=label), hints)
        except ConceptFileError as error:
            problems.extend(error.errors)
            continue
        if sequence.id in seen:
            problems.append(Where(name, item=label).problem("duplicate id in this file", field="id"))
        seen.add(sequence.id)
        sequences.append(sequence)
    if problems:
        raise ConceptFileError(problems)
    return ConceptSet(name=set_name, sequences=tuple(sequences), origin=name)


def _concept_set_from_lines(content: str, name: str) -> ConceptSet:
    """A JSON Lines dataset, validated line by line: each problem names the file, the line, the
    sequence and the field; the first `MAX_REPORTED_PROBLEMS` are reported with a count of the rest."""
    sequences, problems, seen, hints = [], [], {}, _Hints()
    # Lines end at "\n" alone (and a "\r" before it): str.splitlines() would also split at
    # U+2028, U+0085 and others, which JSON allows raw inside a string.
    for number, line in enumerate(content.split("\n"), start=1):
        line = line.removesuffix("\r")
        if not line.strip():
            continue
        where = Where(name, line=number)
        try:
            item = parse_document(line, str(where), "json")
        except ParseError as error:
            problems.append(error.on_line(where))  # the file's line is named: the record's own is line 1
            continue
        except InputError as error:
            problems.append(error.moved(where))
            continue
        label = _sequence_label(item, number - 1)
        try:
            sequence = _build_sequence(item, where.at(item=label), hints)
        except ConceptFileError as error:
            problems.extend(error.errors)
            continue
        if sequence.id in seen:
            problems.append(where.at(item=label).problem(f"duplicate of the id on line {seen[sequence.id]}", field="id"))
        seen.setdefault(sequence.id, number)
        sequences.append(sequence)
    if not sequences and not problems:
        problems.append(Where(name).problem("no sequences (one JSON object per line)"))
    if problems:
        extra = len(problems) - MAX_REPORTED_PROBLEMS
        more = [Where(name).problem(f"… and {extra} more problem(s)")] if extra > 0 else []
        raise ConceptFileError(problems[:MAX_REPORTED_PROBLEMS] + more)
    return ConceptSet(name=Path(name).stem, sequences=tuple(sequences), origin=name)


def write_concept_lines(sequences: Iterable[ConceptSequence], path: str | Path) -> Path:
    """Write sequences as a JSON Lines dataset (one `sequence_item` per line), atomically; one
    larger than the loaders read (`MAX_DATASET_BYTES`) is refused, not written."""
    from interp.core.atomic import write_text_atomic

    lines = (json.dumps(sequence_item(sequence), ensure_ascii=False) for sequence in sequences)
    text = "".join(line + "\n" for line in lines)
    size = len(text.encode("utf-8"))
    if size > MAX_DATASET_BYTES:
        raise ConceptFileError([Where(str(path)).problem(
            f"{size:,} bytes of JSON Lines, more than the {MAX_DATASET_BYTES // 2**20} MB a dataset may have; "
            "write fewer sequences")])
    return write_text_atomic(path, text)


def _validation_problem(where: Where, error: dict) -> InputError:
    """One pydantic error at its place: a span's field names the span, others the field."""
    location = list(error["loc"])
    if len(location) >= 2 and location[0] == "spans" and isinstance(location[1], int):
        where, location = where.at(span=location[1] + 1), location[2:]
    field = ".".join(str(part) for part in location) or None
    return where.problem(describe_problem(error) + _field_hint(error), field=field)


def _field_hint(error: dict) -> str:
    """For an unknown field, the known field it was probably meant to be: `occurence` → `occurrence`."""
    if error["type"] != "extra_forbidden" or not error["loc"]:
        return ""
    fields = _SpanEntry.model_fields if "spans" in error["loc"] else _SequenceEntry.model_fields
    close = difflib.get_close_matches(str(error["loc"][-1]), list(fields), n=1, cutoff=0.75)
    return f"; did you mean '{close[0]}'?" if close else ""


class _Hints:
    """The "did you mean" hints one file may still compute (`MAX_HINTS`): each compares the missing
    span with every window of words of its text."""

    def __init__(self, remaining: int = MAX_HINTS):
        self.remaining = remaining

    def near_miss(self, text: str, needle: str) -> str:
        if self.remaining <= 0 or len(needle) > HINT_SPAN_CHARS:
            return ""
        self.remaining -= 1
        return _near_miss(text, needle)


def _near_miss(text: str, needle: str) -> str:
    """Where a span that does not occur nearly does: the same words in other letter case or spacing."""
    folded = " ".join(needle.split()).casefold()
    flat = " ".join(text.split())
    at = flat.casefold().find(folded)
    if at >= 0:
        return f"; the text has {flat[at:at + len(folded)]!r} (letter case or spacing differ)"
    words = text.split()
    candidates = [" ".join(words[i:i + len(needle.split())]).strip(".,;:!?") for i in range(len(words))]
    close = difflib.get_close_matches(needle, candidates, n=1, cutoff=0.8)
    return f"; did you mean {close[0]!r}?" if close else ""


def _sequence_label(item: Any, index: int) -> str:
    if isinstance(item, dict) and isinstance(item.get("id"), str) and item["id"]:
        return f"sequence '{item['id']}'"
    return f"sequence #{index + 1}"


def _build_sequence(item: Any, where: Where, hints: _Hints | None = None) -> ConceptSequence:
    if not isinstance(item, dict):
        raise ConceptFileError([where.problem("expected a mapping with id, concept, text, spans")])
    too_large = _size_problems(item, where)
    if too_large:
        raise ConceptFileError(too_large)
    try:
        entry = _SequenceEntry.model_validate(item)
    except ValidationError as error:
        raise ConceptFileError([_validation_problem(where, e) for e in error.errors()]) from None
    problems = []
    id_problem = sequence_id_problem(entry.id)
    if id_problem:
        problems.append(where.problem(f"{id_problem}", field="id"))
    text = _nfc(entry.text)
    concept, source = _nfc(entry.concept.strip()), _nfc(entry.source)
    answer, contrast = _nfc(entry.answer), _nfc(entry.contrast)
    problems.extend(where.problem(f"{problem}", field="concept") for problem in _label_problems(concept))
    problems.extend(where.problem(problem, field=key) for key, value in (
        ("text", text), ("source", source), ("answer", answer), ("contrast", contrast)) for problem in _text_problems(value))
    if contrast and not answer.strip():
        problems.append(where.problem("a contrast answer needs an 'answer' to be compared with", field="contrast"))
    if answer and not answer.strip():
        problems.append(where.problem("is only whitespace", field="answer"))
    if not text.strip():
        problems.append(where.problem("is empty", field="text"))
        raise ConceptFileError(problems)
    resolver = _SpanResolver(entry.text, text, entry.spans, hints or _Hints())
    places = []
    for number, span_entry in enumerate(entry.spans, start=1):
        try:
            place = resolver.resolve(span_entry, number, where.at(span=number))
        except ConceptFileError as error:
            problems.extend(error.errors)
            continue
        if place is not None:
            places.append(place)
    problems.extend(_overlap_problems(places, text, where))
    if problems:
        raise ConceptFileError(problems)
    # Spans are cut from the text only now that they are known not to overlap: at most its length in all.
    spans = tuple(Span(place.start, place.end, text[place.start:place.end], place.role) for place in places)
    return ConceptSequence(id=entry.id, concept=concept, text=text, spans=spans, source=source,
                           normalised=text != entry.text, answer=answer, contrast=contrast)


def max_spans() -> int:
    """Spans one sequence may have: `MAX_SPANS`, or the environment's `INTERP_MAX_SPANS`."""
    return _limit("spans", MAX_SPANS)


def max_text_chars() -> int:
    """Characters one text may have: `MAX_TEXT_CHARS`, or the environment's `INTERP_MAX_TEXT_CHARS`."""
    return _limit("text", MAX_TEXT_CHARS)


def _limit(field: str, default: int) -> int:
    variable = LIMIT_VARIABLES[field]
    value = os.environ.get(variable, "").strip()
    if not value:
        return default
    if not re.fullmatch(r"[0-9]{1,15}", value) or int(value) < 1:
        raise ConceptFileError([Where(f"{variable}={value!r}").problem("give a whole number of at least 1")])
    return int(value)


def _size_problems(item: dict, where: Where) -> list[InputError]:
    """The text's length and the number of spans against their limits, before anything reads them."""
    problems = []
    text, spans = item.get("text"), item.get("spans")
    if isinstance(text, str) and len(text) > (limit := max_text_chars()):
        problems.append(where.problem(
            f"{len(text):,} characters; at most {limit:,} per text ({LIMIT_VARIABLES['text']} sets the limit)",
            field="text"))
    if isinstance(spans, list) and len(spans) > (limit := max_spans()):
        problems.append(where.problem(
            f"{len(spans):,} spans; at most {limit:,} per sequence ({LIMIT_VARIABLES['spans']} sets the limit)",
            field="spans"))
    return problems


def _nfc(text: str) -> str:
    return unicodedata.normalize(TEXT_NORMALISATION, text)


def _label_problems(label: str) -> list[str]:
    """Names (a concept, a role, a set) are one line of text shown in tables, figures and terminals."""
    found = CONTROL_CHARACTERS.search(label)
    if found:
        return [f"contains the control character U+{ord(found.group()):04X}; a name is one line of visible text"]
    return []


def _text_problems(text: str) -> list[str]:
    found = TEXT_CONTROLS.search(text)
    if found:
        return [f"contains the control character U+{ord(found.group()):04X} at character {found.start()}"]
    return []


class _Place(NamedTuple):
    """A resolved span before its text is cut out: characters `[start, end)` of the NFC text."""

    number: int
    start: int
    end: int
    role: str | None


class _SpanResolver:
    """Turns the spans of one sequence into character ranges of its NFC text, each in time
    independent of the text's length: occurrences are searched once per needle
    (`_Occurrences`), offsets into text that NFC changed are moved in one pass
    (`_normalised_offsets`), and no span's text is copied before the spans are known not to
    overlap.

    `given` is the text as written and `text` its NFC form: offsets count characters of the
    text as written, and are moved with it when normalisation changes its length.
    """

    def __init__(self, given: str, text: str, entries: Sequence[_SpanEntry], hints: _Hints):
        self.given, self.text, self.hints = given, text, hints
        self.occurrences = _Occurrences(text, budget=len(text) + len(entries))
        offsets = (value for entry in entries for value in (entry.start, entry.end)
                   if value is not None and value <= len(given))
        self.moved = None if given == text else _normalised_offsets(given, offsets)
        self.blanks: tuple[array, array] | None = None
        self.spent = False

    def resolve(self, entry: _SpanEntry, number: int, where: Where) -> _Place | None:
        """The span's place, a `ConceptFileError`, or None where the search budget was already
        reported spent for this sequence."""
        has_offsets = entry.start is not None or entry.end is not None
        role = None
        if entry.role is not None:
            role = _nfc(entry.role)
            problems = _label_problems(role)
            if problems:
                raise ConceptFileError([where.problem(f"{problem}", field="role") for problem in problems])
        if entry.text is None and not has_offsets:
            raise ConceptFileError([where.problem("give 'text' (an exact substring) or 'start' and 'end'")])
        if has_offsets:
            return self._by_offsets(entry, number, role, where)
        return self._by_occurrence(entry, number, role, where)

    def _by_offsets(self, entry: _SpanEntry, number: int, role: str | None, where: Where) -> _Place:
        start, end, given, text = entry.start, entry.end, self.given, self.text
        if start is None or end is None:
            raise ConceptFileError([where.problem("is required with the other offset", field="end" if end is None else "start")])
        if start >= end:
            raise ConceptFileError([where.problem(f"{end} must be greater than start {start}", field="end")])
        if end > len(given):
            raise ConceptFileError([where.problem(f"{end} is past the end of the text ({len(given)} characters)", field="end")])
        if self.moved is not None:
            start, end = self.moved[entry.start], self.moved[entry.end]
            if start is None or end is None:
                raise ConceptFileError([
                    where.problem(f"characters [{entry.start}, {entry.end}) split a character that Unicode "
                                  f"normalisation ({TEXT_NORMALISATION}) joins; give the span by its text instead")
                ])
        if entry.text is not None:
            needle = _nfc(entry.text)
            if len(needle) != end - start or not text.startswith(needle, start):
                found = quoted_excerpt(given, entry.start, entry.end)
                raise ConceptFileError([where.problem(
                    f"{quoted_excerpt(entry.text)} differs from the text at [{entry.start}, {entry.end}) ({found})",
                    field="text")])
        if self._blank(start, end):
            raise ConceptFileError([where.problem(f"characters [{entry.start}, {entry.end}) are only whitespace")])
        return _Place(number, start, end, role)

    def _by_occurrence(self, entry: _SpanEntry, number: int, role: str | None, where: Where) -> _Place | None:
        needle, text = _nfc(entry.text), self.text
        if not needle.strip():
            raise ConceptFileError([where.problem("is empty", field="text")])
        try:
            start = self.occurrences.start(needle, entry.occurrence)
        except _SearchBudgetSpent:
            if self.spent:
                return None
            self.spent = True
            raise ConceptFileError([
                where.problem(f"the spans of this sequence ask to search through more than "
                              f"{self.occurrences.limit:,} occurrences (the text's characters plus one per span); "
                              "give spans by 'start' and 'end'", field="occurrence")
            ]) from None
        if start is not None:
            return _Place(number, start, start + len(needle), role)
        count = self.occurrences.count(needle)
        if not count:
            note = "" if (needle + text).isascii() else \
                f" (compared after Unicode {TEXT_NORMALISATION} normalisation of both)"
            raise ConceptFileError([where.problem(
                f"{quoted_excerpt(entry.text)} does not occur in the text{note}{self.hints.near_miss(text, needle)}",
                field="text")])
        raise ConceptFileError([
            where.problem(f"{entry.occurrence} asked, but {quoted_excerpt(entry.text)} occurs {count} time(s)",
                          field="occurrence")
        ])

    def _blank(self, start: int, end: int) -> bool:
        """Whether `text[start:end]` is only whitespace: it lies inside one run of whitespace."""
        if self.blanks is None:
            self.blanks = (array("q"), array("q"))
            for match in _WHITESPACE_RUN.finditer(self.text):
                self.blanks[0].append(match.start())
                self.blanks[1].append(match.end())
        starts, ends = self.blanks
        run = bisect.bisect_right(starts, start) - 1
        return run >= 0 and ends[run] >= end


_WHITESPACE_RUN = re.compile(r"\s+")


class _SearchBudgetSpent(Exception):
    """The spans of one sequence asked for more occurrence searches than `_Occurrences.limit`."""


class _Occurrences:
    """Where each needle occurs in one text (overlapping occurrences included), searched once per
    needle and only as far as a span asks: k spans by occurrence of one needle cost one pass over
    the text, not k. All needles together may step through at most `budget` occurrences (the
    text's length plus one per span, more than any one needle has), which bounds a file of many
    different needles, each asked for a late occurrence."""

    def __init__(self, text: str, budget: int):
        self.text, self.limit, self.budget = text, budget, budget
        self.found: dict[str, list[int]] = {}
        self.complete: set[str] = set()

    def start(self, needle: str, occurrence: int) -> int | None:
        """Where the `occurrence`-th (from 1) occurrence starts, or None when there are fewer."""
        found = self.found.setdefault(needle, [])
        while len(found) < occurrence and needle not in self.complete:
            if self.budget <= 0:
                raise _SearchBudgetSpent
            at = self.text.find(needle, found[-1] + 1 if found else 0)
            if at < 0:
                self.complete.add(needle)
            else:
                found.append(at)
                self.budget -= 1
        return found[occurrence - 1] if len(found) >= occurrence else None

    def count(self, needle: str) -> int:
        """How often a needle that `start` searched to the end occurs."""
        return len(self.found.get(needle, ()))


# Characters of combining class 0 that canonical composition may still join to the character
# before them: vowel signs and length marks of Indic, Sinhala, Myanmar, Balinese and other
# scripts, and Hangul medial vowels and final consonants. A test rebuilds the set from
# `unicodedata`.
JOINS_PREVIOUS = frozenset(
    "\u09be\u09d7\u0b3e\u0b56\u0b57\u0bbe\u0bd7\u0cc2\u0cd5\u0cd6\u0d3e\u0d57\u0dcf\u0ddf\u0fb5\u0fb7"
    "\u102e\u1b35\U00011127\U0001133e\U00011357\U000114b0\U000114ba\U000114bd\U000115af\U00011930"
    + "".join(map(chr, range(0x1161, 0x1176))) + "".join(map(chr, range(0x11A8, 0x11C3)))
)


def _normalised_offsets(given: str, offsets: Iterable[int]) -> dict[int, int | None]:
    """Each offset into `given` as an offset into its NFC form, or None where it splits a
    character (a letter from a mark that normalisation may join to it or reorder).

    NFC never reaches across a position whose character decomposes to a starter (combining
    class 0) that nothing before it can join (`JOINS_PREVIOUS`): the text between two such
    positions normalises on its own. So one pass over the sorted offsets moves them all, in
    time linear in the text, however many spans there are.
    """
    moved: dict[int, int | None] = {}
    position = length = 0
    for offset in sorted(set(offsets)):
        if not _is_normalisation_boundary(given, offset):
            moved[offset] = None
            continue
        length += len(_nfc(given[position:offset]))
        position = offset
        moved[offset] = length
    return moved


def _is_normalisation_boundary(text: str, offset: int) -> bool:
    if offset <= 0 or offset >= len(text):
        return True
    first = unicodedata.normalize("NFD", text[offset])[0]
    return unicodedata.combining(first) == 0 and first not in JOINS_PREVIOUS


def _overlap_problems(places: list[_Place], text: str, where: Where) -> list[InputError]:
    """Spans that overlap, each against the one before it in the order of their starts."""
    problems = []
    ordered = sorted(places, key=lambda place: place.start)
    for first, second in zip(ordered, ordered[1:]):
        if second.start < first.end:
            problems.append(
                where.at(span=second.number).problem(
                    f"{quoted_excerpt(text, second.start, second.end)} overlaps span {first.number} "
                    f"({quoted_excerpt(text, first.start, first.end)})")
            )
    return problems

