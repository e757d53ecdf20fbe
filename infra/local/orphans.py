"""Our own local processes, found without their pid files.

A pid file can be gone (`rm -rf .local` with the stand-ins running) or garbage. Then a
process still counts as ours only by what the system says about it: the AWS emulator and the
local pod by the port they listen on, their command line (our marker) and their working
directory (this checkout); the embedded PostgreSQL by its command line naming our data
directory. Anything else on those ports is another program and is never touched.

Linux reads /proc; elsewhere `lsof` and `ps` answer, when present.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

_PROC = Path("/proc")
_LISTEN = "0A"  # TCP state LISTEN in /proc/net/tcp
STATE_FILE = "gifstack-local.json"  # the embedded PostgreSQL's, in its data directory


def listener(port: int) -> int | None:
    """The pid of the process listening on TCP `port` (any local address), if one is."""
    if (_PROC / "net" / "tcp").exists():
        inodes = _listening_inodes(port)
        return _socket_owner(inodes) if inodes else None
    lsof = shutil.which("lsof")
    if lsof is None:
        return None
    found = subprocess.run(
        [lsof, "-nP", f"-iTCP:{port}", "-sTCP:LISTEN", "-t"], capture_output=True, text=True
    )
    pids = [int(line) for line in found.stdout.split() if line.isdigit()]
    return pids[0] if pids else None


def ours(pid: int, marker: str, workdir: Path) -> bool:
    """Whether `pid` runs our command (its command line has `marker`) from `workdir`."""
    return marker in command_line(pid) and cwd(pid) == workdir.resolve()


def command_line(pid: int) -> str:
    try:
        return (_PROC / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode()
    except FileNotFoundError:
        if _PROC.joinpath("self").exists():
            return ""  # Linux: the process is gone
    except OSError:
        return ""
    # -ww: without it ps cuts the line at the terminal's width (80 columns with no terminal),
    # and the marker at the end of our command line goes missing (procps and BSD ps alike).
    ps = subprocess.run(
        ["ps", "-ww", "-o", "command=", "-p", str(pid)], capture_output=True, text=True
    )
    return ps.stdout


def cwd(pid: int) -> Path | None:
    try:
        return Path(os.readlink(_PROC / str(pid) / "cwd"))
    except FileNotFoundError:
        if _PROC.joinpath("self").exists():
            return None
    except OSError:
        return None
    lsof = shutil.which("lsof")
    if lsof is None:
        return None
    found = subprocess.run(
        [lsof, "-a", "-p", str(pid), "-d", "cwd", "-Fn"], capture_output=True, text=True
    )
    names = [line[1:] for line in found.stdout.splitlines() if line.startswith("n")]
    return Path(names[0]) if names else None


def postmaster(data_dir: Path) -> tuple[int, int | None, Path] | None:
    """(pid, port, directory) of the PostgreSQL server started on `data_dir`: its command
    line names it (`postgres -D DIR`; the children retitle themselves, so only the
    postmaster's does), or names a directory whose state file says it was asked for at
    `data_dir` (as root the data lives elsewhere, behind a link that `rm -rf` may take)."""
    wanted = str(Path(data_dir).absolute())
    for pid in _pids():
        argv = _argv(pid)
        if len(argv) < 3 or not argv[0].endswith("postgres") or "-D" not in argv[:-1]:
            continue
        directory = argv[argv.index("-D") + 1]
        if directory == wanted or _asked_for(Path(directory)) == wanted:
            port = argv[argv.index("-p") + 1] if "-p" in argv[:-1] else None
            return pid, int(port) if port and port.isdigit() else None, Path(directory)
    return None


def _asked_for(directory: Path) -> str | None:
    try:
        return json.loads((directory / STATE_FILE).read_text()).get("asked_for")
    except (OSError, ValueError, AttributeError):
        return None


def stop(pid: int, sig: signal.Signals = signal.SIGTERM, timeout_s: float = 10) -> None:
    """Signal one process (its group, when it leads one) and wait; SIGKILL after the timeout."""
    _signal(pid, sig)
    deadline = time.monotonic() + timeout_s
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if alive(pid):
        _signal(pid, signal.SIGKILL)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (exited, not yet reaped by its parent) is not running.
    try:
        stat = (_PROC / str(pid) / "stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, IndexError):
        return True


def _signal(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        if os.getpgid(pid) == pid:  # it leads its own group (we start ours so): children too
            os.killpg(pid, sig)
        else:
            os.kill(pid, sig)


def _listening_inodes(port: int) -> set[str]:
    inodes = set()
    for table in ("tcp", "tcp6"):
        try:
            lines = (_PROC / "net" / table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if fields[3] == _LISTEN and int(fields[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(fields[9])
    return inodes


def _socket_owner(inodes: set[str]) -> int | None:
    targets = {f"socket:[{inode}]" for inode in inodes}
    for pid in _pids():
        try:
            fds = list((_PROC / str(pid) / "fd").iterdir())
        except OSError:
            continue
        for fd in fds:
            with contextlib.suppress(OSError):
                if os.readlink(fd) in targets:
                    return pid
    return None


def _pids() -> list[int]:
    if _PROC.joinpath("self").exists():
        return sorted(int(entry.name) for entry in _PROC.iterdir() if entry.name.isdigit())
    ps = subprocess.run(["ps", "-A", "-o", "pid="], capture_output=True, text=True)
    return [int(pid) for pid in ps.stdout.split() if pid.isdigit()]


def _argv(pid: int) -> list[str]:
    try:
        raw = (_PROC / str(pid) / "cmdline").read_bytes()
    except OSError:
        return command_line(pid).split() if not _PROC.joinpath("self").exists() else []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]
