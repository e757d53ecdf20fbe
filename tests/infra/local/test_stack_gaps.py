"""infra/local/stack_gaps.py: each moto gap it closes, proven against the emulator process
(moto's server with the workarounds applied, over real HTTP), plus the local stack plan.

The workarounds patch moto inside the emulator's own process only; these tests never
patch moto in the test process (other tests use an unpatched in-process moto).
"""

from __future__ import annotations

import os

import pytest

from infra.core import naming
from infra.local import stack_gaps
from infra.orchestration import wiring
from infra.settings import params
from infra.stacks import synth
from tests.support import emulator as support

SMALL = """
Parameters:
  Label: {Type: String, Default: first}
  Subnets: {Type: CommaDelimitedList, Default: "a,b"}
Resources:
  Vpc: {Type: AWS::EC2::VPC, Properties: {CidrBlock: 10.9.0.0/16}}
Outputs:
  VpcId: {Value: !Ref Vpc}
  Label: {Value: !Ref Label}
"""


@pytest.fixture(scope="module")
def emulator():
    yield from support.serve()


@pytest.fixture
def cfn(emulator):
    support.reset(emulator)
    return support.client(emulator, "cloudformation")


def _execute(cfn, name, kind, body, parameters=None, tags=None):
    cfn.create_change_set(
        StackName=name,
        ChangeSetName=f"{name}-{kind.lower()}",
        ChangeSetType=kind,
        TemplateBody=body,
        Capabilities=["CAPABILITY_NAMED_IAM"],
        Parameters=[
            {"ParameterKey": k, "ParameterValue": v} for k, v in (parameters or {}).items()
        ],
        Tags=[{"Key": k, "Value": v} for k, v in (tags or {}).items()],
    )
    # CloudFormation refuses to execute a FAILED change set; moto would execute it anyway,
    # which would hide a change set wrongly reported as "didn't contain changes".
    change_set = cfn.describe_change_set(ChangeSetName=f"{name}-{kind.lower()}", StackName=name)
    assert (change_set["Status"], change_set["ExecutionStatus"]) == (
        "CREATE_COMPLETE",
        "AVAILABLE",
    ), change_set.get("StatusReason")
    cfn.execute_change_set(ChangeSetName=f"{name}-{kind.lower()}", StackName=name)
    return cfn.describe_stacks(StackName=name)["Stacks"][0]


def _outputs(stack):
    return {item["OutputKey"]: item["OutputValue"] for item in stack.get("Outputs", [])}


def _parameters(stack):
    return {item["ParameterKey"]: item["ParameterValue"] for item in stack["Parameters"]}


def test_a_stack_created_through_a_change_set_reports_its_outputs(cfn):
    stack = _execute(cfn, "small", "CREATE", SMALL)

    outputs = _outputs(stack)
    assert outputs["VpcId"].startswith("vpc-")
    assert outputs["Label"] == "first"


def test_an_update_change_set_records_the_new_parameters_tags_and_outputs(cfn):
    _execute(cfn, "small", "CREATE", SMALL, tags={"git-commit": "aaa"})

    stack = _execute(
        cfn, "small", "UPDATE", SMALL, parameters={"Label": "second"}, tags={"git-commit": "bbb"}
    )

    assert _parameters(stack)["Label"] == "second"
    assert _outputs(stack)["Label"] == "second"
    assert {tag["Key"]: tag["Value"] for tag in stack["Tags"]} == {"git-commit": "bbb"}


def test_a_template_url_on_the_emulators_ip_address_is_read_path_style(emulator, cfn):
    # The address the template bucket hands over for a template over 51,200 bytes.
    s3 = support.client(emulator, "s3")
    s3.create_bucket(
        Bucket="gifstack-templates", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
    )
    s3.put_object(Bucket="gifstack-templates", Key="small/abc.yaml", Body=SMALL.encode())
    url = f"{s3.meta.endpoint_url}/gifstack-templates/small/abc.yaml"
    assert url.startswith("http://127.0.0.1:")
    cfn.create_change_set(
        StackName="from-s3", ChangeSetName="first", ChangeSetType="CREATE", TemplateURL=url
    )
    cfn.execute_change_set(ChangeSetName="first", StackName="from-s3")
    assert _outputs(cfn.describe_stacks(StackName="from-s3")["Stacks"][0])["Label"] == "first"


def test_list_parameters_are_reported_as_the_comma_separated_value_given(cfn):
    stack = _execute(cfn, "small", "CREATE", SMALL, parameters={"Subnets": "subnet-1,subnet-2"})

    assert _parameters(stack)["Subnets"] == "subnet-1,subnet-2"


def test_termination_protection_can_be_turned_on(cfn):
    _execute(cfn, "small", "CREATE", SMALL)

    cfn.update_termination_protection(StackName="small", EnableTerminationProtection=True)

    stack = cfn.describe_stacks(StackName="small")["Stacks"][0]
    assert stack["EnableTerminationProtection"] is True


