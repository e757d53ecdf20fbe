"""`invoke run`: the GIF service alone, in the foreground, on the embedded PostgreSQL.

The database is the one `invoke local.up` uses (.local/postgres, left running so the next
start is instant); DATABASE_URL in the environment replaces it. Migrate and seed run
first, as the migration Job does on Kubernetes, then `python -m app serve` until Ctrl-C.
"""

from __future__ import annotations

import errno
import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Callable

from infra.core.errors import BadInput, OperationFailed
from infra.core.paths import LOCAL_DIR, ROOT
from infra.local.postgres import LocalPostgres

DATA_DIR = LOCAL_DIR / "postgres"


def run(host: str, port: int, metrics_port: int = 9090, say: Callable[[str], None] = print) -> int:
    """Serve until interrupted; returns the server's exit code (0 after Ctrl-C)."""
    _check_port(host, port, "--port")
    if metrics_port == port:
        raise BadInput(
            f"cannot serve on {host}:{port}: --metrics-port must differ from --port "
            "(/metrics has a port of its own)"
        )
    # The local pod (`invoke local.up`) holds 9090 too: said here, naming the flag, rather
    # than as the server's dying words after migrate and seed.
    _check_port(host, metrics_port, "--metrics-port")
    env = dict(os.environ)
    if env.get("DATABASE_URL"):
        say("database: DATABASE_URL from the environment")
    else:
        env["DATABASE_URL"] = LocalPostgres(DATA_DIR).start()
        say(f"database: embedded PostgreSQL, data in {DATA_DIR}")
    for step in ("migrate", "seed"):
        done = subprocess.run(
            [sys.executable, "-m", "app", step],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise OperationFailed(f"`python -m app {step}` failed: {_last_message(done.stdout)}")
    display = f"[{host}]" if ":" in host else host
    say(f"GIF service: http://{display}:{port}/  (Ctrl-C stops it)")
    say(f"metrics:     http://{display}:{metrics_port}/metrics")
    serve = ["serve", "--host", host, "--port", str(port), "--metrics-port", str(metrics_port)]
    server = subprocess.Popen(
        [sys.executable, "-m", "app", *serve],
        cwd=ROOT,
        env=env,
    )
    try:
        return server.wait()
    except KeyboardInterrupt:
        # Ctrl-C in a terminal reached the server as well; a SIGINT sent to us alone did
        # not. SIGTERM is a graceful stop in both cases (a second SIGINT would not be).
        if server.poll() is None:
            server.send_signal(signal.SIGTERM)
        return server.wait()


def _check_port(host: str, port: int, flag: str) -> None:
    """Bad input, said as such, before anything starts: the port's range, the host's
    address, then whether that address and port can be listened on."""
    where = f"cannot serve on {host}:{port}"
    if not 1 <= port <= 65535:
        raise BadInput(f"{where}: {flag} must be between 1 and 65535")
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
    except (socket.gaierror, UnicodeError) as exc:
        raise BadInput(
            f"{where}: --host {host!r} is not an address ({getattr(exc, 'strerror', exc)}); "
            "pass an address of this machine, e.g. 127.0.0.1 (this machine only)"
        ) from None
    try:
        with socket.socket(family) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host, port))
    except OSError as exc:
        fix = {
            errno.EADDRINUSE: f"the port is taken by another program; pass another {flag}",
            errno.EADDRNOTAVAIL: f"--host {host} is not an address of this machine; pass one "
            "that is, e.g. 127.0.0.1",
            errno.EACCES: f"ports below 1024 need privileges; pass {flag} 1024 or above",
        }.get(exc.errno, f"{exc.strerror or exc}; pass another --host or {flag}")
        raise BadInput(f"{where}: {fix}") from None


def _last_message(stdout: str) -> str:
    """The `msg` of the app's last JSON log line (its error), else the raw last line."""
    lines = [line for line in stdout.splitlines() if line.strip()]
    if not lines:
        return "no output"
    try:
        return json.loads(lines[-1])["msg"]
    except (ValueError, KeyError):
        return lines[-1]
