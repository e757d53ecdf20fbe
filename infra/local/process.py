"""Detached background processes with pid files: start, find, stop (the local stand-ins).

A pid file alone can lie (the process died, the pid was reused), so a process counts as
ours only while it is alive and its command line still contains the marker we started
it with. Without a usable pid file (deleted with `.local/`, or garbage), a process given a
`port` and `workdir` is still found: the one listening on that port with our marker in its
command line and this checkout as its working directory (infra/local/orphans.py).
"""

from __future__ import annotations

import contextlib
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from infra.core.errors import OperationFailed
from infra.local import orphans


@dataclass(frozen=True)
class Background:
    """One background process, known by its pid file and its log file."""

    name: str  # for messages: "AWS emulator (moto)"
    pid_file: Path
    log_file: Path
    marker: str  # a string its command line contains, e.g. "infra.local.moto"
    port: int | None = None  # where it listens: found there when its pid file is no help
    workdir: Path | None = None  # ... and only when it runs from here (this checkout)

    def pid(self) -> int | None:
        """The pid of the running process, or None (a stale pid file is removed)."""
        try:
            pid = int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            pid = None
        if pid is not None and orphans.alive(pid) and self.marker in orphans.command_line(pid):
            return pid
        with contextlib.suppress(OSError):
            self.pid_file.unlink(missing_ok=True)
        return self.orphan()

    def adopt(self, pid: int) -> None:
        """Record `pid` (found by orphan()) in the pid file again."""
        self.pid_file.parent.mkdir(parents=True, exist_ok=True)
        self.pid_file.write_text(f"{pid}\n")

    def orphan(self) -> int | None:
        """Our process listening on `port` from `workdir`, whatever its pid file says."""
        if self.port is None or self.workdir is None:
            return None
        pid = orphans.listener(self.port)
        if pid is not None and orphans.ours(pid, self.marker, self.workdir):
            return pid
        return None

    def start(
        self, argv: Sequence[str], *, env: dict[str, str] | None = None, cwd: Path
    ) -> subprocess.Popen:
        """Start `argv` detached from this process (own session, output to the log file)."""
        self.pid_file.parent.mkdir(parents=True, exist_ok=True)
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        with self.log_file.open("ab") as log:
            process = subprocess.Popen(
                list(argv),
                cwd=cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # survives the invoking shell and its Ctrl-C
            )
        self.pid_file.write_text(f"{process.pid}\n")
        return process

    def wait_until(
        self,
        ready: Callable[[], bool],
        timeout_s: float,
        started: subprocess.Popen | None = None,
    ) -> None:
        """Wait for `ready()`; fail with the log's tail when the process dies or times out.

        Pass `started` (what start() returned) for a process just started: until it has
        exec'd, its command line is still ours, so only its handle tells it is alive. A
        process started here that never gets ready is stopped again.
        """
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if ready():
                return
            alive = started.poll() is None if started is not None else self.pid() is not None
            if not alive:
                self.pid_file.unlink(missing_ok=True)
                raise OperationFailed(
                    f"the {self.name} exited while starting. Last lines of {self.log_file}:\n"
                    f"{self.log_tail()}"
                )
            time.sleep(0.05)
        if started is not None:
            orphans.stop(started.pid, signal.SIGKILL)
            started.wait()
            self.pid_file.unlink(missing_ok=True)
        raise OperationFailed(
            f"the {self.name} did not become ready within {timeout_s:.0f} s. "
            f"Last lines of {self.log_file}:\n{self.log_tail()}"
        )

    def stop(self, timeout_s: float = 10) -> bool:
        """Stop the process (SIGTERM, then SIGKILL); False when it wasn't running."""
        pid = self.pid()
        if pid is None:
            return False
        orphans.stop(pid, signal.SIGTERM, timeout_s)
        with contextlib.suppress(OSError):
            self.pid_file.unlink(missing_ok=True)
        return True

    def log_tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return "(no log)"


def port_open(host: str, port: int, timeout_s: float = 0.2) -> bool:
    """Whether something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except OSError:
        return False
