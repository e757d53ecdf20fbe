"""gif-ci (account-wide): GitHub's OIDC identity provider and the role the deploy workflow
assumes. Trust: only this repository's default branch and its `production` environment.
Permissions: what `invoke deploy` does, statement by statement, each scoped to this project's
names (stacks, roles, keys, log groups, cluster, repository) in this account and region.

CloudFormation creates the environments' resources with the caller's credentials, so the role
also holds the provisioning permissions of the env stacks. It can't touch the shared stacks
(gif-ci, gif-registry): it could otherwise widen its own trust or permissions.

IAM roles are the way out of any such scoping (create a role with an admin policy, assume it),
so this stack also holds the permissions boundary (`gif-workload-boundary`, boundary.py), and
the deploy role may create or change a role's permissions only when that role has this
boundary; it may never remove a boundary, nor edit the boundary or its own role and policies.
This stack must exist before the env stacks (`invoke bootstrap` deploys it first).
"""

from __future__ import annotations

import re

from awacs.aws import (
    Action,
    Allow,
    Condition,
    Deny,
    PolicyDocument,
    Principal,
    Statement,
    StringEquals,
)
from awacs.sts import AssumeRoleWithWebIdentity
from troposphere import Equals, GetAtt, If, Ref, Sub, Template
from troposphere.iam import ManagedPolicy, OIDCProvider, Role

from infra.core import naming
from infra.core.naming import Outputs
from infra.settings.params import Settings, environments
from infra.stacks import boundary
from infra.stacks.common import (
    StackTemplate,
    arn,
    global_arn,
    permissions_boundary,
    skip_checks,
)

GITHUB = "token.actions.githubusercontent.com"
GITHUB_GROUP = "GitHub"
NEEDS_PROVIDER = "NeedsGitHubOidcProvider"

# The AWS managed policies the env stacks attach; the only ones the deploy role may attach.
ATTACHABLE_POLICIES = (
    "AmazonEKSClusterPolicy",
    "AmazonEKSWorkerNodePolicy",
    "AmazonEKS_CNI_Policy",
    "AmazonEC2ContainerRegistryPullOnly",
    "service-role/AmazonRDSEnhancedMonitoringRole",
)


def build(settings: Settings) -> Template:
    stack = StackTemplate(settings, naming.CI, "GitHub OIDC provider and the deploy role.")
    _add_parameters(stack)
    _add_github_provider(stack)
    _add_workload_boundary(stack)
    role = _add_deploy_role(stack)
    _add_pipeline_policy(stack, role)
    _add_network_policy(stack, role)
    _add_platform_policy(stack, role)
    _add_roles_policy(stack, role)
    stack.output(
        Outputs.DEPLOY_ROLE_ARN,
        GetAtt(role, "Arn"),
        "Role for aws-actions/configure-aws-credentials (role-to-assume) in the deploy workflow.",
    )
    return stack.finish()


def _add_parameters(stack: StackTemplate) -> None:
    ci = stack.settings.ci
    stack.parameter(
        "GitHubRepository",
        GITHUB_GROUP,
        "Repository (owner/name)",
        Type="String",
        Default=ci.github_repository,
        AllowedPattern=r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$",
        Description="The only repository whose workflows may assume the deploy role.",
    )
    stack.parameter(
        "DefaultBranch",
        GITHUB_GROUP,
        "Default branch",
        Type="String",
        Default=ci.default_branch,
        AllowedPattern=r"^[A-Za-z0-9._/-]+$",
        Description="Workflow runs on this branch may deploy.",
    )
    stack.parameter(
        "DeployEnvironment",
        GITHUB_GROUP,
        "GitHub environment",
        Type="String",
        Default=ci.environment,
        AllowedPattern=r"^[A-Za-z0-9._-]+$",
        Description="Jobs in this GitHub environment (with its protection rules) may deploy.",
    )


