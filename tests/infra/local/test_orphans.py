"""Finding our local processes without /proc: the `lsof` and `ps` answers macOS relies on.

Run against real processes with the real tools (`.ci/run` installs lsof and procps); /proc
is hidden by pointing the module at an empty directory, so only the fallbacks can answer.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from infra.local import orphans

MARKER = "gifstack-orphans-test-marker"


@pytest.fixture
def listening_process(tmp_path):
    """A real process, started in `tmp_path` with our marker, listening on a free port."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    script = (
        "import socket, sys, time\n"
        "s = socket.socket(); s.bind(('127.0.0.1', int(sys.argv[1]))); s.listen()\n"
        "print('ready', flush=True); time.sleep(60)\n"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", script, str(port), MARKER],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout.readline().strip() == "ready"
    yield process.pid, port, tmp_path
    process.kill()
    process.wait()


@pytest.fixture
def without_proc(monkeypatch, tmp_path_factory):
    monkeypatch.setattr(orphans, "_PROC", tmp_path_factory.mktemp("no-proc") / "proc")


def test_lsof_names_the_listener_when_there_is_no_proc(listening_process, without_proc):
    pid, port, _ = listening_process
    assert orphans.listener(port) == pid


def test_a_free_port_has_no_listener_by_lsof(without_proc):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    assert orphans.listener(port) is None


def test_ps_and_lsof_tell_ours_from_another_programs(listening_process, without_proc):
    pid, _, workdir = listening_process
    assert MARKER in orphans.command_line(pid)  # ps
    assert orphans.cwd(pid) == workdir.resolve()  # lsof -d cwd
    assert orphans.ours(pid, MARKER, workdir)
    assert not orphans.ours(pid, "another-programs-marker", workdir)
    assert not orphans.ours(pid, MARKER, Path("/"))


def test_ps_lists_every_pid_and_splits_the_command_line(listening_process, without_proc):
    pid, port, _ = listening_process
    assert pid in orphans._pids()
    assert orphans._argv(pid)[-2:] == [str(port), MARKER]


def test_without_lsof_a_listener_is_not_guessed(listening_process, without_proc, monkeypatch):
    pid, port, _ = listening_process
    monkeypatch.setattr(orphans.shutil, "which", lambda name: None)
    assert orphans.listener(port) is None
    assert orphans.cwd(pid) is None  # so `ours` says no: nothing unknown is ever stopped
    assert not orphans.ours(pid, MARKER, Path.cwd())


def test_a_process_that_is_gone_has_no_command_line_or_directory(without_proc):
    done = subprocess.Popen([sys.executable, "-c", "pass"])
    done.wait()
    time.sleep(0.05)
    assert orphans.command_line(done.pid).strip() == ""
    assert orphans.cwd(done.pid) is None
