"""infra/cfn/engine.py: the stack engine.

Happy paths run against moto's server over real HTTP (boto3 -> 127.0.0.1); the states
moto cannot produce (ROLLBACK_COMPLETE, UPDATE_ROLLBACK_FAILED, a stack busy at start,
failed change sets and executions, replacements) run against botocore's Stubber with
the exact API responses CloudFormation gives. No test really sleeps: the engine's
clock is a fake one that advances when it "sleeps".
"""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime

import boto3
import pytest
from botocore.stub import ANY, Stubber
from rich.console import Console

from infra.aws.session import Aws
from infra.aws.template_bucket import bucket_name
from infra.cfn.engine import StackEngine
from infra.cfn.types import DeployOptions, StackRequest
from infra.cfn.waiting import Clock
from infra.core.cfn_limits import TEMPLATE_BODY_LIMIT
from infra.core.errors import BadInput, OperationFailed
from infra.settings.params import Settings
from tests.support.moto_server import ACCOUNT_ID, REGION, MotoServer

TEMPLATE = """\
Description: gifstack engine test stack (resources moto emulates)
Parameters:
  Greeting:
    Type: String
  Suffix:
    Type: String
    Default: fixed
Resources:
  Queue:
    Type: AWS::SQS::Queue
  GreetingParameter:
    Type: AWS::SSM::Parameter
    Properties:
      Name: !Sub /gifstack-test/${AWS::StackName}/greeting
      Type: String
      Value: !Sub ${Greeting}-${Suffix}
Outputs:
  QueueUrl:
    Value: !Ref Queue
"""
POLICY = {
    "Statement": [
        {"Effect": "Allow", "Action": "Update:*", "Principal": "*", "Resource": "*"},
        {
            "Effect": "Deny",
            "Action": ["Update:Replace", "Update:Delete"],
            "Principal": "*",
            "Resource": "LogicalResourceId/DatabaseInstance",
        },
    ]
}
TAGS = {"project": "gif", "environment": "test", "managed-by": "gifstack"}


class FakeClock:
    """Time that only moves when the engine sleeps."""

    def __init__(self) -> None:
        self.t = 1000.0
        self.slept: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.t += seconds

    def clock(self) -> Clock:
        return Clock(now=lambda: self.t, sleep=self.sleep)


def request(name: str = "gif-test-network", greeting: str = "hello", **changes) -> StackRequest:
    base = StackRequest(
        key=name.rsplit("-", 1)[-1],
        name=name,
        template_body=TEMPLATE,
        parameters={"Greeting": greeting},
        tags=TAGS,
        timeout_minutes=5,
        env="test",
    )
    return dataclasses.replace(base, **changes)


def console() -> Console:
    return Console(record=True, width=220, force_terminal=False, color_system=None)


# ------------------------------------------------------------------ against moto


@pytest.fixture
def aws(moto: MotoServer) -> Aws:
    settings = Settings(env="test", region=REGION, aws_endpoint_url=moto.url)
    return Aws(settings, session=moto.session())


def engine_for(aws: Aws, out: Console | None = None, **options) -> StackEngine:
    return StackEngine(
        aws.client("cloudformation"),
        out or console(),
        DeployOptions(**{"yes": True, "interactive": False} | options),
        template_bucket=aws.template_bucket(),
        poll_interval=0.01,
        stack_poll_interval=0.01,
    )


def greeting_in_ssm(aws: Aws, stack: str) -> str | None:
    ssm = aws.client("ssm")
    try:
        return ssm.get_parameter(Name=f"/gifstack-test/{stack}/greeting")["Parameter"]["Value"]
    except ssm.exceptions.ParameterNotFound:
        return None


def test_create_then_noop_deploy_executes_no_change_set_against_moto(aws: Aws):
    out = console()
    engine = engine_for(aws, out)

    created = engine.deploy(request())
    assert (created.status, created.changes) == ("created", 2)
    assert greeting_in_ssm(aws, "gif-test-network") == "hello-fixed"
    stack = aws.client("cloudformation").describe_stacks(StackName="gif-test-network")["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    assert {t["Key"]: t["Value"] for t in stack["Tags"]} == TAGS
    text = out.export_text()
    assert "gif-test-network: 2 change(s)" in text
    assert "AWS::SSM::Parameter" in text and "CREATE_COMPLETE" in text

    cfn = aws.client("cloudformation")
    change_sets = cfn.list_change_sets(StackName="gif-test-network")["Summaries"]
    aws.calls.clear()
    again = engine.deploy(request())
    assert again.status == "unchanged"
    assert again.changes == 0
    # The no-op costs two reads and no change set at all.
    assert dict(aws.calls) == {
        "cloudformation.DescribeStacks": 1,
        "cloudformation.GetTemplate": 1,
    }
    assert cfn.list_change_sets(StackName="gif-test-network")["Summaries"] == change_sets


def test_update_of_one_parameter_reaches_the_resource_against_moto(aws: Aws):
    engine = engine_for(aws)
    engine.deploy(request())

    updated = engine.deploy(request(greeting="bonjour"))

    assert updated.status == "updated"
    # moto 5.2 applies a change set's new parameter values to the stack but does not
    # re-render resources whose properties merely reference them, so check the stack.
    stack = aws.client("cloudformation").describe_stacks(StackName="gif-test-network")["Stacks"][0]
    assert {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]} == {
        "Greeting": "bonjour",
        "Suffix": "fixed",
    }
    status = engine.status("gif-test-network")
    assert status is not None and status.status == "UPDATE_COMPLETE"
    assert status.drift_status == "NOT_CHECKED"
    assert engine.deploy(request(greeting="bonjour")).status == "unchanged"