def _add_github_provider(stack: StackTemplate) -> None:
    """An account has at most one provider per URL: reuse an existing one when given."""
    stack.parameter(
        "ExistingGitHubOidcProviderArn",
        GITHUB_GROUP,
        "Existing GitHub OIDC provider ARN",
        Type="String",
        Default=stack.settings.ci.existing_oidc_provider_arn,
        AllowedPattern=rf"^(arn:aws[a-z-]*:iam::\d{{12}}:oidc-provider/{re.escape(GITHUB)})?$",
        Description="Leave empty to create the provider; give its ARN if the account has one.",
    )
    stack.template.add_condition(NEEDS_PROVIDER, Equals(Ref("ExistingGitHubOidcProviderArn"), ""))
    stack.add(
        OIDCProvider(
            "GitHubOidcProvider",
            Condition=NEEDS_PROVIDER,
            Url=f"https://{GITHUB}",
            ClientIdList=["sts.amazonaws.com"],
            Tags=stack.tags(),
        )
    )


def _add_workload_boundary(stack: StackTemplate) -> None:
    """The permissions boundary of every env stack role; its name is fixed (naming.py) because
    the env stacks and the deploy role's conditions spell out its ARN."""
    policy = stack.add(
        ManagedPolicy(
            "WorkloadBoundary",
            ManagedPolicyName=naming.boundary_policy_name(stack.settings.project),
            Description="gifstack: the most any role of the environment stacks may ever do",
            PolicyDocument=boundary.document(stack.settings),
            # The env stacks' roles name it; they must not lose it with this stack.
            DeletionPolicy="Retain",
            UpdateReplacePolicy="Retain",
        )
    )
    skip_checks(
        policy,
        {
            "CKV_AWS_111": "A permissions boundary grants nothing, it caps the roles' own "
            "policies; its EKS statements copy AWS managed policies, which grant on *.",
        },
    )


def _add_deploy_role(stack: StackTemplate) -> Role:
    trust = PolicyDocument(
        Version="2012-10-17",
        Statement=[
            Statement(
                Effect=Allow,
                Principal=Principal(
                    "Federated",
                    If(
                        NEEDS_PROVIDER,
                        Ref("GitHubOidcProvider"),
                        Ref("ExistingGitHubOidcProviderArn"),
                    ),
                ),
                Action=[AssumeRoleWithWebIdentity],
                Condition=Condition(
                    StringEquals(
                        {
                            f"{GITHUB}:aud": "sts.amazonaws.com",
                            # Either value; nothing else (no other branch, PR or environment).
                            f"{GITHUB}:sub": [
                                Sub("repo:${GitHubRepository}:ref:refs/heads/${DefaultBranch}"),
                                Sub("repo:${GitHubRepository}:environment:${DeployEnvironment}"),
                            ],
                        }
                    )
                ),
            )
        ],
    )
    return stack.add(
        Role(
            "DeployRole",
            RoleName=naming.role_name(stack.settings.project, None, "ci-deploy"),
            Description="GitHub Actions deploys gifstack (default branch / production only).",
            AssumeRolePolicyDocument=trust,
            MaxSessionDuration=7200,  # a first deploy (EKS + RDS) takes over an hour
            Tags=stack.tags(),
        )
    )


def _actions(prefix: str, names: str) -> list[Action]:
    return [Action(prefix, name) for name in names.split()]


def _env_stacks(stack: StackTemplate) -> list[Sub]:
    """The env stacks (gif-dev-*, gif-prod-*...), never the shared gif-ci/gif-registry."""
    project = stack.settings.project
    return [
        arn("cloudformation", f"stack/{project}-{env}-*/*")
        for env in environments()
        if env != "local"
    ]


def _policy(stack: StackTemplate, logical_id: str, purpose: str, role: Role, statements) -> None:
    policy = ManagedPolicy(
        logical_id,
        ManagedPolicyName=f"{stack.settings.project}-ci-deploy-{purpose}",
        Description=f"gifstack deploy role: {purpose}",
        Roles=[Ref(role)],
        PolicyDocument=PolicyDocument(Version="2012-10-17", Statement=statements),
    )
    stack.add(policy)
    return policy


