"""The CloudFormation execution role's provisioning permissions for the cluster and the
runner (beside infra/stacks/ci_execution.py's network and data; every call the resource
handlers of the env stacks' types make, tests/infra/stacks/test_handler_permissions.py),
each write on the project's resources only."""

from __future__ import annotations

from awacs.aws import (
    Allow,
    Condition,
    Statement,
    StringEquals,
)
from troposphere.iam import Role

from infra.core import naming
from infra.stacks.ci_permissions import (
    actions,
    ci_environments,
    policy,
    project_tag,
)
from infra.stacks.common import (
    StackTemplate,
    arn,
    global_arn,
)


def add_execution_cluster_policy(stack: StackTemplate, role: Role) -> None:
    """The cluster and workload stacks (EKS), the cluster's OIDC provider, service-linked roles."""
    project = stack.settings.project
    statements = [
        # IAM's catalogue: eks:CreateCluster has no resource type ("*" only); it supports
        # aws:RequestTag, and the handler creates the cluster with its tags.
        Statement(
            Sid="CreateProjectClusters",
            Effect=Allow,
            Action=actions("eks", "CreateCluster"),
            Resource=["*"],
            Condition=project_tag("Request", project),
        ),
        Statement(
            Sid="ManageProjectClusters",
            Effect=Allow,
            Action=actions(
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
            Action=actions(
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
            Action=actions("iam", "CreateServiceLinkedRole"),
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
            Action=actions("iam", "ListRoles"),
            Resource=["*"],
        ),
    ]
    policy(stack, "ExecutionClusterPolicy", "cloudformation-cluster", role, statements)


def add_execution_runner_policy(stack: StackTemplate, role: Role) -> None:
    """The runner stack's AWS::CodeBuild::Project. Its registry schema lists no handler
    permissions (a pre-registry type), so the calls are those of the CodeBuild API that
    CloudFormation makes for the properties used (botocore's codebuild model: CreateProject,
    UpdateProject, DeleteProject, BatchGetProjects, Create/Update/DeleteWebhook), on the
    project's env projects only; tests/infra/stacks/test_handler_permissions.py names them.
    The service role is passed under PassProjectRoles (gif-<env>-*)."""
    project = stack.settings.project
    statements = [
        Statement(
            Sid="ManageRunnerProjects",
            Effect=Allow,
            Action=actions(
                "codebuild",
                "CreateProject UpdateProject DeleteProject BatchGetProjects "
                "CreateWebhook UpdateWebhook DeleteWebhook",
            ),
            Resource=[
                arn("codebuild", f"project/{naming.runner_project(project, env)}")
                for env in ci_environments()
            ],
        ),
        # A connection ARN given to CodeBuild (Source.Auth CODECONNECTIONS); IAM's catalogue:
        # PassConnection with codeconnections:PassedToService. CreateProject checks the
        # connection with the project's role (aws/aws-cdk#38504); this covers a check of the
        # caller as well, and passes connections to CodeBuild only.
        Statement(
            Sid="PassConnectionsToCodeBuild",
            Effect=Allow,
            Action=actions("codeconnections", "PassConnection"),
            Resource=[arn("codeconnections", "connection/*")],
            Condition=Condition(
                StringEquals("codeconnections:PassedToService", "codebuild.amazonaws.com")
            ),
        ),
    ]
    policy(stack, "ExecutionRunnerPolicy", "cloudformation-runner", role, statements)
