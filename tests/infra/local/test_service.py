"""infra/local/service.py (`invoke run`): embedded PostgreSQL, migrate, seed, serve in the
foreground, and a clean stop on Ctrl-C."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from infra.core.errors import BadInput, OperationFailed
from infra.local import service
from infra.local.postgres import LocalPostgres
from tests.conftest import make_postgres_dir
from tests.support.app_service import app_env

ROOT = Path(__file__).resolve().parents[3]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_runs_on_the_embedded_database_and_stops_cleanly_on_ctrl_c():
    root = make_postgres_dir("gifstack-run-")
    data, port = root / "postgres", _free_port()
    code = (
        "import sys; from pathlib import Path; sys.path.insert(0, sys.argv[1]);"
        "from infra.local import service; service.DATA_DIR = Path(sys.argv[2]);"
        "sys.exit(service.run('127.0.0.1', int(sys.argv[3]), int(sys.argv[4])))"
    )
    metrics_port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-c", code, str(ROOT), str(data), str(port), str(metrics_port)],
        cwd=ROOT,
        env=app_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own group: the cleanup below reaches `app serve` too
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/gif", timeout=2)
                if response.status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert process.poll() is None, process.stdout.read()
            time.sleep(0.2)
        assert response.status_code == 200 and response.json()["url"].startswith("/gifs/")
        metrics = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=2)
        assert metrics.status_code == 200 and "gif" in metrics.text
        process.send_signal(signal.SIGINT)  # to `invoke run` alone, as a script would
        output, _ = process.communicate(timeout=30)
        assert process.returncode == 0, output
        assert f"GIF service: http://127.0.0.1:{port}/" in output
        assert re.search(r'"msg":"stopped"', output)
        assert LocalPostgres(data).is_running(), "the database stays up for the next run"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)  # `invoke run` and the server it started
        process.wait()
        LocalPostgres(data).stop()
        shutil.rmtree(root, ignore_errors=True)


def test_a_busy_port_is_bad_input_before_anything_starts(monkeypatch, tmp_path):
    monkeypatch.setattr(service, "DATA_DIR", tmp_path / "postgres")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        with pytest.raises(BadInput, match=f"cannot serve on 127.0.0.1:{port}"):
            service.run("127.0.0.1", port, say=lambda _: None)
    assert not (tmp_path / "postgres").exists()


def test_a_busy_metrics_port_names_its_flag_before_anything_starts(monkeypatch, tmp_path):
    # The local pod of `invoke local.up` holds 9090, the default: said up front, not as the
    # server's dying words after migrate and seed.
    monkeypatch.setattr(service, "DATA_DIR", tmp_path / "postgres")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        busy = taken.getsockname()[1]
        with pytest.raises(BadInput) as caught:
            service.run("127.0.0.1", _free_port(), busy, say=lambda _: None)
    assert caught.value.message == (
        f"cannot serve on 127.0.0.1:{busy}: the port is taken by another program; pass "
        "another --metrics-port"
    )
    with pytest.raises(BadInput, match="--metrics-port must differ from --port"):
        service.run("127.0.0.1", busy, busy, say=lambda _: None)
    assert not (tmp_path / "postgres").exists()


@pytest.mark.parametrize(
    ("host", "port", "expected"),
    [
        ("127.0.0.1", 70000, "cannot serve on 127.0.0.1:70000: --port must be between 1 and 65535"),
        ("127.0.0.1", -1, "cannot serve on 127.0.0.1:-1: --port must be between 1 and 65535"),
        ("127.0.0.1", 0, "cannot serve on 127.0.0.1:0: --port must be between 1 and 65535"),
        (
            "999.1.1.1",
            8080,
            "cannot serve on 999.1.1.1:8080: --host '999.1.1.1' is not an address (Name or "
            "service not known); pass an address of this machine, e.g. 127.0.0.1 (this machine "
            "only)",
        ),
        (
            "192.0.2.1",  # TEST-NET-1: never an address of this machine
            8080,
            "cannot serve on 192.0.2.1:8080: --host 192.0.2.1 is not an address of this "
            "machine; pass one that is, e.g. 127.0.0.1",
        ),
    ],
)
def test_a_bad_host_or_port_is_bad_input_naming_the_flag(
    monkeypatch, tmp_path, host, port, expected
):
    monkeypatch.setattr(service, "DATA_DIR", tmp_path / "postgres")
    with pytest.raises(BadInput) as caught:
        service.run(host, port, say=lambda _: None)
    assert caught.value.message == expected
    assert not (tmp_path / "postgres").exists()


def test_a_failed_migration_is_reported_with_the_apps_message(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", f"postgresql://app:pw@127.0.0.1:{_free_port()}/gif")
    with pytest.raises(OperationFailed) as caught:
        service.run("127.0.0.1", _free_port(), say=lambda _: None)
    message = caught.value.message
    assert message.startswith("`python -m app migrate` failed: connecting to PostgreSQL at")
    assert ":pw@" not in message
