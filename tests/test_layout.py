"""The packages' shape (docs/architecture.md): imports flow one way between layers, no module
imports itself back through others (imports inside functions included), modules stay small."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from helpers import REPO_ROOT

PACKAGES = ("dexndm_envs", "dexndm_agents")

LAYERS = (
    "dexndm_envs.core",
    "dexndm_envs.data",
    "dexndm_envs.dynamixel",
    "dexndm_envs.hand",
    "dexndm_envs.engines",
    "dexndm_envs.virtual",
    "dexndm_envs.sim",
    "dexndm_envs.chaos",
    "dexndm_envs.real",
    "dexndm_envs",
    "dexndm_agents.policies",
    "dexndm_agents.evaluation",
    "dexndm_agents.base_policy",
    "dexndm_agents.dexndm",
    "dexndm_agents",
)
"""Lowest first: a package imports only from itself and the packages before it. The top-level
modules (dexndm_envs/__init__.py registers the envs; dexndm_agents/__init__.py re-exports the
public names) sit above their subpackages."""

MAX_MODULE_LINES = 450


def _modules(root: Path) -> dict[str, Path]:
    modules = {}
    for package in PACKAGES:
        for path in (root / package).rglob("*.py"):
            parts = path.relative_to(root).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            modules[name] = path
    return modules


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The project modules `name` imports anywhere in its file (functions included)."""

    def resolve(target: str) -> str | None:
        while target and target not in modules:
            target = target.rpartition(".")[0]
        return target or None

    found = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            # `from a import b` imports a, and a.b when b is a module
            targets = [base] + [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        for target in targets:
            if target.split(".")[0] in PACKAGES:
                resolved = resolve(target)
                if resolved and not f"{resolved}.".startswith(f"{name}."):  # own submodules
                    found.add(resolved)
    return found


def _layer(module: str) -> str:
    return max((layer for layer in LAYERS if f"{module}.".startswith(f"{layer}.")), key=len)


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan)."""
    index, low, stack, on_stack, groups = {}, {}, [], set(), []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while not group or group[-1] != v:
                group.append(stack.pop())
                on_stack.discard(group[-1])
            if len(group) > 1:
                groups.append(sorted(group))

    for v in graph:
        if v not in index:
            visit(v)
    return groups


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    modules = _modules(REPO_ROOT)
    return {name: _imports(name, path, modules) for name, path in modules.items()}


def test_no_module_imports_itself_back(graph):
    assert not _cycles(graph)


def test_imports_flow_down_the_layers(graph):
    rank = {layer: i for i, layer in enumerate(LAYERS)}
    upward = sorted(
        f"{a} -> {b}"
        for a, targets in graph.items()
        for b in targets
        if rank[_layer(b)] > rank[_layer(a)]
    )
    assert not upward, f"imports against the layers of docs/architecture.md: {upward}"


def test_the_environments_need_no_learning_stack():
    heavy = ("torch", "stable_baselines3", "dexndm_agents")
    offending = sorted(
        f"{path.relative_to(REPO_ROOT)}: {node_name}"
        for path in (REPO_ROOT / "dexndm_envs").rglob("*.py")
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, (ast.Import, ast.ImportFrom))
        for node_name in (
            [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
        )
        if node_name.split(".")[0] in heavy
    )
    assert not offending


def test_modules_stay_small():
    sizes = {name: len(path.read_text().splitlines()) for name, path in _modules(REPO_ROOT).items()}
    assert not {name: n for name, n in sizes.items() if n > MAX_MODULE_LINES}


def test_a_cycle_and_an_upward_import_are_caught():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(graph) == [["a", "b", "c"]]
    assert _layer("dexndm_envs.sim.objects.catalog") == "dexndm_envs.sim"
    assert _layer("dexndm_envs.sim") == "dexndm_envs.sim"
    assert LAYERS.index(_layer("dexndm_envs.core.task")) < LAYERS.index(
        _layer("dexndm_envs.sim.rotate")
    )
