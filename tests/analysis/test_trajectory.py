"""Trajectories: training steps from labels, the stage axis, evenly spread stages, and a
12-checkpoint training run (a local folder of step subfolders) end to end through the views."""

import numpy as np
import pytest

from interp import views
from interp.analysis.results import Results, Selection
from interp.analysis.tables import report_table
from interp.analysis.trajectory import (
    representative_stages,
    stage_axis,
    stage_layer_shifts,
    training_step,
    trajectory_table,
)
from interp.extraction.pipeline import extract_lineage
from interp.extraction.settings import ExtractionSettings
from interp.models.lineage import load_lineage
from interp.models.tiny import build_tiny_mistral
from interp.views import figures
from tests.conftest import SLIDING_WINDOW, TINY_SEQUENCES, concept

STEPS = [100 * (n + 1) for n in range(12)]


@pytest.mark.parametrize(("label", "step"), [
    ("step1000", 1000), ("step-1000", 1000), ("checkpoint-2000", 2000), ("global_step300", 300),
    ("step20000-tokens84B", 20000), ("Step5", 5), ("ckpt_7", 7), ("iter12", 12), ("4500", 4500),
    ("base", None), ("cpt", None), ("v1.0", None), ("main", None),
])
def test_training_step_is_read_from_the_label(label, step):
    assert training_step(label) == step


def test_the_axis_is_the_step_only_when_every_stage_names_one_and_they_rise():
    assert stage_axis(["step100", "step200", "step400"]).positions == (100, 200, 400)
    assert stage_axis(["step100", "step200"]).title == "training step"
    for labels in (["base", "step200"], ["step200", "step100"], ["step100", "step100"]):
        axis = stage_axis(labels)
        assert not axis.by_step and axis.positions == tuple(range(len(labels)))
        assert axis.title == "stage (lineage order)"


def test_representative_stages_spread_over_the_lineage():
    stages = [f"s{n}" for n in range(100)]
    picked = representative_stages(stages, 10)
    assert len(picked) == 10 and picked[0] == "s0" and picked[-1] == "s99"
    assert picked == sorted(picked, key=stages.index)
    assert representative_stages(stages[:7], 10) == stages[:7]
    assert representative_stages(stages[:3], 1) == ["s0", "s2"]


@pytest.fixture(scope="module")
def training_run(tmp_path_factory, legal_tokenizer):
    """Twelve checkpoints of one run as subfolders step100 … step1200, named by a lineage file with
    `model` and `revisions`, over three sequences of two concept types."""
    root = tmp_path_factory.mktemp("trajectory")
    for seed, step in enumerate(STEPS):
        build_tiny_mistral(root / "run" / f"step{step}", legal_tokenizer, seed=seed, sliding_window=SLIDING_WINDOW,
                           initializer_range=0.2)
    lineage_file = root / "run.yaml"
    revisions = ", ".join(f"step{step}" for step in STEPS)
    lineage_file.write_text(f"name: run\nmodel: {root / 'run'}\nrevisions: [{revisions}]\n", encoding="utf-8")
    lineage = load_lineage(lineage_file)
    sequences = [*TINY_SEQUENCES, concept("buyer-1", "The buyer shall pay the rent if the notice is served.",
                                          "if the notice is served", concept_type="Role")]
    extract_lineage(lineage, sequences, root / "results", ExtractionSettings(device="cpu", patterns="none"))
    return lineage, Results(root / "results", Selection(n_controls=10))


@pytest.mark.slow
def test_a_lineage_of_revisions_runs_every_checkpoint(training_run):
    lineage, results = training_run
    assert lineage.labels == tuple(f"step{step}" for step in STEPS) and lineage.reference == "step100"
    assert [stage.model.rsplit("/", 1)[-1] for stage in lineage.stages] == list(lineage.labels)
    assert results.stages == list(lineage.labels)
    assert len({record.fingerprint for record in results.manifest.stages}) == 12
    assert len(report_table(results)) == 3 * 11


@pytest.mark.slow
def test_trajectory_table_and_stage_layer_shifts(training_run):
    _, results = training_run
    table = trajectory_table(results)
    assert list(table["concept"].unique()) == ["Condition", "Role"] and len(table) == 24
    condition = table[table["concept"] == "Condition"]
    assert list(condition["position"]) == STEPS and set(condition["sequences"]) == {2}
    ids = ["lessee-1", "seller-1"]
    for stage, row in zip(results.stages, condition.itertuples()):
        shares = [results.share(stage=stage, sequence=i).mean() for i in ids]
        shifts = [(results.share(stage=stage, sequence=i) - results.share(stage="step100", sequence=i)).mean() for i in ids]
        assert row.mean_share == pytest.approx(np.mean(shares)) and row.mean_shift == pytest.approx(np.mean(shifts))
        assert row.share_low <= row.mean_share <= row.share_high
    assert condition["mean_shift"].iloc[0] == 0.0
    shifts = stage_layer_shifts(results, "Condition")
    assert shifts.shape == (12, 2) and not shifts[0].any()
    expected = np.mean([(results.share(stage="step700", sequence=i) - results.share(stage="step100", sequence=i)).mean(axis=1) for i in ids], axis=0)
    np.testing.assert_allclose(shifts[6], expected, rtol=1e-12)


@pytest.mark.slow
def test_views_read_well_with_twelve_stages(training_run):
    _, results = training_run
    trajectory = views.get_view("trajectory").compute(results, concept="Condition").figures["trajectory"]
    assert list(trajectory.data[1].x) == STEPS and trajectory.layout.xaxis2.title.text == "training step"
    heat = views.get_view("stage-layers").compute(results, concept="Role").figures["map"]
    assert list(heat.data[0].x) == list(results.stages) and np.asarray(heat.data[0].z).shape == (2, 12)

    profiles = views.get_view("layers").compute(results).figures["profiles"]
    lines = [trace for trace in profiles.data if trace.mode == "lines+markers"]
    assert not any(trace.showlegend for trace in lines), "no legend of eleven stages"
    assert len({trace.line.color for trace in lines}) == 11, "every stage its own colour"
    scale = [trace for trace in profiles.data if trace.marker.showscale]
    assert len(scale) == 1 and list(scale[0].marker.colorbar.ticktext)[-1] == "step1200"

    overview = views.get_view("overview").compute(results).figures["shifts"]
    assert [trace.type for trace in overview.data] == ["heatmap"] and len(overview.data[0].x) == 11

    structure = views.get_view("structure").compute(results, sequence="seller-1")
    assert len(structure.figures) == 6 + 5 and "12 stages" in structure.notes[0]
    forest = views.get_view("types").compute(results)
    assert len({trace.name for trace in forest.figures["forest"].data if ":" not in trace.name}) == 6
    assert len(forest.tables["types"]) == 2 * 11 and "6 of 11 stages" in forest.notes[-1]

    heads = list(views.bundle_choices(views.get_view("heads"), results))
    assert len(heads) == 3 * figures.MANY_STAGES and {c["stage"] for c in heads} >= {"step100", "step1200"}
