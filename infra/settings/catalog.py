"""What AWS offers, for validating params: RDS instance classes and PostgreSQL versions (from
the data cfn-lint ships, so params and `invoke lint` agree) and the EKS Kubernetes versions.

No AWS calls: this is read from files, so it works offline and in CI.
"""

from __future__ import annotations

import datetime
import json
import re
from functools import cache
from importlib.util import find_spec
from pathlib import Path

# Found without importing cfn-lint (a slow import): only its data files are read.
_CFNLINT = find_spec("cfnlint")
_RDS_DATA = (
    Path(_CFNLINT.origin).parent / "data" / "schemas" / "extensions" / "aws_rds_dbinstance"
    if _CFNLINT and _CFNLINT.origin
    else Path("cfn-lint-is-not-installed")
)

# cfn-lint has no list of EKS versions (its schema only says `1\.\d\d`), so this is a
# documented constant: version -> (end of standard support, end of extended support). Source:
# the EKS Kubernetes release calendar (docs.aws.amazon.com/eks/latest/userguide/
# kubernetes-versions.html): standard support is 14 months from release, extended support 12
# more, billed per cluster hour. 1.36's dates are not in the calendar we read (None: treated
# as in standard support). Versions whose extended support has ended are not listed (1.31 left
# it on 2026-11-26). Review when a version is added or a date passes.
EKS_VERSIONS: dict[str, tuple[str | None, str | None]] = {
    "1.32": ("2026-03-23", "2027-03-23"),
    "1.33": ("2026-07-29", "2027-07-29"),
    "1.34": ("2026-12-02", "2027-12-02"),
    "1.35": ("2027-03-27", "2028-03-27"),
    "1.36": (None, None),
}
# Every version EKS still creates clusters with (standard or extended support): what the
# cluster template's KubernetesVersion parameter allows, whatever the date.
EKS_KUBERNETES_VERSIONS = tuple(EKS_VERSIONS)


def eks_support(version: str, today: datetime.date | None = None) -> str:
    """ "standard", "extended" (billed extra) or "ended" for this version on `today`."""
    today = today or datetime.date.today()
    standard_end, extended_end = EKS_VERSIONS[version]
    if standard_end is None or today < datetime.date.fromisoformat(standard_end):
        return "standard"
    if extended_end is None or today < datetime.date.fromisoformat(extended_end):
        return "extended"
    return "ended"


def eks_standard_versions(today: datetime.date | None = None) -> tuple[str, ...]:
    """The versions in standard support on `today` (no extended-support charges)."""
    return tuple(v for v in EKS_VERSIONS if eks_support(v, today) == "standard")


def eks_versions(today: datetime.date | None = None) -> tuple[str, ...]:
    """The versions EKS offers on `today`: in standard or extended support."""
    return tuple(v for v in EKS_VERSIONS if eks_support(v, today) != "ended")


# kubelet may be up to three minor versions older than kube-apiserver, never newer (Kubernetes
# 1.28 and later: kubernetes.io/releases/version-skew-policy/#kubelet, which EKS's "Update
# existing cluster to new Kubernetes version" page cites). EKS also wants managed nodes on the
# control plane's minor before the control plane moves on (same page, step 1), which
# `invoke upgrade` does: control plane, add-ons, nodes, one minor at a time.
MAX_NODE_SKEW = 3

# The managed add-ons of the cluster stack (infra/stacks/cluster_nodes.py), by when they go in.
# Installed before the nodes (they need networking to become Ready); CoreDNS after them.
NODE_ADDONS = ("vpc-cni", "kube-proxy", "eks-pod-identity-agent")
# Pods, so after the nodes. metrics-server: an EKS community add-on (docs.aws.amazon.com/eks/
# latest/userguide/community-addons.html), not installed by default; the HPA needs it.
LATE_ADDONS = ("coredns", "metrics-server")
EKS_ADDONS = NODE_ADDONS + LATE_ADDONS


def kubernetes_minor(version: str) -> tuple[int, int]:
    """ "1.35" -> (1, 35), for ordering; ValueError unless it is MAJOR.MINOR."""
    major, minor = version.split(".")  # ValueError on anything but one dot
    if not (major.isdigit() and minor.isdigit()):
        raise ValueError(f"{version!r} is not a Kubernetes minor version like 1.35")
    return int(major), int(minor)


POSTGRES_MAJORS = ("16", "17")


def _load(name: str) -> dict:
    return json.loads((_RDS_DATA / name).read_text())


def _postgres_blocks(name: str) -> list[dict]:
    return [
        block
        for block in _load(name)["allOf"]
        if block["if"]["properties"].get("Engine", {}).get("const") == "postgres"
    ]


@cache
def postgres_versions() -> tuple[str, ...]:
    """PostgreSQL 16.x/17.x minors RDS offers that cfn-lint doesn't flag as deprecated."""
    offered: set[str] = set()
    for block in _postgres_blocks("engine_version.json"):
        offered.update(block["then"]["properties"]["EngineVersion"]["enum"])
    deprecated: set[str] = set()
    for block in _postgres_blocks("engine_version_deprecated.json"):
        deprecated.update(block["if"]["properties"]["EngineVersion"]["enum"])
    current = (
        version
        for version in offered - deprecated
        if re.fullmatch(rf"({'|'.join(POSTGRES_MAJORS)})\.\d+", version)
    )
    return tuple(sorted(current, key=lambda v: tuple(int(part) for part in v.split("."))))


@cache
def postgres_instance_classes(region: str, engine_version: str) -> tuple[str, ...]:
    """DB instance classes for RDS for PostgreSQL at this version in this region.

    Empty when cfn-lint has no data for the region (the caller then skips the region part).
    """
    classes: set[str] | None = None
    for block in _postgres_blocks("db_instance_class.json"):
        pattern = block["if"]["properties"].get("EngineVersion", {}).get("pattern")
        if pattern and re.search(pattern, engine_version):
            classes = set(block["then"]["properties"]["DBInstanceClass"]["enum"])
    regional = _load("dbinstanceclass_enum.json").get(region)
    if regional:
        in_region: set[str] = set()
        for block in regional["allOf"]:
            if block["if"]["properties"].get("Engine", {}).get("const") == "postgres":
                in_region.update(block["then"]["properties"]["DBInstanceClass"]["enum"])
        classes = in_region if classes is None else classes & in_region
    return tuple(sorted(classes or ()))
