"""The demo on a real base: SmolLM2-135M-Instruct continued (cpt, ift) by a micro build, and how
its stages are named, found and refused."""

import json
from pathlib import Path

import pytest
from safetensors import safe_open

from interp.core.errors import InterpError
from interp.demo.folders import demo_dir, demo_is_built, load_demo_manifest
from interp.demo.pretrained import (
    PRETRAINED_BASES,
    build_pretrained_demo,
    get_pretrained_base,
)
from interp.demo.resolve import resolve_demo_model
from interp.models.lineage import load_lineage
from tests.packaged_fixtures import PACKAGED_CACHE


def test_bases_and_their_folders(monkeypatch, tmp_path):
    assert list(PRETRAINED_BASES) == ["smollm2"] and get_pretrained_base("smollm2").packaged == "smollm2-135m-instruct"
    with pytest.raises(InterpError, match="demo base 'gpt2' is unknown; bases: tiny, smollm2"):
        get_pretrained_base("gpt2")
    monkeypatch.setenv("INTERP_DEMO_DIR", str(tmp_path / "demo-v1"))
    assert demo_dir(base="smollm2") == tmp_path / "demo-smollm2-v1" and demo_dir() == tmp_path / "demo-v1"
    assert demo_dir(tmp_path / "mine", "smollm2") == tmp_path / "mine"


def test_an_unbuilt_real_base_is_not_built_on_first_use(monkeypatch, tmp_path):
    monkeypatch.setenv("INTERP_DEMO_DIR", str(tmp_path / "demo-v1"))
    with pytest.raises(InterpError, match=r"the demo on smollm2 is not built; build it with "
                                          r"`python -m interp demo build --base smollm2`"):
        resolve_demo_model("demo:smollm2/cpt")
    with pytest.raises(InterpError, match="demo base 'llama' is unknown"):
        resolve_demo_model("demo:llama/cpt")
    with pytest.raises(InterpError, match="no such demo stage"):
        resolve_demo_model("demo:smollm2/sft")
    assert not (tmp_path / "demo-smollm2-v1").exists()


def test_the_preset_names_the_three_stages():
    lineage = load_lineage("demo-smollm2")
    assert lineage.uses_demo and lineage.labels == ("base", "cpt", "ift") and lineage.reference == "base"
    assert [stage.model for stage in lineage.stages] == ["demo:smollm2/base", "demo:smollm2/cpt", "demo:smollm2/ift"]


def test_unknown_scale_is_refused(tmp_path):
    with pytest.raises(InterpError, match="demo scale 'huge': valid scales are full, micro"):
        build_pretrained_demo(tmp_path, scale="huge", packaged_folder=PACKAGED_CACHE)


@pytest.fixture(scope="module")
def micro_smollm2(tmp_path_factory, smollm2_folder):
    """Two steps of cpt and of ift on SmolLM2 (short blocks): the real-base build, in a minute."""
    return build_pretrained_demo(tmp_path_factory.mktemp("demo-smollm2"), scale="micro", progress=False,
                                 packaged_folder=PACKAGED_CACHE)


def tensor(folder: Path, name: str):
    with safe_open(str(folder / "model.safetensors"), "pt") as weights:
        return weights.get_tensor(name)


@pytest.mark.slow
def test_micro_build_continues_the_real_model(micro_smollm2, smollm2_folder):
    root = Path(micro_smollm2.folder)
    assert micro_smollm2.base == "smollm2" and demo_is_built(root, "smollm2") and not demo_is_built(root)
    assert load_demo_manifest(root, "smollm2").losses == micro_smollm2.losses
    losses = micro_smollm2.losses
    assert losses["cpt"]["legal"] < losses["base"]["legal"] and losses["ift"]["instruction"] < losses["cpt"]["instruction"]
    name = "model.layers.3.self_attn.q_proj.weight"
    base, cpt, ift = (tensor(root / stage, name) for stage in ("base", "cpt", "ift"))
    assert base.equal(tensor(smollm2_folder, name)), "base is the packaged model unchanged"
    assert not cpt.equal(base) and not ift.equal(cpt)
    for stage in ("cpt", "ift"):
        config = json.loads((root / stage / "config.json").read_text())
        assert config["num_hidden_layers"] == 30 and "quantization_config" not in config
        assert (root / stage / "chat_template.jinja").is_file(), "ift trains in SmolLM2's own chat template"
    assert micro_smollm2.steps == {"base": 0, "cpt": 2, "ift": 2}
    assert 0 < micro_smollm2.extra["own_disk_bytes"] <= micro_smollm2.extra["disk_bytes"]


@pytest.mark.slow
def test_stages_of_a_built_real_base_resolve(micro_smollm2):
    root = Path(micro_smollm2.folder)
    assert resolve_demo_model("demo:smollm2/ift", root) == str(root / "ift")
    assert resolve_demo_model("demo:smollm2/base", root) == str(root / "base")
