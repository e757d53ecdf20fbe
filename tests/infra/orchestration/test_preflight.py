"""infra/orchestration/preflight.py: each check against moto where moto emulates the call
(STS, EC2 AZs, instance type offerings, VPCs, addresses, NAT gateways, CloudFormation), and
botocore's Stubber with the documented response shapes where it doesn't (EKS
DescribeClusterVersions / DescribeAddonVersions, RDS DescribeOrderableDBInstanceOptions,
Service Quotas GetServiceQuota, IAM SimulatePrincipalPolicy). One test per failing check: its
message, its fix, and exit 2 before any stack is touched."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest
from botocore.stub import ANY, Stubber
from rich.console import Console

from infra.aws.session import Aws
from infra.core.errors import BadInput
from infra.orchestration import preflight
from infra.orchestration.frame import Frame, Seams
from infra.orchestration.preflight_checks import ADDONS, FAIL, IN_VPC_VARIABLE, OK
from infra.settings import params
from tests.support.moto_server import MotoServer

ROOT = Path(__file__).resolve().parents[3]


def _versions(status: str = "STANDARD_SUPPORT", version: str = "1.35") -> dict:
    return {"clusterVersions": [{"clusterVersion": version, "versionStatus": status}]}


def _addon(name: str, offered: bool = True) -> dict:
    versions = [{"addonVersion": "v1.0.0-eksbuild.1"}] if offered else []
    return {"addons": [{"addonName": name, "addonVersions": versions}]}


class Answers:
    """What the stubbed services answer; a test changes one thing to make one check fail."""

    def __init__(self) -> None:
        self.version_status = "STANDARD_SUPPORT"
        self.missing_addon: str | None = None
        self.orderable: list[dict] = [{"DBInstanceClass": "x", "MultiAZCapable": True}]
        self.vpc_quota = 5.0
        self.decision = "allowed"


def _frame(moto: MotoServer, answers: Answers, env: str = "prod", **changes) -> Frame:
    settings = params.load(env)
    if "region" in changes:
        settings = settings.model_copy(update={"region": changes.pop("region")})
    for section, values in changes.items():
        current = getattr(settings, section)
        settings = settings.model_copy(update={section: current.model_copy(update=values)})

    def aws_factory(_settings):
        aws = Aws(
            settings.model_copy(update={"aws_endpoint_url": moto.url}), session=moto.session()
        )
        _stub(aws, settings, answers)
        return aws

    console = Console(file=io.StringIO(), width=220)
    frame = Frame(settings, console, Frame.open(env, console, Seams()).options, Seams(aws_factory))
    return frame


def _stub(aws: Aws, settings, answers: Answers) -> None:
    cluster, db = settings.cluster, settings.database
    eks = Stubber(aws.client("eks"))
    eks.add_response(
        "describe_cluster_versions",
        _versions(answers.version_status, cluster.kubernetes_version),
        {"clusterVersions": [cluster.kubernetes_version]},
    )
    for name in ADDONS:
        eks.add_response(
            "describe_addon_versions",
            _addon(name, offered=name != answers.missing_addon),
            {"addonName": name, "kubernetesVersion": cluster.kubernetes_version},
        )
    rds = Stubber(aws.client("rds"))
    rds.add_response(
        "describe_orderable_db_instance_options",
        {"OrderableDBInstanceOptions": answers.orderable},
        {
            "Engine": "postgres",
            "EngineVersion": db.engine_version,
            "DBInstanceClass": db.instance_class,
            "Vpc": True,
        },
    )
    quotas = Stubber(aws.client("service-quotas"))
    for code, value in (
        ("L-F678F1CE", answers.vpc_quota),
        ("L-0263D0A3", 5.0),
        ("L-FE5A380F", 5.0),
    ):
        quotas.add_response(
            "get_service_quota",
            {"Quota": {"QuotaCode": code, "Value": value}},
            {"ServiceCode": ANY, "QuotaCode": code},
        )
    iam = Stubber(aws.client("iam"))
    iam.add_response(
        "simulate_principal_policy",
        {
            "EvaluationResults": [
                {
                    "EvalActionName": "cloudformation:CreateChangeSet",
                    "EvalDecision": answers.decision,
                }
            ],
            "IsTruncated": False,
        },
    )
    for stub in (eks, rds, quotas, iam):
        stub.activate()


# A build of prod's runner project (CodeBuild's CODEBUILD_BUILD_ARN).
RUNNER_BUILD = "arn:aws:codebuild:eu-west-1:123456789012:build/gif-prod-runner:0123abcd-45"


@pytest.fixture
def in_vpc(monkeypatch):
    monkeypatch.setenv(IN_VPC_VARIABLE, RUNNER_BUILD)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)


def _failing(moto, answers=None, **changes) -> tuple[BadInput, str]:
    frame = _frame(moto, answers or Answers(), **changes)
    with pytest.raises(BadInput) as failed:
        preflight.check(frame, app_step=True)
    assert failed.value.exit_code == 2
    assert "No stack was touched" in failed.value.message
    return failed.value, frame.console.file.getvalue()


def test_every_check_passes_and_the_table_shows_them(moto, in_vpc):
    frame = _frame(moto, Answers())
    findings = preflight.check(frame, app_step=True)
    assert {f.check: f.status for f in findings} == {
        "credentials": OK,
        "availability zones": OK,
        "EKS version": OK,
        "EKS add-ons": OK,
        "database": OK,
        "node instance types": OK,
        "quotas": OK,
        "permissions": OK,
        "cluster endpoint": OK,
    }
    table = frame.console.file.getvalue()
    assert "gifstack preflight --env prod" in table and "eu-west-1a" in table


def test_too_few_azs_in_the_region(moto, in_vpc):
    # us-west-1 has two usable AZs (moto agrees); prod asks for three.
    error, table = _failing(moto, region="us-west-1")
    assert "availability zones" in error.message
    assert "us-west-1 has 2 usable AZs" in table and "network.az_count is 3" in table
    assert "set network.az_count to 2 or less" in table


def test_getazs_lists_only_azs_with_a_default_subnet(moto, in_vpc):
    # An account whose default VPC lost one default subnet: Fn::GetAZs then lists two AZs,
    # and the network stack's third subnet (Select 2) would fail an hour into the deploy.
    ec2 = moto.client("ec2")
    subnets = ec2.describe_subnets(Filters=[{"Name": "default-for-az", "Values": ["true"]}])
    gone = next(s for s in subnets["Subnets"] if s["AvailabilityZone"] == "eu-west-1c")
    ec2.delete_subnet(SubnetId=gone["SubnetId"])
    error, table = _failing(moto)
    assert "availability zones" in error.message
    assert "lists only the 2 AZs with a default subnet" in table
    assert "create-default-subnet" in table and "eu-west-1c" in table


def test_a_version_in_extended_support_without_opting_in(moto, in_vpc):
    answers = Answers()
    answers.version_status = "EXTENDED_SUPPORT"
    error, table = _failing(moto, answers)
    assert "EKS version" in error.message
    assert "is in extended support" in table and "cluster.support_type: EXTENDED" in table


def test_an_addon_with_no_version_for_the_cluster(moto, in_vpc):
    answers = Answers()
    answers.missing_addon = "metrics-server"
    error, table = _failing(moto, answers)
    assert "EKS add-ons" in error.message
    assert "no version of metrics-server for Kubernetes 1.35" in table


def test_a_database_class_that_cannot_be_ordered(moto, in_vpc):
    answers = Answers()
    answers.orderable = []
    error, table = _failing(moto, answers)
    assert "database" in error.message
    assert "db.m7g.large PostgreSQL 17.6 can't be ordered in eu-west-1" in table


def test_prod_needs_a_multi_az_capable_class(moto, in_vpc):
    answers = Answers()
    answers.orderable = [{"DBInstanceClass": "db.m7g.large", "MultiAZCapable": False}]
    _, table = _failing(moto, answers)
    assert "is not Multi-AZ capable" in table


def test_a_node_type_not_offered_in_the_azs(moto, in_vpc):
    error, table = _failing(moto, cluster={"node_instance_types": ["zz9.huge"]})
    assert "node instance types" in error.message
    assert "not offered: zz9.huge in eu-west-1a" in table


def test_no_room_for_a_vpc(moto, in_vpc):
    answers = Answers()
    answers.vpc_quota = 1.0  # moto's default VPC uses it
    error, table = _failing(moto, answers)
    assert "quotas" in error.message
    assert "VPCs per Region: 1 used + 1 needed > 1 (L-F678F1CE)" in table


def test_the_caller_may_not_do_what_the_engine_does(moto, in_vpc):
    answers = Answers()
    answers.decision = "implicitDeny"
    error, table = _failing(moto, answers)
    assert "permissions" in error.message
    assert "may not: cloudformation:CreateChangeSet" in table


def test_a_private_endpoint_from_outside_the_vpc(moto, in_vpc, monkeypatch):
    monkeypatch.delenv(IN_VPC_VARIABLE)
    error, table = _failing(moto)
    assert "cluster endpoint" in error.message
    assert "private-only" in table and "cluster.public_access_cidrs" in table
    # A laptop deploy with its office range is fine.
    office = {"public_access_cidrs": ["198.18.10.0/24"]}
    findings = preflight.check(_frame(moto, Answers(), cluster=office), app_step=True)
    assert all(f.status == OK for f in findings)


@pytest.mark.parametrize(
    "build",
    [
        "arn:aws:codebuild:eu-west-1:123456789012:build/gif-dev-runner:0123abcd-45",
        "arn:aws:codebuild:eu-west-1:123456789012:build/someone-elses-project:0123abcd-45",
        "gif-prod-runner",
    ],
)
def test_a_build_of_another_project_is_not_inside_this_vpc(moto, in_vpc, monkeypatch, build):
    monkeypatch.setenv(IN_VPC_VARIABLE, build)
    error, table = _failing(moto)
    assert error.message.endswith("No stack was touched.") and "cluster endpoint" in error.message
    assert "gif-prod-runner" in table  # where to run it instead


def test_on_the_runner_the_private_endpoint_passes(moto, in_vpc):
    findings = preflight.check(_frame(moto, Answers()), app_step=True)
    (endpoint,) = [f for f in findings if f.check == "cluster endpoint"]
    assert endpoint.status == OK and "CodeBuild runner gif-prod-runner" in endpoint.detail


def test_no_kubernetes_step_no_endpoint_check(moto, in_vpc, monkeypatch):
    monkeypatch.delenv(IN_VPC_VARIABLE)
    findings = preflight.check(_frame(moto, Answers()), app_step=False)
    assert all(f.status != FAIL for f in findings)


def test_invoke_preflight_against_moto_prints_the_table_and_exits_2(moto: MotoServer):
    env = {
        "AWS_ENDPOINT_URL": moto.url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_CONFIG_FILE": "/dev/null",
        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
        "PATH": "/usr/bin:/bin",
        "COLUMNS": "200",
    }
    done = subprocess.run(
        [sys.executable, "-m", "invoke", "preflight", "--env", "prod"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    out = done.stdout + done.stderr
    assert "gifstack preflight --env prod" in out
    for check in ("credentials", "availability zones", "EKS version", "quotas", "permissions"):
        assert check in out
    # moto answers no EKS or IAM simulation (skipped), and the prod endpoint is private-only.
    assert "not checked" in out and "private-only" in out
    assert done.returncode == 2, out
    assert "Traceback" not in out


def test_deploy_against_the_emulator_says_preflight_is_skipped(moto, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto.url)
    frame = _frame(moto, Answers(), env="dev")
    assert not preflight.applies(frame)
    preflight.before_deploy(frame, app_step=True)
    assert "preflight: skipped" in frame.console.file.getvalue()
