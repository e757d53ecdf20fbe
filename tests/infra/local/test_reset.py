"""The local environment without its state: `rm -rf .local` or garbage pid files with the
stand-ins running. local.status still sees them, local.up adopts them, local.down stops them
(by port, command line and working directory, never another program); `local.down --wipe`
removes the state. And a pod whose database is gone is 'running, not ready (why)'."""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from rich.console import Console

from infra.local import orphans, stand_ins
from infra.local import pod as local_pod
from infra.local.moto import Emulator
from infra.settings import params
from tests.conftest import make_postgres_dir
from tests.support.local_sandbox import free_port

ROOT = Path(__file__).resolve().parents[3]


def _settings(aws_port: int, app_port: int):
    local = params.load("local")
    app = local.app.model_copy(update={"port": app_port})
    return local.model_copy(update={"aws_endpoint_url": f"http://127.0.0.1:{aws_port}", "app": app})


def _console() -> Console:
    return Console(file=io.StringIO(), width=300, emoji=False)


def _text(console: Console) -> str:
    return console.file.getvalue()


def _wait_for(check, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError("condition not met in time")


def _row(text: str, process: str) -> str:
    return next(line for line in text.splitlines() if process in line)


@pytest.fixture
def world():
    """A world-searchable folder (the PostgreSQL server user must reach its data) holding
    the .local/ of these tests; whatever is left running is stopped by pid at the end."""
    root = make_postgres_dir("gifstack-reset-")
    started: list[int] = []
    yield root / ".local", started
    for pid in started:
        if orphans.alive(pid):
            orphans.stop(pid)
    shutil.rmtree(root, ignore_errors=True)


def test_after_rm_rf_local_status_sees_up_adopts_and_down_stops_everything(world, database_url):
    local_dir, started = world
    settings = _settings(free_port(), free_port())
    stand_ins.up(settings, _console(), local_dir=local_dir)
    emulator_pid = Emulator.for_settings(settings, local_dir).pid()
    postmaster = orphans.postmaster(local_dir / "postgres")
    pod = local_pod.deploy(settings, database_url, _console(), local_dir=local_dir, timeout_s=60)
    started += [emulator_pid, postmaster[0], pod.pid]

    shutil.rmtree(local_dir)  # the obvious reset, with everything running

    status = _console()
    stand_ins.status(settings, status, local_dir=local_dir)
    text = _text(status)
    assert re.search(rf"│ running +│ {emulator_pid} ", _row(text, "AWS emulator"))
    assert re.search(
        rf"│ running, not ready \(its data directory is gone: `invoke local.down` stops it\) +"
        rf"│ {postmaster[0]} ",
        _row(text, "embedded PostgreSQL"),
    )
    assert re.search(rf"│ running[^│]* │ {pod.pid} ", _row(text, "GIF service"))

    up = _console()
    stand_ins.up(settings, up, local_dir=local_dir)  # not 'port taken': it is ours
    assert f"AWS emulator (moto): already running at {settings.aws_endpoint_url} " in _text(up)
    assert f"stopped pid {postmaster[0]}, which ran without its data directory" in _text(up)
    assert not orphans.alive(postmaster[0])

    shutil.rmtree(local_dir / "pod", ignore_errors=True)
    (local_dir / "moto" / "moto.pid").write_text("garbage\n")
    down = _console()
    stand_ins.down(settings, down, local_dir=local_dir, wipe=True)

    assert f"local pod: stopped (pid {pod.pid})" in _text(down)
    assert f"AWS emulator (moto): stopped (pid {emulator_pid})" in _text(down)
    assert "embedded PostgreSQL: stopped\n" in _text(down)
    assert "removed the local state: " in _text(down)
    assert not any(map(orphans.alive, (emulator_pid, pod.pid)))
    assert sorted(p.name for p in local_dir.iterdir()) == []


def test_a_garbage_pid_file_does_not_make_the_own_pod_another_program(database_url, tmp_path):
    settings = _settings(free_port(), free_port())
    local_dir = tmp_path / ".local"
    first = local_pod.deploy(settings, database_url, _console(), local_dir=local_dir, timeout_s=60)
    try:
        (local_dir / "pod" / "app.pid").write_text("garbage\n")

        second = local_pod.deploy(settings, database_url, _console(), local_dir=local_dir)

        assert (second.status, second.pid) == ("unchanged", first.pid)
        assert (local_dir / "pod" / "app.pid").read_text() == f"{first.pid}\n"
    finally:
        local_pod.Pod.for_settings(settings, local_dir).stop()


def test_down_never_stops_another_program_on_our_ports(tmp_path):
    """One with our marker in its command line but another working directory, and one
    without the marker: both are left alone."""
    port, other_port = free_port(), free_port()
    listen = (
        "import socket, sys, time; s = socket.socket(); "
        "s.bind(('127.0.0.1', int(sys.argv[1]))); s.listen(); time.sleep(60)"
    )
    strangers = [
        subprocess.Popen([sys.executable, "-c", listen, str(port), "-m app serve"], cwd=tmp_path),
        subprocess.Popen([sys.executable, "-c", listen, str(other_port)], cwd=ROOT),
    ]
    try:
        for stranger_port in (port, other_port):
            _wait_for(lambda p=stranger_port: orphans.listener(p) is not None)
        settings = _settings(other_port, port)
        console = _console()

        stand_ins.down(settings, console, local_dir=tmp_path / ".local")

        assert _text(console).count("was not running") == 3
        assert all(stranger.poll() is None for stranger in strangers)
    finally:
        for stranger in strangers:
            stranger.kill()
            stranger.wait()


def test_status_says_running_not_ready_and_why_when_the_database_is_gone(tmp_path):
    settings = _settings(free_port(), free_port())
    pod = local_pod.Pod.for_settings(settings, tmp_path)
    env = {
        **{key: os.environ[key] for key in ("PATH", "LANG") if key in os.environ},
        "HOST": "127.0.0.1",
        "PORT": str(pod.port),
        "DATABASE_URL": f"postgresql://gif:pw@127.0.0.1:{free_port()}/gif",  # killed
        "DB_SSLMODE": "disable",
    }
    serving = pod.process.start([sys.executable, "-m", "app", "serve"], env=env, cwd=ROOT)
    try:
        _wait_for(lambda: _answers(f"{pod.url}/healthz"))
        console = _console()

        stand_ins.status(settings, console, local_dir=tmp_path)

        row = _row(_text(console), "GIF service")
        assert re.search(rf"│ running, not ready \(database unavailable\) +│ {serving.pid} ", row)
    finally:
        pod.stop()
        serving.wait()


def test_a_relocated_data_directory_is_linked_again_while_its_server_runs(tmp_path):
    """As root the data lives in /var/tmp behind a link in .local/; `rm -rf .local` takes
    the link only. A server running there, whose state file says it is this checkout's, gets
    its link back; one for another checkout is not ours."""
    local_dir = tmp_path / ".local"
    elsewhere = tmp_path / "var-tmp" / "gifstack-postgres-x1y2z3"
    elsewhere.mkdir(parents=True)
    (elsewhere / "gifstack-local.json").write_text(
        json.dumps({"asked_for": str(local_dir / "postgres")})
    )
    # a stand-in postmaster: argv[0] ends in postgres and names its -D directory
    fake = subprocess.Popen(
        [
            "bash",
            "-c",
            f'exec -a postgres {sys.executable} -c "import time; time.sleep(60)" '
            f"-D {elsewhere} -p 5999",
        ]
    )
    try:
        _wait_for(lambda: orphans.postmaster(local_dir / "postgres") is not None)
        assert orphans.postmaster(tmp_path / "other" / "postgres") is None

        postgres = stand_ins._postgres(local_dir)

        assert postgres.data_dir.is_symlink() and postgres.data_dir.resolve() == elsewhere
        assert orphans.postmaster(local_dir / "postgres") == (fake.pid, 5999, elsewhere)
    finally:
        fake.kill()
        fake.wait()


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1):
            return True
    except OSError:
        return False


def test_a_port_is_found_with_the_process_listening_on_it():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        assert orphans.listener(server.getsockname()[1]) == os.getpid()
    assert orphans.listener(free_port()) is None
