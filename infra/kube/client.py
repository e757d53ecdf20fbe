"""The one gateway to a Kubernetes API server: server-side apply, get, list, delete, logs.

Built on the `kubernetes` client (DynamicClient for any kind, CoreV1Api for logs). Every
failure leaves as one domain error that says what we were doing and how to fix it:
unreachable API server, credentials rejected (401), not allowed (403), namespace being deleted.
"""

from __future__ import annotations

import contextlib
import json
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import urllib3
from kubernetes import client as k8s_client
from kubernetes.client.exceptions import ApiException
from kubernetes.dynamic import DynamicClient

from infra.core.clock import Clock
from infra.core.errors import BadInput, GifstackError, OperationFailed

FIELD_MANAGER = "gifstack"
TIMEOUT = (10, 60)  # seconds to connect, to read: a hung API server fails instead of hanging


@dataclass(frozen=True)
class Pacing:
    """How waits poll: seconds between polls, and the project's one clock (tests pass their
    own, e.g. one whose sleep plays the controllers' part)."""

    interval: float = 2.0
    clock: Clock = field(default_factory=Clock)


class NamespaceTerminating(OperationFailed):
    pass


class Conflict(OperationFailed):
    """409: an apply would change fields another field manager owns, or a precondition
    (resourceVersion) no longer holds."""


def _namespace_terminating(namespace: str) -> str:
    return (
        f"namespace {namespace} is being deleted (Terminating), so nothing can be created in "
        f"it. Wait until it is gone (`kubectl get namespace {namespace}`); if it stays, a "
        f"finalizer is stuck: see `kubectl get namespace {namespace} -o yaml` "
        "(spec.finalizers and status.conditions), fix the cause, then deploy again."
    )


