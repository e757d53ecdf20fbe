"""infra/kube/ownership.py in the Kubernetes step: who owns which field over time, against the
emulator's server-side apply field ownership (tests/support/field_ownership.py) and the fake
controllers, which here also play the HPA (a Deployment `replicas` Update, as the HPA's
controller makes through the scale subresource)."""

from __future__ import annotations

import pytest
from rich.console import Console

from infra.core.clock import Clock
from infra.kube import ownership
from infra.kube import render as kube_render
from infra.kube import step as kube
from infra.kube.client import FIELD_MANAGER, KubeApi, Pacing
from infra.kube.ownership import owned_fields
from infra.settings import params
from tests.infra.kube.test_step import REPO, outputs
from tests.support.fake_controllers import HPA_MANAGER, Controllers
from tests.support.kmock_cluster import applies, history, running_cluster

DEPLOYMENTS = "apps/v1/deployments"
REPLICAS = ("spec", "replicas")


@pytest.fixture
def cluster():
    with running_cluster() as running:
        yield running


@pytest.fixture
def prod():
    return params.load("prod")


def deploy(cluster, settings, tag, controllers, **options):
    console = Console(record=True, width=220, color_system=None)
    try:
        kube.deploy_workload(
            settings,
            outputs(settings),
            tag,
            console=console,
            api_client=cluster.api_client(),
            pacing=Pacing(10, Clock(controllers.clock, controllers.step)),
            **options,
        )
    except Exception as exc:
        exc.console_text = console.export_text()
        raise
    return console.export_text()


def deployment(cluster) -> dict:
    return KubeApi(cluster.api_client()).get("apps/v1", "Deployment", kube_render.APP, "gif")


def replicas_owners(obj: dict) -> set[str]:
    return {
        entry["manager"]
        for entry in obj["metadata"]["managedFields"]
        if REPLICAS in owned_fields(obj, entry["manager"], entry["operation"])
    }


def test_an_autoscaled_deployment_hands_replicas_over_and_never_applies_them_again(cluster, prod):
    controllers = Controllers(cluster)
    deploy(cluster, prod, "v1", controllers)
    # Created at the HPA's minimum (a Deployment applied without replicas would start at 1),
    # then replicas went to a private manager and our apply left them out.
    assert deployment(cluster)["spec"]["replicas"] == prod.app.replicas
    assert FIELD_MANAGER not in replicas_owners(deployment(cluster))

    controllers.autoscaler_wants = 7
    deploy(cluster, prod, "v2", controllers)
    assert deployment(cluster)["spec"]["replicas"] == 7
    assert replicas_owners(deployment(cluster)) == {HPA_MANAGER}
    # Every apply of the Deployment after the first one left replicas out.
    ours = [a for a in applies(cluster) if a.plural == "deployments" and a.manager == FIELD_MANAGER]
    assert "replicas" in ours[0].body["spec"]
    assert all("replicas" not in applied.body["spec"] for applied in ours[1:])


def test_a_rollback_keeps_what_the_autoscaler_decided_during_the_rollout(cluster, prod):
    controllers = Controllers(cluster, failing_images={f"{REPO}:v2"})
    deploy(cluster, prod, "v1", controllers)
    controllers.autoscaler_wants = 7  # load rises while v2 rolls out (and fails)

    with pytest.raises(Exception) as failure:
        deploy(cluster, prod, "v2", controllers)
    assert "Rolled back to revision 1" in failure.value.message
    versions = history(cluster, DEPLOYMENTS, "gif", kube_render.APP)
    counts = [version["spec"].get("replicas") for version in versions if version]
    scaled = counts.index(7)
    assert set(counts[scaled:]) == {7}, counts  # nothing took the HPA's count back
    assert replicas_owners(deployment(cluster)) == {HPA_MANAGER}


def test_replicas_we_owned_before_autoscaling_are_handed_over_not_reset(cluster, prod):
    # A Deployment whose replicas we applied ourselves (autoscaling was off, or an older
    # gifstack applied them with force): leaving them out would reset the count to 1.
    controllers = Controllers(cluster)
    fixed = prod.model_copy(update={"app": prod.app.model_copy(update={"autoscaling": False})})
    fixed = fixed.model_copy(update={"app": fixed.app.model_copy(update={"replicas": 5})})
    deploy(cluster, fixed, "v1", controllers)
    assert replicas_owners(deployment(cluster)) == {FIELD_MANAGER}

    text = deploy(cluster, prod, "v1", controllers)
    assert deployment(cluster)["spec"]["replicas"] == 5
    assert FIELD_MANAGER not in replicas_owners(deployment(cluster))
    assert "handed spec.replicas of Deployment/gif-app (5) over" in text


