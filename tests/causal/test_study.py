"""A causal run over a results folder: resumable, sharded into one folder, refusing what it cannot do."""

import shutil

import pytest

from interp.causal.store import CausalSettings
from interp.causal.study import RunOptions, prepare_causal, run_causal
from interp.core.errors import InterpError
from interp.store.shards import Shard

pytestmark = pytest.mark.slow


@pytest.fixture()
def folder(tmp_path, tiny_run):
    copy = tmp_path / "run"
    shutil.copytree(tiny_run[0], copy)
    return copy


def entries(folder, method):
    return sorted(p.name for p in (folder / "causal" / "base" / "cpt" / method / "span").glob("*.json"))


def test_shards_write_into_one_folder_and_exact_waits_for_every_shard(folder, monkeypatch):
    settings = CausalSettings(source="base", target="cpt", interventions=("patch", "mean"), top=1, random_sets=2)
    job = prepare_causal(folder, settings)
    run_causal(job, RunOptions(method="atp", device="cpu", shard=Shard(1, 2)))
    assert entries(folder, "atp") == ["lessee-1.json"]
    with pytest.raises(InterpError, match="AtP is missing for 1 sequence"):
        run_causal(job, RunOptions(method="exact", device="cpu", shard=Shard(1, 2)))
    run_causal(job, RunOptions(method="atp", device="cpu", shard=Shard(2, 2)))
    run_causal(job, RunOptions(method="exact", device="cpu", shard=Shard(2, 2)))
    assert entries(folder, "exact") == ["seller-1.json"]
    run_causal(job, RunOptions(method="both", device="cpu"))
    assert entries(folder, "exact") == ["lessee-1.json", "seller-1.json"]
    monkeypatch.setattr("interp.models.loader.load_stage", lambda *a, **k: pytest.fail("recomputed a stored entry"))
    run_causal(job, RunOptions(method="both", device="cpu"))


def test_patching_a_stage_into_itself_changes_nothing(folder):
    job = prepare_causal(folder, CausalSettings(source="cpt", target="cpt", top=1, random_sets=0))
    run_causal(job, RunOptions(device="cpu"))
    from interp.causal.results import CausalResults

    effects = CausalResults(folder, "cpt", "cpt").exact("span")
    patched = effects[effects["intervention"].isin(["patch", "pattern"])]
    assert len(patched) and patched["effect"].abs().max() < 1e-4


def test_a_changed_checkpoint_is_refused_before_its_model_is_used(folder, tmp_path):
    import json

    manifest = json.loads((folder / "manifest.json").read_text())
    stage = next(s for s in manifest["stages"] if s["label"] == "cpt")
    stage["fingerprint"] = "sha256:" + "0" * 64
    (folder / "manifest.json").write_text(json.dumps(manifest))
    job = prepare_causal(folder, CausalSettings(source="base", target="cpt", top=1, random_sets=0))
    with pytest.raises(InterpError, match="stage 'cpt': its checkpoint changed since the results were extracted"):
        run_causal(job, RunOptions(device="cpu"))