def _add_pipeline_policy(stack: StackTemplate, role: Role) -> None:
    project = stack.settings.project
    repository = stack.settings.app.image_repository
    _policy(
        stack,
        "PipelinePolicy",
        "pipeline",
        role,
        [
            # Change sets on the environment stacks: create, review, execute, watch.
            # DeleteStack only cleans up the empty stack a failed first change set leaves;
            # prod stacks have termination protection, the database deletion protection.
            Statement(
                Sid="DeployEnvironmentStacks",
                Effect=Allow,
                Action=_actions(
                    "cloudformation",
                    "CreateChangeSet DescribeChangeSet ExecuteChangeSet DeleteChangeSet "
                    "ListChangeSets DescribeStacks DescribeStackEvents DescribeStackResource "
                    "DescribeStackResources ListStackResources GetTemplate GetTemplateSummary "
                    "GetStackPolicy SetStackPolicy UpdateTerminationProtection "
                    "ContinueUpdateRollback DeleteStack TagResource",
                ),
                Resource=_env_stacks(stack),
            ),
            # The Kubernetes step needs the registry's RepositoryUri output; read only.
            Statement(
                Sid="ReadSharedStackOutputs",
                Effect=Allow,
                Action=_actions("cloudformation", "DescribeStacks"),
                Resource=[arn("cloudformation", f"stack/{project}-{naming.REGISTRY}/*")],
            ),
            # docker login to ECR; this API has no resource-level permissions.
            Statement(
                Sid="LogInToEcr",
                Effect=Allow,
                Action=_actions("ecr", "GetAuthorizationToken"),
                Resource=["*"],
            ),
            # Push the image (and check a tag exists before deploying) to this repository only.
            Statement(
                Sid="PushServiceImage",
                Effect=Allow,
                Action=_actions(
                    "ecr",
                    "BatchCheckLayerAvailability InitiateLayerUpload UploadLayerPart "
                    "CompleteLayerUpload PutImage BatchGetImage DescribeImages "
                    "DescribeRepositories",
                ),
                Resource=[arn("ecr", f"repository/{repository}")],
            ),
            # kubeconfig for the Kubernetes step (the API access itself is the access entry).
            Statement(
                Sid="DescribeClusters",
                Effect=Allow,
                Action=_actions("eks", "DescribeCluster"),
                Resource=[arn("eks", f"cluster/{project}-*")],
            ),
        ],
    )


def _add_network_policy(stack: StackTemplate, role: Role) -> None:
    project = stack.settings.project
    _policy(
        stack,
        "NetworkPolicy",
        "network",
        role,
        [
            # Network stack and the node launch template. EC2 create calls can't be scoped by
            # name, so: this account and region only.
            Statement(
                Sid="ManageNetwork",
                Effect=Allow,
                Action=_actions(
                    "ec2",
                    "CreateVpc DeleteVpc ModifyVpcAttribute CreateSubnet DeleteSubnet "
                    "ModifySubnetAttribute CreateInternetGateway DeleteInternetGateway "
                    "AttachInternetGateway DetachInternetGateway AllocateAddress ReleaseAddress "
                    "CreateNatGateway DeleteNatGateway CreateRouteTable DeleteRouteTable "
                    "CreateRoute DeleteRoute ReplaceRoute AssociateRouteTable "
                    "DisassociateRouteTable CreateSecurityGroup DeleteSecurityGroup "
                    "AuthorizeSecurityGroupIngress AuthorizeSecurityGroupEgress "
                    "RevokeSecurityGroupIngress RevokeSecurityGroupEgress "
                    "UpdateSecurityGroupRuleDescriptionsIngress "
                    "UpdateSecurityGroupRuleDescriptionsEgress CreateFlowLogs DeleteFlowLogs "
                    "CreateLaunchTemplate CreateLaunchTemplateVersion ModifyLaunchTemplate "
                    "DeleteLaunchTemplate CreateTags DeleteTags",
                ),
                Resource=[arn("ec2", "*")],
            ),
            # Describe calls have no resource-level permissions; read only.
            Statement(
                Sid="DescribeNetwork",
                Effect=Allow,
                Action=_actions(
                    "ec2",
                    "DescribeVpcs DescribeSubnets DescribeInternetGateways DescribeAddresses "
                    "DescribeNatGateways DescribeRouteTables DescribeSecurityGroups "
                    "DescribeFlowLogs DescribeLaunchTemplates "
                    "DescribeLaunchTemplateVersions DescribeAvailabilityZones "
                    "DescribeAccountAttributes DescribeTags",
                ),
                Resource=["*"],
            ),
            # The encrypted log groups (flow logs, EKS control plane, RDS exports).
            Statement(
                Sid="ManageLogGroups",
                Effect=Allow,
                Action=_actions(
                    "logs",
                    "CreateLogGroup DeleteLogGroup PutRetentionPolicy DeleteRetentionPolicy "
                    "AssociateKmsKey DisassociateKmsKey TagResource UntagResource "
                    "ListTagsForResource",
                ),
                Resource=[
                    arn("logs", f"log-group:/{project}/*"),
                    arn("logs", f"log-group:/aws/eks/{project}-*"),
                    arn("logs", f"log-group:/aws/rds/instance/{project}-*"),
                ],
            ),
            Statement(
                Sid="DescribeLogGroups",
                Effect=Allow,
                Action=_actions("logs", "DescribeLogGroups"),
                Resource=[arn("logs", "log-group:*")],
            ),
            # Customer keys: created only with this project's tag, then managed by that tag.
            Statement(
                Sid="CreateProjectKeys",
                Effect=Allow,
                Action=_actions("kms", "CreateKey"),
                Resource=["*"],
                Condition=Condition(StringEquals(f"aws:RequestTag/{naming.TAG_PROJECT}", project)),
            ),
            Statement(
                Sid="ManageProjectKeys",
                Effect=Allow,
                Action=_actions(
                    "kms",
                    "DescribeKey EnableKeyRotation GetKeyRotationStatus GetKeyPolicy "
                    "PutKeyPolicy TagResource UntagResource ListResourceTags "
                    "UpdateKeyDescription ScheduleKeyDeletion CreateGrant Encrypt Decrypt "
                    "GenerateDataKey",
                ),
                Resource=[arn("kms", "key/*")],
                Condition=Condition(StringEquals(f"aws:ResourceTag/{naming.TAG_PROJECT}", project)),
            ),
            Statement(
                Sid="ManageProjectKeyAliases",
                Effect=Allow,
                Action=_actions("kms", "CreateAlias DeleteAlias UpdateAlias"),
                Resource=[arn("kms", f"alias/{project}-*"), arn("kms", "key/*")],
            ),
        ],
    )


