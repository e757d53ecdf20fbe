"""Apply rendered objects in order, run the migration Job to completion, prune leftovers.

The migration Job runs before the Deployment changes: if it fails we print its pods' logs
and stop, so the running version keeps serving on the old schema it knows.
"""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.markup import escape

from infra.core.errors import OperationFailed
from infra.kube import diagnose as kube_diagnose
from infra.kube import ownership
from infra.kube.client import KubeApi, Pacing
from infra.kube.kinds import PRUNABLE

# The label the API server puts on a Job's pod template, so on its pods: the Job's uid. It
# selects exactly this Job's pods; job-name would also select the pods of an earlier Job of
# the same name (a failed migration is deleted and made again under its name) while the
# garbage collector has not removed them yet.
# https://kubernetes.io/docs/reference/labels-annotations-taints/#batch-kubernetes-io-controller-uid
JOB_UID_LABEL = "batch.kubernetes.io/controller-uid"
JOB_WAIT_GRACE_SECONDS = 60  # on top of activeDeadlineSeconds, for the controller to report


def ref(doc: dict[str, Any]) -> str:
    return f"{doc['kind']}/{doc['metadata']['name']}"


def apply_all(
    api: KubeApi,
    docs: list[dict[str, Any]],
    console: Console,
    *,
    autoscaler_minimum: int = 1,
) -> None:
    """Apply each object as field manager gifstack: first take over the fields set on it by
    hand (so the apply removes those the manifests dropped), then, for a Deployment whose
    replicas an autoscaler decides, hand replicas over to it (so leaving them out keeps the
    count), then apply."""
    for doc in docs:
        ownership.take_over(api, doc, console)
        if doc["kind"] == "Deployment" and "replicas" not in doc["spec"]:
            ownership.hand_over_replicas(api, doc, autoscaler_minimum, console)
        api.apply(doc)
        console.print(f"  applied {escape(ref(doc))}")


def _condition(obj: dict[str, Any], kind: str) -> dict[str, Any] | None:
    for condition in (obj.get("status") or {}).get("conditions") or []:
        if condition.get("type") == kind and condition.get("status") == "True":
            return condition
    return None


def run_migration(api: KubeApi, job: dict[str, Any], console: Console, pacing: Pacing) -> None:
    """Apply the migration Job and wait until it completes; on failure show why and stop."""
    name = job["metadata"]["name"]
    namespace = job["metadata"]["namespace"]
    existing = api.get("batch/v1", "Job", name, namespace)
    if existing is not None and _condition(existing, "Complete"):
        console.print(f"  migration Job {name} already completed for this image: skipped")
        return
    if existing is not None and _condition(existing, "Failed"):
        # A Job never runs again once failed: replace it, so a re-deploy retries the migration.
        console.print(f"  migration Job {name} failed before: deleting it to run it again")
        api.delete("batch/v1", "Job", name, namespace)
        _wait_gone(api, name, namespace, pacing)
    api.apply(job)
    console.print(f"  applied Job/{escape(name)}: migrate, then seed")
    deadline = job["spec"].get("activeDeadlineSeconds", 600) + JOB_WAIT_GRACE_SECONDS
    started = pacing.clock.now()
    last = ""
    while True:
        current = api.get("batch/v1", "Job", name, namespace) or {}
        state = _job_state(current)
        if state != last:
            console.print(f"  [{pacing.clock.now() - started:5.0f}s] {state}", highlight=False)
            last = state
        if _condition(current, "Complete"):
            console.print(f"  migration Job {name} completed")
            return
        failed = _condition(current, "Failed")
        if failed or pacing.clock.now() - started > deadline:
            reason = (
                f"{failed.get('reason', 'Failed')}: {failed.get('message', '')}"
                if failed
                else f"not finished after {deadline} s"
            )
            _print_job_pods(api, current or job, console)
            raise OperationFailed(
                f"migration Job {name} failed ({reason}). Nothing else was changed: the "
                "running version keeps serving. Fix the cause (its pod logs are above) and "
                "deploy again."
            )
        pacing.clock.sleep(pacing.interval)


def _job_state(job: dict[str, Any]) -> str:
    status = job.get("status") or {}
    return (
        f"migration: {status.get('active', 0)} pod(s) running, "
        f"{status.get('succeeded', 0)} succeeded, {status.get('failed', 0)} failed attempt(s)"
    )


def _wait_gone(api: KubeApi, name: str, namespace: str, pacing: Pacing) -> None:
    started = pacing.clock.now()
    while api.get("batch/v1", "Job", name, namespace) is not None:
        if pacing.clock.now() - started > 120:
            raise OperationFailed(
                f"old migration Job {name} is still being deleted after 120 s; check "
                f"`kubectl -n {namespace} get job {name} -o yaml` (finalizers) and retry."
            )
        pacing.clock.sleep(pacing.interval)


def _print_job_pods(api: KubeApi, job: dict[str, Any], console: Console) -> None:
    name = job["metadata"]["name"]
    selector = f"{JOB_UID_LABEL}={job['metadata'].get('uid', '')}"
    pods = api.list("v1", "Pod", job["metadata"]["namespace"], label_selector=selector)
    if not pods:
        console.print(f"[red]migration Job {escape(name)} has no pods to show logs of[/red]")
        return
    console.print(f"[red]migration Job {escape(name)} failed; its pods:[/red]")
    kube_diagnose.print_pods(api, pods, console)


def prune_candidates(
    api: KubeApi, docs: list[dict[str, Any]], namespace: str
) -> list[tuple[str, str, str]]:
    """(apiVersion, kind, name) of the objects in the namespace that gifstack applied and no
    longer renders, over every prunable kind of kinds.py. Ours means applied by our field
    manager (its Apply entry in managedFields), not carrying our label: a copy someone
    applied by hand with the label is not ours to delete."""
    rendered = {(doc["kind"], doc["metadata"]["name"]) for doc in docs}
    found = []
    for api_version, kind in PRUNABLE:
        for item in api.list(api_version, kind, namespace):
            metadata = item["metadata"]
            # Controllers' children are never ours, whatever their managedFields say.
            if metadata.get("ownerReferences") or not ownership.applied_by_us(item):
                continue
            if (kind, metadata["name"]) not in rendered:
                found.append((api_version, kind, metadata["name"]))
    return found


def prune(
    api: KubeApi,
    docs: list[dict[str, Any]],
    namespace: str,
    console: Console,
    candidates: list[tuple[str, str, str]] | None = None,
) -> list[str]:
    """Delete the candidates (default: found now); pass the list shown in the plan so exactly
    what the plan said goes."""
    pruned = []
    if candidates is None:
        candidates = prune_candidates(api, docs, namespace)
    for api_version, kind, name in candidates:
        api.delete(api_version, kind, name, namespace)
        pruned.append(f"{kind}/{name}")
        console.print(f"  pruned {escape(kind)}/{escape(name)} (no longer rendered)")
    return pruned
