"""End to end, as a user on a fresh clone: `invoke local.up deploy --env local`, a second
no-op deploy, the app answering /gif, `local.status`, `destroy --env local`, `local.down`.

Runs in a throwaway copy of this work tree (tests/support/local_sandbox.py) with free
ports for the AWS emulator and the app, its own `.local/`, and no AWS credentials.
"""

from __future__ import annotations

import re
import shutil
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.support.local_sandbox import Sandbox


@pytest.fixture
def sandbox():
    directory = Path(tempfile.mkdtemp(prefix="gifstack-e2e-"))
    box = Sandbox(directory)
    try:
        yield box
    finally:
        box.close()
        shutil.rmtree(directory, ignore_errors=True)


def _get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as reply:
            return reply.status
    except urllib.error.HTTPError as error:
        return error.code


def test_local_up_deploy_noop_redeploy_and_down(sandbox):
    first = sandbox.invoke("local.up", "deploy", "--env", "local")

    assert first.returncode == 0, first.output
    assert "AWS emulator (moto): started" in first.output
    assert "embedded PostgreSQL: started" in first.output
    assert re.search(r"gif-local-network\s+│ created", first.output), first.output
    assert re.search(r"gif-local-database\s+│ created", first.output)
    assert "CREATE_COMPLETE" in first.output  # stack events were streamed
    assert "change sets executed: 2" in first.output
    assert f"app: {sandbox.app_url}" in first.output
    assert _get(f"{sandbox.app_url}/gif") == 200
    pid_file = sandbox.root / ".local" / "pod" / "app.pid"
    pod_pid = pid_file.read_text()

    second = sandbox.invoke("deploy", "--env", "local")

    assert second.returncode == 0, second.output
    assert re.search(r"gif-local-network\s+│ unchanged", second.output), second.output
    assert re.search(r"gif-local-database\s+│ unchanged", second.output)
    assert "change sets executed: 0" in second.output
    calls = re.search(r"(\d+) AWS calls \(([^)]*)\)", second.output)
    assert calls, second.output
    assert "CreateChangeSet" not in calls.group(2)
    assert "local pod unchanged" in second.output
    assert pid_file.read_text() == pod_pid  # the pod was left running
    assert _get(f"{sandbox.app_url}/gif") == 200

    again = sandbox.invoke("local.up")
    assert again.returncode == 0, again.output
    assert "already running" in again.output

    status = sandbox.invoke("local.status")
    assert status.returncode == 0, status.output
    assert status.output.count("running") >= 3

    destroyed = sandbox.invoke("destroy", "--env", "local", "--yes")

    assert destroyed.returncode == 0, destroyed.output
    assert re.search(r"gif-local-network\s+│ deleted", destroyed.output), destroyed.output
    assert re.search(r"gif-local-database\s+│ deleted", destroyed.output)
    assert "local pod: stopped" in destroyed.output
    assert "final snapshot" in destroyed.output

    down = sandbox.invoke("local.down")

    assert down.returncode == 0, down.output
    assert "AWS emulator (moto): stopped" in down.output
    assert "embedded PostgreSQL: stopped" in down.output
    assert not pid_file.exists()
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(f"{sandbox.app_url}/gif", timeout=2)
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(f"{sandbox.endpoint}/moto-api/", timeout=2)


def test_deploy_without_the_stand_ins_says_to_run_local_up(sandbox):
    done = sandbox.invoke("deploy", "--env", "local")

    assert done.returncode == 2
    assert "not running" in done.output
    assert "invoke local.up" in done.output
    assert "Traceback" not in done.output
