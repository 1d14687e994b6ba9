"""Settings and provenance beside every table the project writes (docs/design.md §5.13).

A table saved from the command line, the app or the export bundle says how it was made: the
analysis settings (reference, exclusions as resolved, first-position rule, measure, control spans,
seed, bootstrap resamples and confidence) and the run it came from (lineage, stages with their
weight and tokenizer fingerprints, concept set, package versions). JSON carries them as
`{"settings": {...}, "provenance": {...}, "rows": [...]}`; CSV as a block of `# key: value` lines
above the header, which `pandas.read_csv(..., comment="#")` skips. `read_table_json` and
`read_table_csv` read both back, and JSON that older versions wrote (a bare list of rows, or the
bare statistics of `stats`) too.
"""

from __future__ import annotations

import functools
import io
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from interp.analysis.across_sequences import FDR_LEVEL, HEAD_DRAWS
from interp.analysis.bootstrap import CONFIDENCE, RESAMPLES
from interp.analysis.exclusions import resolve_exclusions
from interp.analysis.results import Results
from interp.core.boundary import parse_document
from interp.core.digests import value_digest
from interp.core.errors import InterpError
from interp.core.provenance import package_versions
from interp.core.safe_output import CONTROL_CHARACTERS, csv_text

ANALYSIS_PACKAGES = ("interp", "numpy", "scipy", "pandas", "python")
# Columns renamed since a table was first written: (a column that marks the table, old name, new name).
RENAMED_COLUMNS = (
    ("contrast_low", "contrast", "contrast_mean"),
    ("fraction_up", "p", "sign_test_p"),
    ("fraction_up", "q", "sign_test_q"),
)
SECTIONS = ("settings", "provenance")


@dataclass(frozen=True)
class TableHeader:
    """What a table file says about itself: analysis `settings` and the run's `provenance`."""

    settings: Mapping[str, Any]
    provenance: Mapping[str, Any]

    def with_settings(self, **settings: Any) -> TableHeader:
        """The same header with more settings first (which table, which choices of a view)."""
        return TableHeader({**settings, **self.settings}, self.provenance)


@dataclass(frozen=True)
class TableFile:
    """A table read back: its header (empty for a file written before headers existed) and rows."""

    header: TableHeader
    rows: list[dict[str, Any]] = field(default_factory=list)
    legacy: bool = False


def analysis_settings(results: Results) -> dict[str, Any]:
    """Every setting a `Results` computes its numbers under, exclusions resolved to what they exclude."""
    selection = results.selection
    exclusions = resolve_exclusions(selection.exclusions)
    return {
        "reference": results.reference,
        "exclusions": exclusions.name,
        "excluded_tokens": list(exclusions.tokens),
        "exclusion_rule": exclusions.description,
        "first_position": selection.first_position,
        "measure": selection.measure,
        "controls": selection.n_controls,
        "seed": selection.seed,
        "bootstrap_resamples": RESAMPLES,
        "confidence": CONFIDENCE,
        "hierarchical_head_draws": HEAD_DRAWS,
        "false_discovery_rate": FDR_LEVEL,
    }


def run_provenance(results: Results) -> dict[str, Any]:
    """The run a table came from: its identity, each stage's fingerprints, and package versions.

    `run_id` is a digest of what the numbers depend on (lineage, each stage's weights, tokenizer
    and dtype, the concept set, the input format), so two folders of the same run share it.
    """
    manifest = results.manifest
    stages = [
        {"label": stage.label, "model": stage.model, "revision": stage.revision, "fingerprint": stage.fingerprint,
         "tokenizer_hash": stage.tokenizer_hash, "layers": stage.n_layers, "heads": stage.n_heads,
         "dtype": stage.dtype, "device": stage.device, "route": stage.route}
        for stage in manifest.stages
    ]
    identity = {"lineage": manifest.lineage, "concept_set_hash": manifest.concept_set_hash,
                "input_format": manifest.settings.input_format,
                "stages": [[s["label"], s["fingerprint"], s["tokenizer_hash"], s["dtype"]] for s in stages]}
    return {
        "run_id": value_digest(identity), "folder": results.store.folder.name, "lineage": manifest.lineage,
        "concept_set_hash": manifest.concept_set_hash, "sequences": len(results.sequences),
        "complete": manifest.complete, "partial": results.describe_missing() if results.partial else None,
        "created": manifest.created, "updated": manifest.updated, "executor": manifest.executor,
        "input_format": manifest.settings.input_format, "patterns": manifest.settings.patterns,
        "stages": stages, "extraction_packages": dict(manifest.packages),
        "analysis_packages": dict(analysis_packages()),
    }


@functools.cache
def analysis_packages() -> dict[str, str]:
    """Versions of the packages that compute a table from a results folder (read once per process)."""
    return package_versions(ANALYSIS_PACKAGES)


def results_header(results: Results, **settings: Any) -> TableHeader:
    """The header of a table computed from `results`; `settings` name the table and its choices."""
    return TableHeader({**settings, **analysis_settings(results)}, run_provenance(results))


