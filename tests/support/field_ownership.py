"""Server-side apply field ownership for the kmock emulator (GAP 4 of kmock_cluster.py).

kmock merges every write into the stored object and tracks no owners, so on it an apply can
never conflict, a field left out of a manifest never goes, and `managedFields` is empty. This
module plays the API server's field manager, written from the Server-Side Apply documentation
(https://kubernetes.io/docs/reference/using-api/server-side-apply/):

- an apply records the fields of its body for (manager, Apply); changing the value of a field
  another manager owns is a conflict (409) unless `force=true`, which takes the field away
  from the others ("Conflicts");
- equal values applied by several managers are shared ("Field management");
- an apply that leaves out a field its manager applied before gives the field up; a field no
  manager owns any more is removed from the object ("Merge strategy");
- every other write (create, update, merge patch) moves the fields it changes to
  (manager, Update); the manager is the `fieldManager` parameter, else the User-Agent's first
  word ("Field managers");
- a manager left owning nothing disappears ("Transferring ownership");
- a write other than an apply may replace `metadata.managedFields` ("Clearing managedFields");
  `[{}]` clears them.

Simplified (a real cluster differs, and no test relies on the difference): every list is
atomic (the API server merges associative lists such as `containers` by their keys), a removed
field is never reset to a default, maps own nothing themselves, `status` is not tracked,
`fieldsV1` keys are `f:<name>`.
"""

from __future__ import annotations

import copy
from typing import Any

Path = tuple[str, ...]
APPLY, UPDATE = "Apply", "Update"
_MISSING = object()
# Fields the API server sets or that name the object: nobody owns them.
_UNOWNED = {
    ("apiVersion",),
    ("kind",),
    ("status",),
    *(
        ("metadata", name)
        for name in (
            "name",
            "namespace",
            "uid",
            "resourceVersion",
            "generation",
            "creationTimestamp",
            "deletionTimestamp",
            "managedFields",
        )
    ),
}


class Conflict(Exception):
    def __init__(self, message: str, causes: list[dict[str, str]]):
        super().__init__(message)
        self.message = message
        self.causes = causes


def leaves(obj: dict[str, Any], prefix: Path = ()) -> dict[Path, Any]:
    """Every owned field of the object by path: scalars and lists (atomic). Maps are merged,
    never replaced, so a map owns nothing itself (an empty one is no field)."""
    found: dict[Path, Any] = {}
    for key, value in obj.items():
        path = (*prefix, key)
        if path in _UNOWNED:
            continue
        if isinstance(value, dict):
            found.update(leaves(value, path))
        else:
            found[path] = value
    return found


def encode(paths: set[Path]) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    for path in sorted(paths):
        node = tree
        for part in path:
            node = node.setdefault(f"f:{part}", {})
    return tree


def decode(tree: dict[str, Any], prefix: Path = ()) -> set[Path]:
    paths: set[Path] = set()
    for key, sub in (tree or {}).items():
        if key == ".":
            continue
        path = (*prefix, key[2:])
        paths |= decode(sub, path) if sub else {path}
    return paths


class Owners:
    """The managedFields of one object: (manager, operation) -> the paths it owns."""

    def __init__(self, managed_fields: list[dict[str, Any]] | None):
        self.entries: dict[tuple[str, str], dict[str, Any]] = {}
        for entry in managed_fields or []:
            if not entry.get("manager"):
                continue  # `[{}]` clears them all
            key = (entry["manager"], entry.get("operation", UPDATE))
            paths = decode(entry.get("fieldsV1") or {})
            if key in self.entries:
                self.entries[key]["paths"] |= paths
            else:
                self.entries[key] = {**entry, "paths": paths}

    def others(self, key: tuple[str, str]) -> list[tuple[tuple[str, str], set[Path]]]:
        return [(other, entry["paths"]) for other, entry in self.entries.items() if other != key]

    def set(self, key: tuple[str, str], paths: set[Path], api_version: str, now: str) -> None:
        entry = self.entries.setdefault(key, {"manager": key[0], "operation": key[1]})
        entry.update(paths=paths, apiVersion=api_version, time=now)

    def dump(self) -> list[dict[str, Any]]:
        return [
            {
                "manager": entry["manager"],
                "operation": entry["operation"],
                "apiVersion": entry.get("apiVersion", "v1"),
                "time": entry.get("time", ""),
                "fieldsType": "FieldsV1",
                "fieldsV1": encode(entry["paths"]),
            }
            for entry in self.entries.values()
            if entry["paths"]
        ]


