"""infra/stacks/runner.py: the in-VPC GitHub Actions runner (CodeBuild) of an environment: its
webhook, its place in the VPC, its security groups and its service role's least privilege.
The enum values are checked against botocore's codebuild model; IAM against the catalogue
(test_iam_catalogue.py) and the boundary (policy_eval, here)."""

from __future__ import annotations

import botocore.session
import pytest

from infra.core import naming
from infra.core.naming import Outputs
from infra.stacks import runner
from tests.infra.stacks import iam_catalogue as catalogue
from tests.infra.stacks.helpers import body, of_type, props, ref, settings
from tests.infra.stacks.policy_eval import ACCOUNT, REGION, allows_within

CONNECTION = (
    f"arn:aws:codeconnections:{REGION}:210987654321:connection/"
    + "0" * 7
    + "1-4567-89ef-0123-456789abcdef"
)
SET_UP = {"github_repository": "acme/gifstack", "github_connection_arn": CONNECTION}


def built(env: str = "prod", **ci) -> dict:
    return body(runner.build(settings(env, ci=ci) if ci else settings(env)))


def project(template: dict) -> dict:
    return props(template, "RunnerProject")


def role_statements(template: dict) -> dict[str, dict]:
    (policy,) = props(template, "RunnerRole")["Policies"]
    return {s["Sid"]: s for s in policy["PolicyDocument"]["Statement"]}


@pytest.fixture(scope="module")
def codebuild_model():
    return botocore.session.get_session().get_service_model("codebuild")


def test_the_webhook_starts_builds_for_queued_jobs_of_the_deploy_workflow_only(codebuild_model):
    triggers = project(built())["Triggers"]
    assert triggers["Webhook"] is True
    (group,) = triggers["FilterGroups"]
    assert {f["Type"]: f["Pattern"] for f in group} == {
        "EVENT": "WORKFLOW_JOB_QUEUED",
        "WORKFLOW_NAME": f"^{naming.DEPLOY_WORKFLOW}$",
    }
    assert {f["Type"] for f in group} <= set(codebuild_model.shape_for("WebhookFilterType").enum)


def test_the_enum_values_are_codebuilds_own(codebuild_model):
    spec = project(built())
    enum = lambda shape: codebuild_model.shape_for(shape).enum  # noqa: E731
    assert spec["Source"]["Type"] == "GITHUB" and "GITHUB" in enum("SourceType")
    assert spec["Source"]["Auth"]["Type"] == "CODECONNECTIONS" in enum("SourceAuthType")
    assert spec["Environment"]["Type"] in enum("EnvironmentType")
    assert spec["Environment"]["ComputeType"] == "BUILD_GENERAL1_SMALL" in enum("ComputeType")
    assert spec["Artifacts"]["Type"] in enum("ArtifactsType")
    assert spec["LogsConfig"]["CloudWatchLogs"]["Status"] in enum("LogsConfigStatusType")


def test_the_source_is_the_params_repository_through_the_params_connection():
    template = built(**SET_UP)
    source = project(template)["Source"]
    assert source["Location"] == {"Fn::Sub": "https://github.com/${GitHubRepository}"}
    assert source["Auth"]["Resource"] == ref(runner.CONNECTION)
    parameters = template["Parameters"]
    assert parameters[runner.REPOSITORY]["Default"] == "acme/gifstack"
    assert parameters[runner.CONNECTION]["Default"] == CONNECTION
    # Shipped unset: no default, so neither the engine nor CloudFormation makes a project of it.
    assert "Default" not in built()["Parameters"][runner.CONNECTION]


def test_builds_run_in_the_private_subnets_with_the_runners_own_group():
    template = built()
    vpc = project(template)["VpcConfig"]
    assert vpc == {
        "VpcId": ref(Outputs.VPC_ID),
        "Subnets": ref(Outputs.PRIVATE_SUBNET_IDS),
        "SecurityGroupIds": [ref("RunnerSecurityGroup")],
    }
    assert project(template)["Name"] == "gif-prod-runner"
    assert project(template)["ConcurrentBuildLimit"] == 1


