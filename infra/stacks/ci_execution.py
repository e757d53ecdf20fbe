"""The CloudFormation execution role's provisioning permissions: network and data (the
cluster's and the runner's are in infra/stacks/ci_execution_compute.py). Every call the
resource handlers of the env stacks' types make (tests/infra/stacks/
test_handler_permissions.py), each write on the project's resources only."""

from __future__ import annotations

from awacs.aws import (
    Action,
    Allow,
    ArnLike,
    Condition,
    Statement,
    StringEquals,
)
from troposphere import Sub
from troposphere.iam import Role

from infra.core import naming
from infra.stacks.ci_permissions import (
    EC2_CHANGES,
    EC2_CREATES,
    EC2_DESCRIBES,
    RDS_CHANGES,
    RDS_CREATES,
    actions,
    ec2,
    policy,
    project_tag,
)
from infra.stacks.common import (
    StackTemplate,
    arn,
)


def add_execution_network_policy(stack: StackTemplate, role: Role) -> None:
    """The network stack and the node launch template: EC2 calls of the handlers of
    AWS::EC2::{VPC,Subnet,InternetGateway,VPCGatewayAttachment,EIP,NatGateway,RouteTable,Route,
    SubnetRouteTableAssociation,SecurityGroup,SecurityGroupIngress,SecurityGroupEgress,FlowLog,
    VPCEndpoint,LaunchTemplate} and AWS::EKS::Nodegroup, each write only on resources tagged
    project=gif."""
    project = stack.settings.project
    created = [ec2(f"{kind}/*") for kind in EC2_CREATES.values()]
    statements = [
        Statement(
            Sid=f"{action}WithProjectTag",
            Effect=Allow,
            Action=[Action("ec2", action)],
            Resource=[ec2(f"{kind}/*")],
            Condition=project_tag("Request", project),
        )
        for action, kind in EC2_CREATES.items()
    ]
    statements += [
        # Tags given in a create call are authorized as ec2:CreateTags with ec2:CreateAction
        # (IAM's catalogue: ec2:CreateTags, condition key ec2:CreateAction).
        Statement(
            Sid="TagOnCreate",
            Effect=Allow,
            Action=actions("ec2", "CreateTags"),
            Resource=created,
            Condition=Condition(
                StringEquals(
                    {
                        "ec2:CreateAction": sorted(EC2_CREATES),
                        f"aws:RequestTag/{naming.TAG_PROJECT}": project,
                    }
                )
            ),
        ),
        Statement(
            Sid="ChangeProjectNetwork",
            Effect=Allow,
            Action=actions("ec2", EC2_CHANGES),
            Resource=created,
            Condition=project_tag("Resource", project),
        ),
    ]
    policy(stack, "ExecutionNetworkPolicy", "cloudformation-network", role, statements)
    # IAM's 6,144-character limit per managed policy: the node launch and reads apart.
    statements = [
        # EKS checks that the caller may launch from the node group's launch template
        # (AWS::EKS::Nodegroup create/update handlers list ec2:RunInstances): only from the
        # project's templates (this statement), and then with whatever the template names,
        # including AWS-owned AMIs (arn:...:ec2:REGION::image/*, no account), next statement.
        Statement(
            Sid="LaunchFromProjectTemplates",
            Effect=Allow,
            Action=actions("ec2", "RunInstances"),
            Resource=[ec2("launch-template/*")],
            Condition=project_tag("Resource", project),
        ),
        Statement(
            Sid="LaunchWhatTheTemplateNames",
            Effect=Allow,
            Action=actions("ec2", "RunInstances"),
            Resource=[
                Sub("arn:${AWS::Partition}:ec2:${AWS::Region}::image/*"),
                *(
                    ec2(f"{kind}/*")
                    for kind in ("instance", "volume", "network-interface", "subnet")
                ),
                ec2("security-group/*"),
            ],
            Condition=Condition(ArnLike("ec2:LaunchTemplate", ec2("launch-template/*"))),
        ),
        # Has a resource type (vpc) in IAM's catalogue, so not "*"; read only.
        Statement(
            Sid="ReadVpcAttributes",
            Effect=Allow,
            Action=actions("ec2", "DescribeVpcAttribute"),
            Resource=[ec2("vpc/*")],
        ),
        # IAM's catalogue lists no resource type for these: "*" is the only valid Resource.
        Statement(
            Sid="DescribeNetwork",
            Effect=Allow,
            Action=[
                *actions("ec2", EC2_DESCRIBES),
                *actions("autoscaling", "DescribeTags"),
            ],
            Resource=["*"],
        ),
    ]
    policy(stack, "ExecutionNodesPolicy", "cloudformation-nodes", role, statements)


