"""Fixtures of the command-line tests."""


import numpy as np
import pytest

from tests.cli.helpers import HYPERLINK


@pytest.fixture()
def share_files(tmp_path):
    rng = np.random.default_rng(3)
    reference = rng.uniform(0.0, 0.5, size=(4, 8))
    other = reference + rng.normal(0.01, 0.02, size=(4, 8))
    np.save(tmp_path / "a.npy", reference)
    np.save(tmp_path / "b.npy", other)
    return tmp_path / "a.npy", tmp_path / "b.npy", other - reference


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory, tiny_checkpoint, tiny_checkpoint_other):
    """Stages `x` and `y-x`, sequences `s` and `s-y` (so `s` + `y-x` and `s-y` + `x` name the same
    file), concepts that a spreadsheet would run."""
    from interp.extraction.pipeline import extract_lineage
    from interp.extraction.settings import ExtractionSettings
    from interp.models.lineage import Lineage, Stage
    from tests.conftest import concept

    lineage = Lineage("hostile", (Stage("x", str(tiny_checkpoint)), Stage("y-x", str(tiny_checkpoint_other))))
    sequences = [
        concept("s", "The lessee shall pay the rent within thirty days, unless the court orders otherwise.",
                "within thirty days", concept_type=HYPERLINK),
        concept("s-y", "The seller may not sell the goods before the hearing.", "may not sell the goods",
                concept_type="@SUM(1+1)*cmd|' /C calc'!A0"),
    ]
    out = tmp_path_factory.mktemp("hostile") / "run"
    extract_lineage(lineage, sequences, out, ExtractionSettings(device="cpu"))
    return out


@pytest.fixture()
def no_chromium_here(monkeypatch):
    """Export without images: fast, and the same on every machine."""
    import interp.export.bundle as export

    monkeypatch.setenv("BROWSER_PATH", "/nonexistent/chromium")
    monkeypatch.setattr(export, "_shared", export.FigureExporter())
