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


def test_on_a_local_ray_the_blocks_give_what_one_process_gives(folder, tmp_path, monkeypatch, tiny_causal_run):
    """`--executor ray` with blocks of one sequence: AtP on every block, then exact on every block,
    the same entries as `tiny_causal_run` made in this process (same settings, same run)."""
    import logging
    import os
    from pathlib import Path

    import numpy as np
    import ray

    from interp.causal.results import CausalResults

    root = Path(__file__).resolve().parents[2]
    monkeypatch.setenv("RAY_USAGE_STATS_ENABLED", "0")
    ray.init(address="local", num_cpus=2, include_dashboard=False, logging_level=logging.WARNING,
             runtime_env={"env_vars": {"PYTHONPATH": os.pathsep.join([str(root), str(root / "tests")])}})
    try:
        job = prepare_causal(folder, CausalSettings(source="base", target="cpt", top=2, random_sets=5))
        seen = []
        run_causal(job, RunOptions(device="cpu", executor="ray", block_size=1, threads=1),
                   lambda progress: seen.append(progress.message))
    finally:
        ray.shutdown()
    assert entries(folder, "atp") == entries(folder, "exact") == ["lessee-1.json", "seller-1.json"]
    assert sorted(seen) == ["atp lessee-1", "atp seller-1", "exact lessee-1", "exact seller-1"]
    mine, theirs = CausalResults(folder, "base", "cpt"), CausalResults(tiny_causal_run[0], "base", "cpt")
    a, b = mine.exact("span"), theirs.exact("span")
    assert list(a.columns) == list(b.columns) and a[["sequence_id", "intervention", "set", "heads"]].equals(
        b[["sequence_id", "intervention", "set", "heads"]])
    np.testing.assert_allclose(a["effect"], b["effect"], rtol=1e-5, atol=1e-6)
