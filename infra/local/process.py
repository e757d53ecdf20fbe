"""Detached background processes with pid files: start, find, stop (the local stand-ins).

A pid file alone can lie (the process died, the pid was reused), so a process counts as
ours only while it is alive and its command line still contains the marker we started
it with.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from infra.core.errors import OperationFailed


@dataclass(frozen=True)
class Background:
    """One background process, known by its pid file and its log file."""

    name: str  # for messages: "AWS emulator (moto)"
    pid_file: Path
    log_file: Path
    marker: str  # a string its command line contains, e.g. "infra.local.moto"

    def pid(self) -> int | None:
        """The pid of the running process, or None (a stale pid file is removed)."""
        try:
            pid = int(self.pid_file.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None
        if _alive(pid) and self.marker in _cmdline(pid):
            return pid
        self.pid_file.unlink(missing_ok=True)
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
            _signal_group(started.pid, signal.SIGKILL)
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
        _signal_group(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if _alive(pid):
            _signal_group(pid, signal.SIGKILL)
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


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (exited, not yet reaped by its parent) is not running.
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, IndexError):
        return True


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except FileNotFoundError:
        if Path("/proc/self").exists():
            return ""  # Linux: the process is gone
    except OSError:
        return ""
    # No /proc (macOS): ask ps.
    ps = subprocess.run(["ps", "-o", "command=", "-p", str(pid)], capture_output=True, text=True)
    return ps.stdout


def _signal_group(pid: int, sig: signal.Signals) -> None:
    """Signal the process's whole group (it leads its own session), so children go too."""
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
