"""infra/local/stack_gaps_rds.py: each moto gap it closes, proven against the emulator process
(moto's server with the workarounds applied, over real HTTP), with small templates."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from tests.infra.local.test_stack_gaps import _execute
from tests.support import emulator as support

KEY_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
            "Action": "kms:*",
            "Resource": "*",
        }
    ],
}


def _database(snapshot: str = "") -> str:
    properties = {
        "DBInstanceIdentifier": "gif-gap",
        "Engine": "postgres",
        "EngineVersion": "17.6",
        "DBInstanceClass": "db.t4g.micro",
        "AllocatedStorage": "20",
        "Tags": [{"Key": "project", "Value": "gif"}],
        "CopyTagsToSnapshot": True,
    }
    if snapshot:
        properties["DBSnapshotIdentifier"] = snapshot
    else:
        properties |= {"MasterUsername": "gifadmin", "KmsKeyId": {"Ref": "Key"}}
        properties["StorageEncrypted"] = True
    return json.dumps(
        {
            "Resources": {
                "Key": {
                    "Type": "AWS::KMS::Key",
                    "DeletionPolicy": "Retain",
                    "Properties": {"KeyPolicy": KEY_POLICY},
                },
                "Database": {
                    "Type": "AWS::RDS::DBInstance",
                    "DeletionPolicy": "Snapshot",
                    "Properties": properties,
                },
            }
        }
    )


@pytest.fixture(scope="module")
def emulator():
    yield from support.serve()


@pytest.fixture
def cfn(emulator):
    support.reset(emulator)
    return support.client(emulator, "cloudformation")


def test_deleting_a_stack_leaves_the_final_snapshot_named_after_it(emulator, cfn):
    _execute(cfn, "gif-gap-database", "CREATE", _database())
    cfn.delete_stack(StackName="gif-gap-database")

    rds = support.client(emulator, "rds")
    (final,) = rds.describe_db_snapshots(DBInstanceIdentifier="gif-gap")["DBSnapshots"]
    assert final["DBSnapshotIdentifier"].startswith("gif-gap-database-database-")
    assert len(final["DBSnapshotIdentifier"]) == len("gif-gap-database-database-") + 13
    assert final["SnapshotType"] == "manual"
    assert {"Key": "project", "Value": "gif"} in final["TagList"]  # CopyTagsToSnapshot
    assert rds.describe_db_instances()["DBInstances"] == []


def test_a_snapshot_identifier_restores_the_instance_from_that_snapshot(emulator, cfn):
    _execute(cfn, "gif-gap-database", "CREATE", _database())
    rds = support.client(emulator, "rds")
    key = rds.describe_db_instances()["DBInstances"][0]["KmsKeyId"]
    cfn.delete_stack(StackName="gif-gap-database")
    (final,) = rds.describe_db_snapshots(DBInstanceIdentifier="gif-gap")["DBSnapshots"]

    _execute(cfn, "gif-gap-database", "CREATE", _database(final["DBSnapshotIdentifier"]))

    (restored,) = rds.describe_db_instances()["DBInstances"]
    assert restored["KmsKeyId"] == key  # the snapshot's; the template names none
    assert restored["MasterUsername"] == "gifadmin"  # the snapshot's; the template names none


def test_a_missing_snapshot_fails_the_creation(emulator, cfn):
    # CloudFormation rolls the stack back; moto refuses the creation at once: no instance.
    with pytest.raises(ClientError, match="DBSnapshot gif-gap-nothing not found"):
        cfn.create_stack(StackName="gif-gap-database", TemplateBody=_database("gif-gap-nothing"))
    assert support.client(emulator, "rds").describe_db_instances()["DBInstances"] == []


def test_a_template_key_can_be_described(emulator, cfn):
    _execute(cfn, "gif-gap-database", "CREATE", _database())
    kms = support.client(emulator, "kms")
    (key,) = kms.list_keys()["Keys"]
    assert kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["KeyState"] == "Enabled"
