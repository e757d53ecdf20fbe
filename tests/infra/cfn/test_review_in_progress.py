"""A stack left REVIEW_IN_PROGRESS (a first deploy killed between CreateChangeSet and
ExecuteChangeSet) is recovered like the other recoverable states: its stale change sets are
deleted and a CREATE change set creates it afresh. The answers are CloudFormation's
documented ones (botocore's model): ListChangeSets lists "each active change set for a
stack", and a CREATE change set for a stack in REVIEW_IN_PROGRESS keeps its stack ID."""

from __future__ import annotations

from tests.infra.cfn.test_engine import (
    CHANGE_SET_ID,
    CREATED,
    NAME,
    STACK_ID,
    cfn,  # noqa: F401  (the Stubber fixture)
    change,
    change_set,
    console,
    event,
    events,
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
