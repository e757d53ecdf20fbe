"""infra/cfn/validation.py and its place in the plan: CloudFormation's pre-deployment
validation of a change set, read with DescribeEvents.

AWS's answers are recorded with botocore's Stubber, in the response shapes of the locked
botocore's model (the Stubber checks every response against it) and with the values of the
CloudFormation User Guide's sample ("Validate stack deployments"). moto has no
DescribeEvents: the engine must say so once and carry on, which runs against moto's server.
"""

from __future__ import annotations

from datetime import UTC, datetime

import boto3
import pytest
from botocore.stub import Stubber

from infra.aws.session import Aws
from infra.cfn.engine import StackEngine
from infra.cfn.types import DeployOptions
from infra.cfn.validation import from_events
from infra.core.errors import OperationFailed
from infra.settings.params import Settings
from tests.infra.cfn.test_engine import (
    CHANGE_SET_ID,
    NAME,
    NEW_STACK_ID,
    REGION,
    STACK_ID,
    FakeClock,
    attempted,
    available,
    change,
    change_set,
    console,
    engine_for,
    event,
    events,
    missing,
    operation_events,
    prod_request,
    request,
    stacks,
    stubbed_engine,
    validated,
)
from tests.support.moto_server import MotoServer

# DescribeChangeSet's StatusReason for a change set the validation failed, as CloudFormation
# words it (not a documented string: the engine never parses it, it reads DescribeEvents).
EARLY_VALIDATION = (
    "The following hook(s)/validation failed: [AWS::EarlyValidation::{}]. To troubleshoot "
    "Early Validation errors, use the DescribeEvents API for detailed failure information."
)
UNAVAILABLE = "pre-deployment validation results are not available from this endpoint"


def finding(
    logical: str,
    rtype: str,
    path: str,
    check: str,
    reason: str,
    mode: str = "FAIL",
    sid: str = STACK_ID,
    status: str = "FAILED",
) -> dict:
    """One VALIDATION_ERROR event, shaped like the User Guide's sample."""
    return {
        "EventId": f"validation-{logical}",
        "StackId": sid,
        "OperationId": "f558b823-e1e3-4de3-a222-e6b930ddcad4",
        "OperationType": "CREATE_CHANGESET",
        "EventType": "VALIDATION_ERROR",
        "LogicalResourceId": logical,
        "PhysicalResourceId": "",
        "ResourceType": rtype,
        "Timestamp": datetime(2026, 11, 27, 6, 0, 1, tzinfo=UTC),
        "ValidationFailureMode": mode,
        "ValidationName": check,
        "ValidationStatus": status,
        "ValidationStatusReason": reason,
        "ValidationPath": path,
    }


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


def one_line(text: str) -> str:
    return " ".join(text.split())


def test_a_failed_property_validation_is_shown_with_its_template_path_and_nothing_runs(cfn):
    client, stubber = cfn
    out = console()
    calls = attempted(client)
    missing(stubber)
    stubber.add_response("create_change_set", {"Id": CHANGE_SET_ID, "StackId": NEW_STACK_ID})
    stubber.add_response(
        "describe_change_set",
        change_set(
            "FAILED", reason=EARLY_VALIDATION.format("PropertyValidation"), sid=NEW_STACK_ID
        ),
    )
    validated(
        stubber,
        finding(
            "Database",
            "AWS::RDS::DBInstance",
            "/Resources/Database/Properties/AllocatedStorage",
            "PROPERTY_VALIDATION",
            "#/AllocatedStorage: expected type: String, found: JSONObject",
            sid=NEW_STACK_ID,
        ),
        status="FAILED",
        sid=NEW_STACK_ID,
    )
    stubber.add_response(
        "delete_change_set", {}, {"ChangeSetName": CHANGE_SET_ID, "StackName": NEW_STACK_ID}
    )
    stubber.add_response("delete_stack", {}, {"StackName": NEW_STACK_ID})  # the empty stack

    with pytest.raises(OperationFailed) as stopped:
        stubbed_engine(client, out).deploy(prod_request())

    assert stopped.value.message == (
        f"stack {NAME}: CloudFormation's pre-deployment validation failed the change set, so "
        "nothing was changed. Database (AWS::RDS::DBInstance) at "
        "/Resources/Database/Properties/AllocatedStorage: #/AllocatedStorage: expected type: "
        "String, found: JSONObject. To fix: the value at the template path does not match the "
        "resource type's schema: fix its builder in infra/stacks/, then `invoke synth` and "
        "`invoke lint` (cfn-lint reads the same schemas), then deploy again."
    )
    assert "ExecuteChangeSet" not in calls
    assert calls[-3:] == ["DescribeEvents", "DeleteChangeSet", "DeleteStack"]
    text = out.export_text()
    assert f"{NAME}: 1 pre-deployment validation finding(s) from AWS" in text
    row = next(line for line in text.splitlines() if "Database" in line and "FAIL" in line)
    assert one_line(row.replace("│", " ")) == (
        "FAIL Database AWS::RDS::DBInstance /Resources/Database/Properties/AllocatedStorage "
        "PROPERTY_VALIDATION #/AllocatedStorage: expected type: String, found: JSONObject"
    )
    assert "FAIL: CloudFormation will not execute this change set." in one_line(text)
    assert "create-change-set --disable-validation" in one_line(text)


