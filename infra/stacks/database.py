"""gif-<env>-database: RDS for PostgreSQL in the private subnets, never public. The master
password is created and rotated by RDS in Secrets Manager (no password anywhere in the
template), storage and secret are encrypted with a customer key, TLS is forced, IAM database
authentication is on, and the instance is snapshotted on delete and on replacement."""

from __future__ import annotations

from troposphere import GetAtt, Ref, Template
from troposphere.kms import Key
from troposphere.rds import DBInstance, DBParameterGroup, DBSubnetGroup, MasterUserSecret

from infra.core import naming
from infra.core.naming import Outputs
from infra.settings.params import Settings
from infra.stacks.common import (
    StackTemplate,
    add_kms_key,
    add_log_group,
    add_role,
    arn,
    logs_may_use_key,
    managed_policy,
    service_trust,
    skip_checks,
)

NETWORK_GROUP = "Network (from the network stack)"
DATABASE_GROUP = "Database"
LOG_TYPES = ("postgresql", "upgrade")


def build(settings: Settings) -> Template:
    stack = StackTemplate(settings, naming.DATABASE, "RDS for PostgreSQL, private, encrypted.")
    _add_parameters(stack)
    key = _add_key(stack)
    _add_log_groups(stack, key)
    _add_subnet_group(stack)
    _add_parameter_group(stack)
    _add_upgrade_parameter_group(stack)
    _add_monitoring_role(stack)
    database = _add_instance(stack, key)
    _add_outputs(stack, database, key)
    return stack.finish()


def _instance_id(stack: StackTemplate) -> str:
    return naming.db_instance_id(stack.settings.project, stack.settings.env)


def _add_parameters(stack: StackTemplate) -> None:
    db = stack.settings.database
    stack.wired(
        Outputs.PRIVATE_SUBNET_IDS,
        NETWORK_GROUP,
        "Private subnets",
        Type="List<AWS::EC2::Subnet::Id>",
        Description="Private subnets for the DB subnet group (one per AZ).",
    )
    stack.wired(
        Outputs.DATABASE_SECURITY_GROUP_ID,
        NETWORK_GROUP,
        "Database security group",
        Type="AWS::EC2::SecurityGroup::Id",
        Description="Security group that admits only the app group on the database port.",
    )
    stack.parameter(
        "DatabaseInstanceClass",
        DATABASE_GROUP,
        "Instance class",
        Type="String",
        Default=db.instance_class,
        AllowedPattern=r"^db\.[a-z0-9-]+\.[a-z0-9]+$",
        ConstraintDescription="an RDS instance class such as db.t4g.micro",
        Description="RDS instance class (from params; checked against RDS's list at synth).",
    )
    stack.parameter(
        "BackupRetentionDays",
        DATABASE_GROUP,
        "Backup retention (days)",
        Type="Number",
        Default=db.backup_retention_days,
        MinValue=1,
        MaxValue=35,
        Description="Days of automated backups (point-in-time recovery window).",
    )


def _add_key(stack: StackTemplate) -> Key:
    return add_kms_key(
        stack,
        "DatabaseKey",
        "encrypts the database storage, its master secret, Performance Insights and logs",
        [logs_may_use_key(arn("logs", f"log-group:/aws/rds/instance/{_instance_id(stack)}/*"))],
    )


def _add_log_groups(stack: StackTemplate, key: Key) -> None:
    """The groups RDS exports to, created first so they get retention and encryption."""
    for log_type in LOG_TYPES:
        add_log_group(
            stack,
            f"{log_type.capitalize()}LogGroup",
            f"/aws/rds/instance/{_instance_id(stack)}/{log_type}",
            stack.settings.database.log_retention_days,
            key,
        )


def _add_subnet_group(stack: StackTemplate) -> None:
    stack.add(
        DBSubnetGroup(
            "DatabaseSubnetGroup",
            DBSubnetGroupDescription=f"{stack.prefix}: private subnets only",
            SubnetIds=Ref(Outputs.PRIVATE_SUBNET_IDS),
            Tags=stack.tags(f"{stack.prefix}-database"),
        )
    )


