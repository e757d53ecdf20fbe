"""The controllers' part, played by tests against the kmock cluster (kmock runs none).

`Controllers.step()` does one reconcile pass over HTTP with the real kubernetes client, as the
Job, Deployment and service (load balancer) controllers would: it creates pods and
ReplicaSets and writes `status`. Pass it as the waits' sleep (`Pacing(0, controllers.step)`)
so the cluster moves on exactly when gifstack polls: deterministic, no threads.

Outcomes are chosen per image: `failing_images` crash-loop (the rollout hits its progress
deadline), `failing_migrations` make the migration Job fail.
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


class Controllers:
    def __init__(
        self,
        cluster: Cluster,
        *,
        failing_images: set[str] | frozenset[str] = frozenset(),
        failing_migrations: set[str] | frozenset[str] = frozenset(),
        lb_hostname: str | None = "gif-app-0123456789.elb.eu-west-1.amazonaws.com",
        namespace: str = "gif",
    ):
        self.cluster = cluster
        client = cluster.api_client()
        client.user_agent = CONTROLLERS_USER_AGENT  # tells their requests from gifstack's
        # A private discovery cache: the default one in /tmp is keyed by host:port only.
        self._discovery_dir = tempfile.TemporaryDirectory(prefix="fake-controllers-")
        self.dynamic = DynamicClient(client, cache_file=f"{self._discovery_dir.name}/d.json")
        self.failing_images = set(failing_images)
        self.failing_migrations = set(failing_migrations)
        self.lb_hostname = lb_hostname
        self.namespace = namespace
        self.steps = 0
        self.created = 0

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

    def patch(self, api_version: str, kind: str, name: str, body: dict[str, Any]) -> None:
        metadata = {**body.get("metadata", {}), "name": name, "namespace": self.namespace}
        body = {**body, "metadata": metadata}
        self._kind(api_version, kind).patch(
            body=body, namespace=self.namespace, content_type="application/merge-patch+json"
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

    def step(self, _seconds: float = 0) -> None:
        self.steps += 1
        self.jobs()
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
            labels = {
                **template["metadata"]["labels"],
                "batch.kubernetes.io/job-name": name,
                "job-name": name,
            }
            fails = image in self.failing_migrations
            self._pod(
                pod,
                labels,
                template["spec"],
                {
                    "phase": "Failed" if fails else "Succeeded",
                    "initContainerStatuses": [
                        {
                            "name": "migrate",
                            "ready": False,
                            "restartCount": 0,
                            "state": {
                                "terminated": {
                                    "reason": "Error" if fails else "Completed",
                                    "exitCode": 1 if fails else 0,
                                }
                            },
                        }
                    ],
                    "containerStatuses": [
                        {
                            "name": "seed",
                            "ready": False,
                            "restartCount": 0,
                            "state": {"waiting": {"reason": "PodInitializing"}},
                        }
                    ],
                },
            )
            if fails:
                self._log(
                    pod,
                    "migrate",
                    'applying 0001_gifs.sql\nERROR: relation "gifs" already exists\n'
                    "migration failed, rolled back",
                )
                self._event(pod, "BackoffLimitExceeded", "Job has reached the backoff limit")
                status = {
                    "failed": 3,
                    "conditions": [
                        {
                            "type": "Failed",
                            "status": "True",
                            "reason": "BackoffLimitExceeded",
                            "message": "Job has reached the specified backoff limit",
                        }
                    ],
                }
            else:
                self._log(pod, "migrate", "applying 0001_gifs.sql\nmigrations up to date")
                self._log(pod, "seed", "seeded 12 gifs")
                status = {
                    "succeeded": 1,
                    "conditions": [
                        {"type": "SuccessCriteriaMet", "status": "True"},
                        {"type": "Complete", "status": "True"},
                    ],
                }
            self.write_status("batch/v1", "Job", name, status)

    def deployments(self) -> None:
        for deployment in self.list("apps/v1", "Deployment"):
            metadata = deployment["metadata"]
            status = deployment.get("status") or {}
            if status.get("observedGeneration") == metadata.get("generation"):
                continue
            name = metadata["name"]
            template = deployment["spec"]["template"]
            template_hash = _template_hash(template)
            replica_sets = [
                rs
                for rs in self.list("apps/v1", "ReplicaSet")
                if any(o["uid"] == metadata["uid"] for o in rs["metadata"]["ownerReferences"])
            ]
            revision = 1 + max((_revision(rs) for rs in replica_sets), default=0)
            current = next(
                (
                    rs
                    for rs in replica_sets
                    if rs["metadata"]["labels"]["pod-template-hash"] == template_hash
                ),
                None,
            )
            rs_name = f"{name}-{template_hash}"
            if current is None:
                rs_template = json.loads(json.dumps(template))
                rs_template["metadata"]["labels"]["pod-template-hash"] = template_hash
                self.create(
                    "apps/v1",
                    "ReplicaSet",
                    {
                        "metadata": {
                            "name": rs_name,
                            "labels": rs_template["metadata"]["labels"],
                            "annotations": {REVISION: str(revision)},
                            "ownerReferences": [
                                {
                                    "apiVersion": "apps/v1",
                                    "kind": "Deployment",
                                    "name": name,
                                    "uid": metadata["uid"],
                                    "controller": True,
                                }
                            ],
                        },
                        "spec": {
                            "replicas": deployment["spec"].get("replicas", 1),
                            "selector": deployment["spec"]["selector"],
                            "template": rs_template,
                        },
                    },
                )
            else:  # a rollback re-uses the old ReplicaSet and gives it the next revision
                self.patch(
                    "apps/v1",
                    "ReplicaSet",
                    rs_name,
                    {"metadata": {"annotations": {REVISION: str(revision)}}},
                )
            self.patch(
                "apps/v1",
                "Deployment",
                name,
                {"metadata": {"annotations": {REVISION: str(revision)}}},
            )
            wanted = deployment["spec"].get("replicas", 1)
            image = template["spec"]["containers"][0]["image"]
            if image in self.failing_images:
                self._crash_looping_pod(f"{rs_name}-{self._suffix()}", template, template_hash)
                old = (status.get("availableReplicas") or 0) if replica_sets else 0
                self.write_status(
                    "apps/v1",
                    "Deployment",
                    name,
                    {
                        "observedGeneration": metadata["generation"],
                        "replicas": old + 1,
                        "updatedReplicas": 1,
                        "readyReplicas": old,
                        "availableReplicas": old,
                        "unavailableReplicas": 1,
                        "conditions": [
                            {
                                "type": "Progressing",
                                "status": "False",
                                "reason": "ProgressDeadlineExceeded",
                                "message": f'ReplicaSet "{rs_name}" has timed out progressing.',
                            }
                        ],
                    },
                )
            else:
                self.write_status(
                    "apps/v1",
                    "Deployment",
                    name,
                    {
                        "observedGeneration": metadata["generation"],
                        "replicas": wanted,
                        "updatedReplicas": wanted,
                        "readyReplicas": wanted,
                        "availableReplicas": wanted,
                        "conditions": [
                            {
                                "type": "Available",
                                "status": "True",
                                "reason": "MinimumReplicasAvailable",
                            },
                            {
                                "type": "Progressing",
                                "status": "True",
                                "reason": "NewReplicaSetAvailable",
                            },
                        ],
                    },
                )

    def _crash_looping_pod(self, pod: str, template: dict, template_hash: str) -> None:
        labels = {**template["metadata"]["labels"], "pod-template-hash": template_hash}
        self._pod(
            pod,
            labels,
            template["spec"],
            {
                "phase": "Running",
                "containerStatuses": [
                    {
                        "name": "app",
                        "ready": False,
                        "restartCount": 4,
                        "state": {
                            "waiting": {
                                "reason": "CrashLoopBackOff",
                                "message": "back-off 40s restarting failed container=app",
                            }
                        },
                        "lastState": {"terminated": {"reason": "Error", "exitCode": 1}},
                    }
                ],
            },
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
