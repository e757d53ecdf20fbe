"""gif-<env>-runner: a CodeBuild-hosted GitHub Actions runner inside the environment's VPC, so
CI's Kubernetes step reaches a private-only EKS API endpoint with no public route to it and
no long-lived credential (the job still assumes gif-ci's deploy role through GitHub's OIDC).

A workflow job with `runs-on: codebuild-<project>-${{ github.run_id }}-${{ github.run_attempt }}`
queues a WORKFLOW_JOB_QUEUED event; the project's webhook starts a build that registers itself
as that job's runner, in the private subnets (AWS CodeBuild User Guide: action-runner.html,
action-runner-questions.html "Can I use CloudFormation", github-webhook-events-cfn.html).

Sources: property names from cfn-lint's schema of AWS::CodeBuild::Project; enum values
(SourceType GITHUB, SourceAuthType CODECONNECTIONS, WebhookFilterType EVENT/WORKFLOW_NAME,
EnvironmentType LINUX_CONTAINER, ComputeType BUILD_GENERAL1_SMALL, ArtifactsType NO_ARTIFACTS,
LogsConfigStatusType ENABLED) from botocore's codebuild model; WORKFLOW_NAME "works with
WORKFLOW_JOB_QUEUED events only" (botocore, WebhookFilter.type).
"""

from __future__ import annotations

from awacs.aws import Action, Allow, Condition, PolicyDocument, Statement, StringEquals
from troposphere import GetAtt, Ref, Select, Sub, Template
from troposphere.codebuild import (
    Artifacts,
    CloudWatchLogs,
    Environment,
    LogsConfig,
    Project,
    ProjectTriggers,
    Source,
    SourceAuth,
    VpcConfig,
    WebhookFilter,
)
from troposphere.ec2 import SecurityGroup, SecurityGroupIngress, SecurityGroupRule
from troposphere.iam import Policy

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
    service_trust,
)

NETWORK_GROUP = "Network (from the network stack)"
CLUSTER_GROUP = "Cluster (from the cluster stack)"
GITHUB_GROUP = "GitHub (from the params' ci section)"
REPOSITORY = "GitHubRepository"
CONNECTION = "GitHubConnectionArn"
FROM_PARAMS = (REPOSITORY, CONNECTION)  # defaults from the params' ci section, when set
HTTPS = 443
# The build image: Ubuntu (actions/setup-python's builds are for Ubuntu), x86_64, small
# (AWS CodeBuild User Guide: build-env-ref-available.html, build-env-ref-compute-types.html).
IMAGE = "aws/codebuild/standard:7.0"
COMPUTE_TYPE = "BUILD_GENERAL1_SMALL"
# A build lives as long as its one workflow job (the deploy job's timeout-minutes is 60).
TIMEOUT_MINUTES = 60
QUEUED_TIMEOUT_MINUTES = 30
LOG_RETENTION_DAYS = 30
# The one filter group: workflow jobs queued by the deploy workflow (its `name:`).
QUEUED_JOB = "WORKFLOW_JOB_QUEUED"


def build(settings: Settings) -> Template:
    stack = StackTemplate(
        settings, naming.RUNNER, "CodeBuild-hosted GitHub Actions runner in the private subnets."
    )
    _add_parameters(stack)
    _add_security_group(stack)
    group = _add_log_group(stack)
    _add_role(stack)
    _add_project(stack, group)
    _add_outputs(stack)
    return stack.finish()


def _add_parameters(stack: StackTemplate) -> None:
    stack.wired(
        Outputs.VPC_ID, NETWORK_GROUP, "VPC", Type="AWS::EC2::VPC::Id", Description="The VPC."
    )
    stack.wired(
        Outputs.PRIVATE_SUBNET_IDS,
        NETWORK_GROUP,
        "Private subnets",
        Type="List<AWS::EC2::Subnet::Id>",
        Description="Where the runner's builds run (outbound through the NAT gateway).",
    )
    stack.wired(
        Outputs.CLUSTER_SECURITY_GROUP_ID,
        CLUSTER_GROUP,
        "Cluster security group",
        Type="AWS::EC2::SecurityGroup::Id",
        Description="EKS's cluster security group: it admits the runner on 443.",
    )
    # From the params; no default while they leave one unset (CloudFormation then refuses the
    # stack too), and a deploy with ci.runner on refuses that before any stack is touched
    # (infra/settings/placeholders.py, require_runner_source).
    ci = stack.settings.ci
    stack.parameter(
        REPOSITORY,
        GITHUB_GROUP,
        "Repository (owner/name)",
        Type="String",
        **({"Default": ci.github_repository} if ci.github_repository else {}),
        AllowedPattern=r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$",
        Description="The repository whose deploy workflow jobs the runner runs.",
    )
    stack.parameter(
        CONNECTION,
        GITHUB_GROUP,
        "CodeConnections connection ARN",
        Type="String",
        **({"Default": ci.github_connection_arn} if ci.github_connection_arn else {}),
        AllowedPattern=r"^arn:aws[a-z-]*:(codeconnections|codestar-connections):[a-z0-9-]+:"
        r"\d{12}:connection/[0-9a-f-]{36}$",
        Description="The GitHub connection CodeBuild reaches the repository through.",
    )


