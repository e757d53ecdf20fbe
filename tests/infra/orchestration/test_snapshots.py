"""infra/orchestration/snapshots.py: the candidates (order, pages, kinds, table) and what RDS
requires of one, with botocore's Stubber (responses checked against the RDS and KMS models)."""

from __future__ import annotations

import io
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from rich.console import Console

from infra.orchestration import snapshots
from infra.settings import params
from tests.support.stubbed_aws import StubbedAws

KEY = "arn:aws:kms:eu-west-1:123456789012:key/0123abcd-4567-89ef-0123-456789abcdef"


def _item(name: str, day: int, kind: str = "manual", version: str = "17.6", size: int = 20):
    return {
        "DBSnapshotIdentifier": name,
        "DBInstanceIdentifier": "gif-dev",
        "SnapshotCreateTime": datetime(2026, 12, day, 2, 10, tzinfo=UTC),
        "Engine": "postgres",
        "EngineVersion": version,
        "AllocatedStorage": size,
        "Status": "available",
        "SnapshotType": kind,
        "Encrypted": True,
        "KmsKeyId": KEY,
        "MasterUsername": "gifadmin",
        "DBSnapshotArn": f"arn:aws:rds:eu-west-1:123456789012:snapshot:{name}",
    }


def test_snapshots_are_listed_over_every_page_newest_first_with_their_kind():
    with StubbedAws("rds") as aws:
        rds = aws.stubs["rds"]
        rds.add_response(
            "describe_db_snapshots",
            {
                "DBSnapshots": [
                    _item("gif-before-upgrade", 2),
                    _item("rds:gif-dev-x", 4, "automated"),
                ],
                "Marker": "page-2",
            },
            {"DBInstanceIdentifier": "gif-dev", "MaxRecords": 100},
        )
        rds.add_response(
            "describe_db_snapshots",
            {"DBSnapshots": [_item("gif-dev-database-database-1abcdefgh2ijk", 3)]},
            {"DBInstanceIdentifier": "gif-dev", "MaxRecords": 100, "Marker": "page-2"},
        )
        found = snapshots.list_for(aws, params.load("dev"))

    assert [(s.identifier, s.kind) for s in found] == [
        ("rds:gif-dev-x", snapshots.AUTOMATED),
        ("gif-dev-database-database-1abcdefgh2ijk", snapshots.FINAL),
        ("gif-before-upgrade", snapshots.MANUAL),
    ]
    console = Console(file=io.StringIO(), width=200)
    snapshots.print_table(console, "snapshots of gif-dev, newest first", found)
    lines = console.file.getvalue().splitlines()
    rows = [line for line in lines if line.startswith("│")]
    assert [row.split("│")[1].strip() for row in rows] == [s.identifier for s in found]
    assert "│ 2026-12-03 02:10 │ 20 GiB │ postgres 17.6 │ available │ 0123abcd-" in rows[1]


def _snapshot(**changes) -> snapshots.Snapshot:
    base = snapshots.Snapshot(
        identifier="gif-dev-database-database-1abcdefgh2ijk",
        kind=snapshots.FINAL,
        created=datetime(2026, 12, 3, tzinfo=UTC),
        size_gib=20,
        engine_version="17.6",
        kms_key_id="",
        master_username="gifadmin",
        status="available",
        arn="",
    )
    return replace(base, **changes)


def _problems(snapshot: snapshots.Snapshot, **database) -> list[str]:
    real = params.load("dev")
    settings = real.model_copy(update={"database": real.database.model_copy(update=database)})
    return snapshots.problems(StubbedAws(), settings, snapshot)


def test_a_snapshot_the_params_can_take_has_no_problem():
    assert _problems(_snapshot()) == []
    assert _problems(_snapshot(engine_version="17.4")) == []  # the restore upgrades the minor


