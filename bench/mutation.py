"""Test strength of a module: mutate its code one small change at a time (comparison flipped,
boolean operator swapped, condition negated, constant changed, a return value dropped) and
run the module's tests against each mutant; a mutant the tests don't notice "survives".

    .venv/bin/python bench/mutation.py infra/stacks/specs.py tests/infra/stacks/test_specs.py

Prints the score (killed / mutants) and every survivor's line, to read and judge. mutmut
does the same for whole projects; this runs one module against its own tests in seconds.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SWAPS = {
    ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq,
    ast.Lt: ast.GtE,
    ast.GtE: ast.Lt,
    ast.Gt: ast.LtE,
    ast.LtE: ast.Gt,
    ast.In: ast.NotIn,
    ast.NotIn: ast.In,
    ast.Is: ast.IsNot,
    ast.IsNot: ast.Is,
}


def mutants(tree: ast.Module):
    """(line, description, mutated source) for each single-point mutation."""
    for index, node in enumerate(ast.walk(tree)):
        for label, change in _changes(node):
            mutated = ast.parse(ast.unparse(tree))
            target = list(ast.walk(mutated))[index]
            change(target)
            yield node.lineno, label, ast.unparse(mutated)


def _changes(node: ast.AST):
    if isinstance(node, ast.Compare) and type(node.ops[0]) in SWAPS:
        yield "comparison flipped", lambda n: n.ops.__setitem__(0, SWAPS[type(n.ops[0])]())
    if isinstance(node, ast.BoolOp):
        other = ast.Or if isinstance(node.op, ast.And) else ast.And
        yield "and/or swapped", lambda n: setattr(n, "op", other())
    if isinstance(node, ast.If | ast.IfExp | ast.While):
        yield (
            "condition negated",
            lambda n: setattr(n, "test", ast.UnaryOp(op=ast.Not(), operand=n.test)),
        )
    if isinstance(node, ast.Return) and node.value is not None:
        yield "return value dropped", lambda n: setattr(n, "value", ast.Constant(None))
    if isinstance(node, ast.Constant) and isinstance(node.value, bool):
        yield "boolean flipped", lambda n: setattr(n, "value", not n.value)
    elif isinstance(node, ast.Constant) and type(node.value) is int:
        yield "number changed", lambda n: setattr(n, "value", n.value + 1)


def main(module: str, *tests: str) -> int:
    path = ROOT / module
    original = path.read_text()
    tree = ast.parse(original)
    # Docstrings and type-only lines are not behaviour.
    results = []
    try:
        for line, label, source in mutants(tree):
            path.write_text(source)
            run = subprocess.run(
                [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *tests],
                cwd=ROOT,
                capture_output=True,
                timeout=600,
            )
            results.append((line, label, run.returncode != 0))
    finally:
        path.write_text(original)
    killed = sum(1 for *_, dead in results if dead)
    print(f"{module}: {killed}/{len(results)} mutants killed ({killed / len(results):.0%})")
    for line, label, dead in results:
        if not dead:
            print(f"  survived: line {line}: {label}: {original.splitlines()[line - 1].strip()}")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