def test_diff_prints_changes_and_changes_nothing_against_moto(aws: Aws):
    out = console()
    engine = engine_for(aws, out)
    engine.deploy(request())
    cfn = aws.client("cloudformation")
    before = cfn.describe_stacks(StackName="gif-test-network")["Stacks"][0]
    change_sets = cfn.list_change_sets(StackName="gif-test-network")["Summaries"]

    changes = engine.diff(request(greeting="hola"))

    assert [change.action for change in changes] == ["Modify"]
    assert "gif-test-network: 1 change(s)" in out.export_text()
    after = cfn.describe_stacks(StackName="gif-test-network")["Stacks"][0]
    assert after["StackStatus"] == before["StackStatus"] == "CREATE_COMPLETE"
    assert after["Parameters"] == before["Parameters"]
    assert cfn.list_change_sets(StackName="gif-test-network")["Summaries"] == change_sets
    assert engine.diff(request()) == []  # what is deployed: no change set needed


def test_diff_and_dry_run_of_a_new_stack_leave_nothing_behind_against_moto(aws: Aws):
    engine = engine_for(aws)
    assert {c.logical_id for c in engine.diff(request())} == {"Queue", "GreetingParameter"}
    assert engine.status("gif-test-network") is None

    planned = engine_for(aws, dry_run=True).deploy(request())

    assert (planned.status, planned.changes) == ("planned", 2)
    assert engine.status("gif-test-network") is None
    assert greeting_in_ssm(aws, "gif-test-network") is None


def test_destroy_deletes_the_stack_against_moto(aws: Aws):
    engine = engine_for(aws)
    engine.deploy(request())

    result = engine.destroy("gif-test-network")

    assert result.status == "deleted"
    assert engine.status("gif-test-network") is None
    assert engine.destroy("gif-test-network").status == "skipped"


def test_termination_protection_and_stack_policy_set_in_prod_against_moto(aws: Aws):
    engine = engine_for(aws)
    prod = request("gif-prod-database", termination_protection=True, stack_policy=POLICY)

    assert engine.deploy(prod).status == "created"

    cfn = aws.client("cloudformation")
    stack = cfn.describe_stacks(StackName="gif-prod-database")["Stacks"][0]
    assert stack["EnableTerminationProtection"] is True
    policy = cfn.get_stack_policy(StackName="gif-prod-database")["StackPolicyBody"]
    assert json.loads(policy) == POLICY
    assert engine.status("gif-prod-database").termination_protection is True

    aws.calls.clear()
    assert engine.deploy(prod).status == "unchanged"
    assert "cloudformation.SetStackPolicy" not in aws.calls  # already in place
    assert "cloudformation.UpdateTerminationProtection" not in aws.calls

    with pytest.raises(BadInput) as refused:
        engine.destroy("gif-prod-database")
    assert "termination protection" in refused.value.message
    assert "update-termination-protection" in refused.value.message
    assert refused.value.exit_code == 2
    assert engine.status("gif-prod-database").status == "CREATE_COMPLETE"


def test_without_terminal_and_without_yes_it_refuses_instead_of_hanging_against_moto(aws: Aws):
    engine = engine_for(aws, yes=False, interactive=False)

    with pytest.raises(BadInput) as refused:
        engine.deploy(request())

    assert "no terminal" in refused.value.message and "--yes" in refused.value.message
    assert refused.value.exit_code == 2
    assert engine.status("gif-test-network") is None  # change set and empty stack removed


def test_a_declined_confirmation_changes_nothing_against_moto(aws: Aws):
    engine_for(aws).deploy(request())
    cfn = aws.client("cloudformation")
    change_sets = cfn.list_change_sets(StackName="gif-test-network")["Summaries"]
    questions = []
    engine = StackEngine(
        aws.client("cloudformation"),
        console(),
        DeployOptions(interactive=True),
        poll_interval=0.01,
        stack_poll_interval=0.01,
        confirm=lambda question: questions.append(question) or False,
    )

    result = engine.deploy(request(greeting="ciao"))

    assert result.status == "skipped"
    assert questions == ["Apply these 1 change(s) to gif-test-network?"]
    stack = cfn.describe_stacks(StackName="gif-test-network")["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    assert stack["Parameters"][0] == {"ParameterKey": "Greeting", "ParameterValue": "hello"}
    assert cfn.list_change_sets(StackName="gif-test-network")["Summaries"] == change_sets


def test_a_template_over_the_body_limit_goes_through_a_private_bucket_against_moto(
    moto: MotoServer,
):
    settings = Settings(env="test", region=REGION, aws_endpoint_url=moto.localhost_url)
    aws = Aws(settings, session=moto.session())
    padding = "x" * (TEMPLATE_BODY_LIMIT + 100)
    big = TEMPLATE.replace("Resources:", f"Metadata:\n  Padding: {padding}\nResources:", 1)
    engine = engine_for(aws)

    assert engine.deploy(request(template_body=big)).status == "created"

    s3 = aws.client("s3")
    bucket = bucket_name(ACCOUNT_ID, REGION)
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    assert len(keys) == 1 and keys[0].startswith("gif-test-network/")
    block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert all(block.values())
    rules = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]
    assert rules["Rules"][0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    assert greeting_in_ssm(aws, "gif-test-network") == "hello-fixed"
    assert engine.deploy(request(template_body=big)).status == "unchanged"


def test_outputs_and_status_are_read_from_describe_stacks_against_moto(aws: Aws):
    # moto 5.2 reports no outputs for stacks made through ExecuteChangeSet (a known gap),
    # so this stack is set up with CreateStack, for which it does.
    cfn = aws.client("cloudformation")
    cfn.create_stack(
        StackName="gif-test-registry",
        TemplateBody=TEMPLATE,
        Parameters=[{"ParameterKey": "Greeting", "ParameterValue": "hi"}],
    )
    # The queue's URL as moto's SQS names it (with AWS's own host, not the endpoint's).
    queue = aws.client("sqs").list_queues()["QueueUrls"][0].rsplit("/", 1)[1]
    queue_url = f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT_ID}/{queue}"
    engine = engine_for(aws)

    status = engine.status("gif-test-registry")
    assert (status.status, status.outputs) == ("CREATE_COMPLETE", {"QueueUrl": queue_url})
    assert status.last_updated.endswith("+00:00")
    assert engine.status("gif-test-nothing") is None


