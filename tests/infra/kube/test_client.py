"""infra/kube/client.py: server-side apply and reads over HTTP against kmock, and each API
failure translated into one clear error."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from infra.core.errors import BadInput, OperationFailed
from infra.kube.client import Conflict, KubeApi, NamespaceTerminating, check_namespace
from tests.support.kmock_cluster import running_cluster, unreachable_api_client

CONFIG = {
    "apiVersion": "v1",
    "kind": "ConfigMap",
    "metadata": {"name": "gif-config", "namespace": "gif", "labels": {"a": "b"}},
    "data": {"LOG_LEVEL": "info"},
}


@pytest.fixture
def cluster():
    with running_cluster() as running:
        yield running


def status(code: int, message: str, reason: str = "Failure") -> dict:
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "code": code,
        "reason": reason,
        "message": message,
    }


def test_apply_creates_then_updates_with_our_field_manager(cluster):
    api = KubeApi(cluster.api_client())
    api.apply(CONFIG)
    api.apply({**CONFIG, "data": {"LOG_LEVEL": "debug"}})

    stored = api.get("v1", "ConfigMap", "gif-config", "gif")
    assert stored["data"] == {"LOG_LEVEL": "debug"}
    applies = [r for r in cluster.emulator.log if r.method == "PATCH"]
    assert len(applies) == 2
    for request in applies:
        assert request.headers["Content-Type"] == "application/apply-patch+yaml"
        assert request.params == {"fieldManager": "gifstack", "force": "true"}


def test_get_of_a_missing_object_is_none_and_list_filters_by_label(cluster):
    api = KubeApi(cluster.api_client())
    assert api.get("v1", "ConfigMap", "nothing", "gif") is None
    api.apply(CONFIG)
    assert [c["metadata"]["name"] for c in api.list("v1", "ConfigMap", "gif")] == ["gif-config"]
    assert api.list("v1", "ConfigMap", "gif", label_selector="a=c") == []


def test_delete_of_a_missing_object_is_fine(cluster):
    api = KubeApi(cluster.api_client())
    api.delete("v1", "ConfigMap", "nothing", "gif")
    api.apply(CONFIG)
    api.delete("v1", "ConfigMap", "gif-config", "gif")
    assert api.get("v1", "ConfigMap", "gif-config", "gif") is None


def test_applying_into_a_terminating_namespace_is_explained(cluster):
    api = KubeApi(cluster.api_client())
    message = "configmaps \"gif-config\" is forbidden: unable to create new content in " \
        "namespace gif because it is being terminated"  # fmt: skip
    cluster.emulator["patch"] << 403 << status(403, message, "Forbidden")
    with pytest.raises(NamespaceTerminating) as failure:
        api.apply(CONFIG)
    assert "namespace gif is being deleted (Terminating)" in failure.value.message
    assert failure.value.exit_code == 1


def test_check_namespace_passes_a_missing_or_active_namespace(cluster):
    api = KubeApi(cluster.api_client())
    check_namespace(api, "gif")  # missing: apply will create it
    api.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "gif"}})
    check_namespace(api, "gif")


def test_a_server_error_names_the_action(cluster):
    api = KubeApi(cluster.api_client())
    cluster.emulator["patch"] << 422 << status(422, 'ConfigMap "gif-config" is invalid: data')
    with pytest.raises(OperationFailed) as failure:
        api.apply(CONFIG)
    assert failure.value.message.startswith("applying ConfigMap/gif-config failed (422")
    assert 'ConfigMap "gif-config" is invalid' in failure.value.message


def test_forbidden_is_bad_input_about_the_access_entry(cluster):
    cluster.emulator << 403 << status(403, 'namespaces "gif" is forbidden', "Forbidden")
    with pytest.raises(BadInput) as failure:
        KubeApi(cluster.api_client())
    assert "403 Forbidden" in failure.value.message
    assert "DeployerPrincipalArn" in failure.value.message


def test_logs_of_a_container_that_has_not_started_say_so(cluster):
    api = KubeApi(cluster.api_client())
    assert api.logs("missing-pod", "gif", "app", 10) == ""
    (
        cluster.emulator["get", "/api/v1/namespaces/gif/pods/p/log"]
        << 400
        << status(400, 'container "app" in pod "p" is waiting to start: ContainerCreating')
    )
    assert "is waiting to start" in api.logs("p", "gif", "app", 10)


def test_an_unreachable_server_fails_fast_with_what_to_check():
    with unreachable_api_client() as client, pytest.raises(OperationFailed) as failure:
        KubeApi(client, describe="the API server of EKS cluster gif-dev")
    message = failure.value.message
    assert message.startswith("cannot reach the API server of EKS cluster gif-dev")
    assert "Traceback" not in message


def test_discovery_is_fresh_each_run_not_the_shared_tmp_cache(cluster):
    # The client's default cache is /tmp/osrcp-*.json keyed by host only: another cluster
    # once at the same address (or a dead one) would be trusted. KubeApi never touches it.
    shared = Path(tempfile.gettempdir())
    before = set(shared.glob("osrcp-*.json"))
    api = KubeApi(cluster.api_client())
    api.apply(CONFIG)
    assert set(shared.glob("osrcp-*.json")) == before


def test_an_apply_conflict_without_force_is_one_conflict_error_naming_the_owner(cluster):
    api = KubeApi(cluster.api_client())
    api.apply(CONFIG)
    changed = {**CONFIG, "data": {"LOG_LEVEL": "debug"}}
    with pytest.raises(Conflict) as conflict:
        api.apply(changed, field_manager="someone-else", force=False)
    assert conflict.value.message.startswith("applying ConfigMap/gif-config failed (409 Conflict)")
    assert 'conflict with "gifstack"' in conflict.value.message
    api.apply(changed, field_manager="someone-else", force=True)  # forced: takes the field
    assert api.get("v1", "ConfigMap", "gif-config", "gif")["data"] == {"LOG_LEVEL": "debug"}
