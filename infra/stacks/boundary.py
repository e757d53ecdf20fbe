"""The permissions boundary of every role the environment stacks create: the policy document of
`gif-workload-boundary`, a customer managed policy in the ci stack.

A role's effective permissions are its own policies intersected with its boundary. The CI
deploy role may create and change roles only under this boundary (see ci.py), so whatever
policies it writes into a `gif-<env>-*` role, that role can do no more than this document.

The ceiling is the union of what the env stacks' roles need, and nothing else:
- cluster role (cluster.py): AmazonEKSClusterPolicy, and the secrets key;
- node role (cluster.py): AmazonEKSWorkerNodePolicy, AmazonEKS_CNI_Policy,
  AmazonEC2ContainerRegistryPullOnly;
- RDS Enhanced Monitoring role (database.py): AmazonRDSEnhancedMonitoringRole;
- flow-log role (network.py): write to the project's log groups;
- pod roles (workload.py): rds-db:connect as the app's database user, read an RDS-managed
  master secret (the migrate roles only), decrypt with the project's keys;
- CI runner role (runner.py): its build logs, its network interfaces in the VPC (CodeBuild's
  permission on them), the GitHub connection (the runner roles only).
The AWS managed policies' actions are copied here one by one: an action AWS adds to one of them
later takes effect only once it is added here too (tests/infra/stacks/test_boundary.py
compares this document with moto's copy of those policies).

Deny statements: no role under the boundary may edit the boundary, remove a boundary or swap
one for another, whatever its own policies say.
"""

from __future__ import annotations

from awacs.aws import (
    Action,
    Allow,
    ArnLike,
    Condition,
    Deny,
    PolicyDocument,
    Statement,
    StringEquals,
    StringNotEquals,
)
from troposphere import Sub

from infra.core import naming
from infra.settings import params
from infra.settings.params import Settings
from infra.stacks.common import permissions_boundary

# AmazonEKSClusterPolicy (v10): the control plane manages ENIs, volumes, security groups and
# load balancers for the cluster. AWS grants these on "*", so the boundary must too.
EKS_CLUSTER_ACTIONS = (
    "autoscaling:DescribeAutoScalingGroups",
    "autoscaling:UpdateAutoScalingGroup",
    "ec2:AttachVolume",
    "ec2:AuthorizeSecurityGroupIngress",
    "ec2:CreateRoute",
    "ec2:CreateSecurityGroup",
    "ec2:CreateTags",
    "ec2:CreateVolume",
    "ec2:DeleteNetworkInterface",
    "ec2:DeleteRoute",
    "ec2:DeleteSecurityGroup",
    "ec2:DeleteVolume",
    "ec2:DescribeAccountAttributes",
    "ec2:DescribeAddresses",
    "ec2:DescribeAvailabilityZones",
    "ec2:DescribeDhcpOptions",
    "ec2:DescribeInstanceTopology",
    "ec2:DescribeInstances",
    "ec2:DescribeInternetGateways",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeRouteTables",
    "ec2:DescribeSecurityGroups",
    "ec2:DescribeSubnets",
    "ec2:DescribeVolumes",
    "ec2:DescribeVolumesModifications",
    "ec2:DescribeVpcs",
    "ec2:DetachVolume",
    "ec2:ModifyInstanceAttribute",
    "ec2:ModifyVolume",
    "ec2:RevokeSecurityGroupIngress",
    "elasticloadbalancing:AddTags",
    "elasticloadbalancing:ApplySecurityGroupsToLoadBalancer",
    "elasticloadbalancing:AttachLoadBalancerToSubnets",
    "elasticloadbalancing:ConfigureHealthCheck",
    "elasticloadbalancing:CreateListener",
    "elasticloadbalancing:CreateLoadBalancer",
    "elasticloadbalancing:CreateLoadBalancerListeners",
    "elasticloadbalancing:CreateLoadBalancerPolicy",
    "elasticloadbalancing:CreateTargetGroup",
    "elasticloadbalancing:DeleteListener",
    "elasticloadbalancing:DeleteLoadBalancer",
    "elasticloadbalancing:DeleteLoadBalancerListeners",
    "elasticloadbalancing:DeleteTargetGroup",
    "elasticloadbalancing:DeregisterInstancesFromLoadBalancer",
    "elasticloadbalancing:DeregisterTargets",
    "elasticloadbalancing:DescribeListeners",
    "elasticloadbalancing:DescribeLoadBalancerAttributes",
    "elasticloadbalancing:DescribeLoadBalancerPolicies",
    "elasticloadbalancing:DescribeLoadBalancers",
    "elasticloadbalancing:DescribeTargetGroupAttributes",
    "elasticloadbalancing:DescribeTargetGroups",
    "elasticloadbalancing:DescribeTargetHealth",
    "elasticloadbalancing:DetachLoadBalancerFromSubnets",
    "elasticloadbalancing:ModifyListener",
    "elasticloadbalancing:ModifyLoadBalancerAttributes",
    "elasticloadbalancing:ModifyTargetGroup",
    "elasticloadbalancing:ModifyTargetGroupAttributes",
    "elasticloadbalancing:RegisterInstancesWithLoadBalancer",
    "elasticloadbalancing:RegisterTargets",
    "elasticloadbalancing:SetLoadBalancerPoliciesForBackendServer",
    "elasticloadbalancing:SetLoadBalancerPoliciesOfListener",
    "kms:DescribeKey",
)

