"""`invoke drift`: drift detection on every stack of the environment (and the account-wide
ones), printed per drifted resource: the property, the expected and the actual value.

Drift on a stateful resource (database, cluster, KMS key, VPC: infra/cfn/changes.py) is
marked: those are the ones a deploy must not silently revert or replace. Values under a
secret-looking property are never printed. An endpoint without drift detection (the local
emulator) is said to lack it; nothing is faked.
"""

from __future__ import annotations

from rich.console import Console
from rich.table import Table
from rich.text import Text

from infra.aws.errors import unsupported_operation
from infra.cfn.changes import stateful_types
from infra.cfn.types import StackDrift
from infra.core.errors import GifstackError
from infra.orchestration.frame import REAL_PARTS, Frame, Seams
from infra.orchestration.status import shown_output
from infra.stacks import specs


def run(
    env: str, *, console: Console | None = None, seams: Seams = REAL_PARTS
) -> dict[str, StackDrift]:
    """Stack name -> its drift, for every stack that exists (and whose endpoint can tell)."""
    frame = Frame.open(env, console, seams)
    keys = list(specs.ALL_STACKS)
    skipped = frame.target.connect(keys)
    frame.identity()
    found: dict[str, StackDrift] = {}
    for key in keys:
        name = frame.stack_name(key)
        if key in skipped:
            frame.console.print(f"{name}: skipped ({skipped[key]})")
            continue
        try:
            drift = frame.engine().drift(name)
        except GifstackError as exc:
            if not unsupported_operation(exc.__context__ or exc):
                raise
            frame.console.print(
                "[yellow]drift detection is not available from this endpoint "
                f"({frame.settings.aws_endpoint_url or 'AWS'}); nothing was checked[/]"
            )
            break
        if drift is None:
            frame.console.print(f"{name}: does not exist")
            continue
        found[name] = drift
        frame.console.print(describe(drift))
        if drift.drifted:
            frame.console.print(table(drift))
    frame.console.print(frame.calls.describe())
    return found


def describe(drift: StackDrift) -> Text:
    line = Text(f"{drift.name}: ", style="bold")
    if drift.drifted:
        stateful = sum(r.resource_type in stateful_types() for r in drift.resources)
        line.append(f"{len(drift.resources)} resource(s) drifted", style="red")
        if stateful:
            line.append(f", {stateful} holding data", style="bold red")
    else:
        line.append("in sync" if drift.status == "IN_SYNC" else drift.status, style="green")
    if drift.reason:
        line.append(f" (not every resource could be checked: {drift.reason})", style="yellow")
    return line


def table(drift: StackDrift) -> Table:
    """One row per drifted property (or per deleted resource)."""
    rows = Table(title=f"drift of {drift.name}", title_justify="left")
    for column in ("resource", "type", "status", "property", "expected", "actual"):
        rows.add_column(column, overflow="fold")
    for resource in drift.resources:
        marker = " (holds data)" if resource.resource_type in stateful_types() else ""
        if not resource.properties:
            rows.add_row(
                resource.logical_id + marker, resource.resource_type, resource.status, "-", "-", "-"
            )
        for prop in resource.properties:
            rows.add_row(
                resource.logical_id + marker,
                resource.resource_type,
                f"{resource.status} ({prop.kind})",
                prop.path,
                Text(shown_output(prop.path, prop.expected)),
                Text(shown_output(prop.path, prop.actual)),
            )
    return rows