def hand_edit(cluster, api_version, kind, name, body, manager, *, apply=False):
    """A change made by hand with kubectl: `kubectl edit/patch/rollout undo` (an Update by
    kubectl-edit, kubectl-patch, kubectl-rollout) or `kubectl apply --server-side` (Apply)."""
    controllers = Controllers(cluster)
    resource = controllers._kind(api_version, kind)
    body = {"apiVersion": api_version, "kind": kind, **body}
    body["metadata"] = {"name": name, "namespace": "gif", **body.get("metadata", {})}
    if apply:
        controllers.dynamic.server_side_apply(
            resource, body=body, namespace="gif", field_manager=manager, force_conflicts=True
        )
    else:
        resource.patch(
            body=body,
            namespace="gif",
            content_type="application/merge-patch+json",
            field_manager=manager,
        )


def test_fields_set_by_hand_with_kubectl_go_when_the_manifests_do_not_have_them(cluster):
    dev = params.load("dev")
    controllers = Controllers(cluster)
    deploy(cluster, dev, "v1", controllers)
    # `kubectl rollout undo` to a template of an older manifest (an annotation we dropped
    # since), and `kubectl apply --server-side` of a hot fix to the Service.
    old_template = {"template": {"metadata": {"annotations": {"example.com/old": "x"}}}}
    hand_edit(
        cluster, "apps/v1", "Deployment", "gif-app", {"spec": old_template}, "kubectl-rollout"
    )
    hotfix = {"metadata": {"annotations": {"example.com/hotfix": "1"}}}
    hand_edit(cluster, "v1", "Service", "gif-app", hotfix, "kubectl", apply=True)

    text = deploy(cluster, dev, "v1", controllers)

    api = KubeApi(cluster.api_client())
    live = api.get("apps/v1", "Deployment", "gif-app", "gif")
    assert "example.com/old" not in live["spec"]["template"]["metadata"]["annotations"]
    service = api.get("v1", "Service", "gif-app", "gif")
    assert "example.com/hotfix" not in service["metadata"]["annotations"]
    for obj in (live, service):
        managers = {entry["manager"] for entry in obj["metadata"]["managedFields"]}
        assert not any(manager.startswith("kubectl") for manager in managers), managers
    assert "took over the fields kubectl-rollout set on Deployment/gif-app" in text


def test_a_replicas_count_edited_by_hand_is_handed_to_the_autoscaler_not_reset(cluster, prod):
    controllers = Controllers(cluster)
    deploy(cluster, prod, "v1", controllers)
    hand_edit(
        cluster, "apps/v1", "Deployment", "gif-app", {"spec": {"replicas": 4}}, "kubectl-edit"
    )

    deploy(cluster, prod, "v1", controllers)
    assert deployment(cluster)["spec"]["replicas"] == 4
    assert FIELD_MANAGER not in replicas_owners(deployment(cluster))


def test_taking_over_leaves_controllers_and_subresources_alone(cluster):
    api = KubeApi(cluster.api_client())
    config = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "cm", "namespace": "gif"},
        "data": {"a": "1"},
    }
    api.apply(config)
    hand_edit(cluster, "v1", "ConfigMap", "cm", {"data": {"b": "2"}}, "kubectl-patch")
    hand_edit(cluster, "v1", "ConfigMap", "cm", {"data": {"c": "3"}}, "some-controller")
    before = len(cluster.emulator.log)

    ownership.take_over(api, config, Console())
    live = api.get("v1", "ConfigMap", "cm", "gif")
    assert owned_fields(live, FIELD_MANAGER) == {("data", "a"), ("data", "b")}
    assert owned_fields(live, "some-controller", "Update") == {("data", "c")}
    assert {entry["manager"] for entry in live["metadata"]["managedFields"]} == {
        FIELD_MANAGER,
        "some-controller",
    }
    ownership.take_over(api, config, Console())  # nothing left to take: no write
    writes = [r for r in cluster.emulator.log[before:] if r.method == "PATCH"]
    assert len(writes) == 1


def test_turning_autoscaling_off_deletes_the_hpa_before_the_deployment_is_applied(cluster, prod):
    controllers = Controllers(cluster, seconds_per_pod=30)
    deploy(cluster, prod, "v1", controllers)
    controllers.autoscaler_wants = 6  # the HPA would scale out, if it were still there
    fixed = prod.model_copy(update={"app": prod.app.model_copy(update={"autoscaling": False})})

    text = deploy(cluster, fixed, "v2", controllers)

    log = cluster.emulator.log
    hpa_deleted = next(i for i, r in enumerate(log) if r.method == "DELETE" and r.name == "gif-app")
    assert log[hpa_deleted].resource.plural == "horizontalpodautoscalers"
    v2_applied = next(
        i
        for i, r in enumerate(log)
        if r.method == "PATCH" and ":v2" in r.text and r.resource.plural == "deployments"
    )
    assert hpa_deleted < v2_applied
    assert "pruned HorizontalPodAutoscaler/gif-app" in text
    # Nothing scaled the new version away from the rendered count during its rollout.
    versions = history(cluster, DEPLOYMENTS, "gif", "gif-app")
    v2 = [
        v
        for v in versions
        if v and v["spec"]["template"]["spec"]["containers"][0]["image"].endswith(":v2")
    ]
    assert {v["spec"]["replicas"] for v in v2} == {fixed.app.replicas}