def _add_parameter_group(stack: StackTemplate) -> None:
    """No DBParameterGroupName: Family is create-only (the schema), so a new major replaces
    this group, and CloudFormation can replace only a resource it names itself. The instance
    moves to the new group in the same update as its EngineVersion (RDS User Guide, "How to
    perform a major version upgrade": a parameter group of the new version's family)."""
    major = stack.settings.database.engine_version.split(".")[0]
    stack.add(
        DBParameterGroup(
            "DatabaseParameterGroup",
            Description=f"{stack.prefix}: TLS required for every connection",
            Family=f"postgres{major}",
            Parameters=_parameters(stack),
            Tags=stack.tags(f"{stack.prefix}-database"),
        )
    )


def _parameters(stack: StackTemplate) -> dict[str, str]:
    parameters = {"rds.force_ssl": "1", "log_connections": "1"}
    if stack.settings.database.blue_green_ready:
        # A blue/green major upgrade replicates logically: RDS refuses to create one unless
        # the source's custom parameter group sets rds.logical_replication = 1 (AWS Knowledge
        # Center, rds-postgresql-blue-green-deployment-error; RDS User Guide, creating a
        # blue/green deployment). Static: it applies at the instance's next reboot.
        parameters["rds.logical_replication"] = "1"
    return parameters


def upgrade_parameter_group_name(prefix: str, target_version: str) -> str:
    """The green instance's group during a blue/green major upgrade (`gif-prod-postgres18`):
    named, so `invoke upgrade` passes it as TargetDBParameterGroupName without a lookup."""
    return f"{prefix}-postgres{target_version.split('.')[0]}"


def _add_upgrade_parameter_group(stack: StackTemplate) -> None:
    """The same parameters for the target major's family, while an upgrade is under way
    (database.upgrade_target_version); its Family must match the green's new major."""
    target = stack.settings.database.upgrade_target_version
    if target is None:
        return
    stack.add(
        DBParameterGroup(
            "DatabaseUpgradeParameterGroup",
            DBParameterGroupName=upgrade_parameter_group_name(stack.prefix, target),
            Description=f"{stack.prefix}: the green instance's group for PostgreSQL {target}",
            Family=f"postgres{target.split('.')[0]}",
            Parameters=_parameters(stack),
            Tags=stack.tags(f"{stack.prefix}-database"),
        )
    )


def _add_monitoring_role(stack: StackTemplate) -> None:
    """Enhanced Monitoring (OS metrics every 60 s) publishes through this role."""
    add_role(
        stack,
        "MonitoringRole",
        RoleName=naming.role_name(stack.settings.project, stack.settings.env, "rds-monitoring"),
        Description="RDS Enhanced Monitoring publishes OS metrics to CloudWatch Logs.",
        AssumeRolePolicyDocument=service_trust("monitoring.rds.amazonaws.com"),
        ManagedPolicyArns=[managed_policy("service-role/AmazonRDSEnhancedMonitoringRole")],
    )


