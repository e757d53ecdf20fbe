"""app/server.py: graceful SIGTERM, and the service through database outages (real
PostgreSQL servers stopped, locked or replaced by a silent socket under it)."""

from __future__ import annotations

import asyncio
import shutil
import socket
import threading
import time

import asyncpg
import httpx
import pytest

from infra.local.postgres import LocalPostgres
from tests.conftest import make_postgres_dir
from tests.support.app_service import Service, app_env, json_lines, prepare, run_app


@pytest.fixture
def own_postgres():
    """A PostgreSQL server of this test's own, to stop and start under the service."""
    root = make_postgres_dir("gifstack-outage-")
    server = LocalPostgres(root / "data", ephemeral=True)
    server.start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


def _timed_get(service: Service, path: str) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = service.get(path)
    return response, time.monotonic() - started


def test_outage_gif_503_fast_healthz_200_and_recovery_without_restart(own_postgres):
    prepare(own_postgres.url)
    with Service(app_env(DATABASE_URL=own_postgres.url)) as service:
        assert service.get("/gif").status_code == 200

        own_postgres.stop()
        for _ in range(3):  # the first finds dead pooled connections, later ones reconnect
            response, elapsed = _timed_get(service, "/gif")
            assert response.status_code == 503
            assert response.json() == {"error": "database unavailable"}
            assert elapsed < 2
        assert service.get("/healthz").status_code == 200
        assert service.get("/").status_code == 503

        own_postgres.start()  # same data, same port
        service.wait_until(lambda: service.get("/gif").status_code == 200, timeout_s=10)
        assert service.process.poll() is None, "recovered by itself, not by a restart"
    assert any("unreachable" in line.get("msg", "") for line in service.logs())


def test_silent_database_is_503_within_2_seconds():
    """A host that accepts TCP but never answers (a black hole): the connect timeout."""
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(64)  # completes handshakes in the kernel, never reads or writes
    port = silent.getsockname()[1]
    try:
        env = app_env(DATABASE_URL=f"postgresql://app@127.0.0.1:{port}/gif")
        with Service(env) as service:
            for _ in range(2):
                response, elapsed = _timed_get(service, "/gif")
                assert response.status_code == 503
                assert elapsed < 2, f"took {elapsed:.2f} s"
            response, elapsed = _timed_get(service, "/healthz")
            assert response.status_code == 200
            assert elapsed < 0.5
    finally:
        silent.close()


def test_slow_statement_is_503_within_2_seconds(database_url):
    """A table locked by another session: the statement timeout cancels the query."""
    prepare(database_url)

    async def hold_lock(release: threading.Event) -> None:
        connection = await asyncpg.connect(database_url)
        async with connection.transaction():
            await connection.execute("LOCK TABLE gifs IN ACCESS EXCLUSIVE MODE")
            while not release.is_set():
                await asyncio.sleep(0.05)
        await connection.close()

    with Service(app_env(DATABASE_URL=database_url)) as service:
        assert service.get("/gif").status_code == 200
        release = threading.Event()
        holder = threading.Thread(target=asyncio.run, args=(hold_lock(release),))
        holder.start()
        try:
            time.sleep(0.3)
            response, elapsed = _timed_get(service, "/gif")
            assert response.status_code == 503
            assert response.json() == {"error": "database timed out"}
            assert 0.5 < elapsed < 2
        finally:
            release.set()
            holder.join()
        assert service.get("/gif").status_code == 200


def test_sigterm_finishes_in_flight_requests_and_exits_0(database_url):
    prepare(database_url)

    async def hold_lock(locked: threading.Event, release: threading.Event) -> None:
        connection = await asyncpg.connect(database_url)
        async with connection.transaction():
            await connection.execute("LOCK TABLE gifs IN ACCESS EXCLUSIVE MODE")
            locked.set()
            while not release.is_set():
                await asyncio.sleep(0.02)
        await connection.close()

    async def waiting_on_the_lock() -> bool:
        connection = await asyncpg.connect(database_url)
        try:
            return bool(
                await connection.fetchval(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                )
            )
        finally:
            await connection.close()

    def refused() -> bool:
        try:
            httpx.get(f"{service.url}/healthz", timeout=1)
        except httpx.TransportError:
            return True
        return False

    # The in-flight request waits on the lock for as long as the test needs, whatever the
    # machine's load: its statement timeout is far longer than this test.
    service = Service(app_env(DATABASE_URL=database_url, DB_STATEMENT_TIMEOUT="30000"))
    try:
        assert service.get("/gif").status_code == 200
        locked, release = threading.Event(), threading.Event()
        holder = threading.Thread(target=asyncio.run, args=(hold_lock(locked, release),))
        holder.start()
        assert locked.wait(10)
        results: list[httpx.Response] = []
        in_flight = threading.Thread(target=lambda: results.append(service.get("/gif")))
        in_flight.start()
        # Wait for states, not for guessed sleeps: a busy machine is slow, not wrong.
        service.wait_until(lambda: asyncio.run(waiting_on_the_lock()))

        service.process.send_signal(15)
        service.wait_until(refused)  # draining: no new connections
        release.set()
        in_flight.join(5)
        holder.join(5)
        assert results and results[0].status_code == 200, "the in-flight request finished"
        assert service.process.wait(10) == 0
    finally:
        code = service.stop()
    assert code == 0
    messages = [line.get("msg") for line in service.logs()]
    assert "database pool closed" in messages
    assert messages[-1] == "stopped"


@pytest.mark.parametrize("flag", ["--port", "--metrics-port"])
def test_busy_port_is_a_clear_error(database_url, flag):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        ports = {"--port": "0", "--metrics-port": "0", flag: str(port)}
        args = [arg for pair in ports.items() for arg in pair]
        result = run_app("serve", *args, env=app_env(DATABASE_URL=database_url))
    assert result.returncode == 1
    (line,) = json_lines(result.stdout)
    assert line["level"] == "error"
    assert f"cannot listen on 127.0.0.1:{port}" in line["msg"]
    assert "Traceback" not in result.stdout + result.stderr
