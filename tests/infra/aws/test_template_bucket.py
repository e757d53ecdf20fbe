"""infra/aws/template_bucket.py against moto's S3 over HTTP."""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.stub import ANY, Stubber

from infra.aws.template_bucket import TemplateBucket, bucket_name
from infra.core.cfn_limits import TEMPLATE_URL_LIMIT
from infra.core.errors import BadInput
from tests.support.moto_server import ACCOUNT_ID, MotoServer


def test_the_bucket_is_created_private_and_encrypted_once(moto: MotoServer):
    s3 = moto.client("s3")
    calls = []
    s3.meta.events.register("before-call.s3.*", lambda event_name, **_: calls.append(event_name))
    store = TemplateBucket(s3, ACCOUNT_ID, "eu-west-1")

    url = store.upload("gif-prod-cluster", "Resources: {}\n")
    again = store.upload("gif-prod-cluster", "Resources: {}\n")

    name = bucket_name(ACCOUNT_ID, "eu-west-1")
    assert url == again and url.startswith(f"{moto.url}/{name}/gif-prod-cluster/")
    key = url.split(f"/{name}/", 1)[1]
    assert s3.get_object(Bucket=name, Key=key)["Body"].read() == b"Resources: {}\n"
    location = s3.get_bucket_location(Bucket=name)["LocationConstraint"]
    assert location == "eu-west-1"
    assert all(s3.get_public_access_block(Bucket=name)["PublicAccessBlockConfiguration"].values())
    assert s3.get_bucket_encryption(Bucket=name)["ServerSideEncryptionConfiguration"]["Rules"]
    rules = s3.get_bucket_lifecycle_configuration(Bucket=name)["Rules"]
    assert rules[0]["Expiration"] == {"Days": 90}
    created = [c for c in calls if c.endswith("CreateBucket")]
    assert len(created) == 1


def test_us_east_1_needs_no_location_constraint(moto: MotoServer):
    s3 = moto.client("s3", region="us-east-1")
    store = TemplateBucket(s3, ACCOUNT_ID, "us-east-1")

    store.upload("gif-ci", "Resources: {}\n")

    assert s3.head_bucket(Bucket=bucket_name(ACCOUNT_ID, "us-east-1"))


def test_over_https_the_bucket_also_refuses_plain_http_requests():
    s3 = boto3.client(
        "s3", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    name = bucket_name(ACCOUNT_ID, "eu-west-1")
    with Stubber(s3) as stub:
        stub.add_client_error("head_bucket", "404", http_status_code=404)
        for operation in ("create_bucket", "put_public_access_block", "put_bucket_encryption"):
            stub.add_response(operation, {})
        stub.add_response("put_bucket_policy", {}, {"Bucket": name, "Policy": ANY})
        stub.add_response("put_bucket_lifecycle_configuration", {})
        stub.add_response("put_object", {})
        seen = []
        s3.meta.events.register(
            "before-parameter-build.s3.PutBucketPolicy",
            lambda params, **_: seen.append(json.loads(params["Policy"])),
        )

        TemplateBucket(s3, ACCOUNT_ID, "eu-west-1").upload("gif-prod-cluster", "x: 1\n")

    assert seen == [
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "DenyInsecureTransport",
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": ["s3:*"],
                    "Resource": [f"arn:aws:s3:::{name}", f"arn:aws:s3:::{name}/*"],
                    "Condition": {"Bool": {"aws:SecureTransport": False}},
                }
            ],
        }
    ]


def test_a_template_too_big_for_s3_is_refused_before_any_call():
    class NoCalls:
        def __getattr__(self, name):
            raise AssertionError(f"S3 was called: {name}")

    bucket = TemplateBucket(NoCalls(), "111122223333", "eu-west-1")
    with pytest.raises(BadInput, match=r"gif-prod-cluster is 460,801 bytes, over"):
        bucket.upload("gif-prod-cluster", "x" * (TEMPLATE_URL_LIMIT + 1))


def test_two_stack_threads_with_large_templates_create_the_bucket_once():
    """Issue 15 item 18: both threads saw no bucket and both created it; the second
    CreateBucket then failed with BucketAlreadyOwnedByYou."""
    import threading
    import time
    from types import SimpleNamespace

    from botocore.exceptions import ClientError

    from infra.aws.template_bucket import TemplateBucket

    created: list[str] = []

    class SlowS3:
        meta = SimpleNamespace(endpoint_url="http://127.0.0.1:1", partition="aws")

        def head_bucket(self, **kwargs):
            exists = bool(created)  # what S3 knows when the request arrives
            time.sleep(0.05)
            if not exists:
                raise ClientError({"Error": {"Code": "404"}}, "HeadBucket")

        def create_bucket(self, **kwargs):
            if created:
                raise ClientError({"Error": {"Code": "BucketAlreadyOwnedByYou"}}, "CreateBucket")
            created.append(kwargs["Bucket"])

        def __getattr__(self, name):
            return lambda **kwargs: {}

    bucket = TemplateBucket(SlowS3(), "123456789012", "eu-west-1")
    errors: list[Exception] = []

    def upload(stack: str) -> None:
        try:
            bucket.upload(stack, "x" * 60_000)
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=upload, args=(f"gif-test-{n}",)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert created == ["gifstack-templates-123456789012-eu-west-1"]
