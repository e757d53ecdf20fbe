"""infra/aws/call_count.py: counting AWS API calls with botocore's event hooks (Stubber)."""

from __future__ import annotations

import boto3
from botocore.stub import Stubber

from infra.aws.call_count import CallCounter


def _session():
    return boto3.Session(aws_access_key_id="x", aws_secret_access_key="x", region_name="eu-west-1")


def test_calls_of_clients_made_after_watching_a_session_are_counted_per_operation():
    counter = CallCounter()
    session = _session()
    counter.watch_session(session)
    cfn = session.client("cloudformation")
    with Stubber(cfn) as stub:
        stub.add_response("describe_stacks", {"Stacks": []})
        stub.add_response("describe_stacks", {"Stacks": []})
        stub.add_response("get_template", {"TemplateBody": "{}"})
        cfn.describe_stacks(StackName="a")
        cfn.describe_stacks(StackName="b")
        cfn.get_template(StackName="a")

    assert counter.total == 3
    assert counter.count("DescribeStacks") == 2
    assert counter.count("ExecuteChangeSet") == 0
    assert counter.describe() == "3 AWS calls (DescribeStacks 2, GetTemplate 1)"


def test_a_watched_client_is_counted_and_nothing_reads_as_zero_calls():
    counter = CallCounter()
    assert counter.describe() == "0 AWS calls"
    sts = _session().client("sts")
    counter.watch_client(sts)
    with Stubber(sts) as stub:
        stub.add_response(
            "get_caller_identity",
            {"Account": "123456789012", "Arn": "arn:aws:iam::123456789012:user/me", "UserId": "u"},
        )
        sts.get_caller_identity()

    assert counter.describe() == "1 AWS call (GetCallerIdentity 1)"
