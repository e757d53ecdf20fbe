"""The one boto3 gateway: a session per settings, clients with adaptive retries, and
`ClientError` translated once into errors that name the action and the object."""

from __future__ import annotations

import os
import threading
from collections import Counter
from dataclasses import dataclass

import boto3
from botocore.config import Config
from botocore.exceptions import (
    ProfileNotFound,
    UnknownRegionError,
)

from infra.aws.call_count import CallCounter
from infra.aws.errors import AWS_ERRORS, RETRIES, translate
from infra.aws.template_bucket import TemplateBucket
from infra.core.errors import BadInput
from infra.settings.params import Settings

# The identity check comes first and, with no network, would otherwise spend botocore's
# whole adaptive budget (10 attempts with backoff: 82 s measured) before saying anything.
# Two attempts in all (botocore's Config: total_max_attempts counts the first request)
# with a 3 s connect timeout answer within seconds; a slow but working STS has 10 s to reply.
FAST_FAIL = Config(
    connect_timeout=3, read_timeout=10, retries={"mode": "standard", "total_max_attempts": 2}
)


@dataclass(frozen=True)
class Identity:
    account_id: str
    arn: str  # as STS reports it (an assumed-role session for roles)
    principal_arn: str  # the IAM user or role itself: what an EKS access entry names


class Aws:
    """One boto3 session for one environment's settings; clients are cached and shared
    by threads (boto3 clients are thread-safe, creating them is not)."""

    def __init__(
        self,
        settings: Settings,
        *,
        profile: str | None = None,
        session: boto3.Session | None = None,
    ):
        self.settings = settings
        try:
            self.session = session or boto3.Session(
                profile_name=profile, region_name=settings.region
            )
        except ProfileNotFound as exc:
            raise BadInput(
                f"{exc}. List the configured profiles with `aws configure list-profiles` "
                "and set AWS_PROFILE to one of them."
            ) from None
        self._clients: dict[str, object] = {}
        self._identity: Identity | None = None
        self._lock = threading.Lock()
        # Every API call of every client of this session (retries of one call count once).
        self.counter = CallCounter()
        self.counter.watch_session(self.session)
        self._config = Config(
            region_name=settings.region, retries=dict(RETRIES), user_agent_extra="gifstack"
        )

    @property
    def region(self) -> str:
        return self.settings.region

    def client(self, service: str):
        """A cached client; `settings.aws_endpoint_url` (the local emulator) when set,
        otherwise boto3's own endpoint resolution (which honours AWS_ENDPOINT_URL).

        The patience is chosen per service: adaptive retries (10 attempts) so the long
        CloudFormation waits ride out throttling; STS, only ever the identity check that
        opens every command, fails fast when AWS is unreachable (FAST_FAIL)."""
        with self._lock:
            if service not in self._clients:
                extra = {}
                if self.settings.aws_endpoint_url:
                    extra["endpoint_url"] = self.settings.aws_endpoint_url
                config = self._config.merge(FAST_FAIL) if service == "sts" else self._config
                self._clients[service] = self.session.client(service, config=config, **extra)
            return self._clients[service]

    @property
    def calls(self) -> Counter[str]:
        """API calls made, per "service.Operation"."""
        return self.counter.calls

    @property
    def call_count(self) -> int:
        return self.counter.total

    def identity(self) -> Identity:
        """Who we are, checked: EKS offered in the region, credentials present and valid,
        and the account the params pin (if any). Raises BadInput with one message each.
        Checked once per session; later calls answer from memory."""
        if self._identity is not None:
            return self._identity
        self._check_region()
        try:
            caller = self.client("sts").get_caller_identity()
        except AWS_ERRORS as exc:
            raise translate(exc, "checking the AWS credentials with", "STS") from None
        account = caller["Account"]
        pinned = self.settings.account_id
        if pinned and account != pinned:
            raise BadInput(
                f"these AWS credentials are for account {account}, but params/"
                f"{self.settings.env}.yaml pins account_id {pinned}. Switch to credentials "
                f"for {pinned} (e.g. another AWS_PROFILE) or fix account_id."
            )
        self._identity = Identity(
            account_id=account, arn=caller["Arn"], principal_arn=self._principal(caller["Arn"])
        )
        return self._identity

    def _principal(self, arn: str) -> str:
        """The IAM principal behind the caller, as an EKS access entry must name it: for a
        role, its real ARN with its path (an IAM Identity Center role lives under
        /aws-reserved/sso.amazonaws.com/...), which the STS session ARN leaves out. Source:
        docs.aws.amazon.com/eks/latest/userguide/creating-access-entries.html ("If the ARN is
        for an IAM role, it can include a path"). Resolved with iam:GetRole; when that is
        denied, the --principal-arn flag (GIFSTACK_PRINCIPAL_ARN) gives it, else BadInput."""
        role = assumed_role_name(arn)
        if role is None:
            return arn
        given = os.environ.get(PRINCIPAL_ARN_VARIABLE, "").strip()
        if given:
            if not given.endswith(f"/{role}") or ":role/" not in given:
                raise BadInput(
                    f"--principal-arn {given} is not the role these credentials act as "
                    f"({role}); pass that role's ARN (`aws iam get-role --role-name {role}`)."
                )
            return given
        try:
            return self.client("iam").get_role(RoleName=role)["Role"]["Arn"]
        except AWS_ERRORS as exc:
            raise BadInput(
                f"can't read the ARN of role {role} (the one these credentials act as) with "
                f"iam:GetRole: {translate(exc, 'reading', 'IAM role').message} Its ARN may "
                "include a path that the session ARN leaves out, and the cluster's access "
                "entry must name it exactly. Pass it with --principal-arn "
                f"(e.g. from `aws iam get-role --role-name {role} --query Role.Arn`)."
            ) from None

    def template_bucket(self) -> TemplateBucket:
        """Where templates too big for TemplateBody go (created on first upload)."""
        return TemplateBucket(self.client("s3"), self.identity().account_id, self.region)

    def _check_region(self) -> None:
        region = self.settings.region
        try:
            partition = self.session.get_partition_for_region(region)
        except UnknownRegionError:
            partition = "aws"  # not in any partition: the check below names the choices
        offered = self.session.get_available_regions("eks", partition_name=partition)
        if region not in offered:
            raise BadInput(
                f"Amazon EKS is not offered in region {region!r} (params/{self.settings.env}.yaml"
                f" 'region'). Pick one of: {', '.join(sorted(offered))}."
            )


# What `--principal-arn` sets: the deployer's role ARN when iam:GetRole is denied.
PRINCIPAL_ARN_VARIABLE = "GIFSTACK_PRINCIPAL_ARN"


def assumed_role_name(arn: str) -> str | None:
    """The role name of an assumed-role session ARN; None for any other ARN.

    arn:aws:sts::111122223333:assumed-role/Deployer/s1 -> Deployer (a role's path is not
    part of the session ARN: `Aws.identity` asks IAM for the role's real ARN).
    """
    parts = arn.split(":", 5)
    if len(parts) == 6 and parts[2] == "sts" and parts[5].startswith("assumed-role/"):
        return parts[5].split("/")[1]
    return None