# AmazonEKSWorkerNodePolicy (v3), AmazonEKS_CNI_Policy (v6) and
# AmazonEC2ContainerRegistryPullOnly (v1): join the cluster, give pods IPs, pull images (also
# the add-ons' images from AWS's own registries, hence "*"), fetch pod identity credentials.
EKS_NODE_ACTIONS = (
    "ec2:AssignPrivateIpAddresses",
    "ec2:AttachNetworkInterface",
    "ec2:CreateNetworkInterface",
    "ec2:DeleteNetworkInterface",
    "ec2:DescribeInstanceTypes",
    "ec2:DescribeInstances",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeRouteTables",
    "ec2:DescribeSecurityGroups",
    "ec2:DescribeSubnets",
    "ec2:DescribeTags",
    "ec2:DescribeVolumes",
    "ec2:DescribeVolumesModifications",
    "ec2:DescribeVpcs",
    "ec2:DetachNetworkInterface",
    "ec2:ModifyNetworkInterfaceAttribute",
    "ec2:UnassignPrivateIpAddresses",
    "ecr:BatchGetImage",
    "ecr:BatchImportUpstreamImage",
    "ecr:GetAuthorizationToken",
    "ecr:GetDownloadUrlForLayer",
    "eks-auth:AssumeRoleForPodIdentity",
    "eks:DescribeCluster",
)

# The purpose part of the migration Job's role name (workload.py): gif-<env>-migrate.
MIGRATE_ROLE = "migrate"

# Every policy edit there is; denied on the boundary itself.
POLICY_EDIT_ACTIONS = (
    "iam:CreatePolicyVersion",
    "iam:DeletePolicy",
    "iam:DeletePolicyVersion",
    "iam:SetDefaultPolicyVersion",
    "iam:TagPolicy",
    "iam:UntagPolicy",
)
BOUNDARY_REMOVAL_ACTIONS = (
    "iam:DeleteRolePermissionsBoundary",
    "iam:DeleteUserPermissionsBoundary",
)
BOUNDARY_SETTING_ACTIONS = (
    "iam:PutRolePermissionsBoundary",
    "iam:PutUserPermissionsBoundary",
)


