"""Waiting that respects the account (issue 15 item 16): stack waits poll at 15-30 s
(botocore's own CloudFormation waiters: 30 s), change sets faster; events are read no more
often than the stack; AWS throttling a wait past botocore's retries means keep waiting."""

from __future__ import annotations

from botocore.stub import Stubber
from rich.console import Console

from infra.cfn.engine import STACK_POLL_S, StackEngine
from infra.cfn.types import DeployOptions
from tests.infra.cfn.test_engine import (
    NAME,
    STACK_ID,
    TEMPLATE,
    FakeClock,
    cfn,  # noqa: F401  (the Stubber fixture)
    console,
    event,
    events,
    prod_request,
    stacks,
)

STACK_EVENT = "AWS::CloudFormation::Stack"


def _engine(client, out: Console, fake: FakeClock) -> StackEngine:
    """The engine as the frame makes it: default intervals."""
    options = DeployOptions(yes=True, interactive=False)
    return StackEngine(client, out, options, clock=fake.clock())


def _settles_after(stubber: Stubber, *middle) -> None:
    stubber.add_response("describe_stacks", stacks("UPDATE_IN_PROGRESS"))
    running = events(event(1, NAME, STACK_EVENT, "UPDATE_IN_PROGRESS"))
    stubber.add_response("describe_stack_events", running)
    for add in middle:
        add()
    stubber.add_response("describe_stacks", stacks("UPDATE_COMPLETE"), {"StackName": STACK_ID})
    stubber.add_response(
        "describe_stack_events",
        events(
            event(1, NAME, STACK_EVENT, "UPDATE_IN_PROGRESS"),
            event(2, NAME, STACK_EVENT, "UPDATE_COMPLETE"),
        ),
    )
    stubber.add_response(
        "get_template",
        {"TemplateBody": TEMPLATE},
        {"StackName": STACK_ID, "TemplateStage": "Original"},
    )


def test_a_stack_wait_polls_at_the_accounts_pace_by_default(cfn):  # noqa: F811
    client, stubber = cfn
    fake = FakeClock()

    def still_running():
        stubber.add_response("describe_stacks", stacks("UPDATE_IN_PROGRESS"))
        stubber.add_response(
            "describe_stack_events", events(event(1, NAME, STACK_EVENT, "UPDATE_IN_PROGRESS"))
        )

    _settles_after(stubber, still_running)

    _engine(client, console(), fake).deploy(prod_request())

    assert 15 <= STACK_POLL_S <= 30
    assert fake.slept == [STACK_POLL_S]


def test_throttling_during_a_wait_keeps_waiting(cfn):  # noqa: F811
    """Throttling past botocore's retries (adaptive, 10 attempts) says nothing about the stack:
    CloudFormation carries on, so the wait does; no events are read on that poll."""
    client, stubber = cfn
    out = console()
    fake = FakeClock()

    def throttled():
        stubber.add_client_error(
            "describe_stacks",
            service_error_code="Throttling",
            service_message="Rate exceeded",
            http_status_code=400,
        )

    _settles_after(stubber, throttled)

    result = _engine(client, out, fake).deploy(prod_request())

    assert result.status == "unchanged"
    assert "AWS is throttling the status reads: still waiting" in out.export_text()
    assert fake.slept == [STACK_POLL_S]


def test_the_delete_wait_fails_where_botocores_delete_waiter_does(cfn):  # noqa: F811
    """StackDeleteComplete (botocore's waiters-2 model) fails on DELETE_FAILED, CREATE_FAILED,
    ROLLBACK_FAILED, UPDATE_ROLLBACK_IN_PROGRESS/FAILED/COMPLETE and UPDATE_COMPLETE."""
    import botocore.session
    import pytest

    from infra.cfn.statuses import DELETE_BAD
    from infra.core.errors import OperationFailed

    waiter = botocore.session.get_session().get_waiter_model("cloudformation")
    acceptors = waiter.get_waiter("StackDeleteComplete").acceptors
    assert {a.expected for a in acceptors if a.state == "failure"} == DELETE_BAD

    client, stubber = cfn
    stubber.add_response("describe_stacks", stacks("UPDATE_COMPLETE"))
    stubber.add_response("describe_stack_events", events(event(1, NAME, STACK_EVENT, "X")))
    stubber.add_response("delete_stack", {}, {"StackName": STACK_ID})
    stubber.add_response("describe_stacks", stacks("UPDATE_COMPLETE"), {"StackName": STACK_ID})
    stubber.add_response("describe_stack_events", events(event(1, NAME, STACK_EVENT, "X")))

    with pytest.raises(OperationFailed, match="ended UPDATE_COMPLETE"):
        _engine(client, console(), FakeClock()).destroy(NAME)
