"""A live progress board for `invoke deploy` / `bootstrap` on a terminal: one row per stack
of the run with its state (waiting, running: its latest stack status, then its result) and
elapsed time, redrawn while the parallel stacks run. It is rich's `Progress`; the event
lines the engine prints through the same console scroll above it.

It is shown only on a terminal, and only when no question can come up: with --yes or
--dry-run (and `--env local`, which never asks). A change set's confirmation prompt would
otherwise sit under a board that keeps redrawing. Anywhere else (CI, pipes, tests, a dumb
terminal) the board does nothing, so the output is the same lines as without it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.markup import escape
from rich.progress import Progress, TaskID, TextColumn, TimeElapsedColumn

from infra.cfn.events import status_style
from infra.cfn.types import DeployOptions
from infra.orchestration.summary import STYLES as RESULT_STYLES

WAITING = "waiting"


def wanted(options: DeployOptions) -> bool:
    """No confirmation prompt can be asked during the run, so a live board fits."""
    return options.yes or options.dry_run


class Board:
    """The rows of one run, keyed by stack name. Every method is thread-safe (the stack
    threads call it) and does nothing when the board isn't shown."""

    def __init__(self, progress: Progress | None, names: Iterable[str]):
        self._progress = progress
        self._tasks: dict[str, TaskID] = {}
        self._started: set[str] = set()
        if progress is not None:
            for name in names:
                # total=1: the row counts as finished (elapsed frozen) once its result is in
                self._tasks[name] = progress.add_task(
                    name, start=False, total=1, state=f"[dim]{WAITING}[/]"
                )

    @property
    def shown(self) -> bool:
        return self._progress is not None

    def start(self, name: str) -> None:
        """The stack's thread began: its clock starts."""
        task = self._task(name)
        if task is not None:
            self._started.add(name)
            self._progress.start_task(task)
            self._set(task, "[yellow]running[/]")

    def stack_status(self, name: str, status: str) -> None:
        """The latest status CloudFormation reported for the stack (engine polls)."""
        task = self._task(name)
        if task is not None:
            self._set(task, f"running: [{status_style(status)}]{escape(status)}[/]")

    def finish(self, name: str, result: str) -> None:
        """The stack's result (created, updated, unchanged, failed, not run, skipped...)."""
        task = self._task(name)
        if task is not None:
            style = RESULT_STYLES.get(result, "")
            state = f"[{style}]{escape(result)}[/]" if style else escape(result)
            if name in self._started:  # a stack that never ran keeps no clock
                self._progress.update(task, completed=1)
                self._progress.stop_task(task)
            self._set(task, state)

    def _task(self, name: str) -> TaskID | None:
        return None if self._progress is None else self._tasks.get(name)

    def _set(self, task: TaskID, state: str) -> None:
        self._progress.update(task, state=state, refresh=True)


@contextmanager
def board(
    console: Console,
    names: Iterable[str],
    *,
    enabled: bool,
    get_time: Callable[[], float] | None = None,
    auto_refresh: bool = True,
) -> Iterator[Board]:
    """Show the board while the block runs; its final state stays on screen afterwards.
    `enabled` is `wanted(options)`; without a terminal it is off regardless.
    `get_time` and `auto_refresh` let tests drive the clock and the redraws."""
    if not (enabled and console.is_terminal and not console.is_dumb_terminal):
        yield Board(None, names)
        return
    progress = Progress(
        TextColumn("{task.description}", markup=False),
        TextColumn("{task.fields[state]}"),
        TimeElapsedColumn(),
        console=console,
        get_time=get_time,
        auto_refresh=auto_refresh,
    )
    with progress:
        yield Board(progress, names)
