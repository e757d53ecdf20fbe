"""`invoke preflight --env ENV`, also the start of `invoke deploy`: read-only checks, a few
seconds, that find before any stack is touched what would fail a deploy later (the checks:
infra/orchestration/preflight_checks.py). Prints one table with the fix of each failure; any
failure is BadInput (exit 2). The local emulator answers too few of these calls: `--env
local` skips preflight (the deploy plan says so).
"""

from __future__ import annotations

import os
import socket

from rich.console import Console
from rich.table import Table

from infra.aws.errors import AWS_ERRORS
from infra.core.errors import BadInput
from infra.orchestration import preflight_checks as checks
from infra.orchestration.frame import REAL_PARTS, Frame, Seams
from infra.orchestration.preflight_checks import FAIL, OK, SKIP, Context, Finding

STYLE = {OK: "green", FAIL: "bold red", SKIP: "yellow"}


SKIPPED = (
    "preflight: skipped (the local emulator answers too few of its calls: no EKS, Service "
    "Quotas or IAM policy simulation; `invoke preflight --env ENV` runs it against AWS)"
)


def applies(frame: Frame) -> bool:
    """Preflight runs against AWS, not the local emulator (reached through the params'
    aws_endpoint_url or AWS_ENDPOINT_URL)."""
    emulated = frame.settings.aws_endpoint_url or os.environ.get("AWS_ENDPOINT_URL")
    return frame.target.needs_bootstrap and not emulated


def before_deploy(frame: Frame, *, app_step: bool) -> None:
    """The start of `invoke deploy`: the checks, or a plan line saying why not."""
    if applies(frame):
        check(frame, app_step=app_step)
    else:
        frame.console.print(SKIPPED)


def run(env: str, *, console: Console | None = None, seams: Seams = REAL_PARTS) -> list[Finding]:
    """`invoke preflight`: every check, the table, BadInput if any failed."""
    frame = Frame.open(env, console, seams)
    return check(frame, app_step=True)


def check(frame: Frame, *, app_step: bool) -> list[Finding]:
    """Run the checks in `frame`, print the table; BadInput (exit 2) if any failed."""
    ctx = Context(
        aws=frame.aws,
        settings=frame.settings,
        app_step=app_step,
        stack_outputs=lambda key: _outputs(frame, key),
        connect=tcp_connect,
    )
    findings = [each(ctx) for each in checks.CHECKS]
    print_table(frame, findings)
    failed = [finding for finding in findings if finding.status == FAIL]
    if failed:
        names = ", ".join(finding.check for finding in failed)
        raise BadInput(
            f"preflight --env {frame.env}: {len(failed)} check(s) failed ({names}); the table "
            "above says how to fix each. No stack was touched."
        )
    return findings


def tcp_connect(host: str, port: int, timeout: float = 3.0) -> bool:
    """Only ever the cluster's own endpoint (the cluster stack's output)."""
    try:
        socket.create_connection((host, port), timeout=timeout).close()
        return True
    except OSError:
        return False


def _outputs(frame: Frame, key: str) -> dict[str, str] | None:
    """A stack's outputs, None when it doesn't exist or can't be read."""
    try:
        return frame.existing_outputs(key)
    except AWS_ERRORS:
        return None


def print_table(frame: Frame, findings: list[Finding]) -> None:
    table = Table(title=f"gifstack preflight --env {frame.env}", title_justify="left")
    table.add_column("check")
    table.add_column("result")
    table.add_column("detail", overflow="fold")
    table.add_column("fix", overflow="fold")
    for finding in findings:
        style = STYLE[finding.status]
        table.add_row(
            finding.check,
            f"[{style}]{finding.status}[/]",
            finding.detail,
            finding.fix if finding.status != OK else "",
        )
    frame.console.print(table)
