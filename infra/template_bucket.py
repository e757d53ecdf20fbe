"""Templates over CloudFormation's 51,200-byte TemplateBody limit go through S3.

The bucket is created on first use: private (public access blocked, owner-enforced),
encrypted, its name derived from account and region so every run finds the same one.
Keys are content hashes, so uploading the same template twice is harmless.
"""

from __future__ import annotations

import hashlib

from botocore.exceptions import ClientError

from infra.aws import AWS_ERRORS, translate

TEMPLATE_BODY_LIMIT = 51_200  # bytes, CreateChangeSet's TemplateBody maximum


def bucket_name(account_id: str, region: str) -> str:
    return f"gifstack-templates-{account_id}-{region}"


class TemplateBucket:
    def __init__(self, s3_client, account_id: str, region: str):
        self._s3 = s3_client
        self._region = region
        self.name = bucket_name(account_id, region)
        self._ready = False

    def upload(self, stack_name: str, body: str) -> str:
        """Store the template; return the TemplateURL to hand to CloudFormation."""
        data = body.encode()
        key = f"{stack_name}/{hashlib.sha256(data).hexdigest()[:20]}.yaml"
        try:
            self._ensure()
            self._s3.put_object(Bucket=self.name, Key=key, Body=data)
        except AWS_ERRORS as exc:
            raise translate(exc, "uploading the template of stack", stack_name) from None
        # Path-style works for every endpoint, AWS's regional one and an emulator's.
        return f"{self._s3.meta.endpoint_url.rstrip('/')}/{self.name}/{key}"

    def _ensure(self) -> None:
        if self._ready:
            return
        try:
            self._s3.head_bucket(Bucket=self.name)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") not in ("404", "NoSuchBucket", "NotFound"):
                raise
            self._create()
        self._ready = True

    def _create(self) -> None:
        kwargs = {"Bucket": self.name, "ObjectOwnership": "BucketOwnerEnforced"}
        if self._region != "us-east-1":
            kwargs["CreateBucketConfiguration"] = {"LocationConstraint": self._region}
        self._s3.create_bucket(**kwargs)
        self._s3.put_public_access_block(
            Bucket=self.name,
            PublicAccessBlockConfiguration={
                "BlockPublicAcls": True,
                "IgnorePublicAcls": True,
                "BlockPublicPolicy": True,
                "RestrictPublicBuckets": True,
            },
        )
        self._s3.put_bucket_encryption(
            Bucket=self.name,
            ServerSideEncryptionConfiguration={
                "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
            },
        )
