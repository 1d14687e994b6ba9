"""The package's floors, from its import graph (built with `ast`, imports inside functions included):
no cycles, nothing importing a floor above its own, no `ui/` or Streamlit inside `interp/`, and
nothing a results reader loads at import time importing torch."""

from __future__ import annotations

import ast
from pathlib import Path

import interp

PACKAGE = Path(interp.__file__).resolve().parent
# What each subpackage may import: only floors below its own (and itself).
FLOORS = {
    "core": 0, "concepts": 1, "models": 1, "store": 2, "demo": 2, "extraction": 3, "analysis": 3, "causal": 4,
    "views": 5, "export": 6, "cli": 7,
}
HEAVY = {"torch", "transformers", "transformer_lens", "accelerate", "ray"}
# What a results reader opens: the app, `report`, `export` and a notebook load these.
READERS = ("interp.analysis.results", "interp.views", "interp.export.bundle", "interp.cli.main",
           "interp.causal.results")


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in PACKAGE.rglob("*.py")}


def resolve(name: str) -> str | None:
    """The `interp` module an import names (a module, or the package whose attribute it takes)."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def imports(module: str, top_level_only: bool = False) -> set[str]:
    """Modules `module` imports: `interp` modules by name (`from interp.x import y` is interp.x.y
    where that is a module, else interp.x), others by their top-level name."""
    tree = ast.parse(MODULES[module].read_text("utf-8"))
    found = set()
    for node in (tree.body if top_level_only else ast.walk(tree)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names = [f"{node.module}.{alias.name}" if f"{node.module}.{alias.name}" in MODULES else node.module
                     for alias in node.names]
        else:
            continue
        for name in names:
            target = resolve(name) if name.startswith("interp") else name.split(".")[0]
            if target and target != module:
                found.add(target)
    return found


def floor(module: str) -> int | None:
    parts = module.split(".")
    return FLOORS.get(parts[1]) if len(parts) > 1 else None


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components with more than one module."""
    index, low, stack, on_stack, found, counter = {}, {}, [], set(), [], [0]

    def visit(node: str) -> None:
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for other in graph.get(node, ()):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                other = stack.pop()
                on_stack.discard(other)
                component.append(other)
                if other == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in graph:
        if node not in index:
            visit(node)
    return found


def graph(top_level_only: bool = False) -> dict[str, set[str]]:
    return {module: {name for name in imports(module, top_level_only) if name.startswith("interp")}
            for module in MODULES}


def test_the_import_graph_has_no_cycles():
    assert strongly_connected(graph()) == []


def test_no_module_imports_a_floor_above_its_own():
    upward = []
    for module, targets in graph().items():
        mine = floor(module)
        if mine is None:
            continue
        for target in targets:
            theirs = floor(target)
            if theirs is None and target == "interp":
                upward.append(f"{module} → interp")
            elif theirs is not None and theirs > mine and target.split(".")[1] != module.split(".")[1]:
                upward.append(f"{module} → {target}")
    assert upward == []


def test_the_library_never_imports_the_app():
    offenders = [module for module in MODULES if {"ui", "streamlit", "app"} & imports(module)]
    assert offenders == []


def test_nothing_a_results_reader_loads_imports_torch():
    loaded, todo = set(), list(READERS)
    while todo:
        module = todo.pop()
        if module in loaded:
            continue
        loaded.add(module)
        parents = [".".join(module.split(".")[:i]) for i in range(2, module.count(".") + 1)]
        todo.extend(name for name in [*imports(module, top_level_only=True), *parents] if name in MODULES)
    heavy = {module: sorted(imports(module, top_level_only=True) & HEAVY) for module in loaded}
    assert {module: names for module, names in heavy.items() if names} == {}


def test_the_graph_test_sees_a_cycle_and_an_upward_import():
    cyclic = {"interp.core.a": {"interp.core.b"}, "interp.core.b": {"interp.core.a"}, "interp.core.c": set()}
    assert strongly_connected(cyclic) == [["interp.core.a", "interp.core.b"]]
    assert floor("interp.core.errors") < floor("interp.views.framework")
