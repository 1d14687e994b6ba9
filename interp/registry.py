"""Concept registry: load concept files (YAML, JSON, CSV) into typed, validated records.

Every problem is reported as one line naming the file, the sequence and the field, and all
problems of a file are reported together so a user can fix them in one pass.

Text is normalised to Unicode NFC at load (`TEXT_NORMALISATION`): the same words typed on two
systems (a precomposed "é" or "e" + combining accent) then give one text, one span and one
cache key, and a span written in NFC finds itself in text written in NFD. A sequence whose
input changed under NFC says so (`ConceptSequence.normalised`).
"""

from __future__ import annotations

import csv
import difflib
import hashlib
import io
import json
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from interp.boundary import describe_validation_error, parse_document, sequence_id_problem
from interp.errors import InterpError
from interp.output import CONTROL_CHARACTERS, escape_controls

MAX_FILE_BYTES = 5 * 1024 * 1024
# Datasets (JSON Lines, one sequence per line) may hold tens of thousands of sequences.
MAX_DATASET_BYTES = 64 * 1024 * 1024
CONCEPT_SUFFIXES = (".yaml", ".yml", ".json", ".csv", ".jsonl")
# A dataset with thousands of bad lines reports the first ones and how many more there are.
MAX_REPORTED_PROBLEMS = 50
TEXT_NORMALISATION = "NFC"
# In texts, line breaks and tabs are text; other control characters are not.
TEXT_CONTROLS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
CSV_REQUIRED = ("id", "concept", "text", "span_text")
CSV_OPTIONAL = ("occurrence", "role", "source")


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


@dataclass(frozen=True)
class ConceptSet:
    """The sequences of one concept file; `origin` is the file name shown in messages."""

    name: str
    sequences: tuple[ConceptSequence, ...]
    origin: str = ""


class ConceptFileError(InterpError):
    """A concept file with one or more problems, one line each (control characters escaped)."""

    def __init__(self, problems: Sequence[str]):
        self.problems = [escape_controls(problem) for problem in problems]
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


def load_concept_file(path: str | Path) -> ConceptSet:
    """Read and validate one concept file (`.yaml`, `.yml`, `.json` or `.csv`)."""
    path = Path(path)
    if not path.is_file():
        raise ConceptFileError([f"{path}: no such file"])
    limit = _size_limit(path.suffix.lower())
    if path.stat().st_size > limit:
        raise ConceptFileError([f"{path}: file is larger than {limit // 2**20} MB"])
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
        raise ConceptFileError([f"{name}: unknown format; use one of {', '.join(CONCEPT_SUFFIXES)}"])
    if len(data) > _size_limit(suffix):
        raise ConceptFileError([f"{name}: file is larger than {_size_limit(suffix) // 2**20} MB"])
    try:
        content = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ConceptFileError([f"{name}: not UTF-8 text (byte {error.start})"]) from None
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
            problems.extend(error.problems)
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
    item["spans"] = spans
    return item


def sequence_from_item(item: Any, where: str = "sequence") -> ConceptSequence:
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
                raise ConceptFileError([f"{path}: folder holds no concept files ({', '.join(CONCEPT_SUFFIXES)})"])
            files.extend(found)
        else:
            files.append(path)
    return files


def _duplicate_id_problems(sets: list[ConceptSet]) -> list[str]:
    first_seen: dict[str, str] = {}
    problems = []
    for concept_set in sets:
        for sequence in concept_set.sequences:
            if sequence.id in first_seen:
                problems.append(
                    f"{concept_set.origin}: sequence '{sequence.id}', field 'id': "
                    f"duplicate of the id in {first_seen[sequence.id]}"
                )
            else:
                first_seen[sequence.id] = concept_set.origin
    return problems


def _parse_document(content: str, name: str, suffix: str) -> Any:
    try:
        return parse_document(content, name, "json" if suffix == ".json" else "yaml")
    except InterpError as error:
        raise ConceptFileError([str(error)]) from None


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
        raise ConceptFileError([f"{name}: row {reader.line_num}: not valid CSV ({error})"]) from None
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
        raise ConceptFileError([f"{name}: header: {detail} (expected {','.join(CSV_REQUIRED)}[,occurrence,role,source])"])
    sequences: dict[str, dict[str, Any]] = {}
    problems = []
    for row_number, cells in enumerate(rows, start=2):
        if not cells:
            continue
        if len(cells) != len(header):
            problems.append(f"{name}: row {row_number}: {len(cells)} cells, but the header has {len(header)} columns")
            continue
        row = dict(zip(header, cells))
        sequence = sequences.setdefault(
            row["id"], {"id": row["id"], "concept": row["concept"], "text": row["text"], "spans": []}
        )
        if row.get("source"):
            sequence["source"] = row["source"]
        for column in ("concept", "text"):
            if row[column] != sequence[column]:
                problems.append(f"{name}: row {row_number}, sequence '{row['id']}', field '{column}': differs from the first row of this id")
        span: dict[str, Any] = {"text": row["span_text"]}
        if row.get("occurrence", "").strip():
            try:
                span["occurrence"] = int(row["occurrence"])
            except ValueError:
                problems.append(f"{name}: row {row_number}, sequence '{row['id']}', field 'occurrence': {row['occurrence']!r} is not a whole number")
        if row.get("role", "").strip():
            span["role"] = row["role"].strip()
        sequence["spans"].append(span)
    if problems:
        raise ConceptFileError(problems)
    if not sequences:
        raise ConceptFileError([f"{name}: no rows after the header"])
    return {"set": Path(name).stem, "sequences": list(sequences.values())}


