"""infra/kube/step.py: the whole Kubernetes step (render, plan, apply, migrate, roll out, roll back,
prune, URL) against kmock's KubernetesEmulator over HTTP with the real kubernetes client.
The tests play the controllers (tests/support/fake_controllers.py) by writing status."""

from __future__ import annotations

import boto3
import pytest
from rich.console import Console

from infra.core import naming
from infra.core.clock import Clock
from infra.core.errors import BadInput, OperationFailed
from infra.kube import render as kube_render
from infra.kube import step as kube
from infra.kube.client import KubeApi, Pacing
from infra.settings import params
from tests.support.fake_controllers import Controllers
from tests.support.kmock_cluster import running_cluster, unreachable_api_client

REPO = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/gif-service"
LB = "gif-app-0123456789.elb.eu-west-1.amazonaws.com"


def outputs(settings) -> dict[str, str]:
    values = kube_render.offline_outputs(settings)
    values[naming.Outputs.REPOSITORY_URI] = REPO
    values[naming.Outputs.DATABASE_ENDPOINT] = "gif-dev-db.abcdefgh.eu-west-1.rds.amazonaws.com"
    return values


@pytest.fixture
def cluster():
    with running_cluster() as running:
        yield running


@pytest.fixture
def dev():
    return params.load("dev")


def _no_sleep(_seconds: float) -> None:
    pass


def deploy(cluster, settings, tag, controllers, **options):
    console = Console(record=True, width=220, color_system=None)
    try:
        url = kube.deploy_workload(
            settings,
            outputs(settings),
            tag,
            console=console,
            api_client=options.pop("api_client", None) or cluster.api_client(),
            pacing=Pacing(
                interval=0, clock=Clock(sleep=controllers.step if controllers else _no_sleep)
            ),
            **options,
        )
    except Exception as exc:
        exc.console_text = console.export_text()
        raise
    return url, console.export_text()


def applied(cluster) -> list[tuple[str, str]]:
    """(resource plural, name) of every server-side apply the emulator received, in order."""
    return [
        (request.resource.plural, request.name)
        for request in cluster.emulator.log
        if request.method == "PATCH"
        and request.headers.get("Content-Type", "").startswith("application/apply-patch")
    ]


