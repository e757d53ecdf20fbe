"""A change set as rows: what will happen to which resource, and whether data is at risk."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources

from rich.table import Table
from rich.text import Text

# Types beyond cfn-lint's stateful list whose replacement or removal costs more than a
# redeploy: the EKS control plane (every workload and access entry on it) and the VPC
# (everything in the environment lives in it).
_EXTRA_STATEFUL_TYPES = frozenset({"AWS::EKS::Cluster", "AWS::EC2::VPC"})

_ACTION_STYLE = {"Add": "green", "Modify": "yellow", "Remove": "red", "Import": "cyan"}


@dataclass(frozen=True)
class Change:
    """One resource change of a change set."""

    action: str  # Add | Modify | Remove | Import | Dynamic
    logical_id: str
    resource_type: str
    replacement: str = ""  # "True" | "False" | "Conditional" | "" (not a Modify)
    properties: tuple[str, ...] = ()  # the properties that cause it (recreation ones first)
    physical_id: str = ""

    @property
    def replaces(self) -> bool:
        """True when CloudFormation will (or may) create a new resource in its place."""
        return self.replacement in ("True", "Conditional")

    @property
    def endangers_data(self) -> bool:
        return self.resource_type in stateful_types() and (self.action == "Remove" or self.replaces)


@cache
def stateful_types() -> frozenset[str]:
    """Resource types that hold data: cfn-lint's list plus the cluster and the VPC."""
    spec = resources.files("cfnlint.data.AdditionalSpecs").joinpath("StatefulResources.json")
    return frozenset(json.loads(spec.read_text())["ResourceTypes"]) | _EXTRA_STATEFUL_TYPES


def from_change_set(raw_changes: list[dict]) -> list[Change]:
    """Rows from DescribeChangeSet's `Changes` (all pages concatenated)."""
    rows = []
    for raw in raw_changes:
        if raw.get("Type") != "Resource":
            continue
        change = raw["ResourceChange"]
        rows.append(
            Change(
                action=change.get("Action", ""),
                logical_id=change.get("LogicalResourceId", ""),
                resource_type=change.get("ResourceType", ""),
                replacement=change.get("Replacement", ""),
                properties=_causes(change.get("Details", [])),
                physical_id=change.get("PhysicalResourceId", ""),
            )
        )
    return rows


def _causes(details: list[dict]) -> tuple[str, ...]:
    """Changed property names, the ones that force recreation first, without repeats."""
    recreating, other = [], []
    for detail in details:
        target = detail.get("Target", {})
        name = target.get("Name") or target.get("Attribute", "")
        if not name:
            continue
        forces_new = target.get("RequiresRecreation") in ("Always", "Conditionally")
        bucket = recreating if forces_new else other
        if name not in recreating and name not in other:
            bucket.append(name)
    return tuple(recreating + other)


def endangered(changes: list[Change]) -> list[Change]:
    """The changes that would replace or remove a resource holding data."""
    return [change for change in changes if change.endangers_data]


def table(stack_name: str, changes: list[Change]) -> Table:
    """The change set as a rich table; replacements stand out."""
    title = f"{stack_name}: {len(changes)} change(s)"
    if not changes:
        # AWS lists every resource an executable change set touches (one with nothing to do
        # fails with "didn't contain changes"); an emulator may list none (moto for property
        # updates), so say the list is missing rather than that nothing changes.
        title = f"{stack_name}: the endpoint listed no resource changes (AWS would list them)"
    grid = Table(title=title, title_justify="left")
    grid.add_column("Action")
    grid.add_column("Logical ID")
    grid.add_column("Type")
    grid.add_column("Replacement")
    grid.add_column("Caused by")
    for change in changes:
        # AWS gives Replacement (True, False, Conditional) for every Modify; an emulator
        # may leave it out, and "-" would read as "no replacement".
        missing = "not reported" if change.action == "Modify" else "-"
        replacement = Text(change.replacement or missing)
        if change.replaces:
            replacement.stylize("bold red" if change.replacement == "True" else "bold yellow")
        logical = Text(change.logical_id)
        if change.endangers_data:
            logical.append(" (holds data)", style="bold red")
        grid.add_row(
            Text(change.action, style=_ACTION_STYLE.get(change.action, "")),
            logical,
            change.resource_type,
            replacement,
            ", ".join(change.properties) or "-",
        )
    return grid
