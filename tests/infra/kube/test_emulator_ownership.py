"""The emulator's server-side apply field ownership (tests/support/field_ownership.py) follows the
rules of https://kubernetes.io/docs/reference/using-api/server-side-apply/, over HTTP with the
real kubernetes client: what the ownership tests of the Kubernetes step stand on."""

from __future__ import annotations

import json
import tempfile

import pytest
from kubernetes.client.exceptions import ApiException
from kubernetes.dynamic import DynamicClient

from tests.support.kmock_cluster import running_cluster


@pytest.fixture
def dynamic():
    with running_cluster() as cluster, tempfile.TemporaryDirectory() as folder:
        yield DynamicClient(cluster.api_client(), cache_file=f"{folder}/discovery.json")


def config_map(**data: str) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "cm", "namespace": "gif"},
        "data": data,
    }


def apply(dynamic, body: dict, manager: str, force: bool = False) -> dict:
    resource = dynamic.resources.get(api_version="v1", kind="ConfigMap")
    return dynamic.server_side_apply(
        resource, body=body, namespace="gif", field_manager=manager, force_conflicts=force
    ).to_dict()


def update(dynamic, data: dict, manager: str) -> dict:
    resource = dynamic.resources.get(api_version="v1", kind="ConfigMap")
    return resource.patch(
        body={"metadata": {"name": "cm"}, "data": data},
        namespace="gif",
        content_type="application/merge-patch+json",
        field_manager=manager,
    ).to_dict()


def owners(obj: dict) -> dict[tuple[str, str], dict]:
    return {
        (entry["manager"], entry["operation"]): entry["fieldsV1"]
        for entry in obj["metadata"]["managedFields"]
    }


def test_an_apply_records_its_fields_in_the_api_servers_format(dynamic):
    obj = apply(dynamic, config_map(a="1"), "alice")
    assert owners(obj) == {("alice", "Apply"): {"f:data": {"f:a": {}}}}


def test_changing_another_managers_field_conflicts_unless_forced(dynamic):
    apply(dynamic, config_map(a="1"), "alice")
    with pytest.raises(ApiException) as conflict:
        apply(dynamic, config_map(a="2"), "bob")
    assert conflict.value.status == 409
    message = json.loads(conflict.value.body)["message"]
    assert message == 'Apply failed with 1 conflict(s): conflict with "alice": .data.a'

    obj = apply(dynamic, config_map(a="2"), "bob", force=True)
    assert obj["data"] == {"a": "2"}
    assert owners(obj) == {("bob", "Apply"): {"f:data": {"f:a": {}}}}  # alice lost it


def test_equal_values_are_shared_and_a_field_goes_when_its_last_owner_leaves_it_out(dynamic):
    apply(dynamic, config_map(a="1", b="1"), "alice")
    apply(dynamic, config_map(a="1"), "bob")  # same value: shared, no conflict
    obj = apply(dynamic, config_map(), "alice")  # alice gives up a and b
    assert obj["data"] == {"a": "1"}  # b had no other owner: removed; a is bob's
    obj = apply(dynamic, config_map(), "bob")
    assert "a" not in (obj.get("data") or {})


def test_an_update_takes_the_fields_it_changes(dynamic):
    apply(dynamic, config_map(a="1"), "alice")
    obj = update(dynamic, {"a": "9"}, "kubectl-edit")
    assert owners(obj) == {("kubectl-edit", "Update"): {"f:data": {"f:a": {}}}}
    obj = apply(dynamic, config_map(), "alice")  # alice no longer owns a: it stays
    assert obj["data"] == {"a": "9"}


def test_the_documented_replicas_handover_keeps_the_count(dynamic):
    # "Transferring ownership": apply replicas once under another manager, then leave it out.
    resource = dynamic.resources.get(api_version="apps/v1", kind="Deployment")
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "gif"},
        "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}}},
    }

    def ssa(body, manager):
        return dynamic.server_side_apply(
            resource, body=body, namespace="gif", field_manager=manager
        ).to_dict()

    ssa(deployment, "user")
    replicas_only = {**deployment, "spec": {"replicas": 3}}
    ssa(replicas_only, "handover-to-hpa")
    without = {**deployment, "spec": {"selector": deployment["spec"]["selector"]}}
    obj = ssa(without, "user")
    assert obj["spec"]["replicas"] == 3
    # When the autoscaler writes the field, the temporary manager owns nothing and goes.
    obj = resource.patch(
        body={"metadata": {"name": "web"}, "spec": {"replicas": 5}},
        namespace="gif",
        content_type="application/merge-patch+json",
        field_manager="kube-controller-manager",
    ).to_dict()
    assert {entry["manager"] for entry in obj["metadata"]["managedFields"]} == {
        "user",
        "kube-controller-manager",
    }


def test_a_patch_may_rewrite_managed_fields_with_a_resource_version_precondition(dynamic):
    obj = apply(dynamic, config_map(a="1"), "kubectl")
    resource = dynamic.resources.get(api_version="v1", kind="ConfigMap")
    entries = obj["metadata"]["managedFields"]
    renamed = [{**entries[0], "manager": "gifstack"}]
    stale = {"metadata": {"name": "cm", "resourceVersion": "0", "managedFields": renamed}}
    with pytest.raises(ApiException) as conflict:
        resource.patch(body=stale, namespace="gif", content_type="application/merge-patch+json")
    assert conflict.value.status == 409
    fresh = {
        **stale,
        "metadata": {**stale["metadata"], "resourceVersion": obj["metadata"]["resourceVersion"]},
    }
    obj = resource.patch(body=fresh, namespace="gif", content_type="application/merge-patch+json")
    assert owners(obj.to_dict()) == {("gifstack", "Apply"): {"f:data": {"f:a": {}}}}