def test_the_runner_group_sends_https_only_and_admits_nothing():
    group = props(built(), "RunnerSecurityGroup")
    assert group["SecurityGroupEgress"] == [
        {
            "Description": "HTTPS: GitHub, PyPI, AWS APIs, the EKS API endpoint",
            "IpProtocol": "tcp",
            "FromPort": 443,
            "ToPort": 443,
            "CidrIp": "0.0.0.0/0",
        }
    ]
    assert "SecurityGroupIngress" not in group


def test_the_cluster_admits_the_runner_on_443_only():
    (ingress,) = of_type(built(), "AWS::EC2::SecurityGroupIngress").values()
    assert ingress["Properties"] == {
        "GroupId": ref(Outputs.CLUSTER_SECURITY_GROUP_ID),
        "Description": "Kubernetes API from the CI runner (CodeBuild)",
        "IpProtocol": "tcp",
        "FromPort": 443,
        "ToPort": 443,
        "SourceSecurityGroupId": ref("RunnerSecurityGroup"),
    }


def test_a_build_outlives_its_workflow_job_and_waits_a_bounded_time_in_the_queue():
    # The build is the job's runner: CodeBuild must not stop it before GitHub's own timeout.
    import yaml

    from infra.core.paths import ROOT

    deploy = yaml.safe_load((ROOT / ".github" / "workflows" / "deploy.yml").read_text())
    spec = project(built())
    assert spec["TimeoutInMinutes"] >= deploy["jobs"]["app"]["timeout-minutes"]
    assert spec["TimeoutInMinutes"] <= deploy["jobs"]["app"]["timeout-minutes"] + 15
    # cfn-lint's schema bounds (QueuedTimeoutInMinutes 5-480); no longer than the build itself.
    assert 5 <= spec["QueuedTimeoutInMinutes"] <= spec["TimeoutInMinutes"]


def test_logs_go_to_an_encrypted_group_with_retention():
    template = built()
    group = props(template, "RunnerLogGroup")
    assert group["LogGroupName"] == "/gif/prod/codebuild-runner"
    assert group["RetentionInDays"] == runner.LOG_RETENTION_DAYS
    assert group["KmsKeyId"] == {"Fn::GetAtt": ["RunnerLogsKey", "Arn"]}
    logs = project(template)["LogsConfig"]["CloudWatchLogs"]
    assert logs == {"Status": "ENABLED", "GroupName": ref("RunnerLogGroup")}


def test_the_role_is_codebuilds_for_this_account_under_the_boundary():
    role = props(built(), "RunnerRole")
    assert role["RoleName"] == "gif-prod-runner"
    assert role["PermissionsBoundary"] == {
        "Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:policy/gif-workload-boundary"
    }
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "codebuild.amazonaws.com"}
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": ref("AWS::AccountId")}}


def test_the_role_may_do_only_logs_enis_and_the_connection():
    statements = role_statements(built())
    actions = sorted(a for s in statements.values() for a in s["Action"])
    assert actions == [
        "codeconnections:GetConnection",
        "codeconnections:GetConnectionToken",
        "codeconnections:UseConnection",
        "ec2:CreateNetworkInterface",
        "ec2:CreateNetworkInterfacePermission",
        "ec2:DeleteNetworkInterface",
        "ec2:DescribeDhcpOptions",
        "ec2:DescribeNetworkInterfaces",
        "ec2:DescribeSecurityGroups",
        "ec2:DescribeSubnets",
        "ec2:DescribeVpcs",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
    ]
    # Only reads are on "*" (IAM's catalogue: no resource type for them).
    for statement in statements.values():
        if statement["Resource"] == ["*"]:
            assert all(catalogue.wildcard_only(a) for a in statement["Action"]), statement


# --- the role as IAM evaluates it, with the boundary (prod, 3 private subnets) -------------

SUBNETS = [
    f"arn:aws:ec2:{REGION}:{ACCOUNT}:subnet/{s}"
    for s in catalogue.EXAMPLE_LISTS["PrivateSubnetIds"]
]
ENI = f"arn:aws:ec2:{REGION}:{ACCOUNT}:network-interface/eni-0123"
MY_CONNECTION = catalogue.EXAMPLE_INPUTS["GitHubConnectionArn"]


