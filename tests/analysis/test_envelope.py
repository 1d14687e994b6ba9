"""Settings and provenance beside every table: contents, the round trip through JSON and CSV, and old files."""

import csv
import io
import json

import numpy as np
import pandas as pd
import pytest

from interp.analysis.envelope import (
    TableHeader,
    analysis_settings,
    header_lines,
    read_table_csv,
    read_table_json,
    results_header,
    table_csv,
    table_json,
)
from interp.core.errors import InterpError
from interp.core.safe_output import FORMULA_START

HEADER = TableHeader(
    {"table": "report", "reference": "base", "excluded_tokens": ["'", ",", "▁", "#"], "controls": 200,
     "confidence": 0.95, "note": 'a, "quoted",=HYPERLINK("x") line\nbreak \u202e'},
    {"run_id": "sha256:ab", "stages": [{"label": "base", "fingerprint": "sha256:cd", "revision": None}],
     "complete": True, "extraction_packages": {"numpy": "2.4.6"}},
)
FRAME = pd.DataFrame({"sequence_id": ["role-1", "cond-1"], "concept": ["Section #3", "=1+1"],
                      "mean": [0.125, np.nan], "heads": np.array([3, 4], dtype=np.int64)})


def test_json_envelope_round_trip():
    text = table_json(FRAME, HEADER)
    document = json.loads(text)
    assert list(document) == ["settings", "provenance", "rows"]
    read = read_table_json(text)
    assert dict(read.header.settings) == HEADER.settings and dict(read.header.provenance) == HEADER.provenance
    assert read.rows == [
        {"sequence_id": "role-1", "concept": "Section #3", "mean": 0.125, "heads": 3},
        {"sequence_id": "cond-1", "concept": "=1+1", "mean": None, "heads": 4},
    ] and not read.legacy
    assert json.loads(table_json(FRAME)) == read.rows, "without a header: the bare rows"


def test_csv_header_block_is_skipped_by_pandas_and_reads_back():
    text = table_csv(FRAME, HEADER)
    lines = text.splitlines()
    assert lines[0] == '# settings.table: "report"' and lines[1] == '# settings.reference: "base"'
    assert all(line.startswith("# ") for line in lines[:len(HEADER.settings) + len(HEADER.provenance)])
    frame = pd.read_csv(io.StringIO(text), comment="#")
    assert list(frame["concept"]) == ["Section #3", "'=1+1"], "a cell holding # is not cut; formulas stay inert"
    np.testing.assert_allclose(frame["mean"], FRAME["mean"], rtol=1e-12)
    header, read = read_table_csv(text)
    assert dict(header.settings) == HEADER.settings and dict(header.provenance) == HEADER.provenance
    pd.testing.assert_frame_equal(read, frame)
    assert not table_csv(FRAME).startswith("#"), "without a header: the plain CSV"


def test_no_cell_of_the_header_block_starts_a_formula_or_a_second_line():
    block = header_lines(HEADER)
    assert block.count("\n") == len(HEADER.settings) + len(HEADER.provenance)
    for row in csv.reader(io.StringIO(block)):
        assert row[0].startswith("# ")
        assert not any(cell.startswith(FORMULA_START) for cell in row)
    assert "\u202e" not in block and "\\u202e" in block


def test_older_json_reads_back_with_current_column_names():
    old_report = json.dumps([{"concept": "Role", "stage": "cpt", "contrast": 0.01, "contrast_low": 0.0,
                              "contrast_high": 0.02, "contrast_p": 0.3}])
    read = read_table_json(old_report, "old.json")
    assert read.legacy and dict(read.header.settings) == {} and read.rows[0]["contrast_mean"] == 0.01
    assert "contrast" not in read.rows[0]
    old_stats = read_table_json('{"mean": -0.004, "median": -0.001}')
    assert old_stats.legacy and old_stats.rows == [{"mean": -0.004, "median": -0.001}]
    old_heads = read_table_json('[{"layer": 0, "head": 1, "fraction_up": 0.7, "p": 0.3, "q": 0.5}]')
    assert old_heads.rows[0] == {"layer": 0, "head": 1, "fraction_up": 0.7, "sign_test_p": 0.3, "sign_test_q": 0.5}
    untouched = read_table_json('[{"sequence_id": "a", "p": 0.3, "contrast": 1}]').rows[0]
    assert untouched == {"sequence_id": "a", "p": 0.3, "contrast": 1}, "only the tables that had the old names"
    header, frame = read_table_csv("concept,contrast,contrast_low\nRole,0.01,0.0\n")
    assert list(frame.columns) == ["concept", "contrast_mean", "contrast_low"] and dict(header.settings) == {}


@pytest.mark.parametrize("text, fragment", [
    ("{", "old.json: not valid JSON"),
    ('"a"', "a table is a JSON object or list"),
    ('{"rows": {}}', "field 'rows' must be a list"),
    ('{"rows": [1]}', "row 1 must be an object"),
    ('{"rows": [], "settings": []}', "field 'settings' must be an object"),
    ('{"rows": [], "extra": 1}', "unknown field(s) 'extra'"),
])
def test_bad_json_is_one_line_naming_the_file(text, fragment):
    with pytest.raises(InterpError) as caught:
        read_table_json(text, "old.json")
    assert fragment in str(caught.value) and len(str(caught.value).splitlines()) == 1


def test_bad_csv_header_is_one_line_naming_the_line():
    with pytest.raises(InterpError, match="t.csv: line 2: a header line reads"):
        read_table_csv('# settings.a: 1\n# something else\nx\n1\n', "t.csv")
    with pytest.raises(InterpError, match="t.csv: line 1: not valid JSON"):
        read_table_csv('# settings.a: [1\nx\n1\n', "t.csv")


@pytest.mark.slow
def test_results_header_holds_the_settings_and_the_run(tiny_run):
    from interp.analysis.results import Results, Selection

    results = Results(tiny_run[0], Selection(exclusions=("<s>", "."), n_controls=7, seed=3, measure="weighted",
                                             first_position="first"))
    header = results_header(results, table="report", by="concept")
    assert dict(header.settings) == {
        "table": "report", "by": "concept", "reference": "base", "exclusions": "custom", "excluded_tokens": ["<s>", "."],
        "exclusion_rule": "a list of token strings", "first_position": "first", "measure": "weighted", "controls": 7,
        "seed": 3, "bootstrap_resamples": 2000, "confidence": 0.95, "hierarchical_head_draws": 200,
        "false_discovery_rate": 0.05}
    provenance = header.provenance
    manifest = tiny_run[1]
    assert provenance["folder"] == "run" and provenance["lineage"] == "tiny" and provenance["sequences"] == 2
    assert provenance["concept_set_hash"] == manifest.concept_set_hash and provenance["complete"] is True
    assert [stage["fingerprint"] for stage in provenance["stages"]] == [stage.fingerprint for stage in manifest.stages]
    assert provenance["extraction_packages"] == manifest.packages
    assert set(provenance["analysis_packages"]) == {"interp", "numpy", "scipy", "pandas", "python"}
    assert provenance["run_id"].startswith("sha256:")
    other = results_header(Results(tiny_run[0], Selection(n_controls=0)))
    assert other.provenance["run_id"] == provenance["run_id"], "the run's identity, whatever the analysis"
    assert analysis_settings(Results(tiny_run[0]))["exclusions"] == "paper"
    read = read_table_json(table_json(pd.DataFrame({"x": [1]}), header))
    assert read.header.settings == json.loads(json.dumps(dict(header.settings)))
