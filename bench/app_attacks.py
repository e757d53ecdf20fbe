"""What one client can cost the GIF service: replay slow and oversized requests on loopback.

Starts `python -m app serve` (one process, on 127.0.0.1 only, no database needed: /healthz
never touches it) and, one after another:

- one request with a 16 MiB header, one with 10,000 headers: the answer;
- 20 connections each sending an unfinished 16 MiB header: the process's RSS while they
  are held, and whether the server closed them;
- 1,000 half-sent requests: how many are still open after the head deadline + 5 s;
- 900 connections each holding a head just under the limit: RSS per connection;
- one sender at 1 byte/s: when the server cut it off (the loop stops after 30 s).

During each it times GET /healthz on a fresh connection. Every loop is bounded and all
traffic goes to the server it started on 127.0.0.1.

    .venv/bin/python bench/app_attacks.py [--env NAME=VALUE ...]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MIB = 1024 * 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", action="append", default=[], help="NAME=VALUE for the service")
    parser.add_argument("--deadline", type=float, default=10, help="the head deadline in force")
    parser.add_argument("--full-heads", type=int, default=900, help="connections for that one")
    parser.add_argument("--head-bytes", type=int, default=16 * 1024, help="the head limit")
    args = parser.parse_args()
    port = _free_port()
    env = {
        "PATH": os.environ["PATH"],
        "HOME": "/tmp",
        "DATABASE_URL": f"postgresql://app@127.0.0.1:{_free_port()}/gif",  # nobody there
        "DB_POOL_MIN": "0",
        "METRICS_PORT": "0",
        "LOG_LEVEL": "warning",
    }
    env.update(item.split("=", 1) for item in args.env)
    server = subprocess.Popen(
        [sys.executable, "-m", "app", "serve", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_listening(port)
        print(f"service pid {server.pid}: RSS at start {_rss(server.pid):.1f} MiB")
        attacks = (
            ("one 16 MiB header", lambda: _one_request(port, _big_header(16 * MIB))),
            ("10,000 headers", lambda: _one_request(port, _many_headers(10_000))),
            ("20 x unfinished 16 MiB header", lambda: _held_heads(port, server.pid)),
            ("1,000 half-sent requests", lambda: _half_sent(port, args.deadline + 5)),
            (
                f"{args.full_heads} connections holding a head just under the limit",
                lambda: _full_heads(port, server.pid, args.full_heads, args.head_bytes),
            ),
            ("1 byte/s sender", lambda: _trickle(port, 30)),
        )
        for name, attack in attacks:
            probe = _Prober(port)
            probe.start()
            started = time.monotonic()
            try:
                outcome = attack()
            finally:
                probe.stop()
            print(
                f"{name}: {outcome}; {time.monotonic() - started:.1f} s; /healthz during it: "
                f"{probe.summary()}; RSS now {_rss(server.pid):.1f} MiB, "
                f"peak {_rss(server.pid, 'VmHWM'):.1f} MiB"
            )
    finally:
        server.terminate()
        try:
            server.wait(25)
        except subprocess.TimeoutExpired:
            server.kill()


def _big_header(size: int) -> bytes:
    return b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * size + b"\r\n\r\n"


def _many_headers(count: int) -> bytes:
    lines = b"".join(b"X-%d: y\r\n" % i for i in range(count))
    return b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + lines + b"\r\n"


def _one_request(port: int, request: bytes) -> str:
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        try:
            sock.sendall(request)
        except OSError as exc:
            return f"send stopped ({exc.strerror or exc}); answer {_status(sock)}"
        return f"answer {_status(sock)}"


def _status(sock: socket.socket) -> str:
    try:
        head = sock.recv(200)
    except OSError as exc:
        return f"none ({exc.strerror or exc})"
    match = re.match(rb"HTTP/1\.1 (\d+)", head)
    return match[1].decode() if match else "none (closed)"


def _held_heads(port: int, pid: int, count: int = 20, size: int = 16 * MIB) -> str:
    """Each connection sends a head that never ends, 64 KiB at a time, then holds."""
    peak = _rss(pid)
    closed = 0
    socks = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(count)]
    try:
        for sock in socks:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ")
        chunk = b"a" * (64 * 1024)
        alive = list(socks)
        for _ in range(size // len(chunk)):
            for sock in list(alive):
                try:
                    sock.sendall(chunk)
                except OSError:
                    alive.remove(sock)
                    closed += 1
            if not alive:
                break
            peak = max(peak, _rss(pid))
        time.sleep(1.5)
        peak = max(peak, _rss(pid))
        closed += sum(1 for sock in alive if not _still_open(sock))
        return f"{closed}/{count} closed by the server, RSS while sending up to {peak:.1f} MiB"
    finally:
        for sock in socks:
            sock.close()


def _half_sent(port: int, wait_s: float, count: int = 1000) -> str:
    socks = []
    try:
        for _ in range(count):
            sock = socket.create_connection(("127.0.0.1", port), timeout=5)
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # no blank line: unfinished
            socks.append(sock)
        time.sleep(wait_s)
        open_ = sum(1 for sock in socks if _still_open(sock))
        return f"{open_}/{count} still open after {wait_s:.0f} s"
    finally:
        for sock in socks:
            sock.close()


def _full_heads(port: int, pid: int, count: int, limit: int) -> str:
    """The most a head may hold, on `count` connections: RSS per connection."""
    before = _rss(pid)
    head = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: "
    head += b"a" * (limit - len(head) - 100)
    socks = []
    try:
        for _ in range(count):
            sock = socket.create_connection(("127.0.0.1", port), timeout=5)
            sock.sendall(head)
            socks.append(sock)
        time.sleep(1)
        after = _rss(pid)
        open_ = sum(1 for sock in socks if _still_open(sock))
        per = (after - before) * 1024 / max(open_, 1)
        return f"{open_}/{count} held, RSS +{after - before:.1f} MiB ({per:.1f} KiB each)"
    finally:
        for sock in socks:
            sock.close()


def _still_open(sock: socket.socket) -> bool:
    """Not closed by the server (an answer followed by the end counts as closed)."""
    sock.setblocking(False)
    try:
        while True:
            if sock.recv(65536) == b"":
                return False
    except BlockingIOError:
        return True
    except OSError:
        return False
    finally:
        sock.setblocking(True)


def _trickle(port: int, limit_s: float) -> str:
    request = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 1000
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        for byte in request:
            if time.monotonic() - started > limit_s:
                return f"still connected after {limit_s:.0f} s"
            try:
                sock.sendall(bytes([byte]))
            except OSError:
                break
            if not _still_open(sock):
                break
            time.sleep(1)
        return f"cut off after {time.monotonic() - started:.0f} s"


class _Prober(threading.Thread):
    """GET /healthz on a new connection every 0.2 s; keeps each answer's time."""

    def __init__(self, port: int):
        super().__init__(daemon=True)
        self.port = port
        self.times: list[float] = []
        self.failures = 0
        self._done = threading.Event()

    def run(self) -> None:
        while not self._done.wait(0.2):
            started = time.monotonic()
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=5) as sock:
                    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                    ok = sock.recv(100).startswith(b"HTTP/1.1 200")
            except OSError:
                ok = False
            if ok:
                self.times.append(time.monotonic() - started)
            else:
                self.failures += 1

    def stop(self) -> None:
        self._done.set()
        self.join(10)

    def summary(self) -> str:
        if not self.times:
            return f"no answer ({self.failures} failed)"
        worst = max(self.times) * 1000
        return f"{len(self.times)} answered 200 (slowest {worst:.0f} ms), {self.failures} failed"


def _rss(pid: int, field: str = "VmRSS") -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(rf"^{field}:\s+(\d+) kB", status, re.M)[1]) / 1024


def _wait_listening(port: int, timeout_s: float = 20) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
            return
        time.sleep(0.1)
    sys.exit(f"the service did not listen on 127.0.0.1:{port} within {timeout_s:.0f} s")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


if __name__ == "__main__":
    main()
