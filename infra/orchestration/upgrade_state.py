"""What `invoke upgrade` reads from the account before it plans (read-only calls): the
versions running now and the versions offered. Operations and fields as botocore's models
name them: EKS DescribeCluster (cluster.version), ListNodegroups/DescribeNodegroup
(nodegroup.version), DescribeAddon (addon.addonVersion), DescribeClusterVersions
(clusterVersions[].{clusterVersion, versionStatus}), DescribeAddonVersions, ListInsights /
DescribeInsight; RDS DescribeDBInstances (EngineVersion), DescribeDBEngineVersions
(ValidUpgradeTarget[].EngineVersion).
"""

from __future__ import annotations

from collections.abc import Iterable

from botocore.exceptions import ClientError

from infra.aws.errors import AWS_ERRORS, translate
from infra.core import naming
from infra.core.errors import BadInput
from infra.orchestration import upgrade_plan as plan
from infra.orchestration.frame import Frame
from infra.settings import catalog

OFFERED = ("STANDARD_SUPPORT", "EXTENDED_SUPPORT")  # versionStatus of a version EKS creates


def _missing(exc: Exception) -> bool:
    code = exc.response.get("Error", {}).get("Code") if isinstance(exc, ClientError) else None
    return code in ("ResourceNotFoundException", "DBInstanceNotFound", "DBInstanceNotFoundFault")


def observe(frame: Frame, *, kubernetes: bool, postgres: bool) -> plan.Observed:
    """The versions the environment runs now."""
    settings = frame.settings
    cluster = naming.cluster_name(settings.project, settings.env)
    control = nodes = ""
    addons: dict[str, str | None] = {}
    if kubernetes:
        eks = frame.aws.client("eks")
        try:
            control = eks.describe_cluster(name=cluster)["cluster"]["version"]
            names = [
                name
                for page in eks.get_paginator("list_nodegroups").paginate(clusterName=cluster)
                for name in page.get("nodegroups", [])
            ]
            versions = [
                eks.describe_nodegroup(clusterName=cluster, nodegroupName=name)["nodegroup"][
                    "version"
                ]
                for name in names
            ]
        except AWS_ERRORS as exc:
            if _missing(exc):
                raise BadInput(
                    f"EKS cluster {cluster} does not exist in {settings.region}: nothing to "
                    f"upgrade. Deploy it first (`invoke deploy --env {settings.env}`)."
                ) from None
            raise translate(exc, "reading the versions of EKS cluster", cluster) from None
        nodes = min(versions, key=plan.minor) if versions else control
        for name in catalog.EKS_ADDONS:
            try:
                found = eks.describe_addon(clusterName=cluster, addonName=name)
                addons[name] = found["addon"].get("addonVersion")
            except AWS_ERRORS as exc:
                if not _missing(exc):
                    raise translate(exc, f"reading add-on {name} of", cluster) from None
                addons[name] = None
    running = _postgres_version(frame) if postgres else None
    return plan.Observed(control, nodes, addons, running)


def _postgres_version(frame: Frame) -> str:
    settings = frame.settings
    instance = naming.db_instance_id(settings.project, settings.env)
    try:
        found = frame.aws.client("rds").describe_db_instances(DBInstanceIdentifier=instance)
    except AWS_ERRORS as exc:
        if _missing(exc):
            raise BadInput(
                f"RDS instance {instance} does not exist in {settings.region}: nothing to "
                "upgrade. Deploy (or `invoke restore`) it first."
            ) from None
        raise translate(exc, "reading RDS instance", instance) from None
    return found["DBInstances"][0]["EngineVersion"]


def kubernetes_versions(frame: Frame) -> tuple[tuple[str, ...], str]:
    """The versions EKS offers here (and where that came from); gifstack's table offline."""
    try:
        pages = frame.aws.client("eks").get_paginator("describe_cluster_versions").paginate()
        offered = tuple(
            item["clusterVersion"]
            for page in pages
            for item in page.get("clusterVersions", [])
            if item.get("versionStatus") in OFFERED
        )
    except AWS_ERRORS as exc:
        frame.console.print(
            f"[yellow]DescribeClusterVersions not answered ({type(exc).__name__}); using "
            "gifstack's table of EKS versions (infra/settings/catalog.py)[/]"
        )
        return catalog.eks_versions(), "gifstack's table"
    return offered, "the account"


def addon_versions(frame: Frame, versions: Iterable[str]) -> dict[str, dict[str, str]]:
    """Kubernetes version -> add-on -> the newest version compatible with it."""
    eks = frame.aws.client("eks")
    chosen: dict[str, dict[str, str]] = {}
    for version in versions:
        chosen[version] = {}
        for name in catalog.EKS_ADDONS:
            try:
                pages = eks.get_paginator("describe_addon_versions").paginate(
                    addonName=name, kubernetesVersion=version
                )
                answer = {"addons": [a for page in pages for a in page.get("addons", [])]}
            except AWS_ERRORS as exc:
                raise translate(exc, "listing the versions of EKS add-on", name) from None
            newest = plan.newest_addon_version(answer, version)
            if newest:
                chosen[version][name] = newest
    return chosen


def postgres_targets(frame: Frame, current: str) -> tuple[str, ...]:
    """The versions RDS can upgrade `current` to (ValidUpgradeTarget)."""
    try:
        found = frame.aws.client("rds").describe_db_engine_versions(
            Engine="postgres", EngineVersion=current
        )
    except AWS_ERRORS as exc:
        raise translate(exc, "listing the upgrade targets of PostgreSQL", current) from None
    return tuple(
        target["EngineVersion"]
        for version in found.get("DBEngineVersions", [])
        for target in version.get("ValidUpgradeTarget", [])
    )


def insights(frame: Frame, version: str) -> tuple[list[dict], dict[str, dict]]:
    """The UPGRADE_READINESS insights for `version`, and DescribeInsight of each ERROR one."""
    settings = frame.settings
    cluster = naming.cluster_name(settings.project, settings.env)
    eks = frame.aws.client("eks")
    try:
        pages = eks.get_paginator("list_insights").paginate(
            clusterName=cluster,
            filter={"categories": ["UPGRADE_READINESS"], "kubernetesVersions": [version]},
        )
        found = [item for page in pages for item in page.get("insights", [])]
        details = {
            item["id"]: eks.describe_insight(clusterName=cluster, id=item["id"])["insight"]
            for item in plan.insight_errors(found)
        }
    except AWS_ERRORS as exc:
        raise translate(exc, "reading the upgrade insights of EKS cluster", cluster) from None
    return found, details