def test_deploy_applies_in_order_with_field_manager_waits_and_returns_url(cluster, dev):
    controllers = Controllers(cluster)
    url, text = deploy(cluster, dev, "v1", controllers)

    assert url == f"http://{LB}/"
    assert f"the GIF service is at http://{LB}/" in text
    job = controllers.list("batch/v1", "Job")[0]["metadata"]["name"]
    assert applied(cluster) == [
        ("namespaces", "gif"),
        ("serviceaccounts", "gif-app"),
        ("serviceaccounts", "gif-migrate"),
        ("configmaps", "gif-config"),
        ("jobs", job),
        ("deployments", "gif-app"),
        ("services", "gif-app"),
        ("poddisruptionbudgets", "gif-app"),
        ("networkpolicies", "gif-app"),
        ("networkpolicies", "gif-migrate"),
        ("networkpolicies", "gif-default-deny"),
    ]
    for request in cluster.emulator.log:
        if request.method == "PATCH" and "apply-patch" in request.headers.get("Content-Type", ""):
            assert request.params["fieldManager"] == "gifstack"
            assert request.params["force"] == "true"
    # The Deployment was applied only after the Job had completed.
    requests = [
        (r.method, r.resource and r.resource.plural, r.name, r.subresource)
        for r in cluster.emulator.log
    ]
    job_done = requests.index(("PATCH", "jobs", job, "status"))
    deployment_applied = next(
        i for i, r in enumerate(requests) if r[:3] == ("PATCH", "deployments", "gif-app")
    )
    assert job_done < deployment_applied
    deployment = controllers.get("apps/v1", "Deployment", "gif-app")
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == f"{REPO}:v1"
    assert deployment["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "gifstack"
    assert "migration Job" in text and "completed" in text
    assert "all 2 pods run the new version and are available" in text
    assert "prune: on" in text


def test_redeploying_the_same_tag_skips_the_finished_migration_and_changes_nothing(cluster, dev):
    controllers = Controllers(cluster)
    deploy(cluster, dev, "v1", controllers)
    replica_sets = controllers.list("apps/v1", "ReplicaSet")
    _, text = deploy(cluster, dev, "v1", controllers)

    assert "already completed for this image: skipped" in text
    assert controllers.list("apps/v1", "ReplicaSet") == replica_sets
    assert len(controllers.list("batch/v1", "Job")) == 1


def test_a_new_image_tag_runs_a_new_job_rolls_out_and_prunes_the_old_job(cluster, dev):
    controllers = Controllers(cluster)
    deploy(cluster, dev, "v1", controllers)
    old_job = controllers.list("batch/v1", "Job")[0]["metadata"]["name"]
    _, text = deploy(cluster, dev, "v2", controllers)

    jobs = [job["metadata"]["name"] for job in controllers.list("batch/v1", "Job")]
    assert len(jobs) == 1 and jobs[0] != old_job
    assert f"pruned Job/{old_job}" in text
    deployment = controllers.get("apps/v1", "Deployment", "gif-app")
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == f"{REPO}:v2"
    assert deployment["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "2"


def test_prune_deletes_only_objects_we_applied_that_are_no_longer_rendered(cluster, dev):
    controllers = Controllers(cluster)
    deploy(cluster, dev, "v1", controllers)
    managed = {"app.kubernetes.io/managed-by": "gifstack"}
    old = {"metadata": {"name": "old-config", "namespace": "gif", "labels": managed}}
    KubeApi(cluster.api_client()).apply({"apiVersion": "v1", "kind": "ConfigMap", **old})
    controllers.create("v1", "ConfigMap", {"metadata": {"name": "someone-elses"}})
    # A copy applied by hand carries our label, but we never applied it: not ours to delete.
    copy = {"metadata": {"name": "hand-applied-copy", "labels": managed}}
    controllers.create("v1", "ConfigMap", copy)

    _, text = deploy(cluster, dev, "v1", controllers, prune=False)
    names = {cm["metadata"]["name"] for cm in controllers.list("v1", "ConfigMap")}
    assert {"old-config", "someone-elses", "hand-applied-copy", "gif-config"} <= names
    assert "prune: off" in text

    _, text = deploy(cluster, dev, "v1", controllers)
    names = {cm["metadata"]["name"] for cm in controllers.list("v1", "ConfigMap")}
    assert names == {"someone-elses", "hand-applied-copy", "gif-config"}
    assert "prune after a healthy rollout: ConfigMap/old-config" in text
    assert "pruned ConfigMap/old-config" in text
    # Controller-made children carry our labels but are never pruned.
    assert controllers.list("apps/v1", "ReplicaSet")


def test_a_failed_migration_stops_before_the_deployment_and_shows_its_logs(cluster, dev):
    controllers = Controllers(cluster, failing_migrations={f"{REPO}:v2"})
    deploy(cluster, dev, "v1", controllers)

    with pytest.raises(OperationFailed) as failure:
        deploy(cluster, dev, "v2", controllers)

    assert "BackoffLimitExceeded" in failure.value.message
    assert "running version keeps serving" in failure.value.message
    text = failure.value.console_text
    assert "3 failed attempt(s)" in text  # a progress line while it waited
    assert 'ERROR: relation "gifs" already exists' in text
    deployment = controllers.get("apps/v1", "Deployment", "gif-app")
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == f"{REPO}:v1"


def test_a_failed_migration_is_retried_by_the_next_deploy(cluster, dev):
    controllers = Controllers(cluster, failing_migrations={f"{REPO}:v1"})
    with pytest.raises(OperationFailed):
        deploy(cluster, dev, "v1", controllers)
    controllers.failing_migrations.clear()  # the cause was fixed (e.g. the database)

    _, text = deploy(cluster, dev, "v1", controllers)
    assert "failed before: deleting it to run it again" in text
    assert "completed" in text


def test_a_failed_rollout_is_explained_and_rolled_back(cluster, dev):
    controllers = Controllers(cluster, failing_images={f"{REPO}:v2"})
    deploy(cluster, dev, "v1", controllers)

    with pytest.raises(OperationFailed) as failure:
        deploy(cluster, dev, "v2", controllers)

    message = failure.value.message
    assert "made no progress" in message and "timed out progressing" in message
    assert f"Rolled back to revision 1 ({REPO}:v1)" in message
    text = failure.value.console_text
    assert "CrashLoopBackOff" in text
    assert "Back-off restarting failed container app" in text
    assert "IAM authentication failed for user gif_app" in text
    deployment = controllers.get("apps/v1", "Deployment", "gif-app")
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == f"{REPO}:v1"
    assert deployment["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "3"
    # The rest of the Deployment is still what we render (applied over the rendered object).
    assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0


def test_no_rollback_keeps_the_failed_version_for_debugging(cluster, dev):
    controllers = Controllers(cluster, failing_images={f"{REPO}:v2"})
    deploy(cluster, dev, "v1", controllers)

    with pytest.raises(OperationFailed) as failure:
        deploy(cluster, dev, "v2", controllers, rollback=False)

    assert "--no-rollback" in failure.value.message
    deployment = controllers.get("apps/v1", "Deployment", "gif-app")
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == f"{REPO}:v2"


def test_a_failed_first_rollout_says_there_is_nothing_to_roll_back_to(cluster, dev):
    controllers = Controllers(cluster, failing_images={f"{REPO}:v1"})
    with pytest.raises(OperationFailed) as failure:
        deploy(cluster, dev, "v1", controllers)
    assert "no previous version to roll back to" in failure.value.message


def test_prod_applies_the_autoscaler_and_keeps_the_replicas_it_chose(cluster):
    prod = params.load("prod")
    controllers = Controllers(cluster)
    deploy(cluster, prod, "v1", controllers)

    hpa = controllers.get("autoscaling/v2", "HorizontalPodAutoscaler", "gif-app")
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (3, 12)
    assert controllers.get("apps/v1", "Deployment", "gif-app")["spec"]["replicas"] == 3

    # The autoscaler scaled out; the next deploy keeps its count instead of resetting it.
    controllers.patch("apps/v1", "Deployment", "gif-app", {"spec": {"replicas": 7}})
    deploy(cluster, prod, "v2", controllers)
    assert controllers.get("apps/v1", "Deployment", "gif-app")["spec"]["replicas"] == 7


def test_no_url_until_the_load_balancer_has_a_hostname(cluster, dev):
    controllers = Controllers(cluster, lb_hostname=None)
    url, text = deploy(cluster, dev, "v1", controllers)
    assert url is None
    assert "no address yet" in text


def test_dry_run_shows_the_plan_and_sends_nothing(cluster, dev):
    controllers = Controllers(cluster)
    before = len(cluster.emulator.log)
    url, text = deploy(cluster, dev, "v1", controllers, dry_run=True)

    assert url is None
    assert len(cluster.emulator.log) == before
    assert "Deployment/gif-app" in text and f"{REPO}:v1" in text
    assert "dry run: nothing applied" in text


def test_an_unreachable_api_server_is_one_clear_error(cluster, dev):
    with unreachable_api_client() as client, pytest.raises(OperationFailed) as failure:
        deploy(cluster, dev, "v1", None, api_client=client)
    assert "cannot reach" in failure.value.message
    assert "public_access_cidrs" in failure.value.message


@pytest.mark.parametrize(
    ("status", "expected"),
    [(401, "rejected our credentials"), (403, "needs an EKS access entry")],
)
def test_unauthorized_and_forbidden_are_one_clear_error_each(cluster, dev, status, expected):
    controllers = Controllers(cluster)
    (
        cluster.emulator
        << status
        << {
            "kind": "Status",
            "apiVersion": "v1",
            "code": status,
            "reason": "Forbidden" if status == 403 else "Unauthorized",
            "message": 'namespaces "gif" is forbidden: User "arn:aws:sts::1:assumed-role/x" cannot'
            " get resource",
        }
    )
    with pytest.raises(BadInput) as failure:
        deploy(cluster, dev, "v1", controllers)
    assert expected in failure.value.message
    assert f"({status} " in failure.value.message


def test_a_namespace_stuck_terminating_stops_the_deploy_with_what_to_check(cluster, dev):
    controllers = Controllers(cluster)
    namespaces = controllers._kind("v1", "Namespace")
    controllers.dynamic.server_side_apply(
        namespaces,
        body={
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": "gif", "finalizers": ["kubernetes"]},
        },
        field_manager="someone-else",
    )
    namespaces.delete(name="gif")  # the finalizer keeps it: Terminating
    controllers.dynamic.patch(
        namespaces.subresources["status"],
        body={"metadata": {"name": "gif"}, "status": {"phase": "Terminating"}},
        content_type="application/merge-patch+json",
    )
    before = applied(cluster)
    with pytest.raises(OperationFailed) as failure:
        deploy(cluster, dev, "v1", controllers)
    assert "namespace gif is being deleted (Terminating)" in failure.value.message
    assert "finalizer" in failure.value.message
    assert applied(cluster) == before  # nothing applied


def test_missing_stack_outputs_are_bad_input_naming_the_stack(cluster, dev):
    values = outputs(dev)
    del values[naming.Outputs.DATABASE_ENDPOINT]
    with pytest.raises(BadInput, match="gif-dev-database"):
        kube.deploy_workload(dev, values, "v1", console=Console(), api_client=cluster.api_client())


def test_without_a_client_it_signs_in_to_the_cluster_named_by_the_stack_outputs(
    cluster, dev, monkeypatch
):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    values = {
        **outputs(dev),
        naming.Outputs.CLUSTER_NAME: "gif-dev",
        naming.Outputs.CLUSTER_ENDPOINT: cluster.url,  # plain HTTP here; EKS is HTTPS
        naming.Outputs.CLUSTER_CERTIFICATE_AUTHORITY: "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCg==",
    }
    controllers = Controllers(cluster)
    url = kube.deploy_workload(
        dev,
        values,
        "v1",
        console=Console(),
        pacing=Pacing(0, Clock(sleep=controllers.step)),
        session=boto3.Session(region_name=dev.region),
    )
    assert url == f"http://{LB}/"
    ours = [
        request.headers["Authorization"]
        for request in cluster.emulator.log
        if request.headers.get("User-Agent") != "gifstack-test-controllers"
    ]
    assert ours and all(value.startswith("Bearer k8s-aws-v1.") for value in ours)


def test_missing_cluster_outputs_say_which_stack_to_deploy(dev):
    with pytest.raises(BadInput, match=r"ClusterEndpoint.*gif-dev-cluster"):
        kube.deploy_workload(dev, outputs(dev), "v1", console=Console())


def test_no_secret_reaches_the_cluster_or_the_output(cluster, dev):
    sentinel = "s3cr3t-Sentinel-Value-0f9e"
    values = {**outputs(dev), "DatabaseMasterPassword": sentinel, "Other": sentinel}
    controllers = Controllers(cluster)
    console = Console(record=True, width=220)
    kube.deploy_workload(
        dev,
        values,
        "v1",
        console=console,
        api_client=cluster.api_client(),
        pacing=Pacing(0, Clock(sleep=controllers.step)),
    )
    assert sentinel not in console.export_text()
    sent = [request.text for request in cluster.emulator.log]
    assert sent and not any(sentinel in text for text in sent)
    assert not any(
        request.resource and request.resource.plural == "secrets"
        for request in cluster.emulator.log
    )


def test_with_a_certificate_the_url_is_https(cluster, dev):
    certificate = (
        "arn:aws:acm:eu-west-1:111122223333:certificate/0f0e0d0c-1111-2222-3333-444455556666"
    )
    tls = dev.model_copy(
        update={"app": dev.app.model_copy(update={"tls_certificate_arn": certificate})}
    )
    url, text = deploy(cluster, tls, "v1", Controllers(cluster))
    assert url == f"https://{LB}/"
    assert f"the GIF service is at https://{LB}/" in text


def test_the_rollout_check_after_new_nodes_waits_for_every_pod(cluster, dev):
    controllers = Controllers(cluster)
    deploy(cluster, dev, "v1", controllers)
    console = Console(record=True, width=220, color_system=None)

    kube.check_rollout(
        dev,
        outputs(dev),
        console=console,
        api_client=cluster.api_client(),
        pacing=Pacing(interval=0, clock=Clock(sleep=controllers.step)),
    )

    text = console.export_text()
    assert "checking the rollout of Deployment/gif-app" in text
    assert "pods run the new version and are available" in text


def test_the_rollout_check_fails_without_the_app(cluster, dev):
    console = Console(record=True, width=220, color_system=None)
    with pytest.raises(OperationFailed) as failed:
        kube.check_rollout(
            dev,
            outputs(dev),
            console=console,
            api_client=cluster.api_client(),
            pacing=Pacing(interval=0, clock=Clock(sleep=_no_sleep)),
        )
    assert "Deployment gif-app disappeared" in failed.value.message
