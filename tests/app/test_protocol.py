"""app/protocol.py: each attack replayed against the real server process on loopback.

The service runs as `python -m app serve` (tests/support/app_service.py) with short
deadlines from the environment; no database is needed (/healthz never touches it). Every
loop here is bounded and every connection goes to that process on 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import re
import select
import socket
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.support.app_service import Service, app_env

MIB = 1024 * 1024
HEAD = b"GET /healthz HTTP/1.1\r\nHost: test\r\n"


def _service(**env: str) -> Service:
    nobody = _free_port()  # no database there: /healthz does not need one
    return Service(
        app_env(DATABASE_URL=f"postgresql://app@127.0.0.1:{nobody}/gif", DB_POOL_MIN="0", **env)
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _connect(service: Service) -> socket.socket:
    host, port = service.url.removeprefix("http://").rsplit(":", 1)
    return socket.create_connection((host, int(port)), timeout=10)


def _answer(sock: socket.socket, timeout_s: float = 5) -> tuple[int | None, bytes, bool]:
    """(status, everything read, closed by the server) within `timeout_s`."""
    data = b""
    deadline = time.monotonic() + timeout_s
    while (left := deadline - time.monotonic()) > 0:
        sock.settimeout(left)
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            break
        except ConnectionResetError:
            return _status(data), data, True
        if not chunk:
            return _status(data), data, True
        data += chunk
    return _status(data), data, False


def _status(data: bytes) -> int | None:
    match = re.match(rb"HTTP/1\.1 (\d{3}) ", data)
    return int(match[1]) if match else None


def _send_quietly(sock: socket.socket, payload: bytes) -> None:
    """Send until done or the server ends the connection (as it should)."""
    try:
        for start in range(0, len(payload), 64 * 1024):
            sock.sendall(payload[start : start + 64 * 1024])
    except OSError:
        pass


def _stop(sock: socket.socket, sender: threading.Thread) -> None:
    with contextlib.suppress(OSError):  # already reset by the server
        sock.shutdown(socket.SHUT_RDWR)  # wakes a sender blocked in sendall
    sender.join(10)


def _rss_mib(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"^VmRSS:\s+(\d+) kB", status, re.M)[1]) / 1024


def _healthz(service: Service) -> int:
    """/healthz on a new connection (as the kubelet's probe does), within 2 s."""
    return httpx.get(f"{service.url}/healthz", timeout=2).status_code


def _refused(service: Service) -> dict[str, int]:
    found = re.findall(r'^gif_http_refused_total\{reason="(\w+)"\} (\d+)$', service.metrics(), re.M)
    return {reason: int(count) for reason, count in found}


# --- the head's size and field count ----------------------------------------------------


@pytest.mark.parametrize(
    ("attack", "request_bytes"),
    [
        ("one 16 MiB header", HEAD + b"X-Big: " + b"a" * (16 * MIB) + b"\r\n\r\n"),
        ("10,000 header fields", HEAD + b"".join(b"X-%d: y\r\n" % i for i in range(10_000))),
        ("a 64 KiB URL", b"GET /" + b"a" * (64 * 1024) + b" HTTP/1.1\r\nHost: test\r\n\r\n"),
    ],
    ids=["16-MiB-header", "10000-fields", "64-KiB-URL"],
)
def test_an_oversized_head_is_431_and_the_connection_closed(attack, request_bytes):
    with _service() as service:
        before = _rss_mib(service.process.pid)
        with _connect(service) as sock:
            sender = threading.Thread(target=_send_quietly, args=(sock, request_bytes))
            sender.start()
            status, data, closed = _answer(sock)
            _stop(sock, sender)
        assert status == 431, f"{attack}: {data[:200]!r}"
        assert b'{"error": ' in data and b"connection: close" in data
        assert closed, f"{attack}: the connection stays open"
        assert _healthz(service) == 200
        assert _rss_mib(service.process.pid) - before < 5
        refusals = _refused(service)
    assert refusals == {"too_many_headers" if "fields" in attack else "head_too_large": 1}
    problems = [line for line in service.logs() if line["level"] in ("warning", "error")]
    assert problems == [], "a refusal writes no log line (the client could flood the log)"


def _head(size: int, fields: int) -> bytes:
    """A complete head of exactly `size` bytes with `fields` header fields."""
    head = HEAD + b"".join(b"X-%d: y\r\n" % i for i in range(fields - 2)) + b"X-Fill: "
    head += b"a" * (size - len(head) - 4) + b"\r\n\r\n"
    assert len(head) == size
    return head


@pytest.mark.parametrize(
    ("size", "fields", "expected"),
    [(16384, 100, 200), (16385, 100, 431), (4096, 101, 431)],
    ids=["at-both-limits", "one-byte-over", "one-field-over"],
)
def test_the_limits_are_exact(size, fields, expected):
    with _service() as service, _connect(service) as sock:
        sock.sendall(_head(size, fields))
        status, data, closed = _answer(sock, timeout_s=2)
        assert status == expected, data[:200]
        assert closed == (expected == 431)


def test_a_bad_request_is_400_closed_and_not_logged():
    with _service() as service:
        with _connect(service) as sock:
            sock.sendall(b"NOT HTTP AT ALL\r\n\r\n")
            status, _, closed = _answer(sock)
        assert (status, closed) == (400, True)
        assert _refused(service) == {"invalid": 1}
    assert [line for line in service.logs() if line["level"] in ("warning", "error")] == []


def test_twenty_unfinished_multi_mib_heads_cost_a_few_mib():
    """Before the limits, 20 x 16 MiB took the process from 39 to 390 MiB."""
    with _service() as service:
        pid = service.process.pid
        assert _healthz(service) == 200
        before = peak = _rss_mib(pid)
        socks = [_connect(service) for _ in range(20)]
        unfinished = HEAD + b"X-Big: " + b"a" * (4 * MIB)  # no end of line, no blank line
        senders = [threading.Thread(target=_send_quietly, args=(s, unfinished)) for s in socks]
        for sender in senders:
            sender.start()
        deadline = time.monotonic() + 15
        while any(s.is_alive() for s in senders) and time.monotonic() < deadline:
            peak = max(peak, _rss_mib(pid))
            time.sleep(0.02)
        assert _healthz(service) == 200
        answers = [_answer(sock) for sock in socks]
        peak = max(peak, _rss_mib(pid))
        for sock in socks:
            sock.close()
        for sender in senders:
            sender.join(10)
    assert [(status, closed) for status, _, closed in answers] == [(431, True)] * 20
    assert peak - before < 8, f"RSS rose from {before:.1f} to {peak:.1f} MiB"


# --- deadlines ----------------------------------------------------------------------------


def test_a_sender_at_one_byte_per_second_is_cut_off_at_the_head_deadline():
    with _service(HTTP_HEAD_TIMEOUT="1.5") as service, _connect(service) as sock:
        started = time.monotonic()
        for byte in HEAD[:10]:  # at most 10 s; cut off after ~1.5
            sock.sendall(bytes([byte]))
            ready, _, _ = select.select([sock], [], [], 1)
            if ready:
                break
        status, data, closed = _answer(sock)
        elapsed = time.monotonic() - started
        assert (status, closed) == (408, True), data
        assert 1.3 < elapsed < 3.5, f"cut off after {elapsed:.1f} s"
        assert _refused(service) == {"head_timeout": 1}


def test_many_half_sent_requests_are_dropped_after_the_deadline():
    with _service(HTTP_HEAD_TIMEOUT="1.5") as service:
        socks = [_connect(service) for _ in range(300)]
        for sock in socks:
            sock.sendall(HEAD)  # the blank line that ends the head never comes
        sent = time.monotonic()
        assert _healthz(service) == 200, "the service answers while they are held"
        open_ = {sock.fileno(): sock for sock in socks}
        answers: list[int | None] = []
        while open_ and time.monotonic() - sent < 8:
            ready, _, _ = select.select(list(open_.values()), [], [], 0.5)
            for sock in ready:
                status, _, closed = _answer(sock, timeout_s=2)
                assert closed
                answers.append(status)
                del open_[sock.fileno()]
        elapsed = time.monotonic() - sent
        for sock in socks:
            sock.close()
        assert not open_, f"{len(open_)} of 300 still open after {elapsed:.1f} s"
        assert answers == [408] * 300
        assert _healthz(service) == 200


def test_idle_connections_are_closed():
    with _service(HTTP_IDLE_TIMEOUT="0.5") as service:
        with _connect(service) as silent:  # never sends a byte
            started = time.monotonic()
            status, data, closed = _answer(silent, timeout_s=5)
            assert (status, data, closed) == (None, b"", True)
            assert time.monotonic() - started < 2
        with _connect(service) as kept_alive:
            kept_alive.sendall(HEAD + b"\r\n")
            status, _, closed = _answer(kept_alive, timeout_s=3)
            assert (status, closed) == (200, True), "closed after 0.5 s idle"


# --- connections, bodies, pipelining --------------------------------------------------------


def test_connections_over_the_cap_are_503_and_the_metrics_port_still_answers():
    with _service(HTTP_MAX_CONNECTIONS="20", HTTP_HEAD_TIMEOUT="2") as service:
        held = [_connect(service) for _ in range(20)]
        for sock in held:
            sock.sendall(HEAD)
        time.sleep(0.2)
        with _connect(service) as extra:
            status, data, closed = _answer(extra)
        assert (status, closed) == (503, True), data
        assert b"retry-after: 1" in data
        assert "gif_http_requests_total" in service.metrics(), "its own cap, not the main one"
        for sock in held:  # dropped at the deadline, and the service is reachable again
            assert _answer(sock)[0] == 408
            sock.close()
        service.wait_until(lambda: _healthz(service) == 200, timeout_s=3)
        refused = _refused(service)
        assert refused["over_capacity"] >= 1 and refused["head_timeout"] == 20


def test_a_body_over_the_limit_ends_the_connection_after_its_answer():
    with _service() as service, _connect(service) as sock:
        body = b"a" * (1 * MIB)
        head = b"POST /gif HTTP/1.1\r\nHost: test\r\nContent-Length: %d\r\n\r\n" % len(body)
        sender = threading.Thread(target=_send_quietly, args=(sock, head + body))
        sender.start()
        status, _, closed = _answer(sock)
        _stop(sock, sender)
        assert (status, closed) == (405, True)
        assert _refused(service) == {"body_too_large": 1}


def test_pipelined_requests_are_answered_up_to_a_bound():
    with _service() as service:
        with _connect(service) as sock:
            sock.sendall((HEAD + b"\r\n") * 10)
            _, data, _ = _answer(sock, timeout_s=1)
            assert data.count(b"HTTP/1.1 200 ") == 10
        with _connect(service) as sock:
            sock.sendall((HEAD + b"\r\n") * 500)  # each queued request costs memory
            _, data, closed = _answer(sock)
            assert closed and 0 < data.count(b"HTTP/1.1 200 ") <= 17
        assert _refused(service) == {"pipelined": 1}
