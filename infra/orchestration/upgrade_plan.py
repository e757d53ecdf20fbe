"""The plan of `invoke upgrade` (infra/orchestration/upgrade.py), as pure logic: from what the
account runs now (read at plan time) and the target, the steps in the only safe order, each
saying what it means for the app and whether it is already done.

Kubernetes goes one minor at a time (EKS updates the control plane one minor per update, and
wants managed nodes on the control plane's minor before the next one: "Update existing
cluster to new Kubernetes version", docs.aws.amazon.com/eks/latest/userguide/
update-cluster.html). Each hop: the upgrade insights for the new version (refused on an
ERROR unless forced), the control plane, every managed add-on to the newest version
compatible with the new version, the node group, then the app's rollout check. The plan is
computed from the observed state every time, so a rerun after an interruption shows the
steps already done as done and starts at the first one that isn't.

PostgreSQL: a minor (same major) is one in-place step (params + the database stack). A major
goes through an RDS Blue/Green deployment (infra/orchestration/blue_green.py) when the
instance qualifies (blue_green_checks.check_ready, read at plan time), else in place: the
same params + database stack deploy, RDS upgrading the instance itself (never replacing it).
gifstack's instances never qualify today: "Blue/green deployments don't support managing
master user passwords with AWS Secrets Manager" (RDS User Guide, "Limitations and
considerations for Amazon RDS blue/green deployments"), and they use ManageMasterUserPassword.

Field names of the EKS answers are botocore's eks model (2017-11-01): DescribeAddonVersions
addons[].addonVersions[].{addonVersion, compatibilities[].clusterVersion}; ListInsights
insights[].{id, name, insightStatus.status: PASSING|WARNING|ERROR|UNKNOWN}.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from infra.core.errors import BadInput
from infra.settings import catalog

VERSION = re.compile(r"^(\d+)\.(\d+)$")  # Kubernetes 1.36, PostgreSQL 17.6
ADDON_VERSION = re.compile(r"^v(\d+)\.(\d+)\.(\d+)(?:-eksbuild\.(\d+))?$")


class Kind(StrEnum):
    INSIGHTS = "upgrade insights"
    CONTROL_PLANE = "control plane"
    ADDONS = "add-ons"
    NODES = "node group"
    ROLLOUT = "app rollout check"
    POSTGRES_MINOR = "PostgreSQL minor"
    POSTGRES_MAJOR = "PostgreSQL major"
    POSTGRES_MAJOR_IN_PLACE = "PostgreSQL major, in place"
    POSTGRES_PARAMS = "PostgreSQL params"


# What each kind of step means for the app (issue 11, item 4), and whether it can interrupt
# traffic or lose data (prod then asks for the environment's name, typed).
SAFETY: dict[Kind, tuple[str, bool]] = {
    Kind.INSIGHTS: ("read-only: refuses on an ERROR insight unless --force", False),
    Kind.CONTROL_PLANE: ("no app downtime; the Kubernetes API is briefly unavailable", False),
    Kind.ADDONS: ("add-on pods replaced one by one; the app keeps serving", False),
    Kind.NODES: ("rolling, one node at a time: pods rescheduled, the PDB respected", False),
    Kind.ROLLOUT: ("read-only: waits until every app pod is ready", False),
    Kind.POSTGRES_MINOR: ("database restarts: a few minutes of errors", True),
    Kind.POSTGRES_MAJOR: (
        "Blue/Green switchover: writes blocked ~1 min; the old instance is kept",
        True,
    ),
    # RDS User Guide, "Upgrades of the RDS for PostgreSQL DB engine": the database "might be
    # unavailable for several minutes" (Multi-AZ included; longer with more data: pg_upgrade),
    # and "Amazon RDS takes two DB snapshots during the upgrade process if your backup
    # retention period is greater than 0", the first before any change (gifstack's minimum
    # retention is 1 day).
    Kind.POSTGRES_MAJOR_IN_PLACE: (
        "database unavailable while RDS upgrades it (minutes, longer with more data); "
        "RDS snapshots it before the upgrade",
        True,
    ),
    Kind.POSTGRES_PARAMS: ("none: RDS already runs it; params and templates catch up", False),
}
# Which stack a step deploys after its params change (None: no stack).
STACKS = {
    Kind.CONTROL_PLANE: "cluster",
    Kind.ADDONS: "cluster",
    Kind.NODES: "cluster",
    Kind.POSTGRES_MINOR: "database",
    Kind.POSTGRES_MAJOR: "database",
    Kind.POSTGRES_MAJOR_IN_PLACE: "database",
    Kind.POSTGRES_PARAMS: "database",
}


@dataclass(frozen=True)
class Observed:
    """What the account runs now."""

    control_plane: str  # DescribeCluster cluster.version
    nodes: str  # DescribeNodegroup nodegroup.version (the oldest, if several)
    addons: Mapping[str, str | None]  # DescribeAddon addon.addonVersion; None = not installed
    postgres: str | None = None  # DescribeDBInstances EngineVersion


@dataclass(frozen=True)
class Offer:
    """What the account offers at plan time (or the shipped table, offline)."""

    kubernetes: tuple[str, ...]
    # Kubernetes version -> add-on -> the version to install (see `newest_addon_version`).
    addons: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    # PostgreSQL versions RDS can upgrade the running one to (ValidUpgradeTarget).
    postgres: tuple[str, ...] = ()
    source: str = "the account"


@dataclass(frozen=True)
class Step:
    kind: Kind
    version: str  # the version this step brings its part to
    change: str  # the row's words: "1.34 -> 1.35"
    done: bool
    params: Mapping[str, object] = field(default_factory=dict)  # dotted key -> new value
    why: tuple[str, ...] = ()  # an in-place major: why not Blue/Green (check_ready's lines)

    @property
    def safety(self) -> str:
        return SAFETY[self.kind][0]

    @property
    def interrupts(self) -> bool:
        return SAFETY[self.kind][1]

    @property
    def stack(self) -> str | None:
        return STACKS.get(self.kind)


def minor(version: str, flag: str = "--kubernetes") -> tuple[int, int]:
    """ "1.35" -> (1, 35); BadInput for anything else."""
    found = VERSION.match(version or "")
    if not found:
        example = "1.36" if flag == "--kubernetes" else "17.6"
        raise BadInput(f"{flag} {version!r} is not a version like {example} (MAJOR.MINOR).")
    return int(found[1]), int(found[2])


def hops(current: str, target: str, offered: Iterable[str]) -> list[str]:
    """The minors to go through, one at a time, after `current` up to `target` (validated:
    no downgrade, offered by EKS, every minor between offered too)."""
    offered = sorted(set(offered), key=minor)
    if minor(target) < minor(current):
        raise BadInput(
            f"--kubernetes {target} is older than the cluster's {current}: EKS can't downgrade "
            f"a cluster. Pick {current} or newer ({', '.join(offered)})."
        )
    if target not in offered:
        raise BadInput(
            f"--kubernetes {target} is not a version EKS offers here; offered: "
            f"{', '.join(offered)}."
        )
    between = [v for v in offered if minor(current) < minor(v) <= minor(target)]
    expected = minor(target)[1] - minor(current)[1]
    if len(between) != expected:
        raise BadInput(
            f"--kubernetes {target}: EKS upgrades one minor at a time and not every minor "
            f"from {current} to {target} is offered ({', '.join(offered)})."
        )
    return between


def addon_key(version: str) -> tuple[int, ...]:
    found = ADDON_VERSION.match(version)
    if not found:
        return (-1,)
    return tuple(int(part or 0) for part in found.groups())


def newest_addon_version(answer: Mapping, kubernetes: str) -> str | None:
    """From one DescribeAddonVersions answer: the newest version whose compatibilities name
    this Kubernetes version (None when none does)."""
    compatible = [
        item["addonVersion"]
        for addon in answer.get("addons", [])
        for item in addon.get("addonVersions", [])
        if any(c.get("clusterVersion") == kubernetes for c in item.get("compatibilities", []))
    ]
    return max(compatible, key=addon_key) if compatible else None


def kubernetes_steps(observed: Observed, target: str, offer: Offer) -> list[Step]:
    """Every hop from the oldest part (the nodes) to the target, each step done or not."""
    steps: list[Step] = []
    minor(target)
    if minor(observed.nodes) > minor(observed.control_plane):
        raise BadInput(
            f"the nodes run {observed.nodes}, newer than the control plane's "
            f"{observed.control_plane}; fix that by hand first (EKS refuses it)."
        )
    hops(observed.control_plane, target, offer.kubernetes)  # the part not yet done: validated
    previous, installed = observed.nodes, dict(observed.addons)
    offered = [*offer.kubernetes, observed.nodes, observed.control_plane]
    for version in hops(observed.nodes, target, offered):
        control_done = minor(observed.control_plane) >= minor(version)
        nodes_done = minor(observed.nodes) >= minor(version)
        chosen = dict(offer.addons.get(version, {}))
        missing = sorted(set(catalog.EKS_ADDONS) - set(chosen))
        if missing and not nodes_done:
            raise BadInput(
                f"no version of {', '.join(missing)} is compatible with Kubernetes "
                f"{version} ({offer.source}); pick another --kubernetes."
            )
        addons_done = nodes_done or all(
            observed.addons.get(name) == wanted for name, wanted in chosen.items()
        )
        hop = f"{previous} -> {version}"
        # Every later deploy of the cluster stack names the versions the account runs by
        # then (a control plane upgraded by hand included: a template naming an older one
        # would be a downgrade, which EKS refuses).
        control_after = max(observed.control_plane, version, key=minor)
        versions = {
            "cluster.kubernetes_version": control_after,
            "cluster.node_kubernetes_version": previous,
        }
        steps += [
            Step(Kind.INSIGHTS, version, "ListInsights UPGRADE_READINESS", control_done),
            Step(
                Kind.CONTROL_PLANE,
                version,
                hop,
                control_done,
                # The nodes stay where they are until their own step.
                {
                    "cluster.kubernetes_version": version,
                    "cluster.node_kubernetes_version": previous,
                },
            ),
            Step(
                Kind.ADDONS,
                version,
                _addon_change(installed, chosen),
                addons_done,
                {**versions, "cluster.addon_versions": chosen},
            ),
            Step(
                Kind.NODES,
                version,
                hop,
                nodes_done,
                {**versions, "cluster.node_kubernetes_version": version},
            ),
            Step(Kind.ROLLOUT, version, "the app's Deployment, every pod ready", nodes_done),
        ]
        previous, installed = version, {**installed, **chosen}  # as the next hop finds them
    return steps


def _addon_change(installed: Mapping[str, str | None], chosen: Mapping[str, str]) -> str:
    return "\n".join(
        f"{name}: {installed.get(name) or 'not installed'} -> {version}"
        for name, version in sorted(chosen.items())
        if installed.get(name) != version
    )


def postgres_step(
    current: str,
    target: str,
    offered: Iterable[str],
    configured: str | None = None,
    blue_green_problems: Iterable[str] = (),
) -> Step:
    """One step: in place for a minor of the same major; for a major, Blue/Green when
    `blue_green_problems` (blue_green_checks.check_ready's answer) is empty, else in place,
    saying why; when RDS already runs the target, params/ catching up (`configured`: what
    they name now)."""
    wanted, running = minor(target, "--postgres"), minor(current, "--postgres")
    offered = list(offered)
    if wanted < running:
        raise BadInput(
            f"--postgres {target} is older than the running {current}: RDS can't downgrade "
            "PostgreSQL (restore a snapshot into a new instance instead)."
        )
    if wanted == running:
        # Done in RDS; the params may still name the old version (an upgrade interrupted
        # after the switchover, or one made by hand): then they catch up, nothing else.
        caught_up = configured in (None, target)
        change = f"params {configured} -> {target} (RDS runs {target})"
        params = {} if caught_up else {"database.engine_version": target}
        return Step(Kind.POSTGRES_PARAMS, target, change, caught_up, params)
    if target not in offered:
        raise BadInput(
            f"--postgres {target}: RDS can't upgrade {current} to it here; it offers "
            f"{', '.join(offered) or 'no upgrade'}."
        )
    if target not in catalog.postgres_versions():
        raise BadInput(
            f"--postgres {target} is not a version gifstack's params accept "
            f"({', '.join(catalog.postgres_versions())}; infra/settings/catalog.py)."
        )
    kind, why = kind_of(current, target), tuple(blue_green_problems)
    if kind == Kind.POSTGRES_MAJOR and why:
        kind = Kind.POSTGRES_MAJOR_IN_PLACE
    return Step(
        kind,
        target,
        f"{current} -> {target}",
        False,
        {"database.engine_version": target},
        why if kind == Kind.POSTGRES_MAJOR_IN_PLACE else (),
    )


def kind_of(current: str, target: str) -> Kind:
    """A major upgrade when the first number changes (16 -> 17), else a minor."""
    same = current.split(".")[0] == target.split(".")[0]
    return Kind.POSTGRES_MINOR if same else Kind.POSTGRES_MAJOR


def pending(steps: Iterable[Step]) -> list[Step]:
    return [step for step in steps if not step.done]


def asks_typed_confirmation(steps: Iterable[Step], *, prod: bool) -> bool:
    """Prod asks for its name, typed, only when a pending step can interrupt traffic."""
    return prod and any(step.interrupts for step in pending(steps))


def insight_errors(insights: Iterable[Mapping]) -> list[Mapping]:
    """The ListInsights entries whose status is ERROR (upgrade-blocking)."""
    return [
        insight
        for insight in insights
        if (insight.get("insightStatus") or {}).get("status") == "ERROR"
    ]


def refusal(version: str, errors: list[Mapping], details: Mapping[str, Mapping]) -> str:
    """One line naming each ERROR insight, its reason and recommendation, and the way on."""
    named = "; ".join(_insight_line(item, details.get(item.get("id", ""), {})) for item in errors)
    return (
        f"EKS upgrade insights for {version} report {len(errors)} error(s): {named}. Fix them "
        "(insights refresh within 24 h), or run again with --force to upgrade anyway."
    )


def _insight_line(item: Mapping, detail: Mapping) -> str:
    reason = (item.get("insightStatus") or {}).get("reason") or "no reason given"
    line = f"{item.get('name', item.get('id', '?'))} ({reason})"
    recommendation = detail.get("recommendation")
    return f"{line}, recommended: {recommendation}" if recommendation else line
