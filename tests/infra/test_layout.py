"""The house's layout (DESIGN.md, "Layout"): small modules, one import direction, no cycles.

Imports go one way, from the commands down to the core:
commands -> orchestration -> kube / cfn -> stacks / aws / local -> settings -> core.
A module may import its own package and any package below its layer, never one beside or
above it. Function-local imports count: a late import is still an edge.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"
MAX_LINES = 400

LAYERS = {
    "core": 0,
    "settings": 1,
    "stacks": 2,
    "aws": 2,
    "local": 2,
    "kube": 3,
    "cfn": 3,
    "orchestration": 4,
    "commands": 5,
    "eks": 5,  # infra/eks.py: the `python -m infra.eks` entry point kubeconfigs call
    "cfripper_filters": 5,  # cfripper's rule filters (data for a linter)
}


def modules() -> dict[str, Path]:
    found = {}
    for path in sorted(INFRA.rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def imports(path: Path) -> set[str]:
    """Every infra module a file imports, at any depth of the file."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("infra"):
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            names.update(a.name for a in node.names if a.name.startswith("infra"))
    known = modules()
    return {name for name in names if name in known}


def package(module: str) -> str:
    return module.split(".")[1] if "." in module else ""


def layer_violations(graph: dict[str, set[str]]) -> list[str]:
    problems = []
    for module, targets in graph.items():
        here = package(module)
        for target in targets:
            there = package(target)
            if not there or there == here:
                continue
            if LAYERS[there] >= LAYERS[here]:
                problems.append(f"{module} imports {target} ({here} may not import {there})")
    return problems


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    found, state, stack = [], {}, []

    def visit(node: str) -> None:
        state[node] = "open"
        stack.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == "open":
                found.append([*stack[stack.index(target) :], target])
            elif target not in state:
                visit(target)
        stack.pop()
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node)
    return found


def import_graph() -> dict[str, set[str]]:
    graph = {}
    for module, path in modules().items():
        # `from infra.stacks import specs` names the package and the module; only the module
        # is an edge (a package's __init__ holds no code).
        targets = {t for t in imports(path) if modules()[t].name != "__init__.py" or t == module}
        graph[module] = targets - {module}
    return graph


def test_every_infra_package_has_a_layer():
    packages = {package(m) for m in modules() if package(m)}
    assert packages == set(LAYERS)


def test_imports_go_one_way():
    assert layer_violations(import_graph()) == []


def test_no_import_cycle():
    assert cycles(import_graph()) == []


@pytest.mark.parametrize("module", sorted(modules()))
def test_no_module_is_over_400_lines(module):
    lines = len(modules()[module].read_text().splitlines())
    assert lines <= MAX_LINES, f"{module} has {lines} lines"


def test_the_checks_catch_an_upward_import_and_a_cycle():
    upward = {"infra.core.naming": {"infra.cfn.engine"}, "infra.cfn.engine": set()}
    assert layer_violations(upward) == [
        "infra.core.naming imports infra.cfn.engine (core may not import cfn)"
    ]
    sideways = {"infra.kube.step": {"infra.cfn.types"}}
    assert layer_violations(sideways) == [
        "infra.kube.step imports infra.cfn.types (kube may not import cfn)"
    ]
    loop = {"infra.a.x": {"infra.a.y"}, "infra.a.y": {"infra.a.x"}}
    assert cycles(loop) == [["infra.a.x", "infra.a.y", "infra.a.x"]]


def test_the_design_document_is_in_the_repository_and_nothing_points_outside_it():
    assert (ROOT / "DESIGN.md").is_file()
    texts = [ROOT / "README.md", ROOT / "DESIGN.md", *INFRA.rglob("*.py"), *modules().values()]
    outside = [str(path.relative_to(ROOT)) for path in texts if "shared/DESIGN" in path.read_text()]
    assert outside == []


def test_the_readme_layout_lists_every_infra_package():
    readme = (ROOT / "README.md").read_text()
    listed = set(re.findall(r"^\| `infra/([a-z_]+)/` \|", readme, flags=re.M))
    packages = {p.parent.name for p in INFRA.glob("*/__init__.py")} - {"cfripper_filters"}
    assert listed == packages
