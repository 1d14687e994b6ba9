"""Demo model names resolved to folders; other lineages left as they are."""

from pathlib import Path

import pytest

from interp.core.errors import InterpError
from interp.demo.build import ensure_demo
from interp.demo.folders import demo_dir
from interp.demo.resolve import resolve_demo_model, resolve_lineage_models
from interp.models.lineage import Lineage, Stage


def test_non_demo_lineages_are_left_as_they_are():
    lineage = Lineage("hub", (Stage("base", "mistralai/Mistral-7B-v0.1"), Stage("cpt", "Equall/Saul-7B-Base")))
    assert resolve_lineage_models(lineage) is lineage


def test_unknown_demo_stages_and_unbuilt_real_bases_say_what_to_do(tmp_path):
    with pytest.raises(InterpError, match="no such demo stage; valid: demo:base, demo:cpt, demo:ift"):
        resolve_demo_model("demo:final", tmp_path)
    with pytest.raises(InterpError, match="demo build --base smollm2"):
        resolve_demo_model("demo:smollm2/cpt", tmp_path)
    assert resolve_demo_model("mistralai/Mistral-7B-v0.1", tmp_path) == "mistralai/Mistral-7B-v0.1"


@pytest.mark.slow
def test_resolve_demo_model(micro_build, monkeypatch):
    monkeypatch.setenv("INTERP_DEMO_DIR", micro_build.folder)
    assert demo_dir() == Path(micro_build.folder)
    assert ensure_demo() == Path(micro_build.folder)
    assert resolve_demo_model("demo:cpt") == str(Path(micro_build.folder) / "cpt")
    assert resolve_demo_model("mistralai/Mistral-7B-v0.1") == "mistralai/Mistral-7B-v0.1"
    with pytest.raises(InterpError, match="demo:base, demo:cpt, demo:ift"):
        resolve_demo_model("demo:foo")
