"""`invoke local.up / local.down / local.status`: the local stand-ins for AWS and RDS.

Two background processes bound to loopback, state and pid files under `.local/`:
the AWS emulator (moto's server, infra/local/moto.py) and the embedded PostgreSQL
(infra/local/postgres.py). `up` twice is harmless; `down` stops them (and the local pod)
by their pids, or, when `.local/` or its pid files are gone or garbage, by port, command line
and working directory (infra/local/orphans.py); the PostgreSQL data stays on disk for the
next `up` unless `down --wipe` removes it with the rest of the local state.
"""

from __future__ import annotations

import os
import shutil
import signal
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from infra.core.errors import BadInput
from infra.local import orphans
from infra.local.moto import LOCAL_DIR, Emulator
from infra.local.pod import Pod
from infra.settings.params import Settings


def _postgres(local_dir: Path):
    from infra.local.postgres import LocalPostgres  # engineer A's embedded PostgreSQL

    postgres = LocalPostgres(local_dir / "postgres")
    # As root the data lives in /var/tmp behind a link in .local/: `rm -rf .local` takes the
    # link only. While its server runs, the link is made again (its state file says whose).
    found = None if os.path.lexists(postgres.data_dir) else orphans.postmaster(postgres.data_dir)
    if found is not None and found[2] != postgres.data_dir and found[2].is_dir():
        postgres.data_dir.parent.mkdir(parents=True, exist_ok=True)
        postgres.data_dir.symlink_to(found[2], target_is_directory=True)
    return postgres


def _orphan_postmaster(postgres) -> tuple[int, int | None, Path] | None:
    """Our PostgreSQL server running without its data directory (deleted under it)."""
    return None if postgres.is_running() else orphans.postmaster(postgres.data_dir)


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
    orphan = _orphan_postmaster(postgres)
    if orphan is not None:  # its data directory is gone: nothing left to serve
        orphans.stop(orphan[0], signal.SIGINT, timeout_s=30)
        console.print(
            f"embedded PostgreSQL: stopped pid {orphan[0]}, which ran without its data directory"
        )
    was_running = postgres.is_running()
    started = time.monotonic()
    url = postgres.start()
    console.print(
        f"embedded PostgreSQL: {'already running' if was_running else 'started'} at "
        f"{redact(url)}{'' if was_running else f', {time.monotonic() - started:.1f} s'}"
    )
    console.print(f"state, pid and log files: {local_dir}")


def down(
    settings: Settings, console: Console, *, local_dir: Path = LOCAL_DIR, wipe: bool = False
) -> None:
    """Stop the local pod, the AWS emulator and the embedded PostgreSQL: by their pid files,
    or, without usable ones, by port, command line and working directory (never another
    program). `wipe` then removes their state too: the database, the pid and log files."""
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
    orphan = _orphan_postmaster(postgres)
    if postgres.is_running():
        postgres.stop()
        kept = "" if wipe else f" (data kept in {local_dir / 'postgres'})"
        console.print(f"embedded PostgreSQL: stopped{kept}")
    elif orphan is not None:
        orphans.stop(orphan[0], signal.SIGINT, timeout_s=30)
        console.print(
            f"embedded PostgreSQL: stopped (pid {orphan[0]}; its data directory was gone)"
        )
    else:
        console.print("embedded PostgreSQL: was not running")
    if wipe:
        removed = _wipe(local_dir, postgres.data_dir)
        console.print(
            f"removed the local state: {', '.join(map(str, removed))}"
            if removed
            else "no local state to remove"
        )


def _wipe(local_dir: Path, data_dir: Path) -> list[Path]:
    """Remove what the stand-ins and the pod keep (not .local/tools: the linters' own
    environments). A data directory kept elsewhere (as root, in /var/tmp) goes too."""
    removed = []
    if data_dir.is_symlink():
        target = data_dir.resolve()
        data_dir.unlink()
        removed.append(data_dir)
        if target.is_dir():
            shutil.rmtree(target)
            removed.append(target)
    for target in (local_dir / "pod", local_dir / "moto", data_dir):
        if target.exists():
            shutil.rmtree(target)
            removed.append(target)
    (data_dir.parent / f".{data_dir.name}.lock").unlink(missing_ok=True)
    return removed


def status(settings: Settings, console: Console, *, local_dir: Path = LOCAL_DIR) -> None:
    """A table of the local processes: running or not (and why not ready), pid, address, log.
    Found by their pid files, or by port and command line when those are gone."""
    table = Table(title="local stand-ins", title_justify="left")
    table.add_column("process", no_wrap=True)
    table.add_column("state")
    table.add_column("pid", no_wrap=True)
    for column in ("address", "log"):  # whole, wrapped if need be: never cut short
        table.add_column(column, overflow="fold")
    emulator = Emulator.for_settings(settings, local_dir)
    pid = emulator.pid()
    table.add_row(
        "AWS emulator (moto)",
        _state(pid, None if emulator.answers() else "not answering"),
        str(pid or "-"),
        emulator.url,
        str(emulator.process.log_file),
    )
    postgres = _postgres(local_dir)
    orphan = _orphan_postmaster(postgres)
    if orphan is not None:
        pid, port, _ = orphan
        state = _state(pid, "its data directory is gone: `invoke local.down` stops it")
        address = f"127.0.0.1:{port}" if port else "-"
    else:
        pid = _postgres_pid(local_dir) if postgres.is_running() else None
        state = _state(pid or postgres.is_running(), None)
        address = redact(postgres.url) if postgres.is_running() else "-"
    table.add_row("embedded PostgreSQL", state, str(pid or "-"), address, str(postgres.data_dir))
    pod = Pod.for_settings(settings, local_dir)
    pid = pod.pid()
    table.add_row(
        "GIF service (local pod)",
        _state(pid, pod.not_ready() if pid else None),
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


def _state(running: object, not_ready: str | None) -> str:
    if not running:
        return "[red]stopped[/]"
    if not_ready:
        return f"[yellow]running, not ready[/] ({escape(not_ready)})"
    return "[green]running[/]"


def _postgres_pid(local_dir: Path) -> int | None:
    """PostgreSQL's own pid file: the first line of postmaster.pid in its data directory."""
    for pid_file in (local_dir / "postgres").rglob("postmaster.pid"):
        try:
            return int(pid_file.read_text().splitlines()[0])
        except (ValueError, IndexError, OSError):
            return None
    return None