def add_execution_data_policy(stack: StackTemplate, role: Role) -> None:
    """The database stack (RDS, its master secret), every stack's KMS keys and log groups."""
    project = stack.settings.project
    rds_ours = [arn("rds", f"{kind}:{project}-*") for kind in ("db", "subgrp", "pg")]
    statements = [
        Statement(
            Sid="CreateDatabaseWithProjectTag",
            Effect=Allow,
            Action=actions("rds", " ".join((*RDS_CREATES, "AddTagsToResource"))),
            Resource=rds_ours,
            Condition=project_tag("Request", project),
        ),
        Statement(
            Sid="ChangeProjectDatabase",
            Effect=Allow,
            Action=actions("rds", RDS_CHANGES),
            Resource=rds_ours,
            Condition=project_tag("Resource", project),
        ),
        # The instance uses the engine's default option group (default:postgres-NN), which AWS
        # owns and nobody tags; CreateDBInstance/ModifyDBInstance name it (resource type og).
        Statement(
            Sid="UseDefaultOptionGroup",
            Effect=Allow,
            Action=actions("rds", "CreateDBInstance ModifyDBInstance"),
            Resource=[arn("rds", "og:default:postgres-*")],
        ),
        # database.restore_snapshot (DBSnapshotIdentifier; `invoke restore`): the create handler
        # calls RestoreDBInstanceFromDBSnapshot, authorized (IAM's catalogue) on the new
        # instance (created with the project's tag), its subnet and parameter groups (the
        # project's), the default option group and the source snapshot: the project's only
        # (gif-...: the final ones CloudFormation names after the stack). The catalogue also
        # lists cluster-snapshot (restoring a Multi-AZ cluster's snapshot): unused, by name.
        Statement(
            Sid="RestoreDatabaseWithProjectTag",
            Effect=Allow,
            Action=actions("rds", "RestoreDBInstanceFromDBSnapshot"),
            Resource=[arn("rds", f"db:{project}-*")],
            Condition=project_tag("Request", project),
        ),
        Statement(
            Sid="RestoreIntoProjectGroups",
            Effect=Allow,
            Action=actions("rds", "RestoreDBInstanceFromDBSnapshot"),
            Resource=[arn("rds", f"{kind}:{project}-*") for kind in ("subgrp", "pg")],
            Condition=project_tag("Resource", project),
        ),
        Statement(
            Sid="RestoreFromProjectSnapshots",
            Effect=Allow,
            Action=actions("rds", "RestoreDBInstanceFromDBSnapshot"),
            Resource=[
                arn("rds", "og:default:postgres-*"),
                *(arn("rds", f"{kind}:{project}-*") for kind in ("snapshot", "cluster-snapshot")),
            ],
        ),
        # DeletionPolicy Snapshot: the delete handler lists rds:CreateDBSnapshot; CloudFormation
        # names the final snapshot after the stack (gif-<env>-database-...). RDS copies the
        # instance's tags onto it (CopyTagsToSnapshot), they are not in the request: by name.
        Statement(
            Sid="FinalSnapshots",
            Effect=Allow,
            Action=actions("rds", "CreateDBSnapshot"),
            Resource=[
                arn("rds", f"snapshot:{project}-*"),
                arn("rds", f"snapshot-tenant-database:{project}-*"),
            ],
        ),
        Statement(
            Sid="ReadDatabases",
            Effect=Allow,
            Action=actions(
                "rds",
                "DescribeDBInstances DescribeDBSubnetGroups DescribeDBParameterGroups "
                "DescribeDBParameters DescribeDBSnapshots DescribeDBInstanceAutomatedBackups "
                "DescribeDBClusters DescribeDBClusterSnapshots ListTagsForResource",
            ),
            Resource=[
                arn("rds", f"{kind}:*")
                for kind in ("db", "subgrp", "pg", "snapshot", "cluster", "cluster-snapshot")
            ],
        ),
        # No resource type in IAM's catalogue: "*". DescribeEngineDefaultParameters: the
        # DBParameterGroup create handler validates Parameters with it.
        Statement(
            Sid="DescribeRdsCatalogue",
            Effect=Allow,
            Action=actions(
                "rds", "DescribeDBEngineVersions DescribeEngineDefaultParameters DescribeEvents"
            ),
            Resource=["*"],
        ),
        # RDS creates the managed master secret (rds!...) with the caller's permissions
        # (DBInstance create handler: secretsmanager:CreateSecret, TagResource;
        # https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/rds-secrets-manager.html,
        # "Required permissions"). Never GetSecretValue: only the migrate role reads it.
        Statement(
            Sid="CreateManagedMasterSecret",
            Effect=Allow,
            Action=actions("secretsmanager", "CreateSecret TagResource RotateSecret"),
            Resource=[arn("secretsmanager", "secret:rds!*")],
        ),
        # Customer keys: created only with the project's tag, then managed by that tag.
        Statement(
            Sid="CreateProjectKeys",
            Effect=Allow,
            Action=actions("kms", "CreateKey"),
            Resource=["*"],
            Condition=project_tag("Request", project),
        ),
        # AWS::KMS::Key handlers, plus what RDS and EKS ask of the caller for a customer key
        # (CreateGrant, DescribeKey in their create handlers) and Secrets Manager's encryption
        # of the master secret (GenerateDataKey, Decrypt).
        Statement(
            Sid="ManageProjectKeys",
            Effect=Allow,
            Action=actions(
                "kms",
                "DescribeKey GetKeyPolicy GetKeyRotationStatus ListResourceTags EnableKey "
                "EnableKeyRotation PutKeyPolicy TagResource UntagResource UpdateKeyDescription "
                "ScheduleKeyDeletion CreateGrant Decrypt GenerateDataKey CreateAlias "
                "DeleteAlias UpdateAlias",
            ),
            Resource=[arn("kms", "key/*")],
            Condition=project_tag("Resource", project),
        ),
        # A key's tags are authorized as kms:TagResource on the new key with aws:RequestTag
        # (the KMS::Key create handler lists it; IAM's catalogue: kms:TagResource supports
        # aws:RequestTag). It can't retag another key into the project: adopting an existing
        # resource would need a change set that imports it, which the deploy role may not create.
        Statement(
            Sid="TagKeysOnCreate",
            Effect=Allow,
            Action=actions("kms", "TagResource"),
            Resource=[arn("kms", "key/*")],
            Condition=project_tag("Request", project),
        ),
        Statement(
            Sid="ManageProjectKeyAliases",
            Effect=Allow,
            Action=actions("kms", "CreateAlias DeleteAlias UpdateAlias"),
            Resource=[arn("kms", f"alias/{project}-*")],
        ),
        Statement(
            Sid="ListKeyAliases",
            Effect=Allow,
            Action=actions("kms", "ListAliases"),
            Resource=["*"],
        ),
        # The encrypted log groups (flow logs, EKS control plane, RDS exports).
        Statement(
            Sid="ManageProjectLogGroups",
            Effect=Allow,
            Action=actions(
                "logs",
                "CreateLogGroup DeleteLogGroup PutRetentionPolicy DeleteRetentionPolicy "
                "AssociateKmsKey DisassociateKmsKey TagResource UntagResource "
                "ListTagsForResource GetDataProtectionPolicy DeleteDataProtectionPolicy",
            ),
            Resource=[
                arn("logs", f"log-group:/{project}/*"),
                arn("logs", f"log-group:/aws/eks/{project}-*"),
                arn("logs", f"log-group:/aws/rds/instance/{project}-*"),
            ],
        ),
        # IAM's catalogue: these three support only Resource "*".
        Statement(
            Sid="DescribeLogGroups",
            Effect=Allow,
            Action=actions(
                "logs", "DescribeLogGroups DescribeResourcePolicies DescribeIndexPolicies"
            ),
            Resource=["*"],
        ),
    ]
    policy(stack, "ExecutionDataPolicy", "cloudformation-data", role, statements)