# ---------------------------------------------------------- with botocore's Stubber

NAME = "gif-prod-database"
STACK_ID = f"arn:aws:cloudformation:{REGION}:{ACCOUNT_ID}:stack/{NAME}/1111"
NEW_STACK_ID = f"arn:aws:cloudformation:{REGION}:{ACCOUNT_ID}:stack/{NAME}/2222"
CHANGE_SET_ID = f"arn:aws:cloudformation:{REGION}:{ACCOUNT_ID}:changeSet/gifstack-x/3333"
CREATED = datetime(2026, 11, 1, tzinfo=UTC)


def stack(status: str, stack_id: str = STACK_ID, **extra) -> dict:
    return {
        "StackId": stack_id,
        "StackName": NAME,
        "StackStatus": status,
        "CreationTime": CREATED,
        "Parameters": [
            {"ParameterKey": "Greeting", "ParameterValue": "hello"},
            {"ParameterKey": "Suffix", "ParameterValue": "fixed"},
        ],
        "Tags": [{"Key": k, "Value": v} for k, v in TAGS.items()],
        **extra,
    }


def stacks(status: str, stack_id: str = STACK_ID, **extra) -> dict:
    return {"Stacks": [stack(status, stack_id, **extra)]}


def event(number: int, logical: str, rtype: str, status: str, reason: str = "", sid=STACK_ID):
    return {
        "StackId": sid,
        "EventId": f"event-{number}",
        "StackName": NAME,
        "LogicalResourceId": logical,
        "ResourceType": rtype,
        "ResourceStatus": status,
        "ResourceStatusReason": reason,
        "Timestamp": datetime(2026, 11, 27, 6, 0, number, tzinfo=UTC),
    }


def events(*items: dict) -> dict:
    """DescribeStackEvents lists newest first."""
    return {"StackEvents": sorted(items, key=lambda e: e["Timestamp"], reverse=True)}


def change(
    logical: str,
    rtype: str,
    action: str = "Modify",
    replacement: str = "False",
    recreate: tuple[str, ...] = (),
) -> dict:
    resource = {"Action": action, "LogicalResourceId": logical, "ResourceType": rtype}
    if action == "Modify":
        resource["Replacement"] = replacement
        resource["Details"] = [
            {"Target": {"Attribute": "Properties", "Name": name, "RequiresRecreation": "Always"}}
            for name in recreate
        ]
    return {"Type": "Resource", "ResourceChange": resource}


def change_set(status: str = "CREATE_COMPLETE", changes=(), reason: str = "", sid=STACK_ID):
    return {
        "ChangeSetId": CHANGE_SET_ID,
        "StackId": sid,
        "StackName": NAME,
        "Status": status,
        "StatusReason": reason,
        "ExecutionStatus": "AVAILABLE" if status == "CREATE_COMPLETE" else "UNAVAILABLE",
        "Changes": list(changes),
    }


def operation_events(*validation: dict, status: str = "SUCCEEDED", sid=STACK_ID) -> dict:
    """DescribeEvents for the change set (CloudFormation User Guide, "Validate stack
    deployments", sample output): the change set operation's own event, then any
    VALIDATION_ERROR events of AWS's pre-deployment validation."""
    operation = {
        "EventId": "operation-1",
        "StackId": sid,
        "OperationId": "f558b823-e1e3-4de3-a222-e6b930ddcad4",
        "OperationType": "CREATE_CHANGESET",
        "OperationStatus": status,
        "EventType": "STACK_EVENT",
        "Timestamp": datetime(2026, 11, 27, 6, 0, 0, tzinfo=UTC),
    }
    return {"OperationEvents": [operation, *validation]}


def validated(stubber: Stubber, *validation: dict, status: str = "SUCCEEDED", sid=STACK_ID):
    """The engine reads AWS's validation of the change set by its ARN."""
    stubber.add_response(
        "describe_events",
        operation_events(*validation, status=status, sid=sid),
        {"ChangeSetName": CHANGE_SET_ID},
    )


