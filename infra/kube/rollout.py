"""Wait for a Deployment's rollout like `kubectl rollout status`, explain a failure, roll back.

Healthy means: the controller has seen our generation, every replica runs the new template
and is available (ready, so `/gif` answered). The verdict is kubectl's: the rollout fails when
the Deployment controller reports ProgressDeadlineExceeded, which it does after
spec.progressDeadlineSeconds without progress; its clock restarts with every bit of progress,
so a slow but healthy rollout never fails. kubectl rollout status has no deadline of its own
(https://github.com/kubernetes/kubectl/blob/master/pkg/polymorphichelpers/rollout_status.go);
ours is only a safety net for a controller that says nothing at all: progressDeadlineSeconds +
DEADLINE_GRACE_SECONDS since the controller's generation or the updated, ready or available
counts last moved.
"""

from __future__ import annotations

import copy
from typing import Any

from rich.console import Console
from rich.markup import escape

from infra.core.errors import OperationFailed
from infra.kube import diagnose as kube_diagnose
from infra.kube.client import KubeApi, Pacing

REVISION = "deployment.kubernetes.io/revision"
TEMPLATE_HASH = "pod-template-hash"
DEADLINE_GRACE_SECONDS = 60


class RolloutFailed(OperationFailed):
    pass


def rollout_state(deployment: dict[str, Any]) -> tuple[bool, str]:
    """(done, what we are waiting for); raises RolloutFailed on ProgressDeadlineExceeded."""
    metadata = deployment["metadata"]
    spec = deployment.get("spec") or {}
    status = deployment.get("status") or {}
    generation = metadata.get("generation", 0)
    if status.get("observedGeneration", 0) < generation:
        return False, f"waiting for the controller to pick up generation {generation}"
    for condition in status.get("conditions") or []:
        if condition.get("type") == "Progressing" and (
            condition.get("reason") == "ProgressDeadlineExceeded"
        ):
            raise RolloutFailed(
                f"Deployment {metadata['name']} made no progress for "
                f"{spec.get('progressDeadlineSeconds', 600)} s: {condition.get('message', '')}"
            )
    wanted = spec.get("replicas", 1)
    updated = status.get("updatedReplicas", 0)
    total = status.get("replicas", 0)
    ready = status.get("readyReplicas", 0)
    available = status.get("availableReplicas", 0)
    counts = f"(updated {updated}, ready {ready}, available {available} of {wanted})"
    if updated < wanted:
        return False, f"new pods are being created {counts}"
    if total > updated:
        return False, f"{total - updated} old pods are being replaced {counts}"
    if available < updated:
        return False, f"waiting for new pods to pass the /gif readiness probe {counts}"
    return True, f"all {wanted} pods run the new version and are available"


def _progress(deployment: dict[str, Any]) -> tuple[int, ...]:
    """What moves while a rollout progresses: the generation the controller has seen and the
    updated, ready and available counts."""
    status = deployment.get("status") or {}
    keys = ("observedGeneration", "updatedReplicas", "readyReplicas", "availableReplicas")
    return tuple(status.get(key, 0) for key in keys)


def wait(api: KubeApi, name: str, namespace: str, console: Console, pacing: Pacing) -> None:
    """Poll until the rollout is done; print a line whenever its state changes. Fails on the
    controller's ProgressDeadlineExceeded, or when nothing moved for progressDeadlineSeconds +
    DEADLINE_GRACE_SECONDS."""
    started = last_progress = pacing.clock.now()
    last_state, seen = "", None
    while True:
        deployment = api.get("apps/v1", "Deployment", name, namespace)
        if deployment is None:
            raise RolloutFailed(f"Deployment {name} disappeared during its rollout.")
        done, state = rollout_state(deployment)
        now = pacing.clock.now()
        if _progress(deployment) != seen:
            seen, last_progress = _progress(deployment), now
        if state != last_state:
            console.print(f"  [{now - started:5.0f}s] {escape(state)}", highlight=False)
            last_state = state
        if done:
            return
        limit = (deployment.get("spec") or {}).get("progressDeadlineSeconds", 600)
        limit += DEADLINE_GRACE_SECONDS
        if now - last_progress > limit:
            raise RolloutFailed(
                f"Deployment {name} made no progress for {limit} s and its controller reported "
                f"nothing (not even ProgressDeadlineExceeded): {state}"
            )
        pacing.clock.sleep(pacing.interval)


def _owned_replica_sets(api: KubeApi, deployment: dict[str, Any]) -> list[dict[str, Any]]:
    """The Deployment's ReplicaSets, newest revision first."""
    namespace = deployment["metadata"]["namespace"]
    labels = deployment["spec"]["selector"]["matchLabels"]
    selector = ",".join(f"{key}={value}" for key, value in sorted(labels.items()))
    uid = deployment["metadata"].get("uid")
    owned = [
        rs
        for rs in api.list("apps/v1", "ReplicaSet", namespace, label_selector=selector)
        if any(owner.get("uid") == uid for owner in rs["metadata"].get("ownerReferences") or [])
    ]
    return sorted(owned, key=_revision, reverse=True)


def _revision(obj: dict[str, Any]) -> int:
    return int((obj["metadata"].get("annotations") or {}).get(REVISION, "0"))


def explain(api: KubeApi, name: str, namespace: str, console: Console) -> None:
    """Print the failing pods of the newest ReplicaSet: states, events, last log lines."""
    deployment = api.get("apps/v1", "Deployment", name, namespace)
    if deployment is None:
        return
    replica_sets = _owned_replica_sets(api, deployment)
    labels = dict(deployment["spec"]["selector"]["matchLabels"])
    if replica_sets:
        labels[TEMPLATE_HASH] = replica_sets[0]["metadata"]["labels"][TEMPLATE_HASH]
    selector = ",".join(f"{key}={value}" for key, value in sorted(labels.items()))
    pods = kube_diagnose.unhealthy(api.list("v1", "Pod", namespace, label_selector=selector))
    if not pods:
        console.print("[red]no failing pods found for the new version[/red]")
        return
    console.print(f"[red]{len(pods)} pod(s) of the new version are not healthy:[/red]")
    kube_diagnose.print_pods(api, pods, console)


def rollback(
    api: KubeApi, rendered: dict[str, Any], console: Console, pacing: Pacing
) -> str | None:
    """Put the previous ReplicaSet's pod template back (what `kubectl rollout undo` does),
    applied over the rendered Deployment so every other field stays ours. An autoscaled
    Deployment is rendered without `replicas` (ownership.hand_over_replicas), so the rollback
    leaves the count the HPA chose meanwhile alone. Returns a line describing what runs now,
    or None when there is nothing to roll back to."""
    name = rendered["metadata"]["name"]
    namespace = rendered["metadata"]["namespace"]
    deployment = api.get("apps/v1", "Deployment", name, namespace)
    if deployment is None:
        return None
    current = _revision(deployment)
    previous = [rs for rs in _owned_replica_sets(api, deployment) if _revision(rs) < current]
    if not previous:
        return None
    template = copy.deepcopy(previous[0]["spec"]["template"])
    template["metadata"].get("labels", {}).pop(TEMPLATE_HASH, None)
    template["metadata"].pop("creationTimestamp", None)
    body = copy.deepcopy(rendered)
    body["spec"]["template"] = template
    images = ", ".join(c["image"] for c in template["spec"]["containers"])
    revision = _revision(previous[0])
    console.print(f"  rolling back Deployment/{name} to revision {revision} ({escape(images)})")
    api.apply(body)
    wait(api, name, namespace, console, pacing)
    return f"rolled back to revision {revision} ({images}), which is serving again"
