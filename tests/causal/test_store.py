"""The causal folder: entries written whole with their digests, read back, checked, and found by pair."""

import numpy as np
import pytest

from interp.causal.store import (
    AtpRecord,
    CausalStore,
    ExactRecord,
    HeadSetRecord,
    TrialResult,
    VerificationPlan,
    stored_pairs,
)
from interp.core.errors import InterpError


def atp_arrays(seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {"scores": rng.normal(size=(2, 3, 4)), "gradient_sum": rng.normal(size=(3, 4, 8)),
            "baseline": rng.normal(size=(3, 4)), "z_sum": rng.normal(size=(3, 4, 8))}


def test_an_atp_entry_round_trips_and_a_changed_array_is_caught(tmp_path):
    store = CausalStore(tmp_path, "base", "cpt")
    arrays = atp_arrays()
    record = AtpRecord(sequence_id="s-1", metric="span", key="k", interventions=("patch", "pattern", "mean"),
                       clean=-2.5, positions=17, digests={})
    store.write_atp(record, arrays)
    read = store.read_atp_record("span", "s-1")
    assert read.key == "k" and read.positions == 17 and set(read.digests) == set(arrays)
    np.testing.assert_allclose(store.read_atp_array(read, "scores"), arrays["scores"].astype(np.float32))
    path = tmp_path / "causal" / "base" / "cpt" / "atp" / "span" / "s-1.scores.npy"
    path.write_bytes(path.read_bytes()[:-4] + b"\x00\x00\x80\x7f")
    with pytest.raises(InterpError, match="changed or damaged since it was written"):
        store.read_atp_array(read, "scores")


def test_exact_entries_plans_and_the_mean_round_trip(tmp_path):
    store = CausalStore(tmp_path, "base", "cpt")
    trial = TrialResult(intervention="patch", set="0.1", kind="single", heads=("0.1",), effect=-0.25)
    store.write_exact(ExactRecord(sequence_id="s-1", metric="span", key="k", clean=-1.0, trials=(trial,)))
    assert store.read_exact("span", "s-1").trials == (trial,) and store.read_exact("span", "s-2") is None
    from interp.causal.store import bytes_digest, npy_bytes

    mean_z = np.arange(24, dtype=np.float32).reshape(3, 4, 2)
    plan = VerificationPlan(key="p", sets={"patch": (HeadSetRecord(name="0.1", kind="single", heads=("0.1",)),)},
                            mean_digest=bytes_digest(npy_bytes(mean_z)))
    store.write_plan("span", plan, mean_z)
    assert store.read_plan("span") == plan and store.read_plan("after") is None
    np.testing.assert_array_equal(store.read_mean_z(plan), mean_z)


def test_pairs_are_found_and_labels_that_cannot_name_a_folder_refused(tmp_path):
    from interp.causal.store import CausalManifest, CausalSettings, StageIdentity

    for source, target in (("base", "cpt"), ("cpt", "ift")):
        identity = [StageIdentity(label=label, checkpoint="/x", fingerprint="sha256:0") for label in (source, target)]
        CausalStore(tmp_path, source, target).write_manifest(CausalManifest(
            source=identity[0], target=identity[1], settings=CausalSettings(source=source, target=target),
            concept_set_hash="h", sequences=["s-1"], packages={}, created="now"))
    assert stored_pairs(tmp_path) == [("base", "cpt"), ("cpt", "ift")]
    with pytest.raises(InterpError, match="cannot name a stored causal run"):
        CausalStore(tmp_path, "../up", "cpt")
    with pytest.raises(InterpError, match="no causal run from 'base' to 'ift'"):
        CausalStore(tmp_path, "base", "ift").read_manifest()