@pytest.fixture(scope="module")
def evaluated():
    template = built()
    documents = [
        _conditions_resolved(catalogue.resolved(d, template), template)
        for d in catalogue.role_documents(template, "RunnerRole")
    ]
    ci_template = body(boundary_template())
    document = ci_template["Resources"]["WorkloadBoundary"]["Properties"]["PolicyDocument"]
    limit = catalogue.resolved(document, ci_template)
    role = f"arn:aws:iam::{ACCOUNT}:role/gif-prod-runner"
    return documents, limit, role


def _conditions_resolved(document: dict, template: dict) -> dict:
    """The condition values concrete too (the subnets' ARNs are built in the template)."""

    def concrete(value):
        if isinstance(value, list):
            return [catalogue.concrete(v, template) for v in value]
        return catalogue.concrete(value, template)

    for statement in document["Statement"]:
        for operator, pairs in statement.get("Condition", {}).items():
            statement["Condition"][operator] = {k: concrete(v) for k, v in pairs.items()}
    return document


def boundary_template():
    from infra.stacks import ci, synth

    return ci.build(synth.shared_settings())


def _may(evaluated, action, resource, **context) -> bool:
    documents, limit, role = evaluated
    return allows_within(documents, limit, action, resource, {"aws:PrincipalArn": role, **context})


def test_codebuild_may_use_the_builds_enis_in_these_subnets_only(evaluated):
    codebuild = {"ec2:AuthorizedService": "codebuild.amazonaws.com"}
    assert _may(
        evaluated,
        "ec2:CreateNetworkInterfacePermission",
        ENI,
        **{"ec2:Subnet": SUBNETS[1]},
        **codebuild,
    )
    other_subnet = f"arn:aws:ec2:{REGION}:{ACCOUNT}:subnet/subnet-0ther"
    assert not _may(
        evaluated,
        "ec2:CreateNetworkInterfacePermission",
        ENI,
        **{"ec2:Subnet": other_subnet},
        **codebuild,
    )
    lambda_ = {"ec2:AuthorizedService": "lambda.amazonaws.com", "ec2:Subnet": SUBNETS[0]}
    assert not _may(evaluated, "ec2:CreateNetworkInterfacePermission", ENI, **lambda_)
    assert _may(evaluated, "ec2:DeleteNetworkInterface", ENI, **{"ec2:Subnet": SUBNETS[2]})
    assert not _may(evaluated, "ec2:DeleteNetworkInterface", ENI, **{"ec2:Subnet": other_subnet})


def test_enis_are_created_in_the_private_subnets_with_the_runner_group_only(evaluated):
    group = f"arn:aws:ec2:{REGION}:{ACCOUNT}:security-group/sg-0123456789abcdef0"
    for resource in (ENI, SUBNETS[0], group):
        assert _may(evaluated, "ec2:CreateNetworkInterface", resource)
    assert not _may(
        evaluated,
        "ec2:CreateNetworkInterface",
        f"arn:aws:ec2:{REGION}:{ACCOUNT}:subnet/subnet-public",
    )
    assert not _may(
        evaluated,
        "ec2:CreateNetworkInterface",
        f"arn:aws:ec2:{REGION}:{ACCOUNT}:security-group/sg-app",
    )


def test_the_connection_is_usable_by_the_runner_role_only_and_no_other(evaluated):
    for action in ("GetConnection", "GetConnectionToken", "UseConnection"):
        assert _may(evaluated, f"codeconnections:{action}", MY_CONNECTION)
    other = MY_CONNECTION.replace("0123abcd", "99999999")
    assert not _may(evaluated, "codeconnections:UseConnection", other)
    # The boundary keeps every other env role off connections, whatever its policies say.
    documents, limit, _ = evaluated
    app = f"arn:aws:iam::{ACCOUNT}:role/gif-prod-app"
    assert not allows_within(
        documents, limit, "codeconnections:UseConnection", MY_CONNECTION, {"aws:PrincipalArn": app}
    )


def test_logs_only_to_its_own_group(evaluated):
    stream = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/gif/prod/codebuild-runner:log-stream:b1"
    assert _may(evaluated, "logs:PutLogEvents", stream)
    flow = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/gif/prod/vpc-flow-logs:log-stream:x"
    assert not _may(evaluated, "logs:PutLogEvents", flow)