def _concept_set_from_document(document: Any, name: str) -> ConceptSet:
    if not isinstance(document, dict):
        raise ConceptFileError([f"{name}: expected a mapping with 'set' and 'sequences', found {type(document).__name__}"])
    unknown = sorted(set(document) - {"set", "sequences"})
    problems = [f"{name}: field '{key}': unknown top-level field (expected 'set', 'sequences')" for key in unknown]
    set_name = document.get("set")
    if not isinstance(set_name, str) or not set_name.strip():
        problems.append(f"{name}: field 'set': missing or not a non-empty string")
    else:
        set_name = unicodedata.normalize(TEXT_NORMALISATION, set_name.strip())
        problems.extend(f"{name}: field 'set': {problem}" for problem in _label_problems(set_name))
    items = document.get("sequences")
    if not isinstance(items, list) or not items:
        problems.append(f"{name}: field 'sequences': missing or not a non-empty list")
        raise ConceptFileError(problems)
    sequences = []
    seen: set[str] = set()
    for index, item in enumerate(items):
        label = _sequence_label(item, index)
        try:
            sequence = _build_sequence(item, f"{name}: {label}")
        except ConceptFileError as error:
            problems.extend(error.problems)
            continue
        if sequence.id in seen:
            problems.append(f"{name}: {label}, field 'id': duplicate id in this file")
        seen.add(sequence.id)
        sequences.append(sequence)
    if problems:
        raise ConceptFileError(problems)
    return ConceptSet(name=set_name, sequences=tuple(sequences), origin=name)


