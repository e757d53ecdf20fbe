"""The end-of-run summary: a table of each stack's result, change count and duration, on
the console and, in GitHub Actions, as Markdown in the job summary ($GITHUB_STEP_SUMMARY).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.table import Table
from rich.text import Text

from infra.cfn.types import StackResult

STYLES = {
    "created": "green",
    "updated": "green",
    "deleted": "green",
    "recovered": "green",
    "unchanged": "dim",
    "planned": "cyan",
    "skipped": "yellow",
    "not run": "yellow",
    "failed": "bold red",
}


# Without a terminal (CI logs, pipes) rich would assume 80 columns and cut table cells short;
# there a line is as wide as it needs (up to this), so URLs and paths stay whole.
WIDTH_WITHOUT_TERMINAL = 500


def new_console(*, stderr: bool = False) -> Console:
    """The console every command prints to. No emoji codes: AWS values contain things like
    `:secret:` (a Secrets Manager ARN) that rich would otherwise turn into pictures. Without
    a terminal, and unless COLUMNS says otherwise, wide enough to cut nothing."""
    console = Console(emoji=False, stderr=stderr)
    if not console.is_terminal and not os.environ.get("COLUMNS"):
        console.width = WIDTH_WITHOUT_TERMINAL
    return console


def print_table(console: Console, title: str, results: Sequence[StackResult]) -> None:
    table = Table(title=title, title_justify="left")
    table.add_column("stack")
    table.add_column("result")
    table.add_column("changes", justify="right")
    table.add_column("duration", justify="right")
    table.add_column("note", overflow="fold")
    for result in results:
        style = STYLES.get(result.status, "")
        table.add_row(
            result.name,
            f"[{style}]{result.status}[/]" if style else result.status,
            str(result.changes) if result.changes else "-",
            f"{result.duration_s:.1f} s",
            Text(first_line(result.message)),  # AWS text: no markup
        )
    console.print(table)


def markdown(
    title: str,
    results: Sequence[StackResult],
    *,
    app_url: str | None = None,
    footer: str = "",
) -> str:
    lines = [f"### {title}", "", "| stack | result | changes | duration | note |"]
    lines.append("|---|---|---:|---:|---|")
    for result in results:
        note = first_line(result.message).replace("|", "\\|")
        lines.append(
            f"| `{result.name}` | {result.status} | {result.changes} | "
            f"{result.duration_s:.1f} s | {note} |"
        )
    lines.append("")
    executed = sum(1 for result in results if result.status in ("created", "updated"))
    changes = sum(result.changes for result in results)
    lines.append(f"Change sets executed: {executed}; resources changed: {changes}.")
    if app_url:
        lines.append(f"App: <{app_url}>")
    if footer:
        lines.append(footer)
    return "\n".join(lines) + "\n"


def write_step_summary(text: str) -> Path | None:
    """Append to the GitHub Actions job summary when running there."""
    target = os.environ.get("GITHUB_STEP_SUMMARY")
    if not target:
        return None
    path = Path(target)
    with path.open("a", encoding="utf-8") as handle:
        handle.write(text + "\n")
    return path


def first_line(message: str) -> str:
    return message.strip().splitlines()[0] if message.strip() else ""
