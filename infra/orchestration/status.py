"""`invoke status`: each stack's status, last update, drift status, termination protection
and outputs (never a secret value), and the local pod's state for `--env local`."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from infra.orchestration.frame import REAL_PARTS, Frame, Seams
from infra.stacks import specs

SECRET_WORDS = ("password", "secretstring", "token", "privatekey")


def run(env: str, *, console: Console | None = None, seams: Seams = REAL_PARTS) -> list[Any]:
    frame = Frame.open(env, console, seams)
    frame.target.connect([])
    frame.identity()
    table = Table(title=f"stacks of env {env}", title_justify="left")
    for column in ("stack", "status", "last updated", "drift", "termination protection"):
        table.add_column(column)
    found = []
    for key in specs.ALL_STACKS:
        name = frame.stack_name(key)
        stack = frame.engine().status(name)
        if stack is None:
            table.add_row(name, "[dim]does not exist[/]", "-", "-", "-")
            continue
        found.append(stack)
        reason = f" ({stack.reason})" if stack.reason else ""
        table.add_row(
            name,
            Text(f"{stack.status}{reason}"),
            stack.last_updated or "-",
            stack.drift_status or "-",
            "on" if stack.termination_protection else "off",
        )
    frame.console.print(table)
    for stack in found:
        if stack.outputs:
            outputs = Table(title=f"outputs of {stack.name}", title_justify="left")
            outputs.add_column("output")
            outputs.add_column("value", overflow="fold")
            for key, value in sorted(stack.outputs.items()):
                outputs.add_row(key, Text(shown_output(key, value)))
            frame.console.print(outputs)
    line = frame.target.status_line()
    if line:
        frame.console.print(line)
    return found


def shown_output(key: str, value: str) -> str:
    """An output as printed: ARNs of secrets are fine, a secret value never is."""
    lowered = key.lower()
    if any(word in lowered for word in SECRET_WORDS) and not lowered.endswith("arn"):
        return "(hidden)"
    return value
