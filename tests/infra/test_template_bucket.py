"""infra/template_bucket.py against moto's S3 over HTTP."""

from __future__ import annotations

from infra.template_bucket import TemplateBucket, bucket_name
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
    created = [c for c in calls if c.endswith("CreateBucket")]
    assert len(created) == 1


def test_us_east_1_needs_no_location_constraint(moto: MotoServer):
    s3 = moto.client("s3", region="us-east-1")
    store = TemplateBucket(s3, ACCOUNT_ID, "us-east-1")

    store.upload("gif-ci", "Resources: {}\n")

    assert s3.head_bucket(Bucket=bucket_name(ACCOUNT_ID, "us-east-1"))