def available(stubber: Stubber, status: str = "AVAILABLE", reason: str = "") -> None:
    """The engine re-reads the change set right before executing it (ExecutionStatus)."""
    answer = change_set() | {"ExecutionStatus": status, "StatusReason": reason}
    stubber.add_response("describe_change_set", answer)


def attempted(client) -> list[str]:
    """Every operation the engine tries to call, recorded before the Stubber answers (an
    unexpected call must not hide behind the error the Stubber raises for it)."""
    names: list[str] = []
    client.meta.events.register(
        "before-parameter-build.cloudformation", lambda model, **_: names.append(model.name)
    )
    return names


def missing(stubber: Stubber, name: str = NAME) -> None:
    stubber.add_client_error(
        "describe_stacks",
        service_error_code="ValidationError",
        service_message=f"Stack with id {name} does not exist",
        expected_params={"StackName": name},
    )


@pytest.fixture
def cfn():
    client = boto3.client(
        "cloudformation",
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def stubbed_engine(client, out=None, fake=None, **options) -> StackEngine:
    return StackEngine(
        client,
        out or console(),
        DeployOptions(**{"yes": True, "interactive": False} | options),
        poll_interval=30,
        stack_poll_interval=30,
        clock=(fake or FakeClock()).clock(),
    )


def prod_request(**changes) -> StackRequest:
    return request(NAME, key="database", env="prod", **changes)


def test_rollback_complete_is_deleted_and_created_again(cfn):
    client, stubber = cfn
    out = console()
    stubber.add_response("describe_stacks", stacks("ROLLBACK_COMPLETE"), {"StackName": NAME})
    first_try = event(0, "Subnet", "AWS::EC2::Subnet", "CREATE_FAILED", "CIDR is invalid")
    stubber.add_response(
        "describe_stack_events",
        events(first_try, event(1, NAME, "AWS::CloudFormation::Stack", "ROLLBACK_COMPLETE")),
    )
    stubber.add_response("delete_stack", {}, {"StackName": STACK_ID})
    stubber.add_response("describe_stacks", stacks("DELETE_COMPLETE"), {"StackName": STACK_ID})
    stubber.add_response(
        "describe_stack_events",
        events(
            event(1, NAME, "AWS::CloudFormation::Stack", "ROLLBACK_COMPLETE"),
            event(2, NAME, "AWS::CloudFormation::Stack", "DELETE_COMPLETE"),
        ),
    )
    stubber.add_response(
        "create_change_set",
        {"Id": CHANGE_SET_ID, "StackId": NEW_STACK_ID},
        {
            "StackName": NAME,
            "ChangeSetName": ANY,
            "ChangeSetType": "CREATE",
            "Parameters": [{"ParameterKey": "Greeting", "ParameterValue": "hello"}],
            "Tags": ANY,
            "Capabilities": ["CAPABILITY_NAMED_IAM"],
            "Description": ANY,
            "TemplateBody": TEMPLATE,
        },
    )
    stubber.add_response(
        "describe_change_set",
        change_set(changes=[change("Queue", "AWS::SQS::Queue", action="Add")], sid=NEW_STACK_ID),
    )
    validated(stubber, sid=NEW_STACK_ID)
    stubber.add_response(
        "describe_stack_events",
        events(
            event(3, NAME, "AWS::CloudFormation::Stack", "REVIEW_IN_PROGRESS", sid=NEW_STACK_ID)
        ),
    )
    available(stubber)
    stubber.add_response(
        "execute_change_set", {}, {"ChangeSetName": CHANGE_SET_ID, "StackName": NEW_STACK_ID}
    )
    stubber.add_response(
        "describe_stacks",
        stacks(
            "CREATE_COMPLETE",
            NEW_STACK_ID,
            Outputs=[{"OutputKey": "QueueUrl", "OutputValue": "https://q"}],
        ),
        {"StackName": NEW_STACK_ID},
    )
    stubber.add_response(
        "describe_stack_events",
        events(
            event(3, NAME, "AWS::CloudFormation::Stack", "REVIEW_IN_PROGRESS", sid=NEW_STACK_ID),
            event(4, "Queue", "AWS::SQS::Queue", "CREATE_COMPLETE", sid=NEW_STACK_ID),
            event(5, NAME, "AWS::CloudFormation::Stack", "CREATE_COMPLETE", sid=NEW_STACK_ID),
        ),
    )

    result = stubbed_engine(client, out).deploy(prod_request())

    assert result.status == "created"
    assert result.outputs == {"QueueUrl": "https://q"}
    text = out.export_text()
    assert (
        f"{NAME} is ROLLBACK_COMPLETE (its first create failed: Subnet CREATE_FAILED: CIDR is "
        "invalid). Such a stack can only be deleted: deleting it and creating it again"
    ) in text
    # new events only, oldest first, prefixed with the stack name and elapsed time
    lines = [line for line in text.splitlines() if "CREATE_COMPLETE" in line]
    assert lines[0].startswith(f"{NAME} +0:00 06:00:04 Queue AWS::SQS::Queue CREATE_COMPLETE")
    assert "REVIEW_IN_PROGRESS" not in text


def rollback_failed_events() -> dict:
    """An update fails on Subnets (its neighbours cancelled), the rollback then fails on
    DatabaseInstance: only that one is "in the UPDATE_FAILED state because a rollback failed"
    (ContinueUpdateRollback's ResourcesToSkip, botocore's model); the cancelled Queue and the
    resources that failed to be created or deleted are not skippable."""
    stack_event = "AWS::CloudFormation::Stack"
    return events(
        event(1, NAME, stack_event, "UPDATE_IN_PROGRESS"),
        event(2, "Subnets", "AWS::RDS::DBSubnetGroup", "UPDATE_FAILED", "Subnet is in use"),
        event(3, "Queue", "AWS::SQS::Queue", "UPDATE_FAILED", "Resource update cancelled"),
        event(4, NAME, stack_event, "UPDATE_ROLLBACK_IN_PROGRESS", "Subnets failed"),
        event(
            5,
            "DatabaseInstance",
            "AWS::RDS::DBInstance",
            "UPDATE_FAILED",
            "DB instance is in state storage-full",
        ),
        event(6, "Queue", "AWS::SQS::Queue", "UPDATE_FAILED", "Resource update cancelled"),
        event(7, "Topic", "AWS::SNS::Topic", "CREATE_FAILED", "Topic quota exceeded"),
        event(8, "Logs", "AWS::S3::Bucket", "DELETE_FAILED", "The bucket is not empty"),
        event(9, NAME, stack_event, "UPDATE_ROLLBACK_FAILED", "DatabaseInstance failed"),
    )


def test_update_rollback_failed_stops_naming_stuck_resources_and_the_recover_command(cfn):
    client, stubber = cfn
    stubber.add_response("describe_stacks", stacks("UPDATE_ROLLBACK_FAILED"))
    stubber.add_response("describe_stack_events", rollback_failed_events(), {"StackName": STACK_ID})

    with pytest.raises(OperationFailed) as stopped:
        stubbed_engine(client).deploy(prod_request())

    message = stopped.value.message
    assert "UPDATE_ROLLBACK_FAILED" in message
    assert "DatabaseInstance (UPDATE_FAILED: DB instance is in state storage-full)" in message
    assert "Subnets" not in message
    assert "`invoke recover --env prod --stack database`" in message
    assert "--skip DatabaseInstance`" in message
    assert "Queue" not in message and "Topic" not in message and "Logs" not in message
    assert stopped.value.exit_code == 1


def test_a_stack_that_can_only_be_deleted_says_how_to_delete_just_that_stack(cfn):
    client, stubber = cfn
    stubber.add_response("describe_stacks", stacks("DELETE_FAILED"))
    stubber.add_response(
        "list_stack_resources",
        {
            "StackResourceSummaries": [
                {
                    "LogicalResourceId": "Logs",
                    "ResourceType": "AWS::S3::Bucket",
                    "ResourceStatus": "DELETE_FAILED",
                    "ResourceStatusReason": "The bucket is not empty",
                    "LastUpdatedTimestamp": CREATED,
                }
            ]
        },
    )

    with pytest.raises(OperationFailed) as stopped:
        stubbed_engine(client).deploy(prod_request())

    assert stopped.value.message == (
        f"stack {NAME} is DELETE_FAILED (stuck on Logs (DELETE_FAILED: The bucket is not "
        "empty)); a stack in this state can only be deleted. Fix the cause, delete just this "
        f"stack with `aws cloudformation delete-stack --stack-name {NAME} --region {REGION}` "
        "(add `--retain-resources Logs` to keep what cannot be deleted), then deploy again."
    )


def test_recover_continues_the_rollback_skipping_the_named_resources(cfn):
    client, stubber = cfn
    stubber.add_response("describe_stacks", stacks("UPDATE_ROLLBACK_FAILED"))
    stubber.add_response(
        "describe_stack_events",
        events(event(1, NAME, "AWS::CloudFormation::Stack", "UPDATE_ROLLBACK_FAILED")),
    )
    stubber.add_response(
        "continue_update_rollback",
        {},
        {"StackName": STACK_ID, "ResourcesToSkip": ["DatabaseInstance"]},
    )
    stubber.add_response("describe_stacks", stacks("UPDATE_ROLLBACK_COMPLETE"))
    stubber.add_response(
        "describe_stack_events",
        events(
            event(1, NAME, "AWS::CloudFormation::Stack", "UPDATE_ROLLBACK_FAILED"),
            event(2, NAME, "AWS::CloudFormation::Stack", "UPDATE_ROLLBACK_COMPLETE"),
        ),
    )

    result = stubbed_engine(client).recover(NAME, ["DatabaseInstance"])

    assert result.status == "recovered"


def test_recover_refuses_a_stack_that_is_not_stuck(cfn):
    client, stubber = cfn
    stubber.add_response("describe_stacks", stacks("UPDATE_COMPLETE"))

    with pytest.raises(BadInput, match="is UPDATE_COMPLETE, not UPDATE_ROLLBACK_FAILED"):
        stubbed_engine(client).recover(NAME, [])


def test_a_stack_in_progress_at_start_is_waited_for_then_deployed(cfn):
    client, stubber = cfn
    fake = FakeClock()
    out = console()
    stubber.add_response("describe_stacks", stacks("UPDATE_IN_PROGRESS"))
    stubber.add_response(
        "describe_stack_events",
        events(event(1, NAME, "AWS::CloudFormation::Stack", "UPDATE_IN_PROGRESS")),
    )
    stubber.add_response("describe_stacks", stacks("UPDATE_IN_PROGRESS"), {"StackName": STACK_ID})
    stubber.add_response(
        "describe_stack_events",
        events(event(1, NAME, "AWS::CloudFormation::Stack", "UPDATE_IN_PROGRESS")),
    )
    stubber.add_response("describe_stacks", stacks("UPDATE_COMPLETE"), {"StackName": STACK_ID})
    stubber.add_response(
        "describe_stack_events",
        events(
            event(1, NAME, "AWS::CloudFormation::Stack", "UPDATE_IN_PROGRESS"),
            event(2, NAME, "AWS::CloudFormation::Stack", "UPDATE_COMPLETE"),
        ),
    )
    stubber.add_response(
        "get_template",
        {"TemplateBody": TEMPLATE},
        {"StackName": STACK_ID, "TemplateStage": "Original"},
    )

    result = stubbed_engine(client, out, fake).deploy(prod_request())

    assert result.status == "unchanged"
    assert fake.slept == [30]
    text = out.export_text()
    assert "is UPDATE_IN_PROGRESS" in text and "waiting for it to settle" in text
    assert f"{NAME} +0:30 06:00:02 {NAME} AWS::CloudFormation::Stack UPDATE_COMPLETE" in text


def test_a_change_set_failed_for_another_reason_than_no_changes_fails(cfn):
    client, stubber = cfn
    missing(stubber)
    stubber.add_response("create_change_set", {"Id": CHANGE_SET_ID, "StackId": NEW_STACK_ID})
    reason = "Template format error: Unresolved resource dependencies [Vpc] in the Resources block"
    stubber.add_response(
        "describe_change_set", change_set("FAILED", reason=reason, sid=NEW_STACK_ID)
    )
    validated(stubber, status="FAILED", sid=NEW_STACK_ID)  # no validation finding
    stubber.add_response(
        "delete_change_set", {}, {"ChangeSetName": CHANGE_SET_ID, "StackName": NEW_STACK_ID}
    )
    stubber.add_response("delete_stack", {}, {"StackName": NEW_STACK_ID})  # the empty REVIEW stack

    with pytest.raises(OperationFailed) as failed:
        stubbed_engine(client).deploy(prod_request())

    assert failed.value.message == f"creating change set for stack {NAME}: {reason}"
    assert failed.value.exit_code == 1


def test_a_change_set_without_changes_is_deleted_and_reported_unchanged(cfn):
    client, stubber = cfn
    stubber.add_response("describe_stacks", stacks("UPDATE_COMPLETE", Tags=[]))  # tags differ
    stubber.add_response("create_change_set", {"Id": CHANGE_SET_ID, "StackId": STACK_ID})
    stubber.add_response(
        "describe_change_set",
        change_set(
            "FAILED",
            reason="The submitted information didn't contain changes. "
            "Submit different information to create a change set.",
        ),
    )
    stubber.add_response(
        "delete_change_set", {}, {"ChangeSetName": CHANGE_SET_ID, "StackName": STACK_ID}
    )
    calls = attempted(client)

    assert stubbed_engine(client).deploy(prod_request()).status == "unchanged"
    assert "DescribeEvents" not in calls  # an empty change set has nothing to validate


def _replacement_change_set(stubber: Stubber) -> None:
    stubber.add_response("describe_stacks", stacks("UPDATE_COMPLETE"))
    stubber.add_response("get_template", {"TemplateBody": TEMPLATE.replace("fixed", "old")})
    stubber.add_response("create_change_set", {"Id": CHANGE_SET_ID, "StackId": STACK_ID})
    stubber.add_response(
        "describe_change_set",
        change_set(
            changes=[
                change(
                    "DatabaseInstance",
                    "AWS::RDS::DBInstance",
                    replacement="True",
                    recreate=("DBInstanceIdentifier",),
                ),
                change(
                    "Alarm", "AWS::CloudWatch::Alarm", replacement="True", recreate=("AlarmName",)
                ),
            ]
        ),
    )
    validated(stubber)


def test_replacing_the_database_in_prod_is_refused_without_allow_replace(cfn):
    client, stubber = cfn
    out = console()
    _replacement_change_set(stubber)
    stubber.add_response(
        "delete_change_set", {}, {"ChangeSetName": CHANGE_SET_ID, "StackName": STACK_ID}
    )

    engine = stubbed_engine(client, out, protect_stateful=True, yes=True)
    with pytest.raises(BadInput) as refused:
        engine.deploy(prod_request(stack_policy=POLICY))

    message = refused.value.message
    assert "DatabaseInstance (AWS::RDS::DBInstance)" in message
    assert "Alarm" not in message  # replacing an alarm loses nothing
    assert "--allow-replace" in message and "Nothing was changed" in message
    assert refused.value.exit_code == 2
    text = out.export_text()
    assert "DatabaseInstance (holds data)" in text and "DBInstanceIdentifier" in text


def test_allow_replace_lifts_the_stack_policy_for_that_update_only_then_restores_it(cfn):
    client, stubber = cfn
    _replacement_change_set(stubber)
    allow_all = {
        "Statement": [{"Effect": "Allow", "Action": "Update:*", "Principal": "*", "Resource": "*"}]
    }
    stubber.add_response(
        "set_stack_policy", {}, {"StackName": STACK_ID, "StackPolicyBody": json.dumps(allow_all)}
    )
    stubber.add_response(
        "describe_stack_events",
        events(event(1, NAME, "AWS::CloudFormation::Stack", "UPDATE_COMPLETE")),
    )
    available(stubber)
    stubber.add_response(
        "execute_change_set", {}, {"ChangeSetName": CHANGE_SET_ID, "StackName": STACK_ID}
    )
    stubber.add_response("describe_stacks", stacks("UPDATE_COMPLETE"))
    stubber.add_response(
        "describe_stack_events",
        events(
            event(1, NAME, "AWS::CloudFormation::Stack", "UPDATE_COMPLETE"),
            event(2, "DatabaseInstance", "AWS::RDS::DBInstance", "UPDATE_COMPLETE"),
            event(3, NAME, "AWS::CloudFormation::Stack", "UPDATE_COMPLETE"),
        ),
    )

    stubber.add_response(  # the stored policy is back once the update is done
        "set_stack_policy", {}, {"StackName": STACK_ID, "StackPolicyBody": json.dumps(POLICY)}
    )

    out = console()
    engine = stubbed_engine(client, out, protect_stateful=True, allow_replace=True)
    result = engine.deploy(prod_request(stack_policy=POLICY))

    assert (result.status, result.changes) == ("updated", 2)
    text = out.export_text()
    assert text.index("stack policy lifted") < text.index("DatabaseInstance AWS::RDS::DBInstance")
    assert text.index("DatabaseInstance AWS::RDS::DBInstance") < text.index("stack policy restored")


def test_a_failed_execution_reports_the_root_cause_first(cfn):
    client, stubber = cfn
    out = console()
    missing(stubber)
    stubber.add_response("create_change_set", {"Id": CHANGE_SET_ID, "StackId": NEW_STACK_ID})
    stubber.add_response(
        "describe_change_set",
        change_set(changes=[change("Subnet", "AWS::EC2::Subnet", action="Add")], sid=NEW_STACK_ID),
    )
    validated(stubber, sid=NEW_STACK_ID)
    review = event(1, NAME, "AWS::CloudFormation::Stack", "REVIEW_IN_PROGRESS", sid=NEW_STACK_ID)
    stubber.add_response("describe_stack_events", events(review))
    available(stubber)
    stubber.add_response("execute_change_set", {})
    stubber.add_response("describe_stacks", stacks("ROLLBACK_COMPLETE", NEW_STACK_ID))
    stubber.add_response(
        "describe_stack_events",
        events(
            review,
            event(2, "Vpc", "AWS::EC2::VPC", "CREATE_IN_PROGRESS", sid=NEW_STACK_ID),
            event(
                3,
                "Subnet",
                "AWS::EC2::Subnet",
                "CREATE_FAILED",
                "Value (10.0.0.0/33) for parameter cidrBlock is invalid",
                sid=NEW_STACK_ID,
            ),
            event(
                4,
                "Vpc",
                "AWS::EC2::VPC",
                "CREATE_FAILED",
                "Resource creation cancelled",
                sid=NEW_STACK_ID,
            ),
            event(
                5,
                NAME,
                "AWS::CloudFormation::Stack",
                "ROLLBACK_IN_PROGRESS",
                "The following resource(s) failed to create: [Subnet, Vpc].",
                sid=NEW_STACK_ID,
            ),
            event(6, NAME, "AWS::CloudFormation::Stack", "ROLLBACK_COMPLETE", sid=NEW_STACK_ID),
        ),
    )

    with pytest.raises(OperationFailed) as failed:
        stubbed_engine(client, out).deploy(prod_request())

    assert failed.value.message == (
        f"stack {NAME} ended ROLLBACK_COMPLETE. Root cause: Subnet (AWS::EC2::Subnet) "
        "CREATE_FAILED: Value (10.0.0.0/33) for parameter cidrBlock is invalid"
    )
    assert failed.value.exit_code == 1
    report = out.export_text().split("root cause first:")[1].splitlines()
    assert report[1].strip().startswith("Subnet AWS::EC2::Subnet CREATE_FAILED")
    assert report[2].strip().startswith("Vpc AWS::EC2::VPC CREATE_FAILED")


def test_a_stack_that_takes_longer_than_its_timeout_fails_with_a_clear_message(cfn):
    client, stubber = cfn
    stubber.add_response("describe_stacks", stacks("UPDATE_IN_PROGRESS"))
    busy = events(event(1, NAME, "AWS::CloudFormation::Stack", "UPDATE_IN_PROGRESS"))
    stubber.add_response("describe_stack_events", busy)
    for _ in range(3):  # t = 0, 30, 60 s: the deadline of a 1-minute timeout
        stubber.add_response("describe_stacks", stacks("UPDATE_IN_PROGRESS"))
        stubber.add_response("describe_stack_events", busy)

    with pytest.raises(OperationFailed) as failed:
        stubbed_engine(client).deploy(prod_request(timeout_minutes=1))

    assert "timed out after 1 min waiting for stack gif-prod-database to settle" in (
        failed.value.message
    )
    assert "still UPDATE_IN_PROGRESS" in failed.value.message


def test_outputs_come_from_describe_stacks(cfn):
    client, stubber = cfn
    stubber.add_response(
        "describe_stacks",
        stacks(
            "UPDATE_COMPLETE", Outputs=[{"OutputKey": "DatabaseEndpoint", "OutputValue": "db.x"}]
        ),
    )
    missing(stubber, "gif-prod-nothing")

    engine = stubbed_engine(client)
    assert engine.status(NAME).outputs == {"DatabaseEndpoint": "db.x"}
    assert engine.status("gif-prod-nothing") is None


def test_api_errors_name_the_action_and_the_stack(cfn):
    client, stubber = cfn
    missing(stubber)
    stubber.add_client_error(
        "create_change_set",
        service_error_code="InsufficientCapabilitiesException",
        service_message="Requires capabilities : [CAPABILITY_NAMED_IAM]",
    )

    with pytest.raises(OperationFailed) as failed:
        stubbed_engine(client).deploy(prod_request(capabilities=()))

    assert failed.value.message == (
        f"creating change set for stack {NAME}: Requires capabilities : [CAPABILITY_NAMED_IAM]"
    )


def test_a_failed_delete_names_the_resource_that_blocks_it(cfn):
    client, stubber = cfn
    stubber.add_response("describe_stacks", stacks("UPDATE_COMPLETE"))
    stubber.add_response(
        "describe_stack_events",
        events(event(1, NAME, "AWS::CloudFormation::Stack", "UPDATE_COMPLETE")),
    )
    stubber.add_response("delete_stack", {}, {"StackName": STACK_ID})
    stubber.add_response("describe_stacks", stacks("DELETE_FAILED"), {"StackName": STACK_ID})
    stubber.add_response(
        "describe_stack_events",
        events(
            event(1, NAME, "AWS::CloudFormation::Stack", "UPDATE_COMPLETE"),
            event(
                2,
                "TemplateBucket",
                "AWS::S3::Bucket",
                "DELETE_FAILED",
                "The bucket you tried to delete is not empty",
            ),
            event(3, NAME, "AWS::CloudFormation::Stack", "DELETE_FAILED"),
        ),
    )

    with pytest.raises(OperationFailed) as failed:
        stubbed_engine(client).destroy(NAME)

    assert failed.value.message == (
        f"stack {NAME} ended DELETE_FAILED. Root cause: TemplateBucket (AWS::S3::Bucket) "
        "DELETE_FAILED: The bucket you tried to delete is not empty"
    )


def test_a_rollback_that_fails_again_names_what_to_skip(cfn):
    client, stubber = cfn
    stubber.add_response("describe_stacks", stacks("UPDATE_ROLLBACK_FAILED"))
    stubber.add_response("describe_stack_events", events())
    stubber.add_response("continue_update_rollback", {}, {"StackName": STACK_ID})
    stubber.add_response("describe_stacks", stacks("UPDATE_ROLLBACK_FAILED"))
    again = events(
        event(10, NAME, "AWS::CloudFormation::Stack", "UPDATE_ROLLBACK_IN_PROGRESS"),
        event(
            11,
            "ParameterGroup",
            "AWS::RDS::DBParameterGroup",
            "UPDATE_FAILED",
            "Parameter group is in use",
        ),
        event(12, NAME, "AWS::CloudFormation::Stack", "UPDATE_ROLLBACK_FAILED"),
    )
    stubber.add_response("describe_stack_events", again)
    stubber.add_response("describe_stack_events", again, {"StackName": STACK_ID})

    with pytest.raises(OperationFailed) as failed:
        stubbed_engine(client).recover(NAME, [])

    assert "failed again on ParameterGroup (UPDATE_FAILED: Parameter group is in use)" in (
        failed.value.message
    )
    assert "--skip ParameterGroup" in failed.value.message


EXECUTION_ROLE = "arn:aws:iam::111122223333:role/gif-ci-cloudformation"


def test_with_an_execution_role_every_create_and_delete_names_it(cfn):
    """CloudFormation provisions as the role (RoleARN on CreateChangeSet and DeleteStack, in
    botocore's CloudFormation model); the deploy role may call neither without it."""
    client, stubber = cfn
    missing(stubber)
    stubber.add_response(
        "create_change_set",
        {"Id": CHANGE_SET_ID, "StackId": NEW_STACK_ID},
        {
            "StackName": NAME,
            "ChangeSetName": ANY,
            "ChangeSetType": "CREATE",
            "Parameters": ANY,
            "Tags": ANY,
            "Capabilities": ANY,
            "Description": ANY,
            "TemplateBody": ANY,
            "RoleARN": EXECUTION_ROLE,
        },
    )
    reason = "Template format error: Unresolved resource dependencies [Vpc] in the Resources block"
    stubber.add_response(
        "describe_change_set", change_set("FAILED", reason=reason, sid=NEW_STACK_ID)
    )
    stubber.add_response(
        "delete_change_set", {}, {"ChangeSetName": CHANGE_SET_ID, "StackName": NEW_STACK_ID}
    )
    stubber.add_response("delete_stack", {}, {"StackName": NEW_STACK_ID, "RoleARN": EXECUTION_ROLE})
    stubber.add_response("describe_stacks", stacks("UPDATE_COMPLETE"), {"StackName": "gif-x"})
    stubber.add_response("describe_stack_events", events())
    stubber.add_response("delete_stack", {}, {"StackName": STACK_ID, "RoleARN": EXECUTION_ROLE})
    stubber.add_response("describe_stacks", stacks("DELETE_COMPLETE"), {"StackName": STACK_ID})
    stubber.add_response("describe_stack_events", events())

    engine = stubbed_engine(client)
    with pytest.raises(OperationFailed):
        engine.deploy(prod_request(role_arn=EXECUTION_ROLE))
    assert engine.destroy("gif-x", role_arn=EXECUTION_ROLE).status == "deleted"
    stubber.assert_no_pending_responses()
