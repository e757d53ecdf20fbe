"""infra/local/pod.py: the app as a local background process against a real PostgreSQL."""

from __future__ import annotations

import io
import socket
import urllib.request

import pytest
from rich.console import Console

from infra.core.errors import BadInput, OperationFailed
from infra.local import pod as local_pod
from infra.local.orphans import alive as _alive
from infra.settings import params
from tests.support.local_sandbox import free_port


def _settings(port: int, **app_changes):
    settings = params.load("local")
    app_changes = {"metrics_port": free_port(), **app_changes}
    app = settings.app.model_copy(update={"port": port, **app_changes})
    return settings.model_copy(update={"app": app})


@pytest.fixture
def console():
    return Console(file=io.StringIO(), width=120)


@pytest.fixture
def pod_dir(tmp_path):
    local_dir = tmp_path / ".local"
    yield local_dir
    # stop whatever a test left running, by its pid file
    local_pod.Pod(port=0, state_dir=local_dir / "pod").stop()


def _get(url: str) -> tuple[int, bytes]:
    with urllib.request.urlopen(url, timeout=5) as reply:
        return reply.status, reply.read()


def test_deploy_runs_the_job_then_serves_and_a_second_deploy_leaves_it_running(
    database_url, pod_dir, console
):
    settings = _settings(free_port())

    first = local_pod.deploy(settings, database_url, console, local_dir=pod_dir, timeout_s=60)

    assert first.status == "started"
    assert first.url == f"http://127.0.0.1:{settings.app.port}"
    status, body = _get(f"{first.url}/gif")
    assert status == 200 and body
    assert (pod_dir / "pod" / "migrate.log").exists()
    assert (pod_dir / "pod" / "seed.log").exists()

    second = local_pod.deploy(settings, database_url, console, local_dir=pod_dir, timeout_s=60)

    assert second.status == "unchanged"
    assert second.pid == first.pid
    assert "unchanged, still serving" in console.file.getvalue()


def test_a_settings_change_restarts_the_pod(database_url, pod_dir, console):
    port = free_port()
    first = local_pod.deploy(_settings(port), database_url, console, local_dir=pod_dir)

    planned = local_pod.deploy(
        _settings(port, log_level="debug"), database_url, console, local_dir=pod_dir, dry_run=True
    )
    assert planned.status == "planned"
    assert local_pod.Pod(port, state_dir=pod_dir / "pod").pid() == first.pid

    again = local_pod.deploy(
        _settings(port, log_level="debug"), database_url, console, local_dir=pod_dir
    )

    assert again.status == "restarted"
    assert again.pid != first.pid
    assert not _alive(first.pid)
    assert _get(f"{again.url}/gif")[0] == 200


def test_a_failing_migration_stops_before_the_pod_starts(pod_dir, console):
    unreachable = f"postgresql://gif:secret-pw@127.0.0.1:{free_port()}/gif"
    settings = _settings(free_port())

    with pytest.raises(OperationFailed, match=r"python -m app migrate` failed") as failure:
        local_pod.deploy(settings, unreachable, console, local_dir=pod_dir)

    assert "secret-pw" not in failure.value.message
    assert local_pod.Pod.for_settings(settings, pod_dir).pid() is None


def test_a_port_taken_by_another_program_is_bad_input(database_url, pod_dir, console):
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        settings = _settings(other.getsockname()[1])

        with pytest.raises(BadInput, match=r"taken by another program.*app\.port"):
            local_pod.deploy(settings, database_url, console, local_dir=pod_dir)


def test_the_pod_gets_its_metrics_port_from_settings_so_two_apps_can_share_a_machine():
    settings = _settings(free_port(), metrics_port=19191)
    pod = local_pod.Pod.for_settings(settings)
    env = local_pod._pod_env(settings, pod, "postgresql://x")
    assert (env["PORT"], env["METRICS_PORT"]) == (str(settings.app.port), "19191")
    other = local_pod._pod_env(settings, local_pod.Pod(port=pod.port, metrics_port=19192), "x")
    assert local_pod._fingerprint(env) != local_pod._fingerprint({**other, "DATABASE_URL": "x"})


def test_a_taken_metrics_port_is_bad_input_naming_its_key(database_url, pod_dir, console):
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        settings = _settings(free_port(), metrics_port=other.getsockname()[1])

        with pytest.raises(BadInput, match=r"taken by another program.*app\.metrics_port"):
            local_pod.deploy(settings, database_url, console, local_dir=pod_dir)