def _add_platform_policy(stack: StackTemplate, role: Role) -> None:
    project = stack.settings.project
    _policy(
        stack,
        "PlatformPolicy",
        "platform",
        role,
        [
            # The database stack.
            Statement(
                Sid="ManageDatabase",
                Effect=Allow,
                Action=_actions(
                    "rds",
                    "CreateDBInstance ModifyDBInstance DeleteDBInstance DescribeDBInstances "
                    "CreateDBSubnetGroup ModifyDBSubnetGroup DeleteDBSubnetGroup "
                    "DescribeDBSubnetGroups CreateDBParameterGroup ModifyDBParameterGroup "
                    "DeleteDBParameterGroup DescribeDBParameterGroups DescribeDBParameters "
                    "CreateDBSnapshot DescribeDBSnapshots AddTagsToResource "
                    "RemoveTagsFromResource ListTagsForResource",
                ),
                Resource=[arn("rds", "*")],
            ),
            # RDS creates the managed master secret with the caller's permissions.
            Statement(
                Sid="CreateManagedMasterSecret",
                Effect=Allow,
                Action=_actions("secretsmanager", "CreateSecret TagResource RotateSecret"),
                Resource=[arn("secretsmanager", "secret:rds!*")],
            ),
            # The cluster and workload stacks.
            Statement(
                Sid="ManageCluster",
                Effect=Allow,
                Action=_actions(
                    "eks",
                    "CreateCluster DeleteCluster UpdateClusterConfig UpdateClusterVersion "
                    "DescribeUpdate CreateNodegroup DeleteNodegroup DescribeNodegroup "
                    "UpdateNodegroupConfig UpdateNodegroupVersion CreateAddon DeleteAddon "
                    "DescribeAddon UpdateAddon CreateAccessEntry DeleteAccessEntry "
                    "DescribeAccessEntry UpdateAccessEntry AssociateAccessPolicy "
                    "DisassociateAccessPolicy ListAssociatedAccessPolicies "
                    "CreatePodIdentityAssociation DeletePodIdentityAssociation "
                    "DescribePodIdentityAssociation UpdatePodIdentityAssociation "
                    "TagResource UntagResource",
                ),
                Resource=[
                    arn("eks", f"{kind}/{project}-*")
                    for kind in (
                        "cluster",
                        "nodegroup",
                        "addon",
                        "access-entry",
                        "podidentityassociation",
                    )
                ],
            ),
            Statement(
                Sid="DescribeAddonVersions",
                Effect=Allow,
                Action=_actions("eks", "DescribeAddonVersions"),
                Resource=["*"],
            ),
            # The cluster's OIDC provider.
            Statement(
                Sid="ManageClusterOidcProvider",
                Effect=Allow,
                Action=_actions(
                    "iam",
                    "CreateOpenIDConnectProvider DeleteOpenIDConnectProvider "
                    "GetOpenIDConnectProvider TagOpenIDConnectProvider "
                    "UntagOpenIDConnectProvider UpdateOpenIDConnectProviderThumbprint",
                ),
                Resource=[
                    global_arn("iam", "oidc-provider/oidc.eks.${AWS::Region}.amazonaws.com/id/*")
                ],
            ),
            # First EKS/RDS use in an account creates their service-linked roles.
            Statement(
                Sid="CreateServiceLinkedRoles",
                Effect=Allow,
                Action=_actions("iam", "CreateServiceLinkedRole"),
                Resource=[global_arn("iam", "role/aws-service-role/*")],
                Condition=Condition(
                    StringEquals(
                        "iam:AWSServiceName",
                        [
                            "eks.amazonaws.com",
                            "eks-nodegroup.amazonaws.com",
                            "rds.amazonaws.com",
                            "autoscaling.amazonaws.com",
                        ],
                    )
                ),
            ),
        ],
    )


