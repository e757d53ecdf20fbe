"""infra/orchestration/progress.py: the live board's rows for a sequence of updates on a (forced)
terminal, nothing at all without a terminal or when a prompt may be asked, and a deploy
against the AWS emulator (moto's server over HTTP) that ends with every row's result."""

from __future__ import annotations

import io
import re

from rich.console import Console

from infra.cfn.types import DeployOptions
from infra.orchestration import deploy, progress

NAMES = ["gif-dev-network", "gif-dev-database", "gif-dev-cluster", "gif-dev-workload"]
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def terminal() -> Console:
    return Console(force_terminal=True, file=io.StringIO(), width=100, emoji=False)


def plain(console: Console) -> str:
    return ANSI.sub("", console.file.getvalue()).replace("\r", "\n")


def latest_rows(console: Console, count: int = len(NAMES)) -> list[list[str]]:
    """The last frame drawn: its rows split into words (stack, state..., elapsed)."""
    lines = [line for line in plain(console).splitlines() if line.strip()]
    return [line.split() for line in lines[-count:]]


class FakeTime:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_rows_follow_each_stack_from_waiting_to_its_result():
    console, clock = terminal(), FakeTime()
    with progress.board(console, NAMES, enabled=True, get_time=clock, auto_refresh=False) as board:
        assert board.shown
        board.start("gif-dev-network")
        assert latest_rows(console) == [
            ["gif-dev-network", "running", "0:00:00"],
            ["gif-dev-database", "waiting", "-:--:--"],
            ["gif-dev-cluster", "waiting", "-:--:--"],
            ["gif-dev-workload", "waiting", "-:--:--"],
        ]
        clock.now += 75
        board.stack_status("gif-dev-network", "CREATE_IN_PROGRESS")
        assert latest_rows(console)[0] == [
            "gif-dev-network",
            "running:",
            "CREATE_IN_PROGRESS",
            "0:01:15",
        ]
        board.finish("gif-dev-network", "created")
        # the two that need the network run in parallel
        board.start("gif-dev-database")
        board.start("gif-dev-cluster")
        clock.now += 30
        board.stack_status("gif-dev-database", "UPDATE_ROLLBACK_IN_PROGRESS")
        board.stack_status("gif-dev-cluster", "CREATE_COMPLETE")
        assert latest_rows(console) == [
            ["gif-dev-network", "created", "0:01:15"],  # frozen at its finish
            ["gif-dev-database", "running:", "UPDATE_ROLLBACK_IN_PROGRESS", "0:00:30"],
            ["gif-dev-cluster", "running:", "CREATE_COMPLETE", "0:00:30"],
            ["gif-dev-workload", "waiting", "-:--:--"],
        ]
        console.print("gif-dev-database +0:30 Database AWS::RDS::DBInstance UPDATE_FAILED")
        clock.now += 5
        board.finish("gif-dev-database", "failed")
        board.finish("gif-dev-cluster", "unchanged")
        board.finish("gif-dev-workload", "not run")
        clock.now += 100  # finished rows keep their time
    final = latest_rows(console)
    assert final == [
        ["gif-dev-network", "created", "0:01:15"],
        ["gif-dev-database", "failed", "0:00:35"],
        ["gif-dev-cluster", "unchanged", "0:00:35"],
        ["gif-dev-workload", "not", "run", "-:--:--"],
    ]
    # a line printed through the console while the board is up scrolls above it
    text = plain(console)
    assert text.index("Database AWS::RDS::DBInstance UPDATE_FAILED") < text.rindex(
        "gif-dev-network  created"
    )


def test_a_skipped_row_has_no_clock():
    console = terminal()
    with progress.board(console, NAMES[:1], enabled=True, auto_refresh=False) as board:
        board.finish("gif-dev-network", "skipped")
    assert latest_rows(console, 1) == [["gif-dev-network", "skipped", "-:--:--"]]


def drive(board: progress.Board) -> None:
    board.start("gif-dev-network")
    board.stack_status("gif-dev-network", "CREATE_IN_PROGRESS")
    board.finish("gif-dev-network", "created")
    board.finish("gif-dev-database", "not run")


def test_without_a_terminal_nothing_is_drawn():
    console = Console(file=io.StringIO(), width=100)  # a pipe, CI, a test
    assert not console.is_terminal
    with progress.board(console, NAMES, enabled=True, auto_refresh=False) as board:
        assert not board.shown
        drive(board)
        console.print("an event line")
    assert console.file.getvalue() == "an event line\n"


def test_when_a_prompt_may_be_asked_nothing_is_drawn():
    console = terminal()
    options = DeployOptions(yes=False, dry_run=False, interactive=True)
    with progress.board(console, NAMES, enabled=progress.wanted(options)) as board:
        assert not board.shown
        drive(board)
    assert console.file.getvalue() == ""


def test_wanted_only_when_no_question_can_come():
    assert not progress.wanted(DeployOptions(yes=False, dry_run=False))
    assert progress.wanted(DeployOptions(yes=True))
    assert progress.wanted(DeployOptions(dry_run=True))


# --- a deploy on a terminal, against the emulator ---------------------------------------------


def test_a_deploy_on_a_terminal_ends_with_every_stack_result(aws):
    console = Console(force_terminal=True, file=io.StringIO(), width=160, emoji=False)

    report = deploy.run("dev", only="network,database", yes=True, console=console)

    assert [(r.name, r.status) for r in report.results] == [
        ("gif-dev-network", "created"),
        ("gif-dev-database", "created"),
    ]
    text = plain(console)
    # the engine told the board the stack status it polled
    assert "gif-dev-network  running: CREATE_COMPLETE" in text
    # the board's last frame, before the summary table
    rows = list(re.finditer(r"^(gif-dev-\w+)\s+(\w+)\s+\d:\d\d:\d\d$", text, re.MULTILINE))
    assert [row.groups() for row in rows[-2:]] == [
        ("gif-dev-network", "created"),
        ("gif-dev-database", "created"),
    ]
    assert rows[-1].end() < text.index("gifstack deploy --env dev")
    # the event lines are still printed, once each
    assert text.count("gif-dev-database AWS::CloudFormation::Stack CREATE_COMPLETE") == 1
