"""A live database's point-in-time restore into a NEW instance, beside the running one (for
`invoke restore`, infra/orchestration/restore.py). The running instance is never touched.

Sources (botocore's RDS model): DescribeDBInstances' DBInstance (LatestRestorableTime,
BackupRetentionPeriod, InstanceCreateTime, DBSubnetGroup, VpcSecurityGroups,
DBParameterGroups, KmsKeyId, TagList); RestoreDBInstanceToPointInTime (RestoreTime: UTC,
before the latest restorable time; UseLatestRestorableTime not with RestoreTime;
TargetDBInstanceIdentifier: 1-63 letters, digits, hyphens, a letter first, no "--", no
trailing "-"; ManageMasterUserPassword "applies to RDS for Oracle only", so the new instance
starts with the source's master password of that time). The storage key is the source's
(the operation has no KmsKeyId). Automated backups reach back BackupRetentionPeriod days,
never before the instance was created (RDS User Guide, USER_PIT).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from infra.aws.errors import AWS_ERRORS, translate
from infra.aws.session import Aws
from infra.core.errors import BadInput, OperationFailed

ID_LIMIT = 63


@dataclass(frozen=True)
class Source:
    """The live instance, as RestoreDBInstanceToPointInTime needs to copy its placement."""

    identifier: str
    status: str
    earliest: datetime
    latest: datetime
    instance_class: str
    subnet_group: str
    security_groups: tuple[str, ...]
    parameter_group: str
    kms_key_id: str
    tags: tuple[tuple[str, str], ...]


def source(aws: Aws, identifier: str) -> Source | None:
    """The instance, or None when RDS has no instance of that name."""
    try:
        found = aws.client("rds").describe_db_instances(DBInstanceIdentifier=identifier)
    except AWS_ERRORS as exc:
        # DBInstanceNotFoundFault's code (botocore's RDS model)
        if getattr(exc, "response", {}).get("Error", {}).get("Code") == "DBInstanceNotFound":
            return None
        raise translate(exc, "reading the DB instance", identifier) from None
    item = found["DBInstances"][0]
    latest = item.get("LatestRestorableTime")
    created = item.get("InstanceCreateTime")
    retention = int(item.get("BackupRetentionPeriod") or 0)
    earliest = max(t for t in (created, latest and latest - timedelta(days=retention)) if t)
    return Source(
        identifier=identifier,
        status=item.get("DBInstanceStatus", ""),
        earliest=earliest.astimezone(UTC) if earliest else datetime.now(UTC),
        latest=latest.astimezone(UTC) if latest else datetime.min.replace(tzinfo=UTC),
        instance_class=item.get("DBInstanceClass", ""),
        subnet_group=(item.get("DBSubnetGroup") or {}).get("DBSubnetGroupName", ""),
        security_groups=tuple(
            group["VpcSecurityGroupId"] for group in item.get("VpcSecurityGroups") or []
        ),
        parameter_group=next(
            (g["DBParameterGroupName"] for g in item.get("DBParameterGroups") or []), ""
        ),
        kms_key_id=item.get("KmsKeyId", ""),
        tags=tuple((tag["Key"], tag["Value"]) for tag in item.get("TagList") or []),
    )


def parse_time(text: str) -> datetime:
    """--point-in-time: ISO 8601; without a zone it is UTC."""
    try:
        when = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise BadInput(
            f"--point-in-time {text!r} is not an ISO 8601 time; write it like "
            "2026-12-05T01:30:00Z (UTC) or 2026-12-05T02:30:00+01:00."
        ) from None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def check_window(live: Source, when: datetime | None) -> datetime:
    """The time to restore to (default: the latest restorable); BadInput outside the window."""
    if live.latest.year == 1:
        raise OperationFailed(
            f"{live.identifier} reports no latest restorable time (automated backups off, or "
            "its first backup not taken yet): nothing to restore to a point in time from."
        )
    if when is None:
        return live.latest
    if not live.earliest <= when <= live.latest:
        raise BadInput(
            f"--point-in-time {when:%Y-%m-%dT%H:%M:%SZ} is outside {live.identifier}'s "
            f"restorable window, {live.earliest:%Y-%m-%dT%H:%M:%SZ} to "
            f"{live.latest:%Y-%m-%dT%H:%M:%SZ} (UTC); pick a time inside it, or leave the flag "
            "out for the latest."
        )
    return when


def target_name(live: Source, when: datetime) -> str:
    """`gif-prod-pitr-202612050130`: the source's name, the time restored to (minutes)."""
    suffix = f"-pitr-{when:%Y%m%d%H%M}"
    return live.identifier[: ID_LIMIT - len(suffix)].rstrip("-") + suffix


def restore(aws: Aws, live: Source, target: str, when: datetime, latest: bool) -> dict:
    """Start the restore into `target` in the source's subnet group, security groups and
    parameter group, with its tags (plus where it came from); returns the new DBInstance."""
    tags = [{"Key": key, "Value": value} for key, value in live.tags if key != "Name"]
    tags += [
        {"Key": "Name", "Value": target},
        {"Key": "restored-from", "Value": f"{live.identifier}@{when:%Y-%m-%dT%H:%M:%SZ}"},
    ]
    when_args = {"UseLatestRestorableTime": True} if latest else {"RestoreTime": when}
    try:
        return aws.client("rds").restore_db_instance_to_point_in_time(
            SourceDBInstanceIdentifier=live.identifier,
            TargetDBInstanceIdentifier=target,
            **when_args,
            DBInstanceClass=live.instance_class,
            DBSubnetGroupName=live.subnet_group,
            VpcSecurityGroupIds=list(live.security_groups),
            DBParameterGroupName=live.parameter_group,
            PubliclyAccessible=False,
            MultiAZ=False,
            EnableIAMDatabaseAuthentication=True,
            CopyTagsToSnapshot=True,
            DeletionProtection=False,
            Tags=tags,
        )["DBInstance"]
    except AWS_ERRORS as exc:
        raise translate(exc, "restoring to a point in time into", target) from None
