"""Session fixtures around a micro build of the demo lineage (the whole pipeline, in seconds)."""

from __future__ import annotations

import pytest

from interp.demo import build_demo


@pytest.fixture(scope="session")
def micro_demo(tmp_path_factory):
    """A micro demo lineage (base, cpt, ift folders and demo.json), built once per session."""
    folder = tmp_path_factory.mktemp("demo-micro")
    build_demo(folder, scale="micro", progress=False)
    return folder


@pytest.fixture()
def app_home(micro_demo, tmp_path, monkeypatch):
    """Environment of a fresh app user: the micro demo, and an empty data folder of their own,
    below a dot-folder as the default `~/.local/share/interp` is (hidden parents once hid every
    saved set from the sidebar)."""
    home = tmp_path / ".local" / "share" / "interp"
    monkeypatch.setenv("INTERP_DEMO_DIR", str(micro_demo))
    monkeypatch.setenv("INTERP_HOME", str(home))
    return home
