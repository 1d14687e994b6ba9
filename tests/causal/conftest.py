"""Two stage pairs of the tiny architecture: one whose sliding window (8) is shorter than the
test sequences (the blockwise attention path), one without a window (PyTorch's fused attention)."""

from __future__ import annotations

import pytest

from interp.models.lineage import Stage
from interp.models.loader import free_stage, load_stage


@pytest.fixture(scope="session")
def no_window_pair(tmp_path_factory, legal_tokenizer):
    from interp.models.tiny import build_tiny_mistral

    return tuple(build_tiny_mistral(tmp_path_factory.mktemp(f"causal-no-window-{seed}"), legal_tokenizer, seed=seed,
                                    initializer_range=0.2) for seed in (4, 5))


@pytest.fixture(scope="module", params=["sliding-window", "no-window"])
def folders(request, tiny_checkpoint, tiny_checkpoint_other, no_window_pair):
    """(source folder, target folder) of one pair."""
    return (tiny_checkpoint, tiny_checkpoint_other) if request.param == "sliding-window" else no_window_pair


@pytest.fixture(scope="module")
def stages(folders):
    source = load_stage(Stage("base", str(folders[0])), device="cpu", dtype="float32")
    target = load_stage(Stage("cpt", str(folders[1])), device="cpu", dtype="float32")
    yield source, target
    free_stage(source)
    free_stage(target)
