"""infra/local/postgres.py: a real embedded PostgreSQL, started, found again, stopped."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import asyncpg
import pytest

from infra.core.errors import BadInput
from infra.local import postgres as launcher
from infra.local.postgres import LocalPostgres
from tests.conftest import make_postgres_dir

ROOT = Path(__file__).resolve().parents[3]


def _query(url: str, sql: str):
    async def run():
        connection = await asyncpg.connect(url)
        try:
            return await connection.fetchval(sql)
        finally:
            await connection.close()

    return asyncio.run(run())


@pytest.fixture(scope="module")
def started():
    """A server started by another process, which has exited since: (data dir, URL)."""
    root = make_postgres_dir("gifstack-launcher-")
    data = root / "data"
    code = (
        "import sys; from pathlib import Path; sys.path.insert(0, sys.argv[2]);"
        "from infra.local.postgres import LocalPostgres;"
        "print(LocalPostgres(Path(sys.argv[1]), ephemeral=True).start())"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, str(data), str(ROOT)],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    try:
        yield data, result.stdout.strip()
    finally:
        LocalPostgres(data).stop()
        shutil.rmtree(root, ignore_errors=True)


def test_server_outlives_the_process_that_started_it(started):
    data, url = started
    assert LocalPostgres(data).is_running()
    assert _query(url, "SELECT 1") == 1


def test_start_is_idempotent_and_stop_restart_keeps_data_and_url(started):
    data, url = started
    server = LocalPostgres(data)
    assert server.start() == url  # already running: same server, same URL
    assert server.url == url
    _query(url, "CREATE TABLE kept AS SELECT 42 AS n")

    server.stop()
    assert not server.is_running()
    server.stop()  # stopping a stopped server is fine
    assert server.start() == url  # same port when it is still free
    assert _query(url, "SELECT n FROM kept") == 42


def test_listens_on_loopback_only_with_password_auth(started):
    data, url = started
    assert _query(url, "SHOW listen_addresses") == "127.0.0.1"
    assert _query(url, "SHOW unix_socket_directories") == ""
    wrong = url.replace(url.split(":")[2].split("@")[0], "wrong")
    with pytest.raises(asyncpg.InvalidPasswordError):
        _query(wrong, "SELECT 1")
    state = data / "gifstack-local.json"
    assert state.stat().st_mode & 0o077 == 0, "the password file is private"


def test_the_server_never_runs_as_root(started):
    """As root we drop to an unprivileged user; otherwise the server runs as us."""
    data, _ = started
    pid = int((data / "postmaster.pid").read_text().split()[0])
    uid = int(Path(f"/proc/{pid}/status").read_text().split("Uid:")[1].split()[0])
    assert uid != 0
    assert uid == (launcher._server_user().pw_uid if os.geteuid() == 0 else os.geteuid())
    assert data.stat().st_uid == uid


def test_a_busy_port_is_bad_input(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        with pytest.raises(BadInput, match=f"port {port} on 127.0.0.1 is in use"):
            LocalPostgres(tmp_path / "data", port=port).start()
    assert not (tmp_path / "data").exists()


def test_a_directory_with_other_files_is_left_alone(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "notes.txt").write_text("mine")
    with pytest.raises(BadInput, match="is not a PostgreSQL data directory"):
        LocalPostgres(data).start()
    assert (data / "notes.txt").read_text() == "mine"


def test_a_data_dir_in_a_private_directory_works(monkeypatch, tmp_path):
    """As root in /root (mode 0700) the server user can't reach .local/: the cluster goes
    to /var/tmp behind a symlink. As anyone else the server runs as us: no detour."""
    relocated = make_postgres_dir("gifstack-relocated-")
    monkeypatch.setattr(launcher, "RELOCATED_ROOT", relocated)
    private = Path(tempfile.mkdtemp(prefix="gifstack-private-"))  # mode 0700, owned by root
    data = private / ".local" / "postgres"
    server = LocalPostgres(data, ephemeral=True)
    try:
        url = server.start()
        if os.geteuid() == 0:
            assert data.is_symlink() and data.resolve().parent == relocated
        else:
            assert data.is_dir() and not data.is_symlink()
        assert _query(url, "SELECT 1") == 1
        assert private.stat().st_mode & 0o777 == 0o700, "our private directory is untouched"
        assert LocalPostgres(data).start() == url
    finally:
        server.stop()
        shutil.rmtree(private, ignore_errors=True)
        shutil.rmtree(relocated, ignore_errors=True)


@pytest.mark.skipif(os.geteuid() != 0, reason="only root relocates its data directory")
def test_the_relocated_data_dir_is_private_and_not_one_planted_by_someone_else(monkeypatch):
    """/var/tmp is everyone's: another user who creates the directory first (a predictable
    name) must not get to own or redirect our cluster."""
    relocated = make_postgres_dir("gifstack-relocated-")
    monkeypatch.setattr(launcher, "RELOCATED_ROOT", relocated)
    private = Path(tempfile.mkdtemp(prefix="gifstack-private-"))
    data = private / ".local" / "postgres"
    # The name the relocation used to derive from the data dir's path:
    digest = hashlib.sha256(str(data.absolute()).encode()).hexdigest()[:12]
    planted = relocated / f"gifstack-postgres-{digest}"
    planted.mkdir(mode=0o777)
    nobody = pwd.getpwnam("nobody")
    os.chown(planted, nobody.pw_uid, nobody.pw_gid)
    server = LocalPostgres(data, ephemeral=True)
    try:
        server.start()
        target = data.resolve()
        assert target.parent == relocated and target != planted
        assert target.name.startswith("gifstack-postgres-")
        info = target.stat()
        assert info.st_mode & 0o777 == 0o700
        assert info.st_uid == launcher._server_user().pw_uid
        assert list(planted.iterdir()) == [] and planted.stat().st_uid == nobody.pw_uid
        another = LocalPostgres(private / "other", ephemeral=True)
        another._relocate()  # a second relocation: another fresh, unguessable name
        assert (private / "other").resolve() not in (target, planted)
    finally:
        server.stop()
        shutil.rmtree(private, ignore_errors=True)
        shutil.rmtree(relocated, ignore_errors=True)


def test_system_binaries_are_preferred_and_pgserver_is_the_fallback(monkeypatch):
    found = launcher.find_bin_dir()
    assert (found / "pg_ctl").exists() and (found / "initdb").exists()
    monkeypatch.setattr(launcher, "SYSTEM_BIN_GLOB", "/nonexistent/*/bin")
    fallback = launcher.find_bin_dir()
    assert "pgserver" in str(fallback) and (fallback / "pg_ctl").exists()


def test_pgserver_binaries_work_too(monkeypatch):
    monkeypatch.setattr(launcher, "SYSTEM_BIN_GLOB", "/nonexistent/*/bin")
    root = make_postgres_dir("gifstack-pgserver-")
    server = LocalPostgres(root / "data", ephemeral=True)
    try:
        url = server.start()
        assert _query(url, "SELECT current_setting('server_version_num')::int") >= 160000
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


def test_a_stale_pid_file_is_not_a_running_server(tmp_path):
    """The pid in postmaster.pid is alive but is someone else (here: this test)."""
    data = tmp_path / "data"
    data.mkdir()
    (data / "postmaster.pid").write_text(f"{os.getpid()}\n{data}\n1700000000\n5432\n")
    assert not LocalPostgres(data).is_running()
    (data / "postmaster.pid").write_text("999999999\n" + f"{data}\n1700000000\n5432\n")
    assert LocalPostgres(data).running_port() is None


def test_a_data_dir_whose_first_start_stopped_short_gets_its_database(started):
    """An older data dir (or a first start killed before CREATE DATABASE) has no marker:
    the next start creates the database, or finds it there."""
    data, url = started
    server = LocalPostgres(data)
    state = json.loads((data / "gifstack-local.json").read_text())
    state.pop("database_created", None)
    (data / "gifstack-local.json").write_text(json.dumps(state))
    server.stop()
    assert server.start() == url
    assert _query(url, "SELECT current_database()") == "gif"
    assert json.loads((data / "gifstack-local.json").read_text())["database_created"] is True
