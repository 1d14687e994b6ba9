"""Tables of a run: columns derived from the statistics record, values from `Results`."""

import numpy as np
import pytest

from interp.analysis.results import Results, Selection
from interp.analysis.shift_statistics import STATISTIC_NAMES
from interp.analysis.tables import (
    REPORT_COLUMNS,
    layer_profile_table,
    mean_share_table,
    provenance_table,
    report_table,
    shares_table,
)
from interp.extraction.pipeline import extract_lineage
from interp.extraction.settings import ExtractionSettings
from tests.conftest import concept

pytestmark = pytest.mark.slow


def test_report_columns_follow_the_statistics_record():
    assert REPORT_COLUMNS[REPORT_COLUMNS.index("mean_share") + 1:][:len(STATISTIC_NAMES)] == STATISTIC_NAMES
    assert REPORT_COLUMNS[-4:] == ("control_percentile", "control_p", "control_q", "control_note")


def test_report_rows_and_statistics(tiny_run):
    results = Results(tiny_run[0], Selection(n_controls=50))
    table = report_table(results)
    assert list(table.columns) == list(REPORT_COLUMNS)
    assert list(zip(table["sequence_id"], table["stage"])) == [
        ("lessee-1", "cpt"), ("lessee-1", "ift"), ("seller-1", "cpt"), ("seller-1", "ift"),
    ]
    for row in table.itertuples():
        shift = results.share(stage=row.stage, sequence=row.sequence_id) - results.share(stage="base", sequence=row.sequence_id)
        assert row.mean == pytest.approx(shift.mean()) and row.reference == "base"
        assert 0 <= row.control_percentile <= 100 and 0 < row.control_p <= 1 and row.control_note == ""
    against_cpt = report_table(Results(tiny_run[0], Selection(reference="cpt", n_controls=0)))
    assert set(against_cpt["stage"]) == {"base", "ift"} and against_cpt["control_p"].isna().all()
    assert set(against_cpt["control_note"]) == {"no control spans asked for"}


def test_no_room_for_controls_gives_nan_and_the_reason(tiny_lineage, tmp_path):
    short = [concept("short", "The lessee shall pay the rent.", "lessee shall pay the rent")]
    extract_lineage(tiny_lineage, short, tmp_path / "r", ExtractionSettings(device="cpu", patterns="none"))
    table = report_table(Results(tmp_path / "r", Selection(n_controls=20)))
    assert np.isfinite(table["mean"]).all() and table["control_percentile"].isna().all()
    assert all("no room for a control span" in note for note in table["control_note"])


def test_shares_table_is_one_row_per_head(tiny_run):
    results = Results(tiny_run[0])
    table = shares_table(results)
    assert list(table.columns) == ["sequence_id", "concept", "stage", "measure", "layer", "head", "share",
                                   "first_token_share"]
    assert len(table) == 2 * 3 * 2 * 4
    row = table[(table["sequence_id"] == "seller-1") & (table["stage"] == "ift") & (table["layer"] == 1) & (table["head"] == 3)]
    assert row["share"].item() == pytest.approx(results.share(stage="ift", sequence="seller-1")[1, 3])
    colsums = results.store.read_colsums("ift", "seller-1")
    assert row["first_token_share"].item() == pytest.approx(colsums[1, 3, 0] / colsums[1, 3].sum())


def test_mean_share_and_layer_profiles(tiny_run):
    results = Results(tiny_run[0])
    means = mean_share_table(results)
    assert len(means) == 6
    assert means.iloc[0]["mean_share"] == pytest.approx(results.share(stage="base", sequence="lessee-1").mean())
    profile = layer_profile_table(results)
    rows = profile[(profile["sequence_id"] == "lessee-1") & (profile["stage"] == "cpt")]
    np.testing.assert_allclose(rows["mean_shift"], results.shift(sequence="lessee-1", stage="cpt").mean(axis=1))


def test_every_table_names_its_measure(tiny_run):
    """`shares --measure weighted` wrote no measure column: a weighted table read as a raw one."""
    results = Results(tiny_run[0], Selection(measure="weighted", n_controls=0))
    for table in (report_table(results), shares_table(results), mean_share_table(results), layer_profile_table(results)):
        assert set(table["measure"]) == {"weighted"}


def test_every_column_has_a_label_and_percentiles_print_as_percentiles():
    from interp.analysis.concept_types import CONCEPT_TYPE_COLUMNS
    from interp.analysis.tables import COLUMN_FORMATS, COLUMN_LABELS, LAYER_PROFILE_COLUMNS, SHARE_COLUMNS
    from interp.analysis.trajectory import TRAJECTORY_COLUMNS

    for columns in (REPORT_COLUMNS, SHARE_COLUMNS, LAYER_PROFILE_COLUMNS, CONCEPT_TYPE_COLUMNS, TRAJECTORY_COLUMNS):
        assert [c for c in columns if c not in COLUMN_LABELS] == []
    assert COLUMN_LABELS["control_mean_shift"] != COLUMN_LABELS["mean_shift"]
    assert COLUMN_FORMATS["control_percentile"].format(61.5) == "61.5"
    assert COLUMN_FORMATS["control_p"].format(0.000123) == "0.000123"


def test_provenance_reads_the_manifest(tiny_run):
    table = provenance_table(Results(tiny_run[0]))
    assert list(table["label"]) == ["base", "cpt", "ift"]
    assert table["fingerprint"].str.startswith("sha256:").all() and not table["cached"].any()
