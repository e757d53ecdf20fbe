"""infra/cfn/drift.py with botocore's Stubber: each answer has the shape botocore's
CloudFormation model gives (Stubber checks every response against it)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from botocore.stub import ANY

from infra.core.errors import OperationFailed
from tests.infra.cfn.test_engine import (
    CHANGE_SET_ID,
    NAME,
    STACK_ID,
    FakeClock,
    cfn,  # noqa: F401  (the fixture)
    change_set,
    missing,
    prod_request,
    stacks,
    stubbed_engine,
)

DETECTION = "b78ac9b0-dec1-11e7-a451-50d5cd24fac6"
WHEN = datetime(2026, 12, 4, 22, 0, tzinfo=UTC)


def status(detection: str, drift: str = "DRIFTED", reason: str = "") -> dict:
    answer = {
        "StackId": STACK_ID,
        "StackDriftDetectionId": DETECTION,
        "DetectionStatus": detection,
        "Timestamp": WHEN,
    }
    if detection != "DETECTION_IN_PROGRESS":
        answer["StackDriftStatus"] = drift
    if reason:
        answer["DetectionStatusReason"] = reason
    return answer


def resource_drift(logical: str, rtype: str, state: str, *differences: dict) -> dict:
    item = {
        "StackId": STACK_ID,
        "LogicalResourceId": logical,
        "PhysicalResourceId": f"{logical.lower()}-1",
        "ResourceType": rtype,
        "StackResourceDriftStatus": state,
        "Timestamp": WHEN,
    }
    if differences:
        item["PropertyDifferences"] = list(differences)
    return item


def difference(path: str, expected: str, actual: str, kind: str = "NOT_EQUAL") -> dict:
    return {"PropertyPath": path, "ExpectedValue": expected, "ActualValue": actual,
            "DifferenceType": kind}  # fmt: skip


def expect_detection(stubber, *, final: dict, pages: list[dict]) -> None:
    stubber.add_response("describe_stacks", stacks("UPDATE_COMPLETE"), {"StackName": NAME})
    stubber.add_response(
        "detect_stack_drift", {"StackDriftDetectionId": DETECTION}, {"StackName": NAME}
    )
    stubber.add_response(
        "describe_stack_drift_detection_status",
        status("DETECTION_IN_PROGRESS"),
        {"StackDriftDetectionId": DETECTION},
    )
    stubber.add_response(
        "describe_stack_drift_detection_status", final, {"StackDriftDetectionId": DETECTION}
    )
    for number, page in enumerate(pages):
        params = {
            "StackName": NAME,
            "StackResourceDriftStatusFilters": ["MODIFIED", "DELETED"],
            "MaxResults": 100,
        }
        if number:
            params["NextToken"] = f"page-{number}"
        stubber.add_response("describe_stack_resource_drifts", page, params)


def test_drift_waits_for_the_detection_and_reads_every_page(cfn):  # noqa: F811
    client, stubber = cfn
    port = difference("/Port", "5432", "5433")
    tag = difference("/Tags/1/Value", "prod", "test")
    expect_detection(
        stubber,
        final=status("DETECTION_COMPLETE"),
        pages=[
            {
                "StackResourceDrifts": [
                    resource_drift("Database", "AWS::RDS::DBInstance", "MODIFIED", port, tag)
                ],
                "NextToken": "page-1",
            },
            {"StackResourceDrifts": [resource_drift("Alarm", "AWS::SNS::Topic", "DELETED")]},
        ],
    )
    fake = FakeClock()

    drift = stubbed_engine(client, fake=fake).drift(NAME)

    assert drift.status == "DRIFTED" and drift.drifted and drift.reason == ""
    assert [(r.logical_id, r.status) for r in drift.resources] == [
        ("Database", "MODIFIED"),
        ("Alarm", "DELETED"),
    ]
    first = drift.resources[0].properties
    assert [(p.path, p.expected, p.actual, p.kind) for p in first] == [
        ("/Port", "5432", "5433", "NOT_EQUAL"),
        ("/Tags/1/Value", "prod", "test", "NOT_EQUAL"),
    ]
    assert drift.resources[1].properties == ()
    assert fake.slept == [30]  # polled once more after DETECTION_IN_PROGRESS


def test_a_failed_detection_still_reports_what_it_could_check(cfn):  # noqa: F811
    client, stubber = cfn
    reason = "Failed to detect drift on resource Cluster: Unsupported resource type"
    expect_detection(
        stubber,
        final=status("DETECTION_FAILED", drift="IN_SYNC", reason=reason),
        pages=[{"StackResourceDrifts": []}],
    )

    drift = stubbed_engine(client).drift(NAME)

    assert (drift.status, drift.drifted, drift.reason) == ("IN_SYNC", False, reason)


def test_a_stack_that_does_not_exist_has_no_drift(cfn):  # noqa: F811
    client, stubber = cfn
    missing(stubber)
    assert stubbed_engine(client).drift(NAME) is None


def test_a_detection_that_never_ends_times_out_naming_the_stack(cfn):  # noqa: F811
    client, stubber = cfn
    stubber.add_response("describe_stacks", stacks("UPDATE_COMPLETE"), {"StackName": NAME})
    stubber.add_response("detect_stack_drift", {"StackDriftDetectionId": DETECTION})
    for _ in range(3):
        stubber.add_response(
            "describe_stack_drift_detection_status", status("DETECTION_IN_PROGRESS")
        )
    with pytest.raises(OperationFailed, match=f"drift detection of stack {NAME}"):
        stubbed_engine(client).drift(NAME, timeout_minutes=1)


def test_reverting_drift_asks_for_drift_aware_update_change_sets_only(cfn):  # noqa: F811
    client, stubber = cfn
    stubber.add_response("describe_stacks", stacks("UPDATE_COMPLETE", Tags=[]))  # tags differ
    stubber.add_response(
        "create_change_set",
        {"Id": CHANGE_SET_ID, "StackId": STACK_ID},
        {
            "StackName": NAME,
            "ChangeSetName": ANY,
            "ChangeSetType": "UPDATE",
            "Parameters": ANY,
            "Tags": ANY,
            "Capabilities": ANY,
            "Description": ANY,
            "TemplateBody": ANY,
            "DeploymentMode": "REVERT_DRIFT",
        },
    )
    stubber.add_response(
        "describe_change_set",
        change_set("FAILED", reason="The submitted information didn't contain changes."),
    )
    stubber.add_response(
        "delete_change_set", {}, {"ChangeSetName": CHANGE_SET_ID, "StackName": STACK_ID}
    )

    result = stubbed_engine(client, revert_drift=True).deploy(prod_request())

    assert result.status == "unchanged"