def _concept_set_from_lines(content: str, name: str) -> ConceptSet:
    """A JSON Lines dataset, validated line by line: each problem names the file, the line, the
    sequence and the field; the first `MAX_REPORTED_PROBLEMS` are reported with a count of the rest."""
    sequences, problems, seen = [], [], {}
    for number, line in enumerate(content.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{name}: line {number}"
        try:
            item = parse_document(line, where, "json")
        except InterpError as error:
            problems.append(str(error).replace(" (line 1: ", " ("))  # the file's line is named already
            continue
        label = _sequence_label(item, number - 1)
        try:
            sequence = _build_sequence(item, f"{where}, {label}")
        except ConceptFileError as error:
            problems.extend(error.problems)
            continue
        if sequence.id in seen:
            problems.append(f"{where}, {label}, field 'id': duplicate of the id on line {seen[sequence.id]}")
        seen.setdefault(sequence.id, number)
        sequences.append(sequence)
    if not sequences and not problems:
        problems.append(f"{name}: no sequences (one JSON object per line)")
    if problems:
        extra = len(problems) - MAX_REPORTED_PROBLEMS
        raise ConceptFileError(problems[:MAX_REPORTED_PROBLEMS] + ([f"{name}: … and {extra} more problem(s)"] if extra > 0 else []))
    return ConceptSet(name=Path(name).stem, sequences=tuple(sequences), origin=name)


def write_concept_lines(sequences: Iterable[ConceptSequence], path: str | Path) -> Path:
    """Write sequences as a JSON Lines dataset (one `sequence_item` per line), atomically."""
    from interp.atomic import write_text_atomic

    lines = (json.dumps(sequence_item(sequence), ensure_ascii=False) for sequence in sequences)
    return write_text_atomic(path, "".join(line + "\n" for line in lines))


def _field_hint(error: dict) -> str:
    """For an unknown field, the known field it was probably meant to be: `occurence` → `occurrence`."""
    if error["type"] != "extra_forbidden" or not error["loc"]:
        return ""
    fields = _SpanEntry.model_fields if "spans" in error["loc"] else _SequenceEntry.model_fields
    close = difflib.get_close_matches(str(error["loc"][-1]), list(fields), n=1, cutoff=0.75)
    return f"; did you mean '{close[0]}'?" if close else ""


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


def _build_sequence(item: Any, where: str) -> ConceptSequence:
    if not isinstance(item, dict):
        raise ConceptFileError([f"{where}: expected a mapping with id, concept, text, spans"])
    try:
        entry = _SequenceEntry.model_validate(item)
    except ValidationError as error:
        raise ConceptFileError([f"{where}, {describe_validation_error(e)}{_field_hint(e)}" for e in error.errors()]) from None
    problems = []
    id_problem = sequence_id_problem(entry.id)
    if id_problem:
        problems.append(f"{where}, field 'id': {id_problem}")
    text = _nfc(entry.text)
    concept, source = _nfc(entry.concept.strip()), _nfc(entry.source)
    problems.extend(f"{where}, field 'concept': {problem}" for problem in _label_problems(concept))
    problems.extend(f"{where}, field '{key}': {problem}" for key, value in (("text", text), ("source", source))
                    for problem in _text_problems(value))
    if not text.strip():
        problems.append(f"{where}, field 'text': is empty")
        raise ConceptFileError(problems)
    spans = []
    for number, span_entry in enumerate(entry.spans, start=1):
        try:
            spans.append(_resolve_span(span_entry, entry.text, text, f"{where}, span {number}"))
        except ConceptFileError as error:
            problems.extend(error.problems)
    problems.extend(_overlap_problems(spans, where))
    if problems:
        raise ConceptFileError(problems)
    return ConceptSequence(id=entry.id, concept=concept, text=text, spans=tuple(spans), source=source,
                           normalised=text != entry.text)


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


def _resolve_span(entry: _SpanEntry, given: str, text: str, where: str) -> Span:
    """Turn a span given by substring (+ occurrence) or by offsets into offsets in `text`.

    `given` is the text as written and `text` its NFC form: offsets count characters of the
    text as written, and are moved with it when normalisation changes its length.
    """
    has_offsets = entry.start is not None or entry.end is not None
    role = None
    if entry.role is not None:
        role = _nfc(entry.role)
        problems = _label_problems(role)
        if problems:
            raise ConceptFileError([f"{where}, field 'role': {problem}" for problem in problems])
    if entry.text is None and not has_offsets:
        raise ConceptFileError([f"{where}: give 'text' (an exact substring) or 'start' and 'end'"])
    if has_offsets:
        start, end = entry.start, entry.end
        if start is None or end is None:
            raise ConceptFileError([f"{where}, field '{'end' if end is None else 'start'}': is required with the other offset"])
        if start >= end:
            raise ConceptFileError([f"{where}, field 'end': {end} must be greater than start {start}"])
        if end > len(given):
            raise ConceptFileError([f"{where}, field 'end': {end} is past the end of the text ({len(given)} characters)"])
        if given != text:
            start, end = len(_nfc(given[:start])), len(_nfc(given[:end]))
            if text[start:end] != _nfc(given[entry.start:entry.end]):
                raise ConceptFileError([
                    f"{where}: characters [{entry.start}, {entry.end}) split a character that Unicode normalisation "
                    f"({TEXT_NORMALISATION}) joins; give the span by its text instead"
                ])
        if entry.text is not None and text[start:end] != _nfc(entry.text):
            raise ConceptFileError([f"{where}, field 'text': {entry.text!r} differs from the text at [{entry.start}, {entry.end}) ({given[entry.start:entry.end]!r})"])
        if not text[start:end].strip():
            raise ConceptFileError([f"{where}: characters [{entry.start}, {entry.end}) are only whitespace"])
        return Span(start=start, end=end, text=text[start:end], role=role)
    needle = _nfc(entry.text)
    if not needle.strip():
        raise ConceptFileError([f"{where}, field 'text': is empty"])
    starts = _occurrences(text, needle)
    if not starts:
        note = "" if (needle + text).isascii() else f" (compared after Unicode {TEXT_NORMALISATION} normalisation of both)"
        raise ConceptFileError([f"{where}, field 'text': {entry.text!r} does not occur in the text{note}{_near_miss(text, needle)}"])
    if entry.occurrence > len(starts):
        raise ConceptFileError([
            f"{where}, field 'occurrence': {entry.occurrence} asked, but {entry.text!r} occurs {len(starts)} time(s)"
        ])
    start = starts[entry.occurrence - 1]
    return Span(start=start, end=start + len(needle), text=needle, role=role)


def _occurrences(text: str, needle: str) -> list[int]:
    """Start offsets of `needle` in `text`, overlapping occurrences included."""
    found, at = [], text.find(needle)
    while at != -1:
        found.append(at)
        at = text.find(needle, at + 1)
    return found


def _overlap_problems(spans: list[Span], where: str) -> list[str]:
    problems = []
    ordered = sorted(enumerate(spans, start=1), key=lambda pair: pair[1].start)
    for (first_number, first), (second_number, second) in zip(ordered, ordered[1:]):
        if second.start < first.end:
            problems.append(
                f"{where}, span {second_number}: {second.text!r} overlaps span {first_number} ({first.text!r})"
            )
    return problems