def test_a_resource_name_conflict_stops_the_update_and_names_the_resource(cfn):
    client, stubber = cfn
    out = console()
    calls = attempted(client)
    stubber.add_response("describe_stacks", stacks("UPDATE_COMPLETE", Tags=[]))  # tags differ
    stubber.add_response("create_change_set", {"Id": CHANGE_SET_ID, "StackId": STACK_ID})
    stubber.add_response(
        "describe_change_set",
        change_set("FAILED", reason=EARLY_VALIDATION.format("ResourceExistenceCheck")),
    )
    # Two pages (the paginator follows NextToken); AWS lists a WARN finding first.
    first_page = operation_events(
        finding(
            "AuditBucket",
            "AWS::S3::Bucket",
            "/Resources/AuditBucket",
            "S3_BUCKET_EMPTINESS",  # AWS documents the check, not its ValidationName
            "The bucket contains 3 objects",
            mode="WARN",
        ),
        status="FAILED",
    )
    stubber.add_response(
        "describe_events",
        {**first_page, "NextToken": "page-2"},
        {"ChangeSetName": CHANGE_SET_ID},
    )
    conflict = (
        "Resource of type 'AWS::Logs::LogGroup' with identifier "
        "'/aws/rds/instance/gif-prod/postgresql' already exists."
    )
    stubber.add_response(
        "describe_events",
        {
            "OperationEvents": [
                finding(
                    "PostgresqlLogGroup",
                    "AWS::Logs::LogGroup",
                    "/Resources/PostgresqlLogGroup",
                    "NAME_CONFLICT_VALIDATION",
                    conflict,
                ),
                finding(  # a check that did not run found nothing
                    "Database",
                    "AWS::RDS::DBInstance",
                    "/Resources/Database",
                    "PROPERTY_VALIDATION",
                    "",
                    status="SKIPPED",
                ),
            ]
        },
        {"ChangeSetName": CHANGE_SET_ID, "NextToken": "page-2"},
    )
    stubber.add_response(
        "delete_change_set", {}, {"ChangeSetName": CHANGE_SET_ID, "StackName": STACK_ID}
    )

    with pytest.raises(OperationFailed) as stopped:
        stubbed_engine(client, out).deploy(prod_request())

    message = stopped.value.message
    assert message.startswith(
        f"stack {NAME}: CloudFormation's pre-deployment validation failed the change set, so "
        f"nothing was changed. PostgresqlLogGroup (AWS::Logs::LogGroup) at "
        f"/Resources/PostgresqlLogGroup: {conflict} (1 more finding(s) listed above). "
    )
    assert "already exists outside the stack: delete or rename it" in message
    assert stopped.value.exit_code == 1
    assert "ExecuteChangeSet" not in calls and "SetStackPolicy" not in calls
    text = out.export_text()
    assert f"{NAME}: 2 pre-deployment validation finding(s) from AWS" in text
    rows = [line for line in text.splitlines() if "/Resources/" in line]
    assert [one_line(row.replace("│", " ")).split()[:2] for row in rows] == [
        ["FAIL", "PostgresqlLogGroup"],
        ["WARN", "AuditBucket"],
    ]


@pytest.mark.parametrize("confirming", [True, False], ids=["asked", "--yes"])
def test_warnings_only_are_shown_and_aws_lets_the_change_set_run(cfn, confirming):
    client, stubber = cfn
    out = console()
    stubber.add_response("describe_stacks", stacks("UPDATE_COMPLETE", Tags=[]))
    stubber.add_response("create_change_set", {"Id": CHANGE_SET_ID, "StackId": STACK_ID})
    stubber.add_response(
        "describe_change_set",
        change_set(changes=[change("AuditBucket", "AWS::S3::Bucket", action="Remove")]),
    )
    validated(
        stubber,
        finding(
            "AuditBucket",
            "AWS::S3::Bucket",
            "/Resources/AuditBucket",
            "S3_BUCKET_EMPTINESS",  # illustrative: AWS documents the check, not this name
            "The bucket contains 3 objects",
            mode="WARN",
        ),
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
            event(2, "AuditBucket", "AWS::S3::Bucket", "DELETE_COMPLETE"),
        ),
    )
    questions: list[str] = []
    engine = StackEngine(
        client,
        out,
        DeployOptions(yes=not confirming, interactive=confirming),
        poll_interval=30,
        stack_poll_interval=30,
        clock=FakeClock().clock(),
        confirm=lambda question: questions.append(question) or True,
    )

    result = engine.deploy(prod_request())

    assert (result.status, result.changes) == ("updated", 1)
    text = one_line(out.export_text())
    assert f"{NAME}: 1 pre-deployment validation finding(s) from AWS" in text
    assert "WARN AuditBucket AWS::S3::Bucket /Resources/AuditBucket" in text.replace("│ ", "")
    assert "WARN only: AWS lets this change set execute despite the warnings" in text
    assert "empty an S3 bucket or ECR repository the change deletes" in text
    if confirming:
        assert questions == [f"Apply these 1 change(s) to {NAME} despite 1 validation warning(s)?"]
    else:
        assert questions == []
        assert "executing despite 1 validation warning(s) (--yes; AWS allows it)" in text