def apply(
    stored: dict[str, Any] | None, body: dict[str, Any], manager: str, force: bool, now: str
) -> dict[str, Any]:
    """The object after a server-side apply of `body` by `manager` (raises Conflict)."""
    live = copy.deepcopy(stored or {})
    owners = Owners((live.get("metadata") or {}).get("managedFields"))
    key = (manager, APPLY)
    applied = leaves(body)
    current = leaves(live)
    conflicts = [
        (other, path)
        for other, paths in owners.others(key)
        for path in sorted(applied)
        if path in paths and applied[path] != current.get(path, _MISSING)
    ]
    if conflicts and not force:
        causes = [
            {
                "type": "FieldManagerConflict",
                "message": f'conflict with "{other[0]}"',
                "field": _dot(path),
            }
            for other, path in conflicts
        ]
        raise Conflict(
            f"Apply failed with {len(conflicts)} conflict(s): "
            + "; ".join(f'conflict with "{other[0]}": {_dot(path)}' for other, path in conflicts),
            causes,
        )
    for other, path in conflicts:
        owners.entries[other]["paths"].discard(path)
    previous = owners.entries.get(key, {}).get("paths", set())
    result = _merge(live, copy.deepcopy(body))
    for path in previous - set(applied):
        if not any(path in paths for _, paths in owners.others(key)):
            _remove(result, path)
    owners.set(key, set(applied), body.get("apiVersion", "v1"), now)
    result.setdefault("metadata", {})["managedFields"] = owners.dump()
    return result


def update(
    stored: dict[str, Any] | None, new: dict[str, Any], manager: str, now: str, *, reset: bool
) -> dict[str, Any]:
    """The object after a write other than an apply turned `stored` into `new`; with `reset`
    the write's own `metadata.managedFields` replaced the stored ones first."""
    old = stored or {}
    source = new if reset else old
    owners = Owners((source.get("metadata") or {}).get("managedFields"))
    before, after = leaves(old), leaves(new)
    changed = {
        path
        for path in set(before) | set(after)
        if before.get(path, _MISSING) != after.get(path, _MISSING)
    }
    key = (manager, UPDATE)
    for _, paths in owners.others(key):
        paths -= changed
    if changed:
        mine = owners.entries.get(key, {}).get("paths", set())
        owners.set(
            key,
            mine | {path for path in changed if path in after},
            new.get("apiVersion", "v1"),
            now,
        )
    result = copy.deepcopy(new)
    result.setdefault("metadata", {})["managedFields"] = owners.dump()
    return result


def diff(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """A merge patch turning `old` into `new` (None deletes a key; lists are replaced)."""
    patch: dict[str, Any] = {key: None for key in old if key not in new}
    for key, value in new.items():
        before = old.get(key, _MISSING)
        if isinstance(value, dict) and isinstance(before, dict):
            sub = diff(before, value)
            if sub:
                patch[key] = sub
        elif before != value:
            patch[key] = value
    return patch


def _merge(base: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    for key, value in patch.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = value
    return base


def _remove(obj: dict[str, Any], path: Path) -> None:
    parents = [obj]
    for part in path[:-1]:
        node = parents[-1].get(part)
        if not isinstance(node, dict):
            return
        parents.append(node)
    parents[-1].pop(path[-1], None)
    for depth in range(len(path) - 1, 0, -1):  # maps left empty by the removal go too
        if parents[depth]:
            break
        parents[depth - 1].pop(path[depth - 1], None)


def _dot(path: Path) -> str:
    return "." + ".".join(path)
