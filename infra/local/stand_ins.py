"""`invoke local.up / local.down / local.status`: the local stand-ins for AWS and RDS.

Two background processes bound to loopback, state and pid files under `.local/`:
the AWS emulator (moto's server, infra/local/moto.py) and the embedded PostgreSQL
(infra/local/postgres.py). `up` twice is harmless; `down` stops them (and the local pod)
by their pids; the PostgreSQL data stays on disk for the next `up`.
"""

from __future__ import annotations

import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from rich.console import Console
from rich.table import Table

from infra.core.errors import BadInput
from infra.local.moto import LOCAL_DIR, Emulator
from infra.local.pod import Pod
from infra.settings.params import Settings


def _postgres(local_dir: Path):
    from infra.local.postgres import LocalPostgres  # engineer A's embedded PostgreSQL

    return LocalPostgres(local_dir / "postgres")


def up(settings: Settings, console: Console, *, local_dir: Path = LOCAL_DIR) -> None:
    """Start the AWS emulator and the embedded PostgreSQL unless they already run."""
    emulator = Emulator.for_settings(settings, local_dir)
    started = time.monotonic()
    fresh = emulator.start()
    console.print(
        f"AWS emulator (moto): {'started' if fresh else 'already running'} at {emulator.url} "
        f"(pid {emulator.pid()}){f', {time.monotonic() - started:.1f} s' if fresh else ''}"
    )
    postgres = _postgres(local_dir)
    was_running = postgres.is_running()
    started = time.monotonic()
    url = postgres.start()
    console.print(
        f"embedded PostgreSQL: {'already running' if was_running else 'started'} at "
        f"{redact(url)}{'' if was_running else f', {time.monotonic() - started:.1f} s'}"
    )
    console.print(f"state, pid and log files: {local_dir}")


def down(settings: Settings, console: Console, *, local_dir: Path = LOCAL_DIR) -> None:
    """Stop the local pod, the AWS emulator and the embedded PostgreSQL (by their pids)."""
    pod = Pod.for_settings(settings, local_dir)
    pid = pod.pid()
    console.print(f"local pod: {f'stopped (pid {pid})' if pod.stop() else 'was not running'}")
    emulator = Emulator.for_settings(settings, local_dir)
    pid = emulator.pid()
    stopped = emulator.stop()
    console.print(
        f"AWS emulator (moto): {f'stopped (pid {pid})' if stopped else 'was not running'}"
    )
    postgres = _postgres(local_dir)
    if postgres.is_running():
        postgres.stop()
        console.print(f"embedded PostgreSQL: stopped (data kept in {local_dir / 'postgres'})")
    else:
        console.print("embedded PostgreSQL: was not running")


def status(settings: Settings, console: Console, *, local_dir: Path = LOCAL_DIR) -> None:
    """A table of the local processes: running or not, pid, address, log."""
    table = Table(title="local stand-ins")
    for column in ("process", "state", "pid", "address", "log"):
        table.add_column(column)
    emulator = Emulator.for_settings(settings, local_dir)
    pid = emulator.pid()
    table.add_row(
        "AWS emulator (moto)",
        _state(pid is not None and emulator.answers()),
        str(pid or "-"),
        emulator.url,
        str(emulator.process.log_file),
    )
    postgres = _postgres(local_dir)
    running = postgres.is_running()
    table.add_row(
        "embedded PostgreSQL",
        _state(running),
        str(_postgres_pid(local_dir) or "-"),
        redact(postgres.url) if running else "-",
        str(local_dir / "postgres"),
    )
    pod = Pod.for_settings(settings, local_dir)
    pid = pod.pid()
    table.add_row(
        "GIF service (local pod)",
        _state(pid is not None and pod.ready()),
        str(pid or "-"),
        pod.url,
        str(pod.process.log_file),
    )
    console.print(table)


def require_up(settings: Settings, *, local_dir: Path = LOCAL_DIR) -> str:
    """The embedded PostgreSQL's URL; BadInput naming `invoke local.up` when a stand-in is down."""
    emulator = Emulator.for_settings(settings, local_dir)
    postgres = _postgres(local_dir)
    down_ones = []
    if not emulator.answers():
        down_ones.append(f"the AWS emulator ({emulator.url})")
    if not postgres.is_running():
        down_ones.append("the embedded PostgreSQL")
    if down_ones:
        raise BadInput(
            f"{' and '.join(down_ones)} {'is' if len(down_ones) == 1 else 'are'} not running. "
            "Start the local stand-ins first: `invoke local.up` "
            "(or in one go: `invoke local.up deploy --env local`)."
        )
    return postgres.url


def redact(url: str) -> str:
    """A connection URL without its password, for display."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = f"{parts.username}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def _state(running: bool) -> str:
    return "[green]running[/]" if running else "[red]stopped[/]"


def _postgres_pid(local_dir: Path) -> int | None:
    """PostgreSQL's own pid file: the first line of postmaster.pid in its data directory."""
    for pid_file in (local_dir / "postgres").rglob("postmaster.pid"):
        try:
            return int(pid_file.read_text().splitlines()[0])
        except (ValueError, IndexError, OSError):
            return None
    return None
