"""Field ownership: which field manager owns which fields of a live object, as server-side
apply records it in `metadata.managedFields`
(https://kubernetes.io/docs/reference/using-api/server-side-apply/).
"""

from __future__ import annotations

import copy
from typing import Any

from rich.console import Console

from infra.core.errors import OperationFailed
from infra.kube.client import FIELD_MANAGER, Conflict, KubeApi

# A private field manager that holds spec.replicas for a moment while it passes from us to the
# autoscaler ("Transferring ownership" in the Server-Side Apply docs; they call it
# handover-to-hpa). It owns nothing once the HPA has written the field, and then disappears.
HANDOVER_MANAGER = "gifstack-handover-to-hpa"
REPLICAS = ("spec", "replicas")
# Field managers of changes made by hand, whose fields we take over before we apply, so that
# a field the manifests no longer have goes (server-side apply removes a field only when its
# last owner leaves it out). As Flux's kustomize-controller does
# (https://github.com/fluxcd/kustomize-controller, fluxcd/pkg ssa.PatchReplaceFieldsManagers):
# every `kubectl ...` manager (apply --server-side, client-side apply, edit, patch, label,
# annotate, set, rollout undo/restart), and `before-first-apply`, the API server's name for
# fields set before the object's first apply. (prefix, operation); subresources never.
HAND_MANAGERS = (("kubectl", "Apply"), ("kubectl", "Update"), ("before-first-apply", "Update"))

Path = tuple[str, ...]


def _paths(tree: dict[str, Any], prefix: Path = ()) -> set[Path]:
    """The fields of a FieldsV1 set: `f:<name>` keys nest, `{}` ends a field. Keys of list
    items (`k:`, `v:`, `i:`) are kept as written."""
    found: set[Path] = set()
    for key, sub in (tree or {}).items():
        if key == ".":
            found.add(prefix)
            continue
        path = (*prefix, key[2:] if key.startswith("f:") else key)
        found |= _paths(sub, path) if sub else {path}
    return found


def owned_fields(obj: dict[str, Any], manager: str, operation: str = "Apply") -> set[Path]:
    """The fields `manager` owns through `operation` (Apply or Update) on the object itself
    (not on a subresource such as status or scale)."""
    found: set[Path] = set()
    for entry in (obj.get("metadata") or {}).get("managedFields") or []:
        if (
            entry.get("manager") == manager
            and entry.get("operation") == operation
            and not entry.get("subresource")
        ):
            found |= _paths(entry.get("fieldsV1") or {})
    return found


def applied_by_us(obj: dict[str, Any]) -> bool:
    """Whether gifstack's field manager has applied this object (owns any field of it)."""
    return bool(owned_fields(obj, FIELD_MANAGER))


def hand_over_replicas(
    api: KubeApi, deployment: dict[str, Any], minimum: int, console: Console
) -> None:
    """Before applying a Deployment whose replicas an autoscaler decides (the rendered one has
    no `replicas`): make sure leaving them out cannot reset the count.

    An apply that leaves out a field its manager owned alone removes the field, and a
    Deployment without replicas runs 1 pod. So, as documented: a new Deployment is created at
    the autoscaler's minimum; while we own spec.replicas, the current count is applied once
    under HANDOVER_MANAGER (same value: shared, no conflict), after which our apply without
    the field only gives up our share. A conflict means the HPA has already written the field
    (and so taken it from us): nothing to hand over. From then on we never apply replicas:
    not on later deploys, not on a rollback."""
    name = deployment["metadata"]["name"]
    namespace = deployment["metadata"]["namespace"]
    live = api.get("apps/v1", "Deployment", name, namespace)
    if live is None:
        first = copy.deepcopy(deployment)
        first["spec"]["replicas"] = minimum
        live = api.apply(first)
        console.print(f"  created Deployment/{name} at the autoscaler's minimum ({minimum})")
    if REPLICAS not in owned_fields(live, FIELD_MANAGER):
        return
    replicas = (live.get("spec") or {}).get("replicas", minimum)
    body = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"replicas": replicas},
    }
    try:
        api.apply(body, field_manager=HANDOVER_MANAGER, force=False)
    except Conflict:
        return
    console.print(
        f"  handed spec.replicas of Deployment/{name} ({replicas}) over to the autoscaler"
    )


def _by_hand(entry: dict[str, Any]) -> bool:
    return not entry.get("subresource") and any(
        entry.get("manager", "").startswith(prefix) and entry.get("operation") == operation
        for prefix, operation in HAND_MANAGERS
    )


def _union(left: dict[str, Any], right: dict[str, Any]) -> dict[str, Any]:
    """Two FieldsV1 sets as one (a FieldsV1 set is a trie: union is a deep merge)."""
    merged = dict(left)
    for key, sub in right.items():
        merged[key] = _union(merged.get(key) or {}, sub or {})
    return merged


def take_over(api: KubeApi, doc: dict[str, Any], console: Console, attempts: int = 3) -> None:
    """Before applying `doc`: make the fields set on the live object by hand (HAND_MANAGERS)
    ours, so that our apply removes those the manifests do not have. Controllers' fields and
    subresources stay theirs. Rewrites managedFields only if the object did not change since
    it was read (else reads it again)."""
    metadata = doc["metadata"]
    for _ in range(attempts):
        live = api.get(doc["apiVersion"], doc["kind"], metadata["name"], metadata.get("namespace"))
        entries = ((live or {}).get("metadata") or {}).get("managedFields") or []
        taken = [entry for entry in entries if _by_hand(entry)]
        if not taken:
            return
        ours = next(
            (
                entry
                for entry in entries
                if entry.get("manager") == FIELD_MANAGER
                and entry.get("operation") == "Apply"
                and not entry.get("subresource")
            ),
            None,
        )
        merged = dict(ours or {"manager": FIELD_MANAGER, "operation": "Apply"})
        merged.setdefault("apiVersion", doc["apiVersion"])
        merged.setdefault("fieldsType", "FieldsV1")
        merged.setdefault("time", taken[0].get("time"))
        fields = merged.get("fieldsV1") or {}
        for entry in taken:
            fields = _union(fields, entry.get("fieldsV1") or {})
        merged["fieldsV1"] = fields
        kept = [entry for entry in entries if entry is not ours and entry not in taken]
        try:
            api.replace_managed_fields(live, [*kept, merged])
        except Conflict:
            continue  # changed meanwhile: read it again
        managers = ", ".join(sorted({entry["manager"] for entry in taken}))
        ref = f"{doc['kind']}/{metadata['name']}"
        console.print(
            f"  took over the fields {managers} set on {ref}: those the manifests do not "
            "have go with this apply"
        )
        return
    raise OperationFailed(
        f"{doc['kind']}/{metadata['name']} kept changing while gifstack took over the fields "
        "set on it by hand; deploy again."
    )