def document(settings: Settings) -> PolicyDocument:
    """The boundary's policy document (account-wide: env stacks may be in any region)."""
    project = settings.project
    boundary = permissions_boundary(project)
    return PolicyDocument(
        Version="2012-10-17",
        Statement=[
            Statement(
                Sid="EksControlPlane",
                Effect=Allow,
                Action=_actions(EKS_CLUSTER_ACTIONS),
                Resource=["*"],
            ),
            # AmazonEKSClusterPolicy: the load balancers' service-linked role, and only that.
            Statement(
                Sid="EksLoadBalancerServiceLinkedRole",
                Effect=Allow,
                Action=_actions(["iam:CreateServiceLinkedRole"]),
                Resource=["*"],
                Condition=Condition(
                    StringEquals("iam:AWSServiceName", "elasticloadbalancing.amazonaws.com")
                ),
            ),
            Statement(
                Sid="EksNodes",
                Effect=Allow,
                # Those not already granted on "*" above (the boundary is near IAM's 6,144
                # character limit; the union is unchanged).
                Action=_actions(set(EKS_NODE_ACTIONS) - set(EKS_CLUSTER_ACTIONS)),
                Resource=["*"],
            ),
            # The flow-log role writes the VPC flow logs (/gif/<env>/vpc-flow-logs): streams
            # are their own resource type in IAM's catalogue (log-group:NAME:log-stream:NAME).
            Statement(
                Sid="WriteProjectLogGroups",
                Effect=Allow,
                Action=_actions(
                    ["logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents"]
                ),
                Resource=[
                    _any_region("logs", f"log-group:/{project}/*"),
                    _any_region("logs", f"log-group:/{project}/*:log-stream:*"),
                ],
            ),
            # AmazonRDSEnhancedMonitoringRole: RDS publishes OS metrics to RDSOSMetrics.
            Statement(
                Sid="RdsEnhancedMonitoringLogGroups",
                Effect=Allow,
                # DescribeLogStreams acts on the group (IAM's catalogue: log-group); AWS's
                # policy grants it on the streams' ARN form, which this "RDS*" covers.
                Action=_actions(
                    ["logs:CreateLogGroup", "logs:DescribeLogStreams", "logs:PutRetentionPolicy"]
                ),
                Resource=[_any_region("logs", "log-group:RDS*")],
            ),
            Statement(
                Sid="RdsEnhancedMonitoringLogStreams",
                Effect=Allow,
                Action=_actions(["logs:CreateLogStream", "logs:GetLogEvents", "logs:PutLogEvents"]),
                Resource=[_any_region("logs", "log-group:RDS*:log-stream:*")],
            ),
            # The cluster's secrets key; the migration Job decrypts the master secret. Only
            # keys tagged with this project (every key the stacks create is).
            Statement(
                Sid="UseProjectKeys",
                Effect=Allow,
                Action=_actions(
                    ["kms:CreateGrant", "kms:Decrypt", "kms:DescribeKey", "kms:Encrypt"]
                ),
                Resource=[_any_region("kms", "key/*")],
                Condition=Condition(StringEquals(f"aws:ResourceTag/{naming.TAG_PROJECT}", project)),
            ),
            # The app's IAM database login, as the app user of any environment only.
            Statement(
                Sid="ConnectAsAppUser",
                Effect=Allow,
                Action=_actions(["rds-db:connect"]),
                Resource=[_any_region("rds-db", f"dbuser:*/{user}") for user in _app_users()],
            ),
            # The migration Job reads the RDS-managed master secret (named rds!...), and only
            # the migrate roles may: a boundary is evaluated with the caller's identity, so
            # aws:PrincipalArn (the role's ARN for its sessions) keeps every other role under
            # the boundary (the app's, a node's, any role a template may add) from the master
            # password, whatever its own policies say.
            Statement(
                Sid="OnlyMigrateRolesReadRdsManagedSecrets",
                Effect=Allow,
                Action=_actions(["secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue"]),
                Resource=[_any_region("secretsmanager", "secret:rds!*")],
                Condition=Condition(StringEquals("aws:PrincipalArn", _migrate_roles(project))),
            ),
            # The CI runner's CodeBuild role: CodeBuild may use the build's network interfaces
            # (AWS CodeBuild User Guide, the VPC network interface policy; the ENI calls
            # themselves are in EksNodes), and only the runner roles
            # (gif-<env>-runner) may use a CodeConnections connection
            # (connections-github-app.html).
            Statement(
                Sid="RunnerEnis",
                Effect=Allow,
                Action=_actions(["ec2:CreateNetworkInterfacePermission"]),
                Resource=[_any_region("ec2", "network-interface/*")],
                Condition=Condition(
                    StringEquals("ec2:AuthorizedService", "codebuild.amazonaws.com")
                ),
            ),
            Statement(
                Sid="RunnerGitHub",
                Effect=Allow,
                Action=_actions(
                    [
                        "codeconnections:GetConnection",
                        "codeconnections:GetConnectionToken",
                        "codeconnections:UseConnection",
                    ]
                ),
                Resource=[_any_region("codeconnections", "connection/*")],
                Condition=Condition(ArnLike("aws:PrincipalArn", _runner_roles(project))),
            ),
            Statement(
                Sid="NeverEditThisBoundary",
                Effect=Deny,
                Action=_actions(POLICY_EDIT_ACTIONS),
                Resource=[boundary],
            ),
            Statement(
                Sid="NeverRemoveABoundary",
                Effect=Deny,
                Action=_actions(BOUNDARY_REMOVAL_ACTIONS),
                Resource=["*"],
            ),
            Statement(
                Sid="NeverSetAnotherBoundary",
                Effect=Deny,
                Action=_actions(BOUNDARY_SETTING_ACTIONS),
                Resource=["*"],
                Condition=Condition(StringNotEquals("iam:PermissionsBoundary", boundary)),
            ),
        ],
    )


def _actions(names) -> list[Action]:
    return [Action(*name.split(":")) for name in sorted(set(names))]


def _any_region(service: str, resource: str) -> Sub:
    return Sub(f"arn:${{AWS::Partition}}:{service}:*:${{AWS::AccountId}}:{resource}")


def _migrate_roles(project: str) -> list[Sub]:
    """The migration Job's role of every environment (gif-<env>-migrate)."""
    return [
        Sub(f"arn:${{AWS::Partition}}:iam::${{AWS::AccountId}}:role/{name}")
        for name in sorted(
            {naming.role_name(project, env, MIGRATE_ROLE) for env in params.environments()}
        )
    ]


def _runner_roles(project: str) -> Sub:
    """The CI runner's CodeBuild role of any environment (gif-*-runner)."""
    name = naming.role_name(project, "*", naming.RUNNER_ROLE)
    return Sub(f"arn:${{AWS::Partition}}:iam::${{AWS::AccountId}}:role/{name}")


def _app_users() -> list[str]:
    """The app's database user in every environment (usually one name)."""
    return sorted({params.load(env).database.app_username for env in params.environments()})