class KubeApi:
    """One API server, one identity. All calls go through `_call` for error translation."""

    def __init__(self, api_client: Any, *, describe: str | None = None):
        self.api_client = api_client
        self.host = api_client.configuration.host
        self.describe = describe or f"the Kubernetes API server at {self.host}"
        # The client's default discovery cache is a file in /tmp keyed by host only, so a
        # cache left by another cluster at the same address would be trusted (and a dead
        # server would look alive). Discover afresh each run, in a private directory.
        self._discovery_dir = tempfile.TemporaryDirectory(prefix="gifstack-discovery-")
        cache_file = f"{self._discovery_dir.name}/discovery.json"
        with self._call("discovering the API"):
            self.dynamic = DynamicClient(api_client, cache_file=cache_file)
        self.core = k8s_client.CoreV1Api(api_client)

    def _resource(self, api_version: str, kind: str) -> Any:
        with self._call(f"looking up kind {kind} ({api_version})"):
            return self.dynamic.resources.get(api_version=api_version, kind=kind)

    def apply(
        self,
        doc: dict[str, Any],
        *,
        field_manager: str = FIELD_MANAGER,
        force: bool = True,
        dry_run: bool = False,
    ) -> dict[str, Any]:
        """Server-side apply (creates or updates). By default as field manager `gifstack`
        with force: we own the fields we set and take them back from anyone who changed them
        by hand, as the docs recommend for a controller of its own objects. Without force a
        field another manager owns and we would change raises Conflict."""
        resource = self._resource(doc["apiVersion"], doc["kind"])
        options = {"dry_run": "All"} if dry_run else {}
        with self._call(f"applying {_ref(doc)}", namespace=doc["metadata"].get("namespace")):
            result = self.dynamic.server_side_apply(
                resource,
                body=doc,
                namespace=doc["metadata"].get("namespace"),
                field_manager=field_manager,
                force_conflicts=force,
                _request_timeout=TIMEOUT,
                **options,
            )
        return result.to_dict()

    def replace_managed_fields(
        self, live: dict[str, Any], entries: list[dict[str, Any]]
    ) -> dict[str, Any]:
        """Rewrite an object's managedFields (a merge patch, as the Server-Side Apply docs
        allow for any write but an apply), only if it is still at the resourceVersion read:
        Conflict otherwise."""
        metadata = live["metadata"]
        resource = self._resource(live["apiVersion"], live["kind"])
        body = {
            "metadata": {
                "name": metadata["name"],
                "resourceVersion": metadata["resourceVersion"],
                "managedFields": entries,
            }
        }
        with self._call(
            f"taking over the fields of {_ref(live)}", namespace=metadata.get("namespace")
        ):
            return resource.patch(
                body=body,
                namespace=metadata.get("namespace"),
                content_type="application/merge-patch+json",
                _request_timeout=TIMEOUT,
            ).to_dict()

    def get(
        self, api_version: str, kind: str, name: str, namespace: str | None = None
    ) -> dict[str, Any] | None:
        resource = self._resource(api_version, kind)
        try:
            with self._call(f"reading {kind}/{name}", missing_ok=True):
                found = resource.get(name=name, namespace=namespace, _request_timeout=TIMEOUT)
                return found.to_dict()
        except _Missing:
            return None

    def list(
        self,
        api_version: str,
        kind: str,
        namespace: str,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> list[dict[str, Any]]:
        resource = self._resource(api_version, kind)
        options: dict[str, Any] = {"_request_timeout": TIMEOUT}
        if label_selector:
            options["label_selector"] = label_selector
        if field_selector:
            options["field_selector"] = field_selector
        with self._call(f"listing {kind} in namespace {namespace}"):
            return resource.get(namespace=namespace, **options).to_dict().get("items") or []

    def delete(self, api_version: str, kind: str, name: str, namespace: str) -> None:
        """Delete in the background: dependents (a Job's pods) are collected after."""
        resource = self._resource(api_version, kind)
        try:
            with self._call(f"deleting {kind}/{name}", missing_ok=True):
                resource.delete(
                    name=name,
                    namespace=namespace,
                    body={"propagationPolicy": "Background"},
                    _request_timeout=TIMEOUT,
                )
        except _Missing:
            pass

    def logs(self, pod: str, namespace: str, container: str, tail: int) -> str:
        try:
            with self._call(f"reading logs of pod {pod}", missing_ok=True):
                text = self.core.read_namespaced_pod_log(
                    pod, namespace, container=container, tail_lines=tail, _request_timeout=TIMEOUT
                )
        except _Missing:
            return ""
        except OperationFailed as exc:  # e.g. 400: the container has not started
            return f"(no logs: {exc.message})"
        return text if isinstance(text, str) else str(text)

    @contextlib.contextmanager
    def _call(
        self, action: str, *, namespace: str | None = None, missing_ok: bool = False
    ) -> Iterator[None]:
        try:
            yield
        except GifstackError:
            raise
        except ApiException as exc:
            if exc.status == 404 and missing_ok:
                raise _Missing() from None
            raise self._translate(exc, action, namespace) from None
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise OperationFailed(
                f"cannot reach {self.describe} while {action}: {_reason(exc)}. Check that the "
                "cluster exists and is ACTIVE (invoke status), that your address is in "
                "cluster.public_access_cidrs of the params file (or you are on the VPN), then "
                "try again."
            ) from None

    def _translate(self, exc: ApiException, action: str, namespace: str | None) -> GifstackError:
        message = _status_message(exc)
        if exc.status == 401:
            return BadInput(
                f"{self.describe} rejected our credentials while {action} (401 Unauthorized). "
                "The EKS token is made from your AWS credentials: check they are valid and for "
                "the cluster's account (aws sts get-caller-identity), then try again."
            )
        if exc.status == 403 and "being terminated" in message and namespace:
            return NamespaceTerminating(_namespace_terminating(namespace))
        if exc.status == 403:
            return BadInput(
                f"not allowed while {action} (403 Forbidden: {message}). Your AWS identity "
                "needs an EKS access entry with cluster admin rights: the cluster stack grants "
                "one to the principal that deployed it (DeployerPrincipalArn). Deploy as that "
                "principal, or add an access entry for yours."
            )
        if exc.status == 409:
            return Conflict(f"{action} failed (409 Conflict): {message}")
        return OperationFailed(f"{action} failed ({exc.status} {exc.reason}): {message}")


class _Missing(Exception):
    """A 404 the caller asked to treat as 'not there'."""


def _status_message(exc: ApiException) -> str:
    try:
        body = json.loads(exc.body or "{}")
    except ValueError:
        return str(exc.body or exc.reason)[:300]
    return str(body.get("message") or exc.reason)[:300]


def _reason(exc: BaseException) -> str:
    reason = getattr(exc, "reason", None) or exc
    return str(reason).split(": ", 1)[-1][:200]


def _ref(doc: dict[str, Any]) -> str:
    return f"{doc['kind']}/{doc['metadata']['name']}"


def check_namespace(api: KubeApi, namespace: str) -> None:
    """Refuse to deploy into a namespace that is being deleted (it would never finish)."""
    current = api.get("v1", "Namespace", namespace)
    if current is None:
        return
    terminating = (current.get("status") or {}).get("phase") == "Terminating"
    if terminating or current["metadata"].get("deletionTimestamp"):
        raise NamespaceTerminating(_namespace_terminating(namespace))
