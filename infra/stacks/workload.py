"""gif-<env>-workload: the pods' AWS identities through EKS Pod Identity. The app may only
`rds-db:connect` as its own database user on this instance; the migration Job may only read
this database's RDS-managed master secret (and decrypt it, through Secrets Manager only)."""

from __future__ import annotations

from awacs.aws import Allow, Condition, PolicyDocument, Principal, Statement, StringEquals
from awacs.kms import Decrypt
from awacs.rds_db import connect
from awacs.secretsmanager import DescribeSecret, GetSecretValue
from awacs.sts import AssumeRole, TagSession
from troposphere import AccountId, GetAtt, Ref, Sub, Template
from troposphere.eks import PodIdentityAssociation
from troposphere.iam import Policy

from infra.core import naming
from infra.core.naming import Outputs
from infra.settings.params import Settings
from infra.stacks import boundary
from infra.stacks.common import StackTemplate, add_role, arn

CLUSTER_GROUP = "Cluster (from the cluster stack)"
DATABASE_GROUP = "Database (from the database stack)"


def build(settings: Settings) -> Template:
    stack = StackTemplate(settings, naming.WORKLOAD, "pod IAM roles (EKS Pod Identity).")
    _add_parameters(stack)
    _add_app_role(stack)
    _add_migrate_role(stack)
    _add_pod_identities(stack)
    _add_outputs(stack)
    return stack.finish()


def _add_parameters(stack: StackTemplate) -> None:
    stack.wired(
        Outputs.CLUSTER_NAME,
        CLUSTER_GROUP,
        "Cluster name",
        AllowedPattern=r"^[0-9A-Za-z][A-Za-z0-9\-_]{0,99}$",
        Description="EKS cluster whose service accounts get the roles.",
    )
    stack.wired(
        Outputs.DATABASE_RESOURCE_ID,
        DATABASE_GROUP,
        "Database resource ID",
        AllowedPattern=r"^db-[A-Z0-9]+$",
        ConstraintDescription="an RDS DbiResourceId such as db-ABCDEFGHIJKLMNOPQRSTUVWXY",
        Description="DbiResourceId of the database (scopes rds-db:connect to this instance).",
    )
    stack.wired(
        Outputs.DATABASE_MASTER_SECRET_ARN,
        DATABASE_GROUP,
        "Master secret ARN",
        AllowedPattern=r"^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:.+$",
        Description="ARN of the RDS-managed master secret (the migration Job reads it).",
    )
    stack.wired(
        Outputs.DATABASE_KMS_KEY_ARN,
        DATABASE_GROUP,
        "Database key ARN",
        AllowedPattern=r"^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key/[0-9a-f-]+$",
        Description="KMS key that encrypts the master secret.",
    )


def _pod_trust(service_account: str) -> PolicyDocument:
    """EKS Pod Identity assumes the role for one service account of this account's cluster:
    the session tags it sets (cluster, namespace, service account) must match."""
    return PolicyDocument(
        Version="2012-10-17",
        Statement=[
            Statement(
                Effect=Allow,
                Principal=Principal("Service", "pods.eks.amazonaws.com"),
                Action=[AssumeRole, TagSession],
                Condition=Condition(
                    StringEquals(
                        {
                            "aws:SourceAccount": AccountId,
                            "aws:RequestTag/eks-cluster-name": Ref(Outputs.CLUSTER_NAME),
                            "aws:RequestTag/kubernetes-namespace": naming.K8S_NAMESPACE,
                            "aws:RequestTag/kubernetes-service-account": service_account,
                        }
                    )
                ),
            )
        ],
    )


def _role(
    stack: StackTemplate,
    logical_id: str,
    purpose: str,
    service_account: str,
    description: str,
    policy: Policy,
):
    return add_role(
        stack,
        logical_id,
        RoleName=naming.role_name(stack.settings.project, stack.settings.env, purpose),
        Description=description,
        AssumeRolePolicyDocument=_pod_trust(service_account),
        Policies=[policy],
    )


def _add_app_role(stack: StackTemplate) -> None:
    user = stack.settings.database.app_username
    _role(
        stack,
        "AppRole",
        "app",
        naming.APP_SERVICE_ACCOUNT,
        f"The gif app: IAM database login as {user}, nothing else.",
        Policy(
            PolicyName="ConnectAsAppUser",
            PolicyDocument=PolicyDocument(
                Version="2012-10-17",
                Statement=[
                    Statement(
                        Effect=Allow,
                        Action=[connect],
                        Resource=[
                            arn("rds-db", f"dbuser:${{{Outputs.DATABASE_RESOURCE_ID}}}/{user}")
                        ],
                    )
                ],
            ),
        ),
    )


def _add_migrate_role(stack: StackTemplate) -> None:
    _role(
        stack,
        "MigrateRole",
        boundary.MIGRATE_ROLE,  # the boundary lets only this role read the master secret
        naming.MIGRATE_SERVICE_ACCOUNT,
        "The migration Job: reads the database's master secret, nothing else.",
        Policy(
            PolicyName="ReadMasterSecret",
            PolicyDocument=PolicyDocument(
                Version="2012-10-17",
                Statement=[
                    Statement(
                        Sid="ReadMasterSecret",
                        Effect=Allow,
                        Action=[GetSecretValue, DescribeSecret],
                        Resource=[Ref(Outputs.DATABASE_MASTER_SECRET_ARN)],
                    ),
                    Statement(
                        Sid="DecryptThroughSecretsManager",
                        Effect=Allow,
                        Action=[Decrypt],
                        Resource=[Ref(Outputs.DATABASE_KMS_KEY_ARN)],
                        Condition=Condition(
                            StringEquals(
                                "kms:ViaService", Sub("secretsmanager.${AWS::Region}.amazonaws.com")
                            )
                        ),
                    ),
                ],
            ),
        ),
    )


def _add_pod_identities(stack: StackTemplate) -> None:
    for logical_id, role, service_account in (
        ("AppPodIdentity", "AppRole", naming.APP_SERVICE_ACCOUNT),
        ("MigratePodIdentity", "MigrateRole", naming.MIGRATE_SERVICE_ACCOUNT),
    ):
        stack.add(
            PodIdentityAssociation(
                logical_id,
                ClusterName=Ref(Outputs.CLUSTER_NAME),
                Namespace=naming.K8S_NAMESPACE,
                ServiceAccount=service_account,
                RoleArn=GetAtt(role, "Arn"),
                Tags=stack.tags(),
            )
        )


def _add_outputs(stack: StackTemplate) -> None:
    stack.output(
        Outputs.APP_ROLE_ARN,
        GetAtt("AppRole", "Arn"),
        f"Role of service account {naming.K8S_NAMESPACE}/{naming.APP_SERVICE_ACCOUNT}.",
    )
    stack.output(
        Outputs.MIGRATE_ROLE_ARN,
        GetAtt("MigrateRole", "Arn"),
        f"Role of service account {naming.K8S_NAMESPACE}/{naming.MIGRATE_SERVICE_ACCOUNT}.",
    )
