"""A micro build of the demo (a few steps per stage, seconds), shared by the demo's test modules."""

import pytest

from interp.demo.build import build_demo


@pytest.fixture(scope="module")
def micro_build(tmp_path_factory):
    return build_demo(tmp_path_factory.mktemp("demo") / "demo-v1", seed=0, scale="micro", progress=False)
