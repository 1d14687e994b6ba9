"""`causal` from the command line: one row per sequence × intervention × head × metric, and one line
with exit code 2 for every kind of bad input, before any model loads and with nothing written."""

import json
import shutil

import pytest

from interp.models.tiny import build_tiny_mistral, train_tokenizer
from tests.cli.helpers import run
from tests.conftest import SLIDING_WINDOW, legal_sentences

pytestmark = pytest.mark.slow
COLUMNS = {"sequence_id", "source", "target", "intervention", "metric", "layer", "head", "effect", "method"}


@pytest.fixture()
def run_copy(tmp_path, tiny_run):
    folder = tmp_path / "run"
    shutil.copytree(tiny_run[0], folder)
    return folder


def test_exact_on_given_heads_prints_a_row_per_sequence_intervention_head_and_metric(capsys, run_copy):
    code, out, err = run(capsys, "causal", str(run_copy), "--source", "base", "--target", "cpt", "--method", "exact",
                         "--heads", "0.1,1.3", "--interventions", "patch,mean", "--random", "0", "--format", "json")
    assert code == 0, err
    rows = json.loads(out)
    assert COLUMNS <= set(rows[0])
    singles = [row for row in rows if row["kind"] == "single"]
    assert {(r["sequence_id"], r["intervention"], r["layer"], r["head"]) for r in singles} == {
        (s, i, layer, head) for s in ("lessee-1", "seller-1") for i in ("patch", "mean") for layer, head in ((0, 1), (1, 3))}
    assert all(row["method"] == "exact" and row["metric"] == "span" for row in rows)
    joint = [row for row in rows if row["set"] == "given"]
    assert len(joint) == 4 and all(row["heads"] == "0.1,1.3" for row in joint)
    assert (run_copy / "causal" / "base" / "cpt" / "manifest.json").is_file()


def test_a_second_run_computes_nothing_and_loads_no_model(capsys, run_copy, monkeypatch):
    argv = ("causal", str(run_copy), "--source", "base", "--target", "cpt", "--heads", "0.1", "--random", "0",
            "--format", "csv")
    code, first, _ = run(capsys, *argv)
    assert code == 0
    monkeypatch.setattr("interp.models.loader.load_stage", lambda *a, **k: pytest.fail("loaded a model again"))
    code, second, _ = run(capsys, *argv)
    assert code == 0 and second == first


@pytest.mark.parametrize("arguments, message", [
    (("--source", "final"), "--source 'final': no such stage"),
    (("--target", "final"), "--target 'final': no such stage"),
    (("--heads", "9.0"), "head 9.0 is out of range"),
    (("--heads", ","), "is not LAYER.HEAD"),
    (("--interventions", "zero"), "intervention 'zero' is unknown"),
    (("--metric", "answer"), "metric 'answer' needs an 'answer' in the concept file"),
    (("--top", "0"), "--top 0"),
    (("--random", "-1"), "--random -1"),
    (("--shard", "3/2"), "--shard"),
])
def test_bad_input_is_one_line_and_writes_nothing(capsys, run_copy, arguments, message):
    base = {"--source": "base", "--target": "cpt"}
    options = dict(base)
    options.update(dict(zip(arguments[::2], arguments[1::2])))
    argv = ["causal", str(run_copy), *[item for pair in options.items() for item in pair]]
    code, out, err = run(capsys, *argv)
    assert code == 2 and err.count("\n") == 1 and message in err, err
    assert not (run_copy / "causal" / "base" / "cpt" / "atp").exists()


def test_stages_with_other_tokenizers_are_refused_before_loading(capsys, tmp_path, tiny_lineage, monkeypatch):
    from interp.extraction.pipeline import extract_lineage
    from interp.extraction.settings import ExtractionSettings
    from interp.models.lineage import Lineage, Stage
    from tests.conftest import TINY_SEQUENCES

    other_tokenizer = train_tokenizer([s.upper() for s in legal_sentences()], vocab_size=300)
    other = build_tiny_mistral(tmp_path / "other", other_tokenizer, seed=3, sliding_window=SLIDING_WINDOW)
    lineage = Lineage("mixed", (tiny_lineage.stages[0], Stage("other", str(other))), "base")
    extract_lineage(lineage, TINY_SEQUENCES, tmp_path / "mixed", ExtractionSettings(device="cpu"))
    monkeypatch.setattr("interp.models.loader.load_stage", lambda *a, **k: pytest.fail("loaded a model"))
    capsys.readouterr()  # what building and extracting printed
    code, _, err = run(capsys, "causal", str(tmp_path / "mixed"), "--source", "base", "--target", "other")
    assert code == 2 and err.count("\n") == 1 and "different tokenizers" in err
    assert not (tmp_path / "mixed" / "causal").exists()


def test_stages_of_other_architectures_are_refused_before_loading(capsys, tmp_path, tiny_run, monkeypatch):
    """A target whose config no longer matches (key/value heads) cannot take the source's heads."""
    folder = tmp_path / "run"
    shutil.copytree(tiny_run[0], folder)
    manifest = json.loads((folder / "manifest.json").read_text())
    target = next(stage for stage in manifest["stages"] if stage["label"] == "cpt")
    checkpoint = tmp_path / "changed"
    shutil.copytree(target["checkpoint"], checkpoint)
    config = json.loads((checkpoint / "config.json").read_text())
    config["num_key_value_heads"] = 4
    (checkpoint / "config.json").write_text(json.dumps(config))
    target["checkpoint"] = str(checkpoint)
    (folder / "manifest.json").write_text(json.dumps(manifest))
    monkeypatch.setattr("interp.models.loader.load_stage", lambda *a, **k: pytest.fail("loaded a model"))
    code, _, err = run(capsys, "causal", str(folder), "--source", "base", "--target", "cpt")
    assert code == 2 and err.count("\n") == 1 and "different architectures (num_key_value_heads 2 vs 4)" in err


def test_a_folder_that_is_no_results_folder_is_one_line(capsys, tmp_path):
    code, _, err = run(capsys, "causal", str(tmp_path), "--source", "base", "--target", "cpt")
    assert code == 2 and err.count("\n") == 1 and "not a results folder" in err
