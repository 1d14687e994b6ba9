"""The name-keyed registry that views, measures and executors share."""

from dataclasses import dataclass

import pytest

from interp.core.errors import InterpError
from interp.core.registry import Registry


@dataclass(frozen=True)
class Record:
    name: str
    value: int = 0


def test_records_keep_their_order_and_unknown_names_list_the_valid_ones():
    registry: Registry[Record] = Registry("widget")
    first, second = registry.add(Record("b", 1)), registry.add(Record("a", 2))
    assert list(registry) == ["b", "a"] and registry.named("a") is second and registry["b"] is first
    with pytest.raises(InterpError, match=r"^widget 'c' is unknown; widgets: b, a$"):
        registry.named("c")
    with pytest.raises(ValueError, match="registered twice"):
        registry.add(Record("b", 3))
    assert registry.named("b").value == 1


def test_views_measures_and_executors_are_registries():
    from interp.analysis.measures import MEASURES
    from interp.extraction.executors import EXECUTORS
    from interp.views import VIEWS

    assert "ray" not in EXECUTORS or "interp.extraction.ray_executor" in __import__("sys").modules
    from interp.extraction import ray_executor  # noqa: F401  the plug-in registers itself

    assert [registry.kind for registry in (VIEWS, MEASURES, EXECUTORS)] == ["view", "measure", "executor"]
    assert list(MEASURES) == ["attention", "weighted"] and {"local", "ray"} <= set(EXECUTORS)
