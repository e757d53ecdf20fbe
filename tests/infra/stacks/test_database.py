"""infra/stacks/database.py: structure of the built template per environment."""

from __future__ import annotations

import pytest

from infra.settings import catalog
from infra.stacks import database
from tests.infra.stacks.helpers import ENVS, body, of_type, props, ref, settings


def built(env: str) -> dict:
    return body(database.build(settings(env)))


def instance(template: dict) -> dict:
    (resource,) = of_type(template, "AWS::RDS::DBInstance").values()
    return resource


@pytest.mark.parametrize("env", ENVS)
def test_database_is_never_public_and_sits_in_the_private_subnets(env):
    template = built(env)
    db = instance(template)["Properties"]
    assert db["PubliclyAccessible"] is False
    assert db["VPCSecurityGroups"] == [ref("DatabaseSecurityGroupId")]
    assert props(template, "DatabaseSubnetGroup")["SubnetIds"] == ref("PrivateSubnetIds")


def test_prod_is_multi_az_with_deletion_protection():
    db = instance(built("prod"))
    assert db["Properties"]["MultiAZ"] is True
    assert db["Properties"]["DeletionProtection"] is True
    assert "Metadata" not in db  # no checkov skip needed in prod


def test_dev_is_single_az_and_says_why_checkov_may_skip_that():
    db = instance(built("dev"))
    assert db["Properties"]["MultiAZ"] is False
    (skip,) = db["Metadata"]["checkov"]["skip"]
    assert skip["id"] == "CKV_AWS_157" and "prod is Multi-AZ" in skip["comment"]


@pytest.mark.parametrize("env", ENVS)
def test_password_is_managed_by_rds_and_encrypted_with_the_customer_key(env):
    template = built(env)
    db = instance(template)["Properties"]
    assert db["ManageMasterUserPassword"] is True
    assert "MasterUserPassword" not in db
    assert db["MasterUserSecret"] == {"KmsKeyId": ref("DatabaseKey")}
    assert db["StorageEncrypted"] is True and db["KmsKeyId"] == ref("DatabaseKey")
    assert db["PerformanceInsightsKMSKeyId"] == ref("DatabaseKey")
    assert props(template, "DatabaseKey")["EnableKeyRotation"] is True


@pytest.mark.parametrize("env", ENVS)
def test_tls_iam_auth_backups_logs_and_snapshots(env):
    template = built(env)
    resource = instance(template)
    db = resource["Properties"]
    parameters = props(template, "DatabaseParameterGroup")
    assert parameters["Parameters"]["rds.force_ssl"] == "1"
    assert parameters["Family"] == "postgres" + settings(env).database.engine_version.split(".")[0]
    assert db["EnableIAMDatabaseAuthentication"] is True
    assert db["BackupRetentionPeriod"] == ref("BackupRetentionDays")
    assert template["Parameters"]["BackupRetentionDays"]["Default"] == (
        settings(env).database.backup_retention_days
    )
    assert resource["DeletionPolicy"] == "Snapshot"
    assert resource["UpdateReplacePolicy"] == "Snapshot"
    assert db["EnablePerformanceInsights"] is True
    assert db["EnableCloudwatchLogsExports"] == ["postgresql", "upgrade"]
    assert db["MaxAllocatedStorage"] >= int(db["AllocatedStorage"])
    assert db["CopyTagsToSnapshot"] is True


@pytest.mark.parametrize("env", ENVS)
def test_engine_is_a_current_postgres_16_or_17(env):
    db = instance(built(env))["Properties"]
    assert db["Engine"] == "postgres"
    assert db["EngineVersion"] in catalog.postgres_versions()
    assert db["EngineVersion"].split(".")[0] in ("16", "17")


def test_outputs_give_the_secret_arn_never_the_secret():
    outputs = built("prod")["Outputs"]
    assert outputs["DatabaseMasterSecretArn"]["Value"] == {
        "Fn::GetAtt": ["Database", "MasterUserSecret.SecretArn"]
    }
    assert outputs["DatabaseResourceId"]["Value"] == {"Fn::GetAtt": ["Database", "DbiResourceId"]}
    assert set(outputs) == {
        "DatabaseEndpoint",
        "DatabasePort",
        "DatabaseName",
        "DatabaseInstanceId",
        "DatabaseResourceId",
        "DatabaseMasterSecretArn",
        "DatabaseKmsKeyArn",
    }


def _with_database(env: str, **values) -> dict:
    base = settings(env)
    changed = base.model_copy(update={"database": base.database.model_copy(update=values)})
    return body(database.build(changed))


def restored(env: str, snapshot: str = "gif-dev-database-database-1abcdefgh2ijk") -> dict:
    return _with_database(env, restore_snapshot=snapshot)