def test_the_real_local_network_and_database_stacks_create_with_every_output(emulator, cfn):
    """KMS key tags, the DB parameter group Ref, short-form GetAtt, the managed master
    secret and DbiResourceId: all in the synthesized local templates."""
    settings = params.load("local")
    templates = synth.render(settings)
    outputs: dict[str, dict[str, str]] = {}
    for key in (naming.NETWORK, naming.DATABASE):
        request = wiring.build_request(
            settings, key, templates[key], outputs, deployer_principal_arn="unused"
        )
        stack = _execute(cfn, request.name, "CREATE", request.template_body, request.parameters)
        assert stack["StackStatus"] == "CREATE_COMPLETE"
        outputs[key] = _outputs(stack)

    assert set(outputs[naming.NETWORK]) >= set(wiring.graph.PRODUCES[naming.NETWORK])
    database = outputs[naming.DATABASE]
    assert set(database) >= set(wiring.graph.PRODUCES[naming.DATABASE])
    assert database[naming.Outputs.DATABASE_PORT] == "5432"
    assert database[naming.Outputs.DATABASE_RESOURCE_ID].startswith("db-")
    secret_arn = database[naming.Outputs.DATABASE_MASTER_SECRET_ARN]
    assert ":secretsmanager:" in secret_arn
    # RDS really made the managed master secret (the ARN points at something).
    secrets = support.client(emulator, "secretsmanager")
    assert secrets.describe_secret(SecretId=secret_arn)["ARN"] == secret_arn


def test_emulator_credentials_are_supplied_only_when_none_are_configured(monkeypatch):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    stack_gaps.use_emulator_credentials()
    assert os.environ["AWS_ACCESS_KEY_ID"] == stack_gaps.EMULATOR_CREDENTIALS["AWS_ACCESS_KEY_ID"]

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "mine")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "mine")
    stack_gaps.use_emulator_credentials()
    assert os.environ["AWS_ACCESS_KEY_ID"] == "mine"


def test_a_change_set_that_only_changes_tags_can_be_executed(cfn):
    _execute(cfn, "small", "CREATE", SMALL, tags={"git-commit": "aaa"})

    stack = _execute(cfn, "small", "UPDATE", SMALL, tags={"git-commit": "bbb"})

    assert stack["StackStatus"] == "UPDATE_COMPLETE"
    assert {tag["Key"]: tag["Value"] for tag in stack["Tags"]} == {"git-commit": "bbb"}


def test_the_real_stacks_update_the_db_instance_in_place_and_delete_completely(cfn):
    settings = params.load("local")
    bigger = settings.model_copy(
        update={"database": settings.database.model_copy(update={"max_allocated_storage_gib": 300})}
    )
    outputs: dict[str, dict[str, str]] = {}
    for key in (naming.NETWORK, naming.DATABASE):
        request = wiring.build_request(
            settings, key, synth.render(settings)[key], outputs, deployer_principal_arn="unused"
        )
        outputs[key] = _outputs(
            _execute(cfn, request.name, "CREATE", request.template_body, request.parameters)
        )
    update = wiring.build_request(
        bigger,
        naming.DATABASE,
        synth.render(bigger)[naming.DATABASE],
        outputs,
        deployer_principal_arn="unused",
    )

    updated = _execute(cfn, update.name, "UPDATE", update.template_body, update.parameters)

    assert updated["StackStatus"] == "UPDATE_COMPLETE"
    assert _outputs(updated) == outputs[naming.DATABASE]  # same instance, same outputs
    for name in ("gif-local-database", "gif-local-network"):
        cfn.delete_stack(StackName=name)
    statuses = {s["StackName"]: s["StackStatus"] for s in cfn.list_stacks()["StackSummaries"]}
    assert statuses == {
        "gif-local-database": "DELETE_COMPLETE",
        "gif-local-network": "DELETE_COMPLETE",
    }


def test_an_interrupted_first_deploy_is_created_afresh_by_the_next_deploys(emulator, cfn):
    """Issue 15 item 1: a first deploy killed between CreateChangeSet and ExecuteChangeSet
    leaves gif-local-network REVIEW_IN_PROGRESS; the next deploys go through the engine."""
    from rich.console import Console

    from infra.cfn.engine import StackEngine
    from infra.cfn.types import DeployOptions, StackRequest

    name = "gif-local-network"
    cfn.create_change_set(
        StackName=name, ChangeSetName="interrupted", ChangeSetType="CREATE", TemplateBody=SMALL
    )
    other = cfn.create_change_set(
        StackName="gif-local-other",
        ChangeSetName="in-flight",
        ChangeSetType="CREATE",
        TemplateBody=SMALL,
    )
    out = Console(record=True, width=200)
    engine = StackEngine(
        cfn,
        out,
        DeployOptions(yes=True, interactive=False),
        poll_interval=0.01,
        stack_poll_interval=0.01,
    )
    request = StackRequest(key="network", name=name, template_body=SMALL, parameters={}, tags={})

    results = [engine.deploy(request).status for _ in range(3)]

    assert results == ["created", "unchanged", "unchanged"]
    stacks = [s for s in cfn.list_stacks()["StackSummaries"] if s["StackName"] == name]
    assert [s["StackStatus"] for s in stacks] == ["CREATE_COMPLETE"]
    assert "removed 1 stale change set(s)" in out.export_text()
    # Another stack's change set is not this stack's to remove.
    assert cfn.describe_change_set(ChangeSetName=other["Id"])["Status"] == "CREATE_COMPLETE"
