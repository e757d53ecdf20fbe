"""infra/cfn/events.py: new stack events only, one line each, and the root cause first.

Runs against botocore's Stubber with DescribeStackEvents pages as CloudFormation
returns them (newest first, NextToken for older pages)."""

from __future__ import annotations

from datetime import UTC, datetime

import boto3
import pytest
from botocore.stub import Stubber
from rich.console import Console

from infra.cfn.events import EventStream, StackEvent, root_cause_first

STACK_ID = "arn:aws:cloudformation:eu-west-1:123456789012:stack/gif-dev-network/1"


def raw(number: int, logical: str, status: str, reason: str = "", rtype="AWS::EC2::Subnet"):
    return {
        "StackId": STACK_ID,
        "EventId": f"e{number}",
        "StackName": "gif-dev-network",
        "LogicalResourceId": logical,
        "ResourceType": rtype,
        "ResourceStatus": status,
        "ResourceStatusReason": reason,
        "Timestamp": datetime(2026, 11, 27, 7, 0, number, tzinfo=UTC),
    }


@pytest.fixture
def cfn():
    client = boto3.client(
        "cloudformation",
        region_name="eu-west-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def test_only_new_events_are_printed_oldest_first_with_name_and_elapsed_time(cfn):
    client, stubber = cfn
    now = [100.0]
    console = Console(record=True, width=200, color_system=None)
    stream = EventStream(client, STACK_ID, "gif-dev-network", console, 100.0, lambda: now[0])
    old = raw(1, "Vpc", "CREATE_COMPLETE", rtype="AWS::EC2::VPC")
    stubber.add_response("describe_stack_events", {"StackEvents": [old]}, {"StackName": STACK_ID})
    stubber.add_response(
        "describe_stack_events",
        {
            "StackEvents": [
                raw(3, "Subnet", "CREATE_COMPLETE"),
                raw(2, "Subnet", "CREATE_IN_PROGRESS"),
                old,
            ]
        },
    )
    stubber.add_response(
        "describe_stack_events", {"StackEvents": [raw(3, "Subnet", "CREATE_COMPLETE"), old]}
    )

    stream.mark()
    now[0] = 175.0
    fresh = stream.poll()
    nothing = stream.poll()

    assert [event.event_id for event in fresh] == ["e2", "e3"]
    assert nothing == []
    assert console.export_text().splitlines() == [
        "gif-dev-network +1:15 07:00:02 Subnet AWS::EC2::Subnet CREATE_IN_PROGRESS",
        "gif-dev-network +1:15 07:00:03 Subnet AWS::EC2::Subnet CREATE_COMPLETE",
    ]


def test_pages_are_followed_until_the_last_known_event(cfn):
    client, stubber = cfn
    console = Console(record=True, width=200, color_system=None)
    stream = EventStream(client, STACK_ID, "gif-dev-network", console, 0.0, lambda: 0.0)
    stubber.add_response("describe_stack_events", {"StackEvents": [raw(1, "A", "CREATE_COMPLETE")]})
    stubber.add_response(
        "describe_stack_events",
        {
            "StackEvents": [raw(4, "D", "CREATE_COMPLETE"), raw(3, "C", "CREATE_COMPLETE")],
            "NextToken": "t",
        },
    )
    stubber.add_response(
        "describe_stack_events",
        {
            "StackEvents": [raw(2, "B", "CREATE_COMPLETE"), raw(1, "A", "CREATE_COMPLETE")],
            "NextToken": "u",
        },
        {"StackName": STACK_ID, "NextToken": "t"},
    )

    stream.mark()
    assert [event.logical_id for event in stream.poll()] == ["B", "C", "D"]
    assert [event.logical_id for event in stream.seen] == ["B", "C", "D"]


def test_reasons_are_printed_and_markup_in_them_is_not_interpreted(cfn):
    client, stubber = cfn
    console = Console(record=True, width=300, color_system=None)
    stream = EventStream(client, STACK_ID, "gif-dev-network", console, 0.0, lambda: 0.0)
    stubber.add_response("describe_stack_events", {"StackEvents": []})
    stubber.add_response(
        "describe_stack_events",
        {
            "StackEvents": [
                raw(1, "Subnet", "CREATE_FAILED", "Value [bold]10.0.0.0/33[/bold] is invalid")
            ]
        },
    )

    stream.mark()
    stream.poll()

    assert "CREATE_FAILED  Value [bold]10.0.0.0/33[/bold] is invalid" in console.export_text()


def test_root_cause_comes_before_cancellations_and_stack_summaries():
    events = [
        StackEvent.from_api(raw(1, "Vpc", "CREATE_COMPLETE")),
        StackEvent.from_api(raw(2, "Nat", "CREATE_FAILED", "Resource creation cancelled")),
        StackEvent.from_api(raw(3, "Subnet", "CREATE_FAILED", "The CIDR is invalid")),
        StackEvent.from_api(
            raw(4, "gif", "UPDATE_ROLLBACK_FAILED", "rollback failed", "AWS::CloudFormation::Stack")
        ),
        StackEvent.from_api(raw(5, "Route", "CREATE_FAILED", "Route table is gone")),
    ]

    ordered = [event.logical_id for event in root_cause_first(events)]

    assert ordered == ["Subnet", "Route", "Nat", "gif"]


def test_a_quiet_stack_gets_a_still_line_once_a_minute(cfn):
    client, _ = cfn  # no API call: the heartbeat only speaks
    now = [0.0]
    console = Console(record=True, width=200, color_system=None)
    stream = EventStream(client, STACK_ID, "gif-dev-database", console, 0.0, lambda: now[0])

    for t in (30.0, 61.0, 90.0, 125.0):
        now[0] = t
        stream.heartbeat("CREATE_IN_PROGRESS")

    assert console.export_text().splitlines() == [
        "gif-dev-database +1:01 still CREATE_IN_PROGRESS",
        "gif-dev-database +2:05 still CREATE_IN_PROGRESS",
    ]