@pytest.mark.parametrize("env", ENVS)
def test_restore_snapshot_sets_dbsnapshotidentifier_and_drops_what_the_snapshot_sets(env):
    db = instance(restored(env))
    properties = db["Properties"]
    assert properties["DBSnapshotIdentifier"] == "gif-dev-database-database-1abcdefgh2ijk"
    # AWS::RDS::DBInstance schema: not set together with DBSnapshotIdentifier
    for inherited in ("DBName", "MasterUsername", "KmsKeyId", "StorageEncrypted"):
        assert inherited not in properties, inherited
    # still managed by RDS (the create handler modifies after the restore), still snapshotted
    assert properties["ManageMasterUserPassword"] is True
    assert db["DeletionPolicy"] == db["UpdateReplacePolicy"] == "Snapshot"
    assert "DBSnapshotIdentifier" not in instance(built(env))["Properties"]


def test_a_restoring_template_passes_cfn_lint():
    from cfnlint.api import ManualArgs, lint

    from infra.stacks import synth

    real = settings("prod")
    changed = real.model_copy(
        update={
            "database": real.database.model_copy(
                update={"restore_snapshot": "gif-prod-database-database-1abcdefgh2ijk"}
            )
        }
    )
    text = synth.build_text("database", changed)
    found = lint(text, config=ManualArgs(regions=["eu-west-1"]))
    assert [f"{m.rule.id} {m.message}" for m in found] == []


@pytest.mark.parametrize("env", ENVS)
def test_logical_replication_is_off_and_no_upgrade_group_by_default(env):
    template = built(env)
    assert "rds.logical_replication" not in props(template, "DatabaseParameterGroup")["Parameters"]
    assert "DatabaseUpgradeParameterGroup" not in template["Resources"]


def test_blue_green_ready_turns_logical_replication_on():
    template = _with_database("prod", blue_green_ready=True)
    assert props(template, "DatabaseParameterGroup")["Parameters"] == {
        "rds.force_ssl": "1",
        "log_connections": "1",
        "rds.logical_replication": "1",
    }
    assert "DatabaseUpgradeParameterGroup" not in template["Resources"]


def test_an_upgrade_target_adds_a_named_group_of_its_family_with_the_same_parameters():
    template = _with_database(
        "prod", engine_version="16.9", blue_green_ready=True, upgrade_target_version="17.6"
    )
    group = props(template, "DatabaseUpgradeParameterGroup")
    assert group["DBParameterGroupName"] == "gif-prod-postgres17"
    assert group["DBParameterGroupName"] == database.upgrade_parameter_group_name(
        "gif-prod", "17.6"
    )
    assert group["Family"] == "postgres17"
    assert group["Parameters"] == props(template, "DatabaseParameterGroup")["Parameters"]
    assert props(template, "DatabaseParameterGroup")["Family"] == "postgres16"
    # the instance keeps its own group: RDS gives the upgrade group to the green only
    assert instance(template)["Properties"]["DBParameterGroupName"] == ref("DatabaseParameterGroup")


def _create_only(resource_type: str) -> list[str]:
    from cfnlint.schema import PROVIDER_SCHEMA_MANAGER

    schema = PROVIDER_SCHEMA_MANAGER.get_resource_schema("eu-west-1", resource_type).schema
    return schema.get("createOnlyProperties", [])


@pytest.mark.parametrize("env", ENVS)
def test_a_major_version_change_updates_the_instance_and_replaces_only_its_group(env):
    """What `invoke upgrade` deploys for an in-place major: the same instance with a new
    EngineVersion (an update: not create-only in AWS::RDS::DBInstance's schema), allowed to
    change major, and a new parameter group of the new family (Family is create-only: the
    group is replaced, which CloudFormation can do only for a group it names itself)."""
    old, new = (
        _with_database(env, engine_version="16.9"),
        _with_database(env, engine_version="17.6"),
    )
    assert "/properties/EngineVersion" not in _create_only("AWS::RDS::DBInstance")
    assert "/properties/DBParameterGroupName" not in _create_only("AWS::RDS::DBInstance")
    assert "/properties/Family" in _create_only("AWS::RDS::DBParameterGroup")
    before, after = instance(old)["Properties"], instance(new)["Properties"]
    assert after["AllowMajorVersionUpgrade"] is True and after["EngineVersion"] == "17.6"
    assert {k: v for k, v in before.items() if k != "EngineVersion"} == {
        k: v for k, v in after.items() if k != "EngineVersion"
    }
    assert after["DBParameterGroupName"] == ref("DatabaseParameterGroup")
    assert props(old, "DatabaseParameterGroup")["Family"] == "postgres16"
    assert props(new, "DatabaseParameterGroup")["Family"] == "postgres17"
    assert "DBParameterGroupName" not in props(new, "DatabaseParameterGroup")


def test_a_major_version_change_passes_cfn_lint():
    from cfnlint.api import ManualArgs, lint

    from infra.stacks import synth

    real = settings("prod")
    for version in ("16.9", "17.6"):
        changed = real.model_copy(
            update={"database": real.database.model_copy(update={"engine_version": version})}
        )
        text = synth.build_text("database", changed)
        assert "AllowMajorVersionUpgrade: true" in text
        found = lint(text, config=ManualArgs(regions=["eu-west-1"]))
        assert [f"{m.rule.id} {m.message}" for m in found] == [], version