def _subnet_arns(stack: StackTemplate) -> list[Sub]:
    """The private subnets' ARNs (one per AZ), for the ENI permissions' ec2:Subnet."""
    return [
        Sub(
            "arn:${AWS::Partition}:ec2:${AWS::Region}:${AWS::AccountId}:subnet/${Id}",
            Id=Select(index, Ref(Outputs.PRIVATE_SUBNET_IDS)),
        )
        for index in range(stack.settings.network.az_count)
    ]


def _add_security_group(stack: StackTemplate) -> None:
    """The runner's own group: no ingress; egress 443 only (GitHub, PyPI and the AWS APIs
    through the NAT gateway, the EKS API endpoint in the VPC). DNS goes to the VPC's resolver,
    which security groups don't filter (Amazon VPC User Guide: security-group-rules.html)."""
    stack.add(
        SecurityGroup(
            "RunnerSecurityGroup",
            GroupDescription=f"{stack.prefix} GitHub Actions runner (CodeBuild): HTTPS out only",
            VpcId=Ref(Outputs.VPC_ID),
            # A group's own egress list replaces the default allow-all rule.
            SecurityGroupEgress=[
                SecurityGroupRule(
                    Description="HTTPS: GitHub, PyPI, AWS APIs, the EKS API endpoint",
                    IpProtocol="tcp",
                    FromPort=HTTPS,
                    ToPort=HTTPS,
                    CidrIp="0.0.0.0/0",
                )
            ],
            Tags=stack.tags(f"{stack.prefix}-runner"),
        )
    )
    # EKS attaches its cluster security group to the network interfaces of the private
    # endpoint (and to managed nodes): the group to admit the runner on (Amazon EKS User
    # Guide: sec-group-reqs.html; EKS API Reference: VpcConfigResponse.clusterSecurityGroupId).
    stack.add(
        SecurityGroupIngress(
            "ClusterAdmitsRunner",
            GroupId=Ref(Outputs.CLUSTER_SECURITY_GROUP_ID),
            Description="Kubernetes API from the CI runner (CodeBuild)",
            IpProtocol="tcp",
            FromPort=HTTPS,
            ToPort=HTTPS,
            SourceSecurityGroupId=Ref("RunnerSecurityGroup"),
        )
    )


def _add_log_group(stack: StackTemplate):
    name = naming.runner_log_group(stack.settings.project, stack.settings.env)
    key = add_kms_key(
        stack,
        "RunnerLogsKey",
        "encrypts the CI runner's build logs",
        [logs_may_use_key(arn("logs", f"log-group:{name}"))],
    )
    return add_log_group(stack, "RunnerLogGroup", name, LOG_RETENTION_DAYS, key)


def _add_role(stack: StackTemplate) -> None:
    """The CodeBuild service role, under the permissions boundary. It needs no AWS access of
    its own beyond its logs, its network interfaces and the GitHub connection: the workflow
    job assumes gif-ci's deploy role through GitHub's OIDC for everything it does."""
    settings = stack.settings
    name = naming.runner_log_group(settings.project, settings.env)
    subnets = _subnet_arns(stack)
    statements = [
        Statement(
            Sid="WriteBuildLogs",
            Effect=Allow,
            Action=[Action("logs", "CreateLogStream"), Action("logs", "PutLogEvents")],
            # IAM's catalogue: both act on the log stream (log-group:NAME:log-stream:NAME).
            Resource=[arn("logs", f"log-group:{name}:log-stream:*")],
        ),
        # AWS CodeBuild User Guide, "Allow CodeBuild access to AWS services required to create
        # a VPC network interface" (auth-and-access-control-iam-identity-based-access-control
        # .html): these read calls on "*" (IAM's catalogue: no resource type) ...
        Statement(
            Sid="DescribeNetwork",
            Effect=Allow,
            Action=[
                Action("ec2", a)
                for a in (
                    "DescribeDhcpOptions",
                    "DescribeNetworkInterfaces",
                    "DescribeSecurityGroups",
                    "DescribeSubnets",
                    "DescribeVpcs",
                )
            ],
            Resource=["*"],
        ),
        # ... the build's network interface in the private subnets with the runner's group
        # (IAM's catalogue: CreateNetworkInterface acts on the ENI, the subnet and the group) ...
        Statement(
            Sid="CreateBuildNetworkInterfaces",
            Effect=Allow,
            Action=[Action("ec2", "CreateNetworkInterface")],
            Resource=[
                arn("ec2", "network-interface/*"),
                *subnets,
                Sub(
                    "arn:${AWS::Partition}:ec2:${AWS::Region}:${AWS::AccountId}:"
                    "security-group/${RunnerSecurityGroup.GroupId}"
                ),
            ],
        ),
        Statement(
            Sid="DeleteBuildNetworkInterfaces",
            Effect=Allow,
            Action=[Action("ec2", "DeleteNetworkInterface")],
            Resource=[arn("ec2", "network-interface/*")],
            Condition=Condition(StringEquals("ec2:Subnet", subnets)),
        ),
        # ... and CodeBuild's permission on them, conditioned as AWS documents it.
        Statement(
            Sid="LetCodeBuildUseThem",
            Effect=Allow,
            Action=[Action("ec2", "CreateNetworkInterfacePermission")],
            Resource=[arn("ec2", "network-interface/*")],
            Condition=Condition(
                StringEquals(
                    {"ec2:Subnet": subnets, "ec2:AuthorizedService": "codebuild.amazonaws.com"}
                )
            ),
        ),
        # AWS CodeBuild User Guide, connections-github-app.html (step 2): GetConnectionToken
        # and GetConnection on the connection; CreateProject checks the connection with this
        # role, UseConnection included (aws/aws-cdk#38504, #31726).
        Statement(
            Sid="UseTheGitHubConnection",
            Effect=Allow,
            Action=[
                Action("codeconnections", a)
                for a in ("GetConnection", "GetConnectionToken", "UseConnection")
            ],
            Resource=[Ref(CONNECTION)],
        ),
    ]
    add_role(
        stack,
        "RunnerRole",
        RoleName=naming.role_name(settings.project, settings.env, naming.RUNNER_ROLE),
        Description="CodeBuild runner: its logs, its network interfaces, the GitHub connection.",
        AssumeRolePolicyDocument=service_trust("codebuild.amazonaws.com"),
        # Inline, so the policy is in place when the project is created: CodeBuild checks the
        # VPC config and the connection with this role then (aws/aws-cdk#2652, #38504).
        Policies=[
            Policy(
                PolicyName="RunBuildsInTheVpc",
                PolicyDocument=PolicyDocument(Version="2012-10-17", Statement=statements),
            )
        ],
    )