# Role actions that can give a role permissions; IAM checks iam:PermissionsBoundary on each.
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
    "ListRoleTags",
    "GetRolePolicy",
    "ListRolePolicies",
    "ListAttachedRolePolicies",
    "UpdateAssumeRolePolicy",
)
# Every write to a role: denied outright on the deploy role itself.
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


def _add_roles_policy(stack: StackTemplate, role: Role) -> None:
    """The env stacks' roles (gif-<env>-*, never gif-ci-*), created and changed only under the
    permissions boundary."""
    project = stack.settings.project
    roles = _env_roles(stack)
    within = permissions_boundary(project)
    _policy(
        stack,
        "RolesPolicy",
        "roles",
        role,
        [
            Statement(
                Sid="ChangeRolePermissionsOnlyUnderTheBoundary",
                Effect=Allow,
                Action=_actions("iam", " ".join(BOUNDED_ROLE_ACTIONS)),
                Resource=roles,
                Condition=Condition(StringEquals("iam:PermissionsBoundary", within)),
            ),
            # Only the AWS managed policies the templates use, and only under the boundary.
            Statement(
                Sid="AttachTemplatePoliciesOnlyUnderTheBoundary",
                Effect=Allow,
                Action=_actions("iam", "AttachRolePolicy"),
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
                Action=_actions("iam", " ".join(UNBOUNDED_ROLE_ACTIONS)),
                Resource=roles,
            ),
            # EKS, RDS monitoring, flow logs and pod identities get the env stacks' roles.
            Statement(
                Sid="PassProjectRoles",
                Effect=Allow,
                Action=_actions("iam", "PassRole"),
                Resource=roles,
            ),
            # Explicit denies: they hold even if a statement above is ever widened by mistake.
            Statement(
                Sid="NeverRemoveABoundary",
                Effect=Deny,
                Action=[Action(*a.split(":")) for a in boundary.BOUNDARY_REMOVAL_ACTIONS],
                Resource=["*"],
            ),
            Statement(
                Sid="NeverEditTheBoundaryOrTheDeployPolicies",
                Effect=Deny,
                Action=[Action(*a.split(":")) for a in boundary.POLICY_EDIT_ACTIONS],
                Resource=[within, global_arn("iam", f"policy/{project}-ci-*")],
            ),
            Statement(
                Sid="NeverChangeTheDeployRole",
                Effect=Deny,
                Action=_actions("iam", " ".join(ROLE_WRITE_ACTIONS)),
                Resource=[global_arn("iam", f"role/{naming.role_name(project, None, 'ci-*')}")],
            ),
        ],
    )


def _env_roles(stack: StackTemplate) -> list[Sub]:
    project = stack.settings.project
    return [
        global_arn("iam", f"role/{naming.role_name(project, env, '*')}")
        for env in environments()
        if env != "local"
    ]
