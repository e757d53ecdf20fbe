"""The controllers' part, played by tests against the kmock cluster (kmock runs none).

`Controllers.step(seconds)` moves the fake clock `now` on by `seconds` and does one reconcile
pass over HTTP with the real kubernetes client, as the Job, Deployment, horizontal pod
autoscaler and service (load balancer) controllers would: it creates pods and ReplicaSets,
scales, and writes `status`. Pass it as the waits' sleep and `now` as their clock
(`Pacing(10, Clock(controllers.clock, controllers.step))`) so the cluster moves on exactly when
gifstack polls: deterministic, no threads.

Outcomes are chosen per image: `failing_images` crash-loop (the rollout hits its progress
deadline), `failing_migrations` make the migration Job fail (its pods log `migration_error`).
`seconds_per_pod` paces rollouts (0: at once), like maxSurge 1 / maxUnavailable 0 with each new
pod ready after that long. `autoscaler_wants` is the replica count the HPA stand-in sets
(within the HPA's min and max) while an HPA targets the Deployment.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from typing import Any

from kubernetes.dynamic import DynamicClient

from tests.support.kmock_cluster import Cluster

REVISION = "deployment.kubernetes.io/revision"
CONTROLLERS_USER_AGENT = "gifstack-test-controllers"
HPA_MANAGER = "kube-controller-manager"  # the HPA runs in kube-controller-manager
JOB_UID_LABEL = "batch.kubernetes.io/controller-uid"


class Controllers:
    def __init__(
        self,
        cluster: Cluster,
        *,
        failing_images: set[str] | frozenset[str] = frozenset(),
        failing_migrations: set[str] | frozenset[str] = frozenset(),
        lb_hostname: str | None = "gif-app-0123456789.elb.eu-west-1.amazonaws.com",
        namespace: str = "gif",
        seconds_per_pod: float = 0,
        autoscaler_wants: int | None = None,
    ):
        self.cluster = cluster
        client = cluster.api_client()
        client.user_agent = CONTROLLERS_USER_AGENT  # tells their requests from gifstack's
        # A private discovery cache: the default one in /tmp is keyed by host:port only.
        self._discovery_dir = tempfile.TemporaryDirectory(prefix="fake-controllers-")
        self.dynamic = DynamicClient(client, cache_file=f"{self._discovery_dir.name}/d.json")
        self.failing_images = set(failing_images)
        self.failing_migrations = set(failing_migrations)
        self.migration_error = 'ERROR: relation "gifs" already exists'
        self.lb_hostname = lb_hostname
        self.namespace = namespace
        self.seconds_per_pod = seconds_per_pod
        self.autoscaler_wants = autoscaler_wants
        self.now = 0.0
        self.steps = 0
        self.created = 0
        self._rollouts: dict[str, dict[str, Any]] = {}  # Deployment -> generation, start

    def clock(self) -> float:
        return self.now

    # -- helpers -----------------------------------------------------------------------

    def _kind(self, api_version: str, kind: str) -> Any:
        return self.dynamic.resources.get(api_version=api_version, kind=kind)

    def list(self, api_version: str, kind: str) -> list[dict[str, Any]]:
        items = self._kind(api_version, kind).get(namespace=self.namespace).to_dict()["items"]
        return items or []

    def get(self, api_version: str, kind: str, name: str) -> dict[str, Any]:
        return self._kind(api_version, kind).get(name=name, namespace=self.namespace).to_dict()

    def create(self, api_version: str, kind: str, body: dict[str, Any]) -> dict[str, Any]:
        body = {"apiVersion": api_version, "kind": kind, **body}
        body["metadata"]["namespace"] = self.namespace
        return self._kind(api_version, kind).create(body=body, namespace=self.namespace).to_dict()

    def patch(
        self, api_version: str, kind: str, name: str, body: dict[str, Any], manager: str = ""
    ) -> None:
        metadata = {**body.get("metadata", {}), "name": name, "namespace": self.namespace}
        body = {**body, "metadata": metadata}
        options = {"field_manager": manager} if manager else {}
        self._kind(api_version, kind).patch(
            body=body,
            namespace=self.namespace,
            content_type="application/merge-patch+json",
            **options,
        )

    def write_status(self, api_version: str, kind: str, name: str, status: dict) -> None:
        resource = self._kind(api_version, kind).subresources["status"]
        body = {"metadata": {"name": name, "namespace": self.namespace}, "status": status}
        self.dynamic.patch(
            resource,
            body=body,
            namespace=self.namespace,
            content_type="application/merge-patch+json",
        )

    def _pod(self, name: str, labels: dict, spec: dict, status: dict) -> None:
        self.create("v1", "Pod", {"metadata": {"name": name, "labels": labels}, "spec": spec})
        self.write_status("v1", "Pod", name, status)

    def _event(self, pod: str, reason: str, message: str) -> None:
        self.create(
            "v1",
            "Event",
            {
                "metadata": {"name": f"{pod}.{reason.lower()}"},
                "involvedObject": {"kind": "Pod", "name": pod, "namespace": self.namespace},
                "reason": reason,
                "message": message,
                "type": "Warning",
            },
        )

    def _suffix(self) -> str:
        self.created += 1
        return f"p{self.created:04d}"  # pod names are unique, as the controllers' random ones

    def _log(self, pod: str, container: str, text: str) -> None:
        self.cluster.emulator.pod_logs[(self.namespace, pod, container)] = text

    # -- one reconcile pass ---------------------------------------------------------------

    def step(self, seconds: float = 0) -> None:
        self.now += seconds
        self.steps += 1
        self.jobs()
        self.autoscalers()
        self.deployments()
        self.services()

    def jobs(self) -> None:
        for job in self.list("batch/v1", "Job"):
            if (job.get("status") or {}).get("conditions"):
                continue
            name = job["metadata"]["name"]
            template = job["spec"]["template"]
            image = template["spec"]["containers"][0]["image"]
            pod = f"{name}-{self._suffix()}"
            # The Job's pods carry its uid (unique to this Job) and its name (shared by every
            # Job ever made under that name).
            labels = {
                **template["metadata"]["labels"],
                JOB_UID_LABEL: job["metadata"]["uid"],
                "controller-uid": job["metadata"]["uid"],
                "batch.kubernetes.io/job-name": name,
                "job-name": name,
            }
            fails = image in self.failing_migrations
            state = {"reason": "Error", "exitCode": 1} if fails else {"reason": "Completed"}
            self._pod(
                pod,
                labels,
                template["spec"],
                {
                    "phase": "Failed" if fails else "Succeeded",
                    "initContainerStatuses": [
                        {"name": "migrate", "ready": False, "restartCount": 0}
                        | {"state": {"terminated": {"exitCode": 0, **state}}}
                    ],
                    "containerStatuses": [
                        {"name": "seed", "ready": False, "restartCount": 0}
                        | {"state": {"waiting": {"reason": "PodInitializing"}}}
                    ],
                },
            )
            if fails:
                log = f"applying 0001_gifs.sql\n{self.migration_error}\nmigration failed"
                self._log(pod, "migrate", log)
                self._event(pod, "BackoffLimitExceeded", "Job has reached the backoff limit")
                condition = {"type": "Failed", "reason": "BackoffLimitExceeded"}
                condition["message"] = "Job has reached the specified backoff limit"
                status = {"failed": 3, "conditions": [{**condition, "status": "True"}]}
            else:
                self._log(pod, "migrate", "applying 0001_gifs.sql\nmigrations up to date")
                self._log(pod, "seed", "seeded 12 gifs")
                done = [
                    {"type": kind, "status": "True"} for kind in ("SuccessCriteriaMet", "Complete")
                ]
                status = {"succeeded": 1, "conditions": done}
            self.write_status("batch/v1", "Job", name, status)

    def autoscalers(self) -> None:
        """While an HPA targets a Deployment, set its replicas to `autoscaler_wants` (clamped
        to the HPA's min and max), as the HPA controller's Update would."""
        if self.autoscaler_wants is None:
            return
        for hpa in self.list("autoscaling/v2", "HorizontalPodAutoscaler"):
            spec = hpa["spec"]
            wanted = max(
                spec.get("minReplicas", 1), min(self.autoscaler_wants, spec["maxReplicas"])
            )
            target = self.get("apps/v1", "Deployment", spec["scaleTargetRef"]["name"])
            if target["spec"].get("replicas") != wanted:
                body = {"spec": {"replicas": wanted}}
                self.patch("apps/v1", "Deployment", target["metadata"]["name"], body, HPA_MANAGER)

    def deployments(self) -> None:
        for deployment in self.list("apps/v1", "Deployment"):
            metadata = deployment["metadata"]
            name = metadata["name"]
            rollout = self._rollouts.get(name)
            if rollout is None or rollout["generation"] != metadata["generation"]:
                rollout = self._start(deployment)
            if not rollout["done"]:
                self._progress(deployment, rollout)

    def _start(self, deployment: dict[str, Any]) -> dict[str, Any]:
        """A new generation: find or make the ReplicaSet of its template (a rollback re-uses
        the old one and gives it the next revision; a scale keeps the revision)."""
        metadata = deployment["metadata"]
        name = metadata["name"]
        template = deployment["spec"]["template"]
        template_hash = _template_hash(template)
        replica_sets = [
            rs
            for rs in self.list("apps/v1", "ReplicaSet")
            if any(o["uid"] == metadata["uid"] for o in rs["metadata"]["ownerReferences"])
        ]
        newest = max((_revision(rs) for rs in replica_sets), default=0)
        rs_name = f"{name}-{template_hash}"
        current = next((rs for rs in replica_sets if rs["metadata"]["name"] == rs_name), None)
        revision = newest if current and _revision(current) == newest else newest + 1
        if current is None:
            rs_template = json.loads(json.dumps(template))
            rs_template["metadata"]["labels"]["pod-template-hash"] = template_hash
            owner = {"apiVersion": "apps/v1", "kind": "Deployment", "name": name}
            owner |= {"uid": metadata["uid"], "controller": True}
            rs_metadata = {"name": rs_name, "labels": rs_template["metadata"]["labels"]}
            rs_metadata |= {"annotations": {REVISION: str(revision)}, "ownerReferences": [owner]}
            spec = {"selector": deployment["spec"]["selector"], "template": rs_template}
            self.create("apps/v1", "ReplicaSet", {"metadata": rs_metadata, "spec": spec})
        elif _revision(current) != revision:
            body = {"metadata": {"annotations": {REVISION: str(revision)}}}
            self.patch("apps/v1", "ReplicaSet", rs_name, body)
        body = {"metadata": {"annotations": {REVISION: str(revision)}}}
        self.patch("apps/v1", "Deployment", name, body)
        old = (deployment.get("status") or {}).get("availableReplicas") or 0
        rollout = {"generation": metadata["generation"], "started": self.now, "done": False}
        rollout |= {"rs": rs_name, "hash": template_hash, "old": old if replica_sets else 0}
        rollout["scale_only"] = current is not None and revision == newest
        self._rollouts[name] = rollout
        return rollout

    def _progress(self, deployment: dict[str, Any], rollout: dict[str, Any]) -> None:
        metadata, spec = deployment["metadata"], deployment["spec"]
        wanted = spec.get("replicas", 1)
        template = spec["template"]
        image = template["spec"]["containers"][0]["image"]
        status: dict[str, Any] = {"observedGeneration": metadata["generation"]}
        if image in self.failing_images:
            self._crash_looping_pod(f"{rollout['rs']}-{self._suffix()}", template, rollout["hash"])
            old = rollout["old"]
            status |= {"replicas": old + 1, "updatedReplicas": 1, "unavailableReplicas": 1}
            status |= {"readyReplicas": old, "availableReplicas": old}
            message = f'ReplicaSet "{rollout["rs"]}" has timed out progressing.'
            reason = {"reason": "ProgressDeadlineExceeded", "message": message}
            status["conditions"] = [{"type": "Progressing", "status": "False", **reason}]
            rollout["done"] = True
        else:
            elapsed = self.now - rollout["started"]
            paced = self.seconds_per_pod and not rollout["scale_only"]
            ready = min(wanted, int(elapsed // self.seconds_per_pod)) if paced else wanted
            updated = min(wanted, ready + 1)  # maxSurge 1: one new pod starting
            old = wanted - ready  # maxUnavailable 0: an old pod goes when a new one is ready
            status |= {"replicas": updated + old, "updatedReplicas": updated}
            status |= {"readyReplicas": ready + old, "availableReplicas": ready + old}
            rollout["done"] = ready == wanted
            if rollout["done"]:
                status["replicas"] = status["updatedReplicas"] = wanted
            reason = "NewReplicaSetAvailable" if rollout["done"] else "ReplicaSetUpdated"
            status["conditions"] = [
                {"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable"},
                {"type": "Progressing", "status": "True", "reason": reason},
            ]
        self.write_status("apps/v1", "Deployment", metadata["name"], status)

    def _crash_looping_pod(self, pod: str, template: dict, template_hash: str) -> None:
        labels = {**template["metadata"]["labels"], "pod-template-hash": template_hash}
        container = {"name": "app", "ready": False, "restartCount": 4}
        container["state"] = {
            "waiting": {
                "reason": "CrashLoopBackOff",
                "message": "back-off 40s restarting failed container=app",
            }
        }
        container["lastState"] = {"terminated": {"reason": "Error", "exitCode": 1}}
        self._pod(
            pod, labels, template["spec"], {"phase": "Running", "containerStatuses": [container]}
        )
        self._event(pod, "BackOff", "Back-off restarting failed container app")
        self._log(
            pod,
            "app",
            "starting gif service on 0.0.0.0:8080\n"
            "could not connect to the database: IAM authentication failed for user gif_app",
        )

    def services(self) -> None:
        if not self.lb_hostname:
            return
        for service in self.list("v1", "Service"):
            if service["spec"].get("type") != "LoadBalancer":
                continue
            if (service.get("status") or {}).get("loadBalancer", {}).get("ingress"):
                continue
            self.write_status(
                "v1",
                "Service",
                service["metadata"]["name"],
                {"loadBalancer": {"ingress": [{"hostname": self.lb_hostname}]}},
            )


def _template_hash(template: dict[str, Any]) -> str:
    clean = json.loads(json.dumps(template))
    clean["metadata"].get("labels", {}).pop("pod-template-hash", None)
    return hashlib.sha256(json.dumps(clean, sort_keys=True).encode()).hexdigest()[:10]


def _revision(obj: dict[str, Any]) -> int:
    return int((obj["metadata"].get("annotations") or {}).get(REVISION, "0"))
