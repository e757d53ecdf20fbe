"""Templates over CloudFormation's 51,200-byte TemplateBody limit go through S3.

The bucket is created on first use: private (public access blocked, owner-enforced),
encrypted, TLS only, old templates expire; its name is derived from account and region so
every run finds the same one. Every call names the expected owner, so a bucket of that
name in another account is never written to. Keys are content hashes: uploading the same
template twice is harmless.
"""

from __future__ import annotations

import hashlib
import threading

from awacs import s3 as s3_actions
from awacs.aws import Bool, Condition, Deny, PolicyDocument, Principal, Statement
from botocore.exceptions import ClientError

from infra.aws.errors import AWS_ERRORS, translate
from infra.core.cfn_limits import TEMPLATE_URL_LIMIT
from infra.core.errors import BadInput

EXPIRE_AFTER_DAYS = 90  # a change set reads its template once; keep them a while to debug


def bucket_name(account_id: str, region: str) -> str:
    return f"gifstack-templates-{account_id}-{region}"


class TemplateBucket:
    def __init__(self, s3_client, account_id: str, region: str):
        self._s3 = s3_client
        self._region = region
        self._owner = account_id
        self.name = bucket_name(account_id, region)
        self._ready = False
        # One bucket per run, shared by the stack threads: two large templates at once must
        # not both create it (the second would get BucketAlreadyOwnedByYou).
        self._lock = threading.Lock()

    def upload(self, stack_name: str, body: str) -> str:
        """Store the template; return the TemplateURL to hand to CloudFormation."""
        data = body.encode()
        if len(data) > TEMPLATE_URL_LIMIT:
            raise BadInput(
                f"the template of stack {stack_name} is {len(data):,} bytes, over "
                f"CloudFormation's {TEMPLATE_URL_LIMIT:,}-byte limit for a template in S3; "
                "make it smaller or split the stack."
            )
        key = f"{stack_name}/{hashlib.sha256(data).hexdigest()[:20]}.yaml"
        try:
            self.ensure()
            self._s3.put_object(
                Bucket=self.name, Key=key, Body=data, ExpectedBucketOwner=self._owner
            )
        except AWS_ERRORS as exc:
            raise translate(exc, "uploading the template of stack", stack_name) from None
        # Path-style works for every endpoint, AWS's regional one and an emulator's.
        return f"{self._s3.meta.endpoint_url.rstrip('/')}/{self.name}/{key}"

    def ensure(self) -> None:
        """Create the bucket unless it exists (once per run; raises botocore's errors)."""
        with self._lock:
            if self._ready:
                return
            try:
                self._s3.head_bucket(Bucket=self.name, ExpectedBucketOwner=self._owner)
            except ClientError as exc:
                code = exc.response.get("Error", {}).get("Code")
                if code not in ("404", "NoSuchBucket", "NotFound"):
                    raise
                self._create()
            self._ready = True

    @property
    def owner(self) -> str:
        return self._owner

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
        if self._s3.meta.endpoint_url.startswith("https://"):
            # Over a plain-HTTP endpoint (an S3-compatible server without TLS) this policy
            # would refuse our own uploads; AWS's endpoints are always HTTPS.
            policy = self._tls_only().to_json(indent=None)
            self._s3.put_bucket_policy(Bucket=self.name, Policy=policy)
        self._s3.put_bucket_lifecycle_configuration(
            Bucket=self.name,
            LifecycleConfiguration={
                "Rules": [
                    {
                        "ID": "expire-old-templates",
                        "Status": "Enabled",
                        "Filter": {"Prefix": ""},
                        "Expiration": {"Days": EXPIRE_AFTER_DAYS},
                        "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1},
                    }
                ]
            },
        )

    def _tls_only(self) -> PolicyDocument:
        arn = f"arn:{self._s3.meta.partition}:s3:::{self.name}"
        return PolicyDocument(
            Version="2012-10-17",
            Statement=[
                Statement(
                    Sid="DenyInsecureTransport",
                    Effect=Deny,
                    Principal=Principal("*"),
                    Action=[s3_actions.Action("*")],
                    Resource=[arn, f"{arn}/*"],
                    Condition=Condition(Bool("aws:SecureTransport", False)),
                )
            ],
        )