def test_a_fail_finding_on_a_change_set_that_was_created_still_stops_it(cfn):
    # AWS documents FAIL findings as ending the change set FAILED; should one come with a
    # CREATE_COMPLETE change set, the engine still never executes it.
    client, stubber = cfn
    calls = attempted(client)
    stubber.add_response("describe_stacks", stacks("UPDATE_COMPLETE", Tags=[]))
    stubber.add_response("create_change_set", {"Id": CHANGE_SET_ID, "StackId": STACK_ID})
    stubber.add_response(
        "describe_change_set", change_set(changes=[change("Queue", "AWS::SQS::Queue")])
    )
    validated(
        stubber,
        finding("Queue", "AWS::SQS::Queue", "/Resources/Queue", "PROPERTY_VALIDATION", "bad"),
    )
    stubber.add_response(
        "delete_change_set", {}, {"ChangeSetName": CHANGE_SET_ID, "StackName": STACK_ID}
    )

    with pytest.raises(
        OperationFailed, match="Queue \\(AWS::SQS::Queue\\) at /Resources/Queue: bad"
    ):
        stubbed_engine(client).deploy(prod_request())

    assert "ExecuteChangeSet" not in calls


def test_an_endpoint_without_describe_events_is_said_once_and_deploys_carry_on_against_moto(
    moto: MotoServer,
):
    aws = Aws(
        Settings(env="test", region=REGION, aws_endpoint_url=moto.url), session=moto.session()
    )
    out = console()

    # Two engines (as two stack threads have) on the run's one client.
    assert engine_for(aws, out).deploy(request("gif-test-network")).status == "created"
    assert engine_for(aws, out).deploy(request("gif-test-database")).status == "created"

    text = one_line(out.export_text())
    assert text.count(UNAVAILABLE) == 1
    assert f"({moto.url} does not implement CloudFormation's DescribeEvents)" in text
    assert "finding(s) from AWS" not in text  # nothing made up in its place
    assert aws.calls["cloudformation.DescribeEvents"] == 1  # not asked again
    assert aws.calls["cloudformation.ExecuteChangeSet"] == 2


@pytest.mark.parametrize(
    ("code", "said"),
    [
        ("InvalidAction", UNAVAILABLE),  # AWS's answer to an action an endpoint lacks
        (
            "AccessDenied",
            f"reading the pre-deployment validation of stack {NAME}: access denied",
        ),
    ],
)
def test_findings_that_cannot_be_read_are_said_and_the_plan_carries_on(cfn, code, said):
    client, stubber = cfn
    out = console()
    missing(stubber)
    stubber.add_response("create_change_set", {"Id": CHANGE_SET_ID, "StackId": NEW_STACK_ID})
    stubber.add_response(
        "describe_change_set",
        change_set(changes=[change("Queue", "AWS::SQS::Queue", action="Add")], sid=NEW_STACK_ID),
    )
    stubber.add_client_error(
        "describe_events",
        service_error_code=code,
        service_message="not for you",
        http_status_code=400 if code == "InvalidAction" else 403,
        expected_params={"ChangeSetName": CHANGE_SET_ID},
    )
    stubber.add_response(
        "delete_change_set", {}, {"ChangeSetName": CHANGE_SET_ID, "StackName": NEW_STACK_ID}
    )
    stubber.add_response("delete_stack", {}, {"StackName": NEW_STACK_ID})

    result = stubbed_engine(client, out, dry_run=True).deploy(prod_request())

    assert (result.status, result.changes) == ("planned", 1)
    text = one_line(out.export_text())
    assert said in text
    assert "Traceback" not in text


def test_only_validation_errors_that_ran_are_findings_fail_first():
    found = from_events(
        [
            {"EventType": "STACK_EVENT", "OperationStatus": "FAILED"},
            {"EventType": "VALIDATION_ERROR", "ValidationFailureMode": "WARN"},
            {"EventType": "VALIDATION_ERROR", "ValidationStatus": "SKIPPED"},
            {"EventType": "PROVISIONING_ERROR", "ResourceStatus": "CREATE_FAILED"},
            {"EventType": "VALIDATION_ERROR", "ValidationFailureMode": "FAIL"},
        ]
    )

    assert [(f.mode, f.blocks) for f in found] == [("FAIL", True), ("WARN", False)]
