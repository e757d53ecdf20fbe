"""infra/kube/ownership.py in the Kubernetes step: who owns which field over time, against the
emulator's server-side apply field ownership (tests/support/field_ownership.py) and the fake
controllers, which here also play the HPA (a Deployment `replicas` Update, as the HPA's
controller makes through the scale subresource)."""

from __future__ import annotations

import pytest
from rich.console import Console

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
            pacing=Pacing(10, controllers.step, controllers.clock),
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
