"""infra/orchestration/pitr.py: the time asked for, the restorable window, the new name, and
what DescribeDBInstances says of the live instance (Stubber, checked against RDS's model)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from infra.core.errors import BadInput, OperationFailed
from infra.orchestration import pitr
from tests.support.stubbed_aws import StubbedAws

LATEST = datetime(2026, 12, 5, 1, 30, tzinfo=UTC)


def _live(**changes) -> pitr.Source:
    values = {
        "identifier": "gif-prod",
        "status": "available",
        "earliest": LATEST - timedelta(days=30),
        "latest": LATEST,
        "instance_class": "db.m7g.large",
        "subnet_group": "gif-prod-database-databasesubnetgroup-1a2b",
        "security_groups": ("sg-0123",),
        "parameter_group": "gif-prod-database-databaseparametergroup-1a2b",
        "kms_key_id": "arn:aws:kms:eu-west-1:123456789012:key/1",
        "tags": (("environment", "prod"),),
    }
    return pitr.Source(**(values | changes))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-12-05T01:00:00Z", datetime(2026, 12, 5, 1, 0, tzinfo=UTC)),
        ("2026-12-05T02:00:00+01:00", datetime(2026, 12, 5, 1, 0, tzinfo=UTC)),
        ("2026-12-05T01:00", datetime(2026, 12, 5, 1, 0, tzinfo=UTC)),  # no zone: UTC
    ],
)
def test_a_time_is_iso_8601_and_utc_without_a_zone(text, expected):
    assert pitr.parse_time(text) == expected


def test_a_time_that_is_not_iso_8601_is_one_line_of_bad_input():
    with pytest.raises(BadInput) as caught:
        pitr.parse_time("yesterday")
    assert caught.value.message == (
        "--point-in-time 'yesterday' is not an ISO 8601 time; write it like "
        "2026-12-05T01:30:00Z (UTC) or 2026-12-05T02:30:00+01:00."
    )


def test_the_window_is_from_the_earliest_to_the_latest_restorable_time():
    live = _live()
    assert pitr.check_window(live, None) == LATEST
    assert pitr.check_window(live, LATEST) == LATEST
    assert pitr.check_window(live, live.earliest) == live.earliest
    for outside in (LATEST + timedelta(seconds=1), live.earliest - timedelta(seconds=1)):
        with pytest.raises(BadInput, match="outside gif-prod's restorable window, 2026-11-05"):
            pitr.check_window(live, outside)


def test_no_latest_restorable_time_means_nothing_to_restore_from():
    with pytest.raises(OperationFailed, match="no latest restorable time"):
        pitr.check_window(_live(latest=datetime.min.replace(tzinfo=UTC)), None)


def test_the_new_name_fits_rds_rules():
    assert pitr.target_name(_live(), LATEST) == "gif-prod-pitr-202612050130"
    long = pitr.target_name(_live(identifier="g" + "-a" * 40), LATEST)
    assert len(long) <= 63 and "--" not in long and long.endswith("-pitr-202612050130")


def test_the_window_reaches_back_the_retention_never_before_the_instance_was_created():
    created = LATEST - timedelta(days=3)
    item = {
        "DBInstanceIdentifier": "gif-prod",
        "DBInstanceStatus": "available",
        "LatestRestorableTime": LATEST,
        "InstanceCreateTime": created,
        "BackupRetentionPeriod": 30,
        "DBSubnetGroup": {"DBSubnetGroupName": "gif-prod-sng"},
        "VpcSecurityGroups": [{"VpcSecurityGroupId": "sg-0123", "Status": "active"}],
        "DBParameterGroups": [{"DBParameterGroupName": "gif-prod-pg"}],
        "TagList": [{"Key": "environment", "Value": "prod"}],
    }
    with StubbedAws("rds") as aws:
        for retention in (30, 1):
            aws.stubs["rds"].add_response(
                "describe_db_instances",
                {"DBInstances": [{**item, "BackupRetentionPeriod": retention}]},
                {"DBInstanceIdentifier": "gif-prod"},
            )
        young = pitr.source(aws, "gif-prod")
        old = pitr.source(aws, "gif-prod")
    assert young.earliest == created
    assert old.earliest == LATEST - timedelta(days=1)
    assert (young.subnet_group, young.security_groups, young.parameter_group) == (
        "gif-prod-sng",
        ("sg-0123",),
        "gif-prod-pg",
    )


def test_an_instance_rds_does_not_have_is_none():
    with StubbedAws("rds") as aws:
        aws.stubs["rds"].add_client_error(
            "describe_db_instances", "DBInstanceNotFound", expected_params=None
        )
        assert pitr.source(aws, "gif-prod") is None


@pytest.mark.parametrize(
    ("latest", "when_args"),
    [(True, {"UseLatestRestorableTime": True}), (False, {"RestoreTime": LATEST})],
)
def test_the_restore_copies_the_placement_and_is_never_public(latest, when_args):
    live = _live(tags=(("environment", "prod"), ("Name", "gif-prod")))
    expected = {
        "SourceDBInstanceIdentifier": "gif-prod",
        "TargetDBInstanceIdentifier": "gif-prod-pitr-202612050130",
        **when_args,
        "DBInstanceClass": "db.m7g.large",
        "DBSubnetGroupName": "gif-prod-database-databasesubnetgroup-1a2b",
        "VpcSecurityGroupIds": ["sg-0123"],
        "DBParameterGroupName": "gif-prod-database-databaseparametergroup-1a2b",
        "PubliclyAccessible": False,
        "MultiAZ": False,
        "EnableIAMDatabaseAuthentication": True,
        "CopyTagsToSnapshot": True,
        "DeletionProtection": False,
        "Tags": [
            {"Key": "environment", "Value": "prod"},
            {"Key": "Name", "Value": "gif-prod-pitr-202612050130"},
            {"Key": "restored-from", "Value": "gif-prod@2026-12-05T01:30:00Z"},
        ],
    }
    answer = {"DBInstance": {"DBInstanceIdentifier": "gif-prod-pitr-202612050130"}}
    with StubbedAws("rds") as aws:
        aws.stubs["rds"].add_response("restore_db_instance_to_point_in_time", answer, expected)
        created = pitr.restore(aws, live, "gif-prod-pitr-202612050130", LATEST, latest=latest)
    assert created == answer["DBInstance"]


def test_an_instance_without_backups_yet_has_no_latest_restorable_time():
    with StubbedAws("rds") as aws:
        aws.stubs["rds"].add_response(
            "describe_db_instances",
            {
                "DBInstances": [
                    {
                        "DBInstanceIdentifier": "gif-dev",
                        "InstanceCreateTime": LATEST,
                        "BackupRetentionPeriod": 7,
                    }
                ]
            },
            {"DBInstanceIdentifier": "gif-dev"},
        )
        live = pitr.source(aws, "gif-dev")
    assert live.latest.year == 1 and live.tags == ()
    with pytest.raises(OperationFailed, match="gif-dev reports no latest restorable time"):
        pitr.check_window(live, None)


def test_a_name_at_rds_limit_is_cut_to_63():
    name = pitr.target_name(_live(identifier="g" * 63), LATEST)
    assert len(name) == 63 and name == "g" * 45 + "-pitr-202612050130"