def json_value(value: Any) -> Any:
    """A plain JSON value: numpy scalars unwrapped, NaN and ±inf as null, arrays as lists."""
    if isinstance(value, np.ndarray):
        return [json_value(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Mapping):
        return {str(k): json_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_value(v) for v in value]
    if isinstance(value, (Path, pd.Timestamp)):
        return str(value)
    if value is pd.NA or value is pd.NaT:
        return None
    return value


def table_json(frame: pd.DataFrame, header: TableHeader | None = None) -> str:
    """The table as JSON: `{"settings", "provenance", "rows"}`, or the bare rows without a header."""
    rows = json_value(frame.to_dict(orient="records"))
    body = rows if header is None else {"settings": json_value(header.settings),
                                        "provenance": json_value(header.provenance), "rows": rows}
    return json.dumps(body, indent=1, ensure_ascii=False, allow_nan=False) + "\n"


def table_csv(frame: pd.DataFrame, header: TableHeader | None = None) -> str:
    """The table as CSV (`csv_text`: formula cells neutralised), below the header's `# key: value` lines."""
    return (header_lines(header) if header is not None else "") + csv_text(frame)


def header_lines(header: TableHeader) -> str:
    """`# settings.reference: "base"` …: one line per setting and per provenance field, each
    value as JSON. A comma inside a text value is written `\\u002c`, so a spreadsheet that splits
    the line at commas finds no cell that starts with a formula; control characters are escaped."""
    lines = []
    for section in SECTIONS:
        for key, value in getattr(header, section).items():
            text = json.dumps(json_value(value), ensure_ascii=False, allow_nan=False)
            lines.append(f"# {section}.{_inert(key)}: {_inert_json(text)}\n")
    return "".join(lines)


def _inert(key: str) -> str:
    return CONTROL_CHARACTERS.sub("", str(key)).replace(",", "_").replace(":", "_")


def _inert_json(text: str) -> str:
    """JSON text with commas and control characters inside its strings written as escapes."""
    out, in_string, escaped = [], False, False
    for char in text:
        if in_string and not escaped and (char == "," or CONTROL_CHARACTERS.fullmatch(char)):
            out.append(f"\\u{ord(char):04x}")
            continue
        out.append(char)
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = in_string
        elif char == '"':
            in_string = not in_string
    return "".join(out)


def read_table_json(text: str, origin: str = "table") -> TableFile:
    """A table written as JSON by `table_json`, or by an older version: a bare list of rows
    (`report`, `shares`, the bundle's tables) or one object of statistics (`stats`)."""
    document = parse_document(text, origin, "json")
    if isinstance(document, list):
        return TableFile(TableHeader({}, {}), _rows(document, origin), legacy=True)
    if not isinstance(document, dict):
        raise InterpError(f"{origin}: a table is a JSON object or list, got {type(document).__name__}")
    if "rows" not in document:
        return TableFile(TableHeader({}, {}), _rows([document], origin), legacy=True)
    extra = sorted(set(document) - {"rows", *SECTIONS})
    if extra:
        raise InterpError(f"{origin}: unknown field(s) {', '.join(map(repr, extra))}; a table holds "
                          "'settings', 'provenance' and 'rows'")
    sections = {}
    for section in SECTIONS:
        value = document.get(section, {})
        if not isinstance(value, dict):
            raise InterpError(f"{origin}: field '{section}' must be an object, got {type(value).__name__}")
        sections[section] = value
    return TableFile(TableHeader(sections["settings"], sections["provenance"]), _rows(document["rows"], origin))


def _rows(rows: Any, origin: str) -> list[dict[str, Any]]:
    if not isinstance(rows, list):
        raise InterpError(f"{origin}: field 'rows' must be a list, got {type(rows).__name__}")
    for number, row in enumerate(rows, 1):
        if not isinstance(row, dict):
            raise InterpError(f"{origin}: row {number} must be an object, got {type(row).__name__}")
    return [_renamed(row) for row in rows]


def _renamed(row: dict[str, Any]) -> dict[str, Any]:
    """A row with the columns of older versions under their current names, in place."""
    renames = {old: new for marker, old, new in RENAMED_COLUMNS if marker in row and old in row and new not in row}
    return {renames.get(key, key): value for key, value in row.items()} if renames else row


def read_table_csv(text: str, origin: str = "table") -> tuple[TableHeader, pd.DataFrame]:
    """A table written as CSV by `table_csv`: its header (empty without one) and its rows, with
    the columns of older versions renamed."""
    sections: dict[str, dict[str, Any]] = {section: {} for section in SECTIONS}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.startswith("#"):
            break
        name, separator, value = line[1:].strip().partition(": ")
        section, dot, key = name.partition(".")
        if not separator or not dot or section not in sections:
            raise InterpError(f"{origin}: line {number}: a header line reads '# settings.KEY: VALUE' or "
                              "'# provenance.KEY: VALUE'")
        sections[section][key] = parse_document(value, f"{origin}: line {number}", "json")
    frame = pd.read_csv(io.StringIO(text), comment="#")
    renames = {old: new for marker, old, new in RENAMED_COLUMNS
               if marker in frame.columns and old in frame.columns and new not in frame.columns}
    return TableHeader(sections["settings"], sections["provenance"]), frame.rename(columns=renames)