def _add_project(stack: StackTemplate, group) -> None:
    settings = stack.settings
    project = naming.runner_project(settings.project, settings.env)
    stack.add(
        Project(
            "RunnerProject",
            Name=project,
            Description=Sub(
                f"GitHub Actions runner in the {stack.prefix} private subnets: jobs of workflow "
                f"{naming.DEPLOY_WORKFLOW!r} of ${{{REPOSITORY}}}."
            ),
            ServiceRole=GetAtt("RunnerRole", "Arn"),
            Artifacts=Artifacts(Type="NO_ARTIFACTS"),
            Environment=Environment(Type="LINUX_CONTAINER", ComputeType=COMPUTE_TYPE, Image=IMAGE),
            Source=Source(
                Type="GITHUB",
                Location=Sub(f"https://github.com/${{{REPOSITORY}}}"),
                # troposphere 4's validator knows OAUTH only; CODECONNECTIONS is in
                # botocore's codebuild model (SourceAuthType).
                Auth=SourceAuth(Type="CODECONNECTIONS", Resource=Ref(CONNECTION)).no_validation(),
            ),
            Triggers=ProjectTriggers(
                Webhook=True,
                FilterGroups=[
                    [
                        _filter("EVENT", QUEUED_JOB),
                        _filter("WORKFLOW_NAME", f"^{naming.DEPLOY_WORKFLOW}$"),
                    ]
                ],
            ),
            VpcConfig=VpcConfig(
                VpcId=Ref(Outputs.VPC_ID),
                Subnets=Ref(Outputs.PRIVATE_SUBNET_IDS),
                SecurityGroupIds=[Ref("RunnerSecurityGroup")],
            ),
            LogsConfig=LogsConfig(
                CloudWatchLogs=CloudWatchLogs(Status="ENABLED", GroupName=Ref(group))
            ),
            TimeoutInMinutes=TIMEOUT_MINUTES,
            QueuedTimeoutInMinutes=QUEUED_TIMEOUT_MINUTES,
            # Deploys of an environment never overlap (the workflow's concurrency group).
            ConcurrentBuildLimit=1,
            Tags=stack.tags(project),
        )
    )


def _filter(kind: str, pattern: str) -> WebhookFilter:
    """One webhook filter. troposphere 4's type validator predates WORKFLOW_NAME, which
    botocore's codebuild model (WebhookFilterType) and AWS's CloudFormation example
    (github-webhook-events-cfn.html) have: the type is set past it."""
    found = WebhookFilter(Pattern=pattern).no_validation()
    found.properties["Type"] = kind
    return found


def _add_outputs(stack: StackTemplate) -> None:
    stack.output(
        Outputs.RUNNER_PROJECT_NAME,
        Ref("RunnerProject"),
        "CodeBuild project of the runner: runs-on codebuild-<this>-<run id>-<run attempt>.",
    )
    stack.output(
        Outputs.RUNNER_SECURITY_GROUP_ID,
        GetAtt("RunnerSecurityGroup", "GroupId"),
        "The runner's security group (the cluster admits it on 443).",
    )
    stack.output(
        Outputs.RUNNER_ROLE_ARN, GetAtt("RunnerRole", "Arn"), "The runner's CodeBuild role."
    )
