"""infra/kube/apply.py: what prune may delete, and the migration Job's own deadline
(against kmock; the full flow is in test_kube.py)."""

from __future__ import annotations

import pytest
from rich.console import Console

from infra.core.clock import Clock
from infra.core.errors import OperationFailed
from infra.kube import apply as kube_apply
from infra.kube import kinds
from infra.kube.client import KubeApi, Pacing
from tests.support.fake_controllers import Controllers
from tests.support.kmock_cluster import running_cluster

OURS = {"app.kubernetes.io/managed-by": "gifstack"}


@pytest.fixture
def api():
    with running_cluster() as cluster:
        yield KubeApi(cluster.api_client())


def config_map(name: str, labels: dict | None = None, owners: list | None = None) -> dict:
    metadata = {"name": name, "namespace": "gif", "labels": labels or {}}
    if owners:
        metadata["ownerReferences"] = owners
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata}


def test_prune_only_picks_top_level_objects_we_applied_that_are_not_rendered(api):
    rendered = config_map("gif-config", OURS)
    owner = {"apiVersion": "v1", "kind": "ConfigMap", "name": "x", "uid": "1"}
    for doc in (rendered, config_map("left-over", OURS), config_map("child", OURS, [owner])):
        api.apply(doc)
    # Not ours although labelled so: a copy someone applied by hand; and others' objects.
    api.apply(config_map("hand-applied-copy", OURS), field_manager="kubectl")
    api.apply(config_map("not-ours"), field_manager="someone")
    api.apply(
        config_map("other-tool", {"app.kubernetes.io/managed-by": "helm"}), field_manager="helm"
    )
    api.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "gif"}})

    candidates = kube_apply.prune_candidates(api, [rendered], "gif")
    assert candidates == [("v1", "ConfigMap", "left-over")]
    console = Console(record=True)
    assert kube_apply.prune(api, [rendered], "gif", console) == ["ConfigMap/left-over"]
    names = {item["metadata"]["name"] for item in api.list("v1", "ConfigMap", "gif")}
    assert names == {"gif-config", "hand-applied-copy", "not-ours", "other-tool", "child"}
    assert api.get("v1", "Namespace", "gif") is not None


@pytest.mark.parametrize("kind", [kind for kind in kinds.KINDS if kind.prunable], ids=str)
def test_prune_covers_every_prunable_kind_of_the_table(api, kind):
    doc = {"apiVersion": kind.api_version, "kind": kind.name}
    doc["metadata"] = {"name": "gone", "namespace": "gif", "labels": dict(OURS)}
    api.apply(doc)
    assert kube_apply.prune_candidates(api, [], "gif") == [(kind.api_version, kind.name, "gone")]


class FakeTime:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += 30


def test_a_migration_that_never_finishes_fails_after_its_deadline(api):
    job = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "gif-migrate-abc", "namespace": "gif"},
        "spec": {"activeDeadlineSeconds": 60, "template": {"spec": {"containers": []}}},
    }
    clock = FakeTime()
    console = Console(record=True, width=200)
    with pytest.raises(OperationFailed) as failure:
        kube_apply.run_migration(api, job, console, Pacing(30, Clock(clock, clock.sleep)))
    assert "not finished after 120 s" in failure.value.message
    assert "has no pods to show logs of" in console.export_text()


def test_a_completed_migration_is_not_applied_again(api):
    job = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "gif-migrate-abc", "namespace": "gif"},
        "spec": {"template": {"spec": {"containers": []}}},
        "status": {"conditions": [{"type": "Complete", "status": "True"}]},
    }
    api.apply(job)  # stands in for a Job the controller has finished
    before = api.get("batch/v1", "Job", "gif-migrate-abc", "gif")["metadata"]["resourceVersion"]
    console = Console(record=True)
    kube_apply.run_migration(api, job, console, Pacing(0))
    after = api.get("batch/v1", "Job", "gif-migrate-abc", "gif")["metadata"]["resourceVersion"]
    assert before == after
    assert "already completed for this image: skipped" in console.export_text()


def test_a_failed_migration_shows_the_logs_of_its_own_pods_only():
    # A failed Job is deleted and made again under the same name: the old Job's pods (the
    # garbage collector removes them later) share its job-name label, not its uid.
    with running_cluster() as cluster:
        api = KubeApi(cluster.api_client())
        image = "repo/gif-service:v1"
        job = {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {"name": "gif-migrate-abc", "namespace": "gif"},
            "spec": {
                "template": {
                    "metadata": {"labels": {"app": "migrate"}},
                    "spec": {
                        "initContainers": [{"name": "migrate", "image": image}],
                        "containers": [{"name": "seed", "image": image}],
                    },
                }
            },
        }
        controllers = Controllers(cluster, failing_migrations={image})
        controllers.migration_error = "ERROR: first attempt"
        pacing = Pacing(10, Clock(controllers.clock, controllers.step))
        with pytest.raises(OperationFailed):
            kube_apply.run_migration(api, job, Console(), pacing)

        controllers.migration_error = "ERROR: second attempt"
        console = Console(record=True, width=200)
        with pytest.raises(OperationFailed):
            kube_apply.run_migration(api, job, console, pacing)
    text = console.export_text()
    assert "failed before: deleting it to run it again" in text
    assert "ERROR: second attempt" in text
    assert "first attempt" not in text
