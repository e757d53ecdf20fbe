"""infra/kube/rollout.py: the rollout verdict from a Deployment's status (as the controller
writes it), the wait's own deadline, and rollback's choice of ReplicaSet (against kmock)."""

from __future__ import annotations

import pytest
from rich.console import Console

from infra.core.clock import Clock
from infra.kube import rollout as kube_rollout
from infra.kube.client import KubeApi, Pacing
from tests.support.fake_controllers import Controllers
from tests.support.kmock_cluster import running_cluster


def deployment(generation=2, wanted=3, **status) -> dict:
    return {
        "metadata": {"name": "gif-app", "namespace": "gif", "generation": generation},
        "spec": {"replicas": wanted, "progressDeadlineSeconds": 120},
        "status": status,
    }


@pytest.mark.parametrize(
    ("status", "done", "says"),
    [
        ({"observedGeneration": 1}, False, "pick up generation 2"),
        ({"observedGeneration": 2, "updatedReplicas": 1, "replicas": 4}, False, "being created"),
        (
            {"observedGeneration": 2, "updatedReplicas": 3, "replicas": 4, "availableReplicas": 3},
            False,
            "1 old pods are being replaced",
        ),
        (
            {"observedGeneration": 2, "updatedReplicas": 3, "replicas": 3, "availableReplicas": 2},
            False,
            "readiness probe",
        ),
        (
            {
                "observedGeneration": 2,
                "updatedReplicas": 3,
                "replicas": 3,
                "readyReplicas": 3,
                "availableReplicas": 3,
            },
            True,
            "all 3 pods",
        ),
    ],
)
def test_rollout_state_follows_kubectl_rollout_status(status, done, says):
    verdict, text = kube_rollout.rollout_state(deployment(**status))
    assert verdict is done
    assert says in text


def test_progress_deadline_exceeded_fails_with_the_controllers_message():
    stuck = deployment(
        observedGeneration=2,
        conditions=[
            {
                "type": "Progressing",
                "status": "False",
                "reason": "ProgressDeadlineExceeded",
                "message": 'ReplicaSet "gif-app-5d9" has timed out progressing.',
            }
        ],
    )
    with pytest.raises(kube_rollout.RolloutFailed, match="no progress for 120 s: ReplicaSet"):
        kube_rollout.rollout_state(stuck)


def test_replicas_default_to_one_when_an_autoscaler_owns_them():
    auto = deployment(observedGeneration=2, updatedReplicas=1, replicas=1, availableReplicas=1)
    del auto["spec"]["replicas"]
    assert kube_rollout.rollout_state(auto)[0] is True


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += 10


def test_the_wait_gives_up_after_the_deadline_when_the_controller_says_nothing():
    with running_cluster() as cluster:
        api = KubeApi(cluster.api_client())
        api.apply(
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": "gif-app", "namespace": "gif"},
                "spec": {
                    "replicas": 2,
                    "progressDeadlineSeconds": 30,
                    "selector": {"matchLabels": {"app": "x"}},
                    "template": {"metadata": {"labels": {"app": "x"}}, "spec": {}},
                },
            }
        )
        clock = FakeClock()
        console = Console(record=True, width=200)
        with pytest.raises(kube_rollout.RolloutFailed) as failure:
            kube_rollout.wait(api, "gif-app", "gif", console, Pacing(10, Clock(clock, clock.sleep)))
    assert "made no progress for 90 s" in failure.value.message
    assert "controller to pick up generation 1" in console.export_text()


def app_deployment(replicas: int, deadline: int) -> dict:
    labels = {"app": "x"}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "gif-app", "namespace": "gif"},
        "spec": {
            "replicas": replicas,
            "progressDeadlineSeconds": deadline,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "app", "image": "gif:v1"}]},
            },
        },
    }


def test_a_slow_rollout_that_keeps_progressing_succeeds_past_deadline_plus_grace():
    # 12 replicas, maxSurge 1, maxUnavailable 0, a pod ready every 60 s: 720 s in all, more
    # than progressDeadlineSeconds + grace (660 s) counted from the start. The controller's own
    # deadline restarts with each bit of progress, so does ours.
    with running_cluster() as cluster:
        api = KubeApi(cluster.api_client())
        api.apply(app_deployment(replicas=12, deadline=600))
        controllers = Controllers(cluster, seconds_per_pod=60)
        console = Console(record=True, width=200)
        kube_rollout.wait(
            api, "gif-app", "gif", console, Pacing(10, Clock(controllers.clock, controllers.step))
        )
    assert controllers.now >= 720
    assert "all 12 pods run the new version and are available" in console.export_text()


def test_the_grace_clock_restarts_only_when_the_counts_move():
    # The controller made some progress, then went silent (no status, no verdict): the wait
    # gives up progressDeadlineSeconds + grace after the last change it saw.
    with running_cluster() as cluster:
        api = KubeApi(cluster.api_client())
        api.apply(app_deployment(replicas=3, deadline=120))
        controllers = Controllers(cluster, seconds_per_pod=60)

        def sleep(seconds: float) -> None:
            if controllers.now < 100:
                controllers.step(seconds)  # progress: one pod ready 60 s after it starts
            else:
                controllers.now += seconds  # then the controller says nothing more

        with pytest.raises(kube_rollout.RolloutFailed) as failure:
            kube_rollout.wait(
                api, "gif-app", "gif", Console(), Pacing(10, Clock(controllers.clock, sleep))
            )
    assert "no progress for 180 s" in failure.value.message
    # The controller picked the rollout up at 10 s and had a pod ready at 70 s: the last move.
    assert 70 + 180 < controllers.now <= 70 + 180 + 10


def test_rollback_has_nothing_to_go_back_to_without_an_older_replica_set():
    with running_cluster() as cluster:
        api = KubeApi(cluster.api_client())
        rendered = {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "gif-app", "namespace": "gif"},
            "spec": {
                "selector": {"matchLabels": {"app": "x"}},
                "template": {"metadata": {"labels": {"app": "x"}}, "spec": {}},
            },
        }
        assert kube_rollout.rollback(api, rendered, Console(), Pacing(0)) is None  # absent
        api.apply(rendered)
        assert kube_rollout.rollback(api, rendered, Console(), Pacing(0)) is None  # no history