def test_a_snapshot_of_a_newer_major_is_refused_with_the_fix():
    (problem,) = _problems(_snapshot(engine_version="18.1"))
    assert problem == (
        "the snapshot is PostgreSQL 18.1, newer than params/dev.yaml's database.engine_version "
        "17.6: RDS can't restore to an older major version. Set database.engine_version to a "
        "18.x version at or above 18.1, then restore."
    )


def test_an_older_major_or_a_newer_minor_is_refused_with_the_fix():
    (older,) = _problems(_snapshot(engine_version="16.9"))
    assert "Set database.engine_version to a 16.x version, restore, then upgrade" in older
    (newer,) = _problems(_snapshot(engine_version="17.7"))
    assert "set database.engine_version: 17.7 (or newer)" in newer


def test_storage_user_status_and_automated_snapshots_are_refused_with_the_fix():
    found = _problems(
        _snapshot(
            size_gib=50,
            master_username="postgres",
            status="creating",
            kind=snapshots.AUTOMATED,
            identifier="rds:gif-dev-2026-12-05-02-10",
        )
    )
    assert len(found) == 4
    assert "Set it to 50" in found[0]
    assert "aws rds copy-db-snapshot --source-db-snapshot-identifier rds:gif-dev" in found[1]
    assert "'creating', not 'available'" in found[2]
    assert "set database.master_username: postgres" in found[3]


@pytest.mark.parametrize(
    ("metadata", "expected"),
    [
        ({"KeyState": "Enabled", "Description": "gif-dev: encrypts the database storage"}, []),
        (
            {
                "KeyState": "PendingDeletion",
                "DeletionDate": datetime(2027, 1, 4, tzinfo=UTC),
                "Description": "gif-dev: encrypts the database storage",
            },
            [
                "the snapshot's KMS key 0123abcd-4567-89ef-0123-456789abcdef is scheduled for "
                "deletion on 2027-01-04: without it the snapshot can't be read. Cancel the "
                "deletion and enable the key: `aws kms cancel-key-deletion --key-id "
                "0123abcd-4567-89ef-0123-456789abcdef` then `aws kms enable-key --key-id "
                "0123abcd-4567-89ef-0123-456789abcdef`, then restore."
            ],
        ),
        (
            {"KeyState": "Disabled", "Description": "gif-dev: encrypts the database storage"},
            [
                "the snapshot's KMS key 0123abcd-4567-89ef-0123-456789abcdef is Disabled: "
                "enable it (`aws kms enable-key --key-id 0123abcd-4567-89ef-0123-456789abcdef`), "
                "then restore."
            ],
        ),
    ],
)
def test_the_snapshot_key_must_be_enabled(metadata, expected):
    with StubbedAws("kms") as aws:
        aws.stubs["kms"].add_response(
            "describe_key",
            {"KeyMetadata": {"KeyId": "0123abcd-4567-89ef-0123-456789abcdef", **metadata}},
            {"KeyId": KEY},
        )
        found = snapshots.problems(aws, params.load("dev"), _snapshot(kms_key_id=KEY))
    assert found == expected


@pytest.mark.parametrize(
    ("metadata", "what"),
    [
        ({"Description": "gif-prod: encrypts the database storage"}, "gif-prod: encrypts"),
        (
            {"Description": "Default key that protects my RDS database", "KeyManager": "AWS"},
            "Default key",
        ),
    ],
)
def test_a_key_that_is_not_the_environments_is_said_not_refused(metadata, what):
    notes: list[str] = []
    with StubbedAws("kms") as aws:
        aws.stubs["kms"].add_response(
            "describe_key",
            {"KeyMetadata": {"KeyId": "k-1", "KeyState": "Enabled", **metadata}},
            {"KeyId": KEY},
        )
        found = snapshots.problems(aws, params.load("dev"), _snapshot(kms_key_id=KEY), notes)
    assert found == []
    (note,) = notes
    assert note.startswith("the snapshot's KMS key k-1 is not env dev's database key (")
    assert what in note and "the restored storage stays encrypted with it" in note