def _add_instance(stack: StackTemplate, key: Key) -> DBInstance:
    db = stack.settings.database
    prod = stack.settings.is_prod
    instance = DBInstance(
        "Database",
        DBInstanceIdentifier=_instance_id(stack),
        Engine="postgres",
        EngineVersion=db.engine_version,
        # Lets the deploy that names a newer major make RDS upgrade the instance in place
        # (`invoke upgrade --postgres`, README Day 2). AWS::RDS::DBInstance's schema
        # (cfn-lint): EngineVersion is not create-only (an update, never a replacement);
        # changing AllowMajorVersionUpgrade "doesn't result in an outage", and it must be
        # true when EngineVersion names another major. Always true here rather than a params
        # switch: `invoke deploy` refuses a major change made by hand in params
        # (infra/orchestration/upgrade_guard.py), so only `invoke upgrade`, which shows the
        # downtime and asks first, runs one.
        AllowMajorVersionUpgrade=True,
        AutoMinorVersionUpgrade=True,
        DBInstanceClass=Ref("DatabaseInstanceClass"),
        DBName=db.name,
        Port=str(db.port),
        MasterUsername=db.master_username,
        # RDS creates the password, keeps it in Secrets Manager and rotates it (7 days).
        ManageMasterUserPassword=True,
        MasterUserSecret=MasterUserSecret(KmsKeyId=Ref(key)),
        EnableIAMDatabaseAuthentication=True,  # the app logs in with 15-minute IAM tokens
        CACertificateIdentifier="rds-ca-rsa2048-g1",
        StorageType="gp3",
        AllocatedStorage=str(db.allocated_storage_gib),
        MaxAllocatedStorage=db.max_allocated_storage_gib,
        StorageEncrypted=True,
        KmsKeyId=Ref(key),
        DBSubnetGroupName=Ref("DatabaseSubnetGroup"),
        VPCSecurityGroups=[Ref(Outputs.DATABASE_SECURITY_GROUP_ID)],
        DBParameterGroupName=Ref("DatabaseParameterGroup"),
        PubliclyAccessible=False,
        MultiAZ=db.multi_az,
        DeletionProtection=db.deletion_protection,
        BackupRetentionPeriod=Ref("BackupRetentionDays"),
        PreferredBackupWindow="02:00-03:00",
        PreferredMaintenanceWindow="sun:03:30-sun:04:30",
        CopyTagsToSnapshot=True,
        DeleteAutomatedBackups=not prod,
        EnablePerformanceInsights=True,
        PerformanceInsightsKMSKeyId=Ref(key),
        PerformanceInsightsRetentionPeriod=7,
        MonitoringInterval=60,
        MonitoringRoleArn=GetAtt("MonitoringRole", "Arn"),
        EnableCloudwatchLogsExports=list(LOG_TYPES),
        DependsOn=[f"{t.capitalize()}LogGroup" for t in LOG_TYPES],
        Tags=stack.tags(_instance_id(stack)),
        # A final snapshot when the stack deletes or replaces the instance: data survives.
        DeletionPolicy="Snapshot",
        UpdateReplacePolicy="Snapshot",
    )
    _restore_from_snapshot(instance, db.restore_snapshot)
    if not db.multi_az:
        skip_checks(
            instance,
            {
                "CKV_AWS_157": f"{stack.settings.env} runs a single-AZ database to save cost "
                "(a final snapshot is still taken); prod is Multi-AZ"
            },
        )
    return stack.add(instance)


# Properties an instance restored from a snapshot inherits from it, and CloudFormation's
# AWS::RDS::DBInstance reference says not to set with DBSnapshotIdentifier (its schema's
# descriptions of DBSnapshotIdentifier, MasterUsername, KmsKeyId, StorageEncrypted, DBName).
FROM_SNAPSHOT = ("DBName", "MasterUsername", "KmsKeyId", "StorageEncrypted")


def _restore_from_snapshot(instance: DBInstance, snapshot: str) -> None:
    """`database.restore_snapshot`: the instance is restored from that DB snapshot.

    CloudFormation restores only when the instance is created; the same identifier in later
    updates changes nothing, while a different one (or none) replaces the instance with a
    new one (empty, without it) and deletes the restored one. So the params keep it for
    the life of the instance (the deploy guard, infra/orchestration/restore_guard.py).
    ManageMasterUserPassword stays: the create handler applies it after the restore (a
    ModifyDBInstance), so RDS makes a new managed master secret for the restored instance.
    """
    if not snapshot:
        return
    instance.DBSnapshotIdentifier = snapshot
    for name in FROM_SNAPSHOT:
        instance.properties.pop(name, None)


def _add_outputs(stack: StackTemplate, database: DBInstance, key: Key) -> None:
    stack.output(
        Outputs.DATABASE_ENDPOINT, GetAtt(database, "Endpoint.Address"), "Database host name."
    )
    stack.output(Outputs.DATABASE_PORT, GetAtt(database, "Endpoint.Port"), "Database port.")
    stack.output(Outputs.DATABASE_NAME, stack.settings.database.name, "Database name.")
    stack.output(Outputs.DATABASE_INSTANCE_ID, Ref(database), "RDS DB instance identifier.")
    stack.output(
        Outputs.DATABASE_RESOURCE_ID,
        GetAtt(database, "DbiResourceId"),
        "DbiResourceId, the instance's part of rds-db:connect ARNs (IAM authentication).",
    )
    stack.output(
        Outputs.DATABASE_MASTER_SECRET_ARN,
        GetAtt(database, "MasterUserSecret.SecretArn"),
        "ARN of the RDS-managed master secret in Secrets Manager (the ARN, not the secret).",
    )
    stack.output(
        Outputs.DATABASE_KMS_KEY_ARN,
        GetAtt(key, "Arn"),
        "KMS key encrypting the storage and the master secret.",
    )
