"""The read-only preconditions of a blue/green major upgrade of RDS for PostgreSQL
(infra/orchestration/blue_green.py runs it; `invoke upgrade`'s plan shows them first), and the
small RDS helpers both share. Each fact names its source next to the check that uses it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from infra.aws.errors import AWS_ERRORS, translate

# A major upgrade through blue/green (logical replication) needs a source at least this minor
# of its major (User Guide, "PostgreSQL replication methods for blue/green deployments"):
# 16.1 and every later major, 15.4, 14.9, 13.12, 12.16, 11.21.
MIN_SOURCE_MINOR = {11: 21, 12: 16, 13: 12, 14: 9, 15: 4, 16: 1}
LOGICAL_REPLICATION = "rds.logical_replication"


def _major(version: str) -> int:
    return int(version.split(".")[0])


def _minor(version: str) -> int:
    return int(version.split(".")[1])  # RDS for PostgreSQL versions are MAJOR.MINOR


@contextmanager
def rds_errors(action: str, what: str) -> Iterator[None]:
    """A boto3 failure inside as one domain error naming the action and the object."""
    try:
        yield
    except AWS_ERRORS as exc:
        raise translate(exc, action, what) from exc


def _error_code(exc: Exception) -> str:
    return getattr(exc, "response", {}).get("Error", {}).get("Code", "")


def find_instance(rds, instance_id: str) -> dict | None:
    try:
        return rds.describe_db_instances(DBInstanceIdentifier=instance_id)["DBInstances"][0]
    except AWS_ERRORS as exc:
        if _error_code(exc) == "DBInstanceNotFound":
            return None
        raise translate(exc, "reading", f"DB instance {instance_id}") from exc


def check_ready(
    rds, instance_id: str, target_version: str, target_parameter_group: str | None = None
) -> list[str]:
    """Read-only: what stops a blue/green major upgrade of this instance, each with its fix
    (empty: ready). Sources in each message's comment."""
    instance = find_instance(rds, instance_id)
    if instance is None:
        return [f"DB instance {instance_id} does not exist: deploy the database stack first."]
    return problems_of(rds, instance, target_version, target_parameter_group)


def problems_of(
    rds, instance: dict, target_version: str, target_parameter_group: str | None = None
) -> list[str]:
    instance_id = instance["DBInstanceIdentifier"]
    source = instance["EngineVersion"]
    problems = []
    if instance["DBInstanceStatus"] != "available":
        problems.append(
            f"{instance_id} is {instance['DBInstanceStatus']}, not available: wait for it "
            "(`aws rds describe-db-instances`), then run the upgrade again."
        )
    # User Guide, "Limitations and considerations for Amazon RDS blue/green deployments" and
    # "Password management with Amazon RDS and AWS Secrets Manager" (its limitations list):
    # blue/green deployments don't support a master password managed in Secrets Manager.
    if instance.get("MasterUserSecret"):
        problems.append(
            f"{instance_id}'s master password is managed by RDS in Secrets Manager, which "
            "blue/green deployments don't support (RDS User Guide, blue/green limitations): "
            "upgrade in place instead (downtime while RDS upgrades), or turn the managed "
            "password off for the upgrade (a design change: README, Day 2, PostgreSQL major "
            "versions)."
        )
    problems += _version_problems(rds, instance_id, source, target_version)
    problems += _parameter_problems(rds, instance_id, instance["DBParameterGroups"][0])
    if target_parameter_group:
        problems += _target_group_problems(rds, target_parameter_group, target_version)
    return problems


def _target_group_problems(rds, name: str, target: str) -> list[str]:
    """The green's group must exist and be of the target major's family (botocore's model:
    TargetDBParameterGroupName; DBParameterGroup.DBParameterGroupFamily)."""
    family = f"postgres{_major(target)}"
    fix = f"set database.upgrade_target_version: {target} in params/<env>.yaml and deploy"
    try:
        groups = rds.describe_db_parameter_groups(DBParameterGroupName=name)["DBParameterGroups"]
    except AWS_ERRORS as exc:
        if _error_code(exc) == "DBParameterGroupNotFound":
            return [f"the green's parameter group {name} does not exist: {fix}."]
        raise translate(exc, "reading", f"parameter group {name}") from exc
    found = groups[0]["DBParameterGroupFamily"]
    if found != family:
        return [f"the green's parameter group {name} is of family {found}, not {family}: {fix}."]
    return []


def _version_problems(rds, instance_id: str, source: str, target: str) -> list[str]:
    if _major(target) <= _major(source):
        return [
            f"{target} is not a newer major than {instance_id}'s {source}: minor upgrades are "
            "done in place (database.engine_version in params, then deploy)."
        ]
    least = MIN_SOURCE_MINOR.get(_major(source), 0)
    if _minor(source) < least:
        return [
            f"RDS upgrades PostgreSQL {_major(source)} through blue/green only from "
            f"{_major(source)}.{least} (User Guide, PostgreSQL replication methods for "
            f"blue/green): upgrade {instance_id} in place to the newest {_major(source)}.x first."
        ]
    with rds_errors("reading", f"PostgreSQL {source}'s upgrade targets"):
        versions = rds.describe_db_engine_versions(Engine="postgres", EngineVersion=source)[
            "DBEngineVersions"
        ]
    targets = [
        t["EngineVersion"]
        for v in versions
        for t in v.get("ValidUpgradeTarget", [])
        if t.get("IsMajorVersionUpgrade")
    ]
    if target not in targets:
        return [
            f"RDS offers no major upgrade from {source} to {target} (DescribeDBEngineVersions' "
            f"ValidUpgradeTarget): pick one of {', '.join(targets) or 'none listed'}."
        ]
    return []


def _parameter_problems(rds, instance_id: str, group: dict) -> list[str]:
    name = group["DBParameterGroupName"]
    enable = (
        "set database.blue_green_ready: true in params/<env>.yaml and deploy the database stack"
    )
    # AWS Knowledge Center, "rds-postgresql-blue-green-deployment-error": blue/green needs a
    # custom parameter group with rds.logical_replication = 1 (a default group can't be
    # changed); the parameter is static, so it applies at the next reboot.
    if name.startswith("default."):
        return [f"{instance_id} uses the default parameter group {name}: {enable}."]
    value = None
    pages = rds.get_paginator("describe_db_parameters").paginate(
        DBParameterGroupName=name, Source="user"
    )
    try:
        for page in pages:
            for parameter in page["Parameters"]:
                if parameter["ParameterName"] == LOGICAL_REPLICATION:
                    value = parameter.get("ParameterValue")
    except AWS_ERRORS as exc:
        raise translate(exc, "reading", f"parameter group {name}") from exc
    if value != "1":
        return [f"{LOGICAL_REPLICATION} is not 1 in {name}: {enable}, then reboot {instance_id}."]
    if group.get("ParameterApplyStatus") != "in-sync":
        return [
            f"{name}'s changes are {group.get('ParameterApplyStatus')} on {instance_id}: "
            f"{LOGICAL_REPLICATION} is static; reboot it (`aws rds reboot-db-instance "
            f"--db-instance-identifier {instance_id}`) in a quiet moment."
        ]
    return []
