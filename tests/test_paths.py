"""Where the tool keeps what a user makes."""

from pathlib import Path

from interp.lineage import load_lineage
from interp.paths import app_run_folder, data_home, runs_dir, user_concepts_dir
from interp.settings import ExtractionSettings
from tests.conftest import TINY_SEQUENCES


def test_interp_home_overrides_xdg(monkeypatch, tmp_path):
    monkeypatch.delenv("INTERP_HOME", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert data_home() == tmp_path / "xdg" / "interp"
    monkeypatch.setenv("INTERP_HOME", str(tmp_path / "home"))
    assert (user_concepts_dir(), runs_dir()) == (tmp_path / "home" / "concepts", tmp_path / "home" / "runs")


def test_app_run_folder_follows_lineage_concepts_and_settings(monkeypatch, tmp_path):
    monkeypatch.setenv("INTERP_HOME", str(tmp_path))
    demo = load_lineage("demo")
    first = app_run_folder(demo, TINY_SEQUENCES, ExtractionSettings())
    assert first == app_run_folder(demo, list(TINY_SEQUENCES), ExtractionSettings())
    assert first.parent == tmp_path / "runs" and first.name.startswith("demo-")
    assert app_run_folder(demo, TINY_SEQUENCES[:1], ExtractionSettings()) != first
    assert app_run_folder(demo, TINY_SEQUENCES, ExtractionSettings(dtype="bfloat16")) != first
    assert app_run_folder(demo, TINY_SEQUENCES, ExtractionSettings(device="cpu")) == first, "device is not a result"
    assert isinstance(first, Path)
