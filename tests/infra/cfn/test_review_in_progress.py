"""A stack left REVIEW_IN_PROGRESS (a first deploy killed between CreateChangeSet and
ExecuteChangeSet) is recovered like the other recoverable states: its stale change sets are
deleted and a CREATE change set creates it afresh. The answers are CloudFormation's
documented ones (botocore's model): ListChangeSets lists "each active change set for a
stack", and a CREATE change set for a stack in REVIEW_IN_PROGRESS keeps its stack ID."""

from __future__ import annotations

import pytest
from botocore import xform_name

from infra.core.errors import OperationFailed
from tests.infra.cfn.test_engine import (
    CHANGE_SET_ID,
    CREATED,
    NAME,
    STACK_ID,
    attempted,
    available,
    cfn,  # noqa: F401  (the Stubber fixture)
    change,
    change_set,
    console,
    event,
    events,
    missing,
    prod_request,
    stacks,
    stubbed_engine,
    validated,
)

STALE_ID = f"{CHANGE_SET_ID.rsplit('/', 1)[0]}/0000"


def _review_in_progress(stubber) -> None:
    stubber.add_response("describe_stacks", stacks("REVIEW_IN_PROGRESS"), {"StackName": NAME})


def test_review_in_progress_loses_its_stale_change_sets_and_is_created_afresh(cfn):  # noqa: F811
    client, stubber = cfn
    out = console()
    _review_in_progress(stubber)
    stubber.add_response(
        "list_change_sets",
        {
            "Summaries": [
                {
                    "StackId": STACK_ID,
                    "StackName": NAME,
                    "ChangeSetId": STALE_ID,
                    "ChangeSetName": "gifstack-20261201000000-deadbeef",
                    "ExecutionStatus": "AVAILABLE",
                    "Status": "CREATE_COMPLETE",
                    "CreationTime": CREATED,
                }
            ]
        },
        {"StackName": STACK_ID},
    )
    stubber.add_response(
        "delete_change_set", {}, {"ChangeSetName": STALE_ID, "StackName": STACK_ID}
    )
    # The same stack ID comes back: the CREATE change set is the husk's.
    stubber.add_response("create_change_set", {"Id": CHANGE_SET_ID, "StackId": STACK_ID})
    stubber.add_response(
        "describe_change_set", change_set(changes=[change("Queue", "AWS::SQS::Queue", "Add")])
    )
    validated(stubber)
    review = event(1, NAME, "AWS::CloudFormation::Stack", "REVIEW_IN_PROGRESS")
    stubber.add_response("describe_stack_events", events(review))
    available(stubber)
    stubber.add_response(
        "execute_change_set", {}, {"ChangeSetName": CHANGE_SET_ID, "StackName": STACK_ID}
    )
    stubber.add_response("describe_stacks", stacks("CREATE_COMPLETE"))
    stubber.add_response(
        "describe_stack_events",
        events(review, event(2, NAME, "AWS::CloudFormation::Stack", "CREATE_COMPLETE")),
    )

    result = stubbed_engine(client, out).deploy(prod_request())

    assert result.status == "created"
    assert (
        f"{NAME} is REVIEW_IN_PROGRESS (an earlier first deploy stopped before executing its "
        "change set): removed 1 stale change set(s); creating it afresh"
    ) in out.export_text()


def test_a_dry_run_of_a_review_in_progress_stack_plans_it_and_calls_nothing_else(cfn):  # noqa: F811
    client, stubber = cfn
    _review_in_progress(stubber)

    result = stubbed_engine(client, dry_run=True).deploy(prod_request())

    assert (result.status, result.message) == (
        "planned",
        "REVIEW_IN_PROGRESS: stale change sets would go, stack created afresh",
    )


# ------------------------------------------------ executing only what can still be executed


def _first_create_up_to_execution(stubber) -> None:
    """A first deploy: no stack, a CREATE change set (its stack REVIEW_IN_PROGRESS)."""
    missing(stubber)
    stubber.add_response("create_change_set", {"Id": CHANGE_SET_ID, "StackId": STACK_ID})
    stubber.add_response(
        "describe_change_set", change_set(changes=[change("Queue", "AWS::SQS::Queue", "Add")])
    )
    validated(stubber)
    review = event(1, NAME, "AWS::CloudFormation::Stack", "REVIEW_IN_PROGRESS")
    stubber.add_response("describe_stack_events", events(review))


def _cleaned_up(stubber) -> None:
    """What the change set created goes: the change set, then its empty stack."""
    stubber.add_response(
        "delete_change_set", {}, {"ChangeSetName": CHANGE_SET_ID, "StackName": STACK_ID}
    )
    stubber.add_response("delete_stack", {}, {"StackName": STACK_ID})


def test_a_change_set_no_longer_available_is_not_executed_but_deleted(cfn):  # noqa: F811
    """OBSOLETE: "because the stack was already updated" (DescribeChangeSet's ExecutionStatus,
    botocore's model); executing it would fail with InvalidChangeSetStatus."""
    client, stubber = cfn
    _first_create_up_to_execution(stubber)
    available(stubber, "OBSOLETE")
    _cleaned_up(stubber)
    calls = attempted(client)

    with pytest.raises(OperationFailed) as stopped:
        stubbed_engine(client).deploy(prod_request())

    assert "execute_change_set" not in [xform_name(name) for name in calls]
    assert stopped.value.message == (
        f"the change set of stack {NAME} can no longer be executed (ExecutionStatus OBSOLETE: "
        "the stack changed while it was being reviewed); it was deleted and nothing was "
        "changed. Run the deploy again to make a new one."
    )


def test_a_failed_execute_deletes_the_change_set_and_the_empty_stack_it_made(cfn):  # noqa: F811
    client, stubber = cfn
    _first_create_up_to_execution(stubber)
    available(stubber)
    stubber.add_client_error(
        "execute_change_set",
        service_error_code="InvalidChangeSetStatus",
        service_message="ChangeSet [gifstack-x] cannot be executed in its current status of "
        "[OBSOLETE]",
        http_status_code=400,
    )
    _cleaned_up(stubber)

    with pytest.raises(OperationFailed, match="executing change set for stack"):
        stubbed_engine(client).deploy(prod_request())
