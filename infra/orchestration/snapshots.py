"""The database snapshots an environment can be restored from, and what RDS requires of one
before the database stack is created from it (for `invoke restore`,
infra/orchestration/restore.py).

Sources: botocore's RDS model (DescribeDBSnapshots: DBInstanceIdentifier, Marker, MaxRecords
20-100; the DBSnapshot fields used below; SnapshotType automated | manual); the KMS model
(DescribeKey: KeyMetadata.KeyState Enabled | Disabled | PendingDeletion | ...); the
AWS::RDS::DBInstance schema (DBSnapshotIdentifier: the instance inherits the snapshot's
encryption key and master user name); the RDS User Guide: a restore can't downgrade the
engine, AllocatedStorage can't be below the snapshot's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from rich.console import Console
from rich.table import Table

from infra.aws.errors import AWS_ERRORS, translate
from infra.aws.session import Aws
from infra.core import naming
from infra.settings.params import Settings
from infra.stacks import specs

PAGE = 100  # DescribeDBSnapshots' MaxRecords maximum
FINAL, MANUAL, AUTOMATED = "final (left by destroy)", "manual", "automated"


@dataclass(frozen=True)
class Snapshot:
    identifier: str
    kind: str  # FINAL, MANUAL or AUTOMATED
    created: datetime | None
    size_gib: int
    engine_version: str
    kms_key_id: str  # "" when unencrypted
    master_username: str
    status: str
    arn: str

    @property
    def major(self) -> str:
        return self.engine_version.split(".")[0]


def list_for(aws: Aws, settings: Settings) -> list[Snapshot]:
    """The environment's instance's snapshots (automated and manual: DescribeDBSnapshots'
    default without SnapshotType), newest first."""
    instance = naming.db_instance_id(settings.project, settings.env)
    final_prefix = f"{specs.stack_name(settings.project, settings.env, naming.DATABASE)}-".lower()
    rds = aws.client("rds")
    found: list[Snapshot] = []
    marker = None
    try:
        while True:
            page = rds.describe_db_snapshots(
                DBInstanceIdentifier=instance,
                MaxRecords=PAGE,
                **({"Marker": marker} if marker else {}),
            )
            found += [_snapshot(item, final_prefix) for item in page.get("DBSnapshots", [])]
            marker = page.get("Marker")
            if not marker:
                break
    except AWS_ERRORS as exc:
        raise translate(exc, "listing the DB snapshots of", instance) from None
    oldest = datetime.min.replace(tzinfo=UTC)
    return sorted(found, key=lambda s: s.created or oldest, reverse=True)


def _snapshot(item: dict, final_prefix: str) -> Snapshot:
    kind = AUTOMATED if item.get("SnapshotType") == "automated" else MANUAL
    if kind == MANUAL and item["DBSnapshotIdentifier"].lower().startswith(final_prefix):
        kind = FINAL  # CloudFormation names it <stack>-<logical id>-<random>
    return Snapshot(
        identifier=item["DBSnapshotIdentifier"],
        kind=kind,
        created=item.get("SnapshotCreateTime"),
        size_gib=int(item.get("AllocatedStorage") or 0),
        engine_version=item.get("EngineVersion", ""),
        kms_key_id=item.get("KmsKeyId", "") if item.get("Encrypted") else "",
        master_username=item.get("MasterUsername", ""),
        status=item.get("Status", ""),
        arn=item.get("DBSnapshotArn", ""),
    )


def print_table(console: Console, title: str, found: list[Snapshot]) -> None:
    table = Table(title=title, title_justify="left")
    table.add_column("snapshot", no_wrap=True)  # an identifier is copied whole
    for column in ("type", "taken (UTC)", "size", "engine", "status", "KMS key"):
        table.add_column(column, overflow="fold")
    for snapshot in found:
        table.add_row(
            snapshot.identifier,
            snapshot.kind,
            snapshot.created.strftime("%Y-%m-%d %H:%M") if snapshot.created else "?",
            f"{snapshot.size_gib} GiB",
            f"postgres {snapshot.engine_version}",
            snapshot.status,
            snapshot.kms_key_id.rsplit("/", 1)[-1] or "not encrypted",
        )
    console.print(table)


def problems(
    aws: Aws, settings: Settings, snapshot: Snapshot, notes: list[str] | None = None
) -> list[str]:
    """What would make CloudFormation fail to create the instance from this snapshot, each
    with its fix; empty when it can be restored as the params stand. `notes` gets what the
    plan should say without refusing (a key that isn't this environment's)."""
    found = _engine(settings, snapshot) + _storage(settings, snapshot)
    if snapshot.kind == AUTOMATED:
        found.append(
            f"{snapshot.identifier} is an automated snapshot: RDS deletes it when its retention "
            "ends, and the template must keep naming its snapshot for the instance's life. "
            f"Copy it first (`aws rds copy-db-snapshot --source-db-snapshot-identifier "
            f"{snapshot.identifier} --target-db-snapshot-identifier "
            f"{naming.db_instance_id(settings.project, settings.env)}-kept-copy --copy-tags`) "
            "and restore the copy."
        )
    if snapshot.status != "available":
        found.append(f"{snapshot.identifier} is {snapshot.status!r}, not 'available' yet.")
    if snapshot.master_username and snapshot.master_username != settings.database.master_username:
        found.append(
            f"the snapshot's master user is {snapshot.master_username!r}, the params say "
            f"{settings.database.master_username!r} (the instance keeps the snapshot's): set "
            f"database.master_username: {snapshot.master_username} in params/{settings.env}.yaml."
        )
    return found + _key(aws, settings, snapshot, [] if notes is None else notes)


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split(".") if part.isdigit())


def _engine(settings: Settings, snapshot: Snapshot) -> list[str]:
    wanted = settings.database.engine_version
    where = f"params/{settings.env}.yaml"
    if _version(snapshot.major) > _version(wanted.split(".")[0]):
        return [
            f"the snapshot is PostgreSQL {snapshot.engine_version}, newer than {where}'s "
            f"database.engine_version {wanted}: RDS can't restore to an older major version. "
            f"Set database.engine_version to a {snapshot.major}.x version at or above "
            f"{snapshot.engine_version}, then restore."
        ]
    if snapshot.major != wanted.split(".")[0]:
        return [
            f"the snapshot is PostgreSQL {snapshot.engine_version}, {where} says {wanted}: the "
            "template can't upgrade a major version while restoring. Set "
            f"database.engine_version to a {snapshot.major}.x version, restore, then upgrade "
            "(`invoke upgrade`)."
        ]
    if _version(snapshot.engine_version) > _version(wanted):
        return [
            f"the snapshot is PostgreSQL {snapshot.engine_version}, newer than {where}'s "
            f"{wanted}: set database.engine_version: {snapshot.engine_version} (or newer)."
        ]
    return []


def _storage(settings: Settings, snapshot: Snapshot) -> list[str]:
    if snapshot.size_gib <= settings.database.allocated_storage_gib:
        return []
    return [
        f"the snapshot holds {snapshot.size_gib} GiB, params/{settings.env}.yaml's "
        f"database.allocated_storage_gib is {settings.database.allocated_storage_gib}: RDS "
        f"can't restore into less. Set it to {snapshot.size_gib} (and max_allocated_storage_gib "
        "at least that)."
    ]


def _key(aws: Aws, settings: Settings, snapshot: Snapshot, notes: list[str]) -> list[str]:
    """The restored instance keeps the snapshot's key (the database stack's key is retained
    on delete, infra/stacks/common.py): it must be usable. One that isn't the environment's
    database key (its Description starts `gif-<env>:`) is said in the plan: the restored
    storage stays encrypted with it."""
    if not snapshot.kms_key_id:
        return []
    try:
        metadata = aws.client("kms").describe_key(KeyId=snapshot.kms_key_id)["KeyMetadata"]
    except AWS_ERRORS as exc:
        return [translate(exc, "reading the snapshot's KMS key", snapshot.kms_key_id).message]
    state, key = metadata.get("KeyState", ""), metadata.get("KeyId", snapshot.kms_key_id)
    if state == "PendingDeletion":
        when = metadata.get("DeletionDate")
        return [
            f"the snapshot's KMS key {key} is scheduled for deletion"
            + (f" on {when:%Y-%m-%d}" if when else "")
            + ": without it the snapshot can't be read. Cancel the deletion and enable the key: "
            f"`aws kms cancel-key-deletion --key-id {key}` then `aws kms enable-key --key-id "
            f"{key}`, then restore."
        ]
    prefix = f"{settings.project}-{settings.env}: "
    if metadata.get("KeyManager") == "AWS" or not metadata.get("Description", "").startswith(
        prefix
    ):
        notes.append(
            f"the snapshot's KMS key {key} is not env {settings.env}'s database key "
            f"({metadata.get('Description') or metadata.get('KeyManager', '?')}): the restored "
            "storage stays encrypted with it, the new stack's key encrypts the rest"
        )
    if state != "Enabled":
        return [
            f"the snapshot's KMS key {key} is {state}: enable it (`aws kms enable-key --key-id "
            f"{key}`), then restore."
        ]
    return []
