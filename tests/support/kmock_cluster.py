"""A Kubernetes API server for tests: kmock's KubernetesEmulator over real HTTP, with the
known kmock 0.8 gaps closed here (and only here; production code is never bent around them).

`running_cluster()` serves it on 127.0.0.1 (a free port) from a background event loop and
yields a `Cluster` with the URL and a `kubernetes.client.ApiClient` for it. Tests use the
real `kubernetes` client over HTTP; `tests/support/fake_controllers.py` plays the controllers.

Gaps closed (each marked GAP in the code):
1. Discovery knows no kinds until `resources.load_bundled()` is called.
2. Paths of the cluster-scoped `namespaces` collection are mis-parsed (`/api/v1/namespaces/X`
   reads as "namespace X, no resource"; `POST /api/v1/namespaces` fails outright). The named
   paths are re-parsed here; gifstack never POSTs namespaces (it server-side applies them).
3. A server-side apply (PATCH application/apply-patch+yaml) of a missing object answers 404;
   a real API server creates it. Here it becomes a create.
4. Patches are plain recursive merges: no field ownership, `managedFields` stays empty. Closed by
   tests/support/field_ownership.py (server-side apply ownership, conflicts, removal of fields
   given up, Update owners), called for every write to an object (not its subresources).
5. No uid, creationTimestamp, resourceVersion, generation: the API server sets them, so we do
   (generation bumps when `spec` changes, like the real registry strategies).
6. Lists carry no `kind`/`apiVersion` (the DynamicClient needs them) and ignore label and
   field selectors: both added here.
7. `pods/{name}/log` returns the Pod object: here it returns the text in `pod_logs`.
8. No controllers: tests write status themselves (fake_controllers.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import datetime
import json
import re
import socket
import threading
import uuid
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import attrs
import kmock
from kmock._internal import dicts, enums, k8s, parsing, references, rendering
from kubernetes import client as k8s_client

from tests.support import field_ownership

_NAMESPACE_PATH = re.compile(r"^/api/v1/namespaces/([^/]+)(?:/(status|finalize))?/?$")
_NAMESPACES = references.resource("", "v1", "namespaces")
_ROUTING_WINDOW = 16  # requests kept for kmock's routing: more than are ever in flight


@attrs.define(kw_only=True)
class PatchedEmulator(kmock.KubernetesEmulator):
    """KubernetesEmulator with the gaps above closed."""

    # (namespace, pod, container) -> log text, served on pods/{name}/log (GAP 7).
    pod_logs: dict[tuple[str, str, str], str] = attrs.field(factory=dict)
    # Every request served, in order (corrected as below): what tests assert on.
    log: list[rendering.Request] = attrs.field(factory=list, init=False)
    _revision: int = attrs.field(default=0, init=False)

    async def _handle(self, request: rendering.Request) -> Any:
        original = request
        request = self._reparse_namespace_path(request)
        if request.resource is not None:
            request = self._apply_creates(request)
            request = self._track_owners(request)
            self._server_metadata(request)
        self.log.append(request)
        # kmock routes a request by finding it (by identity) in its request log, scanning the
        # whole log for every reaction: routing cost grows with every request served (16 ms
        # per request at first, 100 ms after 300 here). Route with a short log instead, holding
        # the (corrected) requests still in flight; the full log is `log`.
        index = next(i for i, seen in enumerate(self._requests) if seen is original)
        self._requests[index] = request
        del self._requests[: max(0, len(self._requests) - _ROUTING_WINDOW)]
        return await super()._handle(request)

    def _reparse_namespace_path(self, request: rendering.Request) -> rendering.Request:
        # GAP 2: /api/v1/namespaces/NAME[/status] is the Namespace NAME, not a namespace scope.
        match = _NAMESPACE_PATH.match(request.url.path)
        if not match:
            return request
        parsed = parsing.ParsedPath("", "v1", "namespaces", None, match.group(1), match.group(2))
        action = parsing.guess_k8s(parsed, request.method, dict(request.params))
        return attrs.evolve(
            request,
            resource=_NAMESPACES,
            namespace=None,
            name=match.group(1),
            subresource=match.group(2),
            action=action,
        )

    def _stored(self, request: rendering.Request) -> Any | None:
        key = (request.resource, request.namespace, request.name)
        if key in self.objects and not self.objects[key].deleted:
            return self.objects[key]
        return None

    def _apply_creates(self, request: rendering.Request) -> rendering.Request:
        # GAP 3: server-side apply creates a missing object on a real API server.
        content_type = request.headers.get("Content-Type", "")
        is_apply = content_type.startswith("application/apply-patch")
        if request.action == enums.action.UPDATE and is_apply and self._stored(request) is None:
            return attrs.evolve(request, action=enums.action.CREATE)
        return request

    def _track_owners(self, request: rendering.Request) -> rendering.Request:
        # GAP 4: field ownership. The object the write produces is computed here, and kmock is
        # given the merge patch (or, for a create, the object) that stores exactly it.
        writes = (enums.action.CREATE, enums.action.UPDATE)
        if (
            request.action not in writes
            or request.subresource
            or not isinstance(request.data, dict)
        ):
            return request
        stored_obj = self._stored(request)
        stored = copy.deepcopy(stored_obj.raw) if stored_obj is not None else None
        now = datetime.datetime.now(tz=datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        agent = request.headers.get("User-Agent", "unknown").split("/")[0]
        manager = request.params.get("fieldManager") or agent
        content_type = request.headers.get("Content-Type", "")
        try:
            if content_type.startswith("application/apply-patch"):
                force = request.params.get("force") == "true"
                new = field_ownership.apply(stored, request.data, manager, force, now)
            else:
                _check_resource_version(stored, request.data)
                merged = dicts.patch_dict(copy.deepcopy(stored or {}), request.data)
                reset = "managedFields" in (request.data.get("metadata") or {})
                new = field_ownership.update(stored, dict(merged), manager, now, reset=reset)
        except field_ownership.Conflict as conflict:
            raise k8s.KubernetesError(
                status=409,
                reason="Conflict",
                message=conflict.message,
                details={"causes": conflict.causes},
            ) from None
        data = new if stored is None else field_ownership.diff(stored, new)
        return attrs.evolve(request, data=data)

    def _server_metadata(self, request: rendering.Request) -> None:
        # GAP 5: fields the API server owns. request.data is merged into the stored object.
        if not isinstance(request.data, dict):
            return
        self._revision += 1
        metadata = request.data.setdefault("metadata", {})
        metadata["resourceVersion"] = str(self._revision)
        if request.action == enums.action.CREATE:
            now = datetime.datetime.now(tz=datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            metadata.setdefault("uid", str(uuid.uuid4()))
            metadata.setdefault("creationTimestamp", now)
            if "spec" in request.data or "template" in request.data:
                metadata["generation"] = 1
        elif request.action == enums.action.UPDATE and request.subresource is None:
            stored = self._stored(request)
            if stored is not None and "spec" in request.data:
                old = copy.deepcopy(stored.raw)
                new = dicts.patch_dict(copy.deepcopy(old), {"spec": request.data["spec"]})
                generation = old.get("metadata", {}).get("generation", 1)
                if new.get("spec") != old.get("spec"):
                    generation += 1
                metadata["generation"] = generation

    async def _serve_list(self, request: rendering.Request) -> Any:
        # GAP 6: kind/apiVersion on lists, label and field selectors honoured.
        result = await super()._serve_list(request)
        items = [
            item
            for item in result["items"]
            if _labels_match(item, request.params.get("labelSelector", ""))
            and _fields_match(item, request.params.get("fieldSelector", ""))
        ]
        info = self.resources[request.resource]
        group_version = (
            request.resource.version
            if not request.resource.group
            else f"{request.resource.group}/{request.resource.version}"
        )
        return {
            "apiVersion": group_version,
            "kind": f"{info.kind}List",
            "metadata": result["metadata"],
            "items": items,
        }

    async def _serve_fetch(self, request: rendering.Request) -> Any:
        # GAP 7: container logs.
        if request.subresource == "log":
            container = request.params.get("container", "")
            text = self.pod_logs.get((request.namespace, request.name, container), "")
            if "tailLines" in request.params:
                text = "\n".join(text.splitlines()[-int(request.params["tailLines"]) :])
            return rendering.Response(payload=text.encode(), headers={"Content-Type": "text/plain"})
        return await super()._serve_fetch(request)


def _check_resource_version(stored: dict[str, Any] | None, body: dict[str, Any]) -> None:
    # A resourceVersion in a patch is a precondition (optimistic concurrency).
    wanted = (body.get("metadata") or {}).get("resourceVersion")
    current = ((stored or {}).get("metadata") or {}).get("resourceVersion")
    if wanted is not None and stored is not None and wanted != current:
        raise k8s.KubernetesError(
            status=409,
            reason="Conflict",
            message="the object has been modified; please apply your changes to the latest "
            "version and try again",
        )


def _labels_match(item: dict[str, Any], selector: str) -> bool:
    labels = item.get("metadata", {}).get("labels") or {}
    for term in filter(None, (part.strip() for part in selector.split(","))):
        if "!=" in term:
            key, value = term.split("!=", 1)
            if labels.get(key) == value:
                return False
        elif "=" in term:
            key, value = term.replace("==", "=").split("=", 1)
            if labels.get(key) != value:
                return False
        elif term.startswith("!"):
            if term[1:] in labels:
                return False
        elif term not in labels:
            return False
    return True


def _fields_match(item: dict[str, Any], selector: str) -> bool:
    for term in filter(None, (part.strip() for part in selector.split(","))):
        path, value = term.split("=", 1)
        node: Any = item
        for part in path.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        if str(node) != value:
            return False
    return True


@dataclass
class Cluster:
    url: str
    emulator: PatchedEmulator
    loop: asyncio.AbstractEventLoop

    def api_client(self) -> k8s_client.ApiClient:
        configuration = k8s_client.Configuration()
        configuration.host = self.url
        return k8s_client.ApiClient(configuration)


@contextlib.contextmanager
def unreachable_api_client() -> Iterator[k8s_client.ApiClient]:
    """A client for 127.0.0.1:<port> where nothing listens: the port is bound (so nobody else
    takes it) but not listening, so every connection is refused at once."""
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        configuration = k8s_client.Configuration()
        configuration.host = f"http://127.0.0.1:{held.getsockname()[1]}"
        configuration.retries = 1
        yield k8s_client.ApiClient(configuration)


@contextlib.contextmanager
def running_cluster() -> Iterator[Cluster]:
    """Serve a patched KubernetesEmulator on 127.0.0.1:<free port> until the block ends."""
    started = threading.Event()
    box: dict[str, Any] = {}

    async def serve() -> None:
        async with PatchedEmulator() as emulator, kmock.Server(emulator) as server:
            with warnings.catch_warnings():  # kmock uses a deprecated importlib.resources call
                warnings.simplefilter("ignore", DeprecationWarning)
                emulator.resources.load_bundled()  # GAP 1
            box["cluster"] = Cluster(
                str(server.url).rstrip("/"), emulator, asyncio.get_running_loop()
            )
            box["stop"] = asyncio.Event()
            started.set()
            await box["stop"].wait()

    def run() -> None:
        try:
            asyncio.run(serve())
        except BaseException as exc:  # surface start-up failures to the waiting test
            box["error"] = exc
            started.set()

    thread = threading.Thread(target=run, name="kmock", daemon=True)
    thread.start()
    started.wait(timeout=30)
    if "error" in box:
        raise box["error"]
    cluster: Cluster = box["cluster"]
    try:
        yield cluster
    finally:
        cluster.loop.call_soon_threadsafe(box["stop"].set)
        thread.join(timeout=10)


@dataclass(frozen=True)
class Applied:
    """One server-side apply the emulator received, as sent."""

    plural: str
    name: str
    manager: str
    force: bool
    body: dict[str, Any]


def applies(cluster: Cluster) -> list[Applied]:
    """Every server-side apply, in order, with its field manager and the body as sent."""
    return [
        Applied(
            request.resource.plural,
            request.name,
            request.params.get("fieldManager", ""),
            request.params.get("force") == "true",
            json.loads(request.text),
        )
        for request in cluster.emulator.log
        if request.method == "PATCH"
        and request.headers.get("Content-Type", "").startswith("application/apply-patch")
    ]


def history(cluster: Cluster, resource: str, namespace: str, name: str) -> list[dict[str, Any]]:
    """Every stored version of an object, oldest first (e.g. resource 'apps/v1/deployments')."""
    return [dict(version) for version in cluster.emulator.objects[resource, namespace, name, :]]
