"""The demo's folders: one build at a time, the training check, a stage saved whole or not at all."""

from __future__ import annotations

import pytest

from interp.core.errors import InterpError
from interp.demo import (
    build_demo,
    demo_is_built,
    training,
)
from interp.demo import folders as demo_folders


def test_a_second_build_of_the_same_folder_is_refused_while_one_runs(tmp_path):
    with demo_folders.build_lock(tmp_path, wait=False):
        with pytest.raises(InterpError, match="another process is building"):
            build_demo(tmp_path, scale="micro", progress=False)


def test_failed_training_check_names_the_losses():
    losses = {"base": {"legal": 5.0, "instruction": 6.0}, "cpt": {"legal": 5.5, "instruction": 4.0},
              "ift": {"legal": 5.0, "instruction": 4.5}}
    with pytest.raises(InterpError, match=r"training check: .*legal loss cpt 5\.5000 is not below base 5\.0000"
                                          r".*response loss ift 4\.5000 is not below cpt 4\.0000"):
        demo_folders.check_training(losses)


@pytest.mark.slow
def test_interrupted_save_leaves_no_half_stage(tmp_path, monkeypatch, capfd):
    def broken_save(self, *args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(training.PreTrainedTokenizerFast, "save_pretrained", broken_save)
    with pytest.raises(OSError, match="disk full"):
        build_demo(tmp_path, scale="micro", progress=False)
    assert not demo_is_built(tmp_path)
    assert [path.name for path in tmp_path.iterdir()] == [".build.lock"]
    assert capfd.readouterr() == ("", "")  # progress=False: no bars, no messages
