"""infra/aws/session.py: the boto3 gateway, against moto's server over HTTP where it can answer,
botocore's Stubber for what moto never says (expired credentials)."""

from __future__ import annotations

import time

import boto3
import botocore.endpoint
import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import (
    ClientError,
    ConnectTimeoutError,
    CredentialRetrievalError,
    EndpointConnectionError,
    ReadTimeoutError,
    TokenRetrievalError,
)
from botocore.retries import bucket
from botocore.stub import Stubber
from invoke import Exit

from infra.aws.errors import AWS_ERRORS, translate
from infra.aws.session import PRINCIPAL_ARN_VARIABLE, Aws, assumed_role_name
from infra.commands.cli import reported
from infra.core.errors import BadInput, OperationFailed
from infra.settings.params import Settings
from tests.support.moto_server import ACCOUNT_ID, REGION, MotoServer


def settings(**values) -> Settings:
    return Settings(env="test", region=REGION, **values)


def client_error(code: str, message: str = "boom", operation: str = "CreateChangeSet"):
    return ClientError({"Error": {"Code": code, "Message": message}}, operation)


@pytest.fixture
def no_ambient_credentials(monkeypatch, tmp_path):
    """Nothing on this machine may lend credentials: env, files, instance metadata."""
    for name in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_ENDPOINT_URL",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


def test_clients_use_the_settings_endpoint_and_adaptive_retries(moto: MotoServer):
    aws = Aws(settings(aws_endpoint_url=moto.url), session=moto.session())

    cfn = aws.client("cloudformation")

    assert cfn.meta.endpoint_url == moto.url
    assert cfn.meta.region_name == REGION
    assert cfn.meta.config.retries["mode"] == "adaptive"
    assert aws.client("cloudformation") is cfn  # one client per service


def test_aws_endpoint_url_from_the_environment_is_honoured(moto, monkeypatch, tmp_path):
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto.url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))

    aws = Aws(settings())  # no aws_endpoint_url: boto3 resolves the endpoint itself

    assert aws.client("sts").meta.endpoint_url == moto.url
    assert aws.identity().account_id == ACCOUNT_ID  # answered by moto over HTTP


def test_identity_and_call_count_against_moto(moto: MotoServer):
    aws = Aws(settings(aws_endpoint_url=moto.url, account_id=ACCOUNT_ID), session=moto.session())

    identity = aws.identity()

    assert identity.account_id == ACCOUNT_ID
    assert identity.principal_arn == identity.arn  # moto answers with an IAM user
    assert aws.identity() is identity  # checked once
    assert dict(aws.calls) == {"sts.GetCallerIdentity": 1}
    assert aws.call_count == 1


def test_wrong_account_is_bad_input_naming_both_accounts(moto: MotoServer):
    aws = Aws(
        settings(aws_endpoint_url=moto.url, account_id="111122223333"), session=moto.session()
    )

    with pytest.raises(BadInput) as wrong:
        aws.identity()

    assert wrong.value.message == (
        f"these AWS credentials are for account {ACCOUNT_ID}, but params/test.yaml pins "
        "account_id 111122223333. Switch to credentials for 111122223333 (e.g. another "
        "AWS_PROFILE) or fix account_id."
    )
    assert wrong.value.exit_code == 2


@pytest.mark.usefixtures("no_ambient_credentials")
def test_no_credentials_is_bad_input(moto: MotoServer):
    aws = Aws(settings(aws_endpoint_url=moto.url))

    with pytest.raises(BadInput) as missing:
        aws.identity()

    assert missing.value.message.startswith("no AWS credentials found.")
    assert "AWS_PROFILE" in missing.value.message


@pytest.mark.usefixtures("no_ambient_credentials")
def test_an_unknown_profile_is_bad_input():
    with pytest.raises(BadInput, match="aws configure list-profiles"):
        Aws(settings(), profile="nobody")


def test_expired_credentials_are_bad_input(moto: MotoServer):
    aws = Aws(settings(aws_endpoint_url=moto.url), session=moto.session())
    with Stubber(aws.client("sts")) as sts:
        sts.add_client_error(
            "get_caller_identity",
            service_error_code="ExpiredToken",
            service_message="The security token included in the request is expired",
            http_status_code=403,
        )
        with pytest.raises(BadInput) as expired:
            aws.identity()

    assert "the AWS credentials have expired (ExpiredToken)" in expired.value.message
    assert expired.value.exit_code == 2


def test_an_expired_sso_session_is_bad_input():
    error = translate(TokenRetrievalError(provider="sso", error_msg="expired"), "checking", "STS")
    assert isinstance(error, BadInput)
    assert "aws sso login" in error.message


def test_a_failing_credential_source_is_bad_input():
    failing = CredentialRetrievalError(provider="custom-process", error_msg="exit status 1")
    error = translate(failing, "checking the AWS credentials with", "STS")
    assert isinstance(error, BadInput)
    assert error.message.startswith(
        "checking the AWS credentials with STS: could not get AWS credentials (Error when "
        "retrieving credentials from custom-process: exit status 1)."
    )


def test_a_region_without_eks_is_bad_input(moto: MotoServer):
    aws = Aws(
        Settings(env="test", region="eu-north-9", aws_endpoint_url=moto.url),
        session=moto.session("eu-north-9"),
    )

    with pytest.raises(BadInput) as region:
        aws.identity()

    assert region.value.message.startswith("Amazon EKS is not offered in region 'eu-north-9'")
    assert "eu-west-1" in region.value.message  # the choices are listed
    assert aws.calls == {}  # decided before asking AWS anything


def test_a_region_in_no_partition_is_bad_input_too(moto: MotoServer):
    aws = Aws(
        Settings(env="test", region="xx-nowhere-1", aws_endpoint_url=moto.url),
        session=moto.session("xx-nowhere-1"),
    )

    with pytest.raises(BadInput, match="Amazon EKS is not offered in region 'xx-nowhere-1'"):
        aws.identity()


def test_throttling_is_retried_by_botocore_then_succeeds(moto: MotoServer, monkeypatch):
    # No real sleeping: botocore's backoff and its adaptive rate limiter's clock are
    # replaced; the throttling answers themselves come over the real client stack.
    backoffs: list[float] = []
    monkeypatch.setattr(
        botocore.endpoint, "time", type("T", (), {"sleep": staticmethod(backoffs.append)})
    )
    ticks = iter(range(0, 10**6, 60))
    monkeypatch.setattr(bucket.Clock, "current_time", lambda self: time.time() + next(ticks))
    aws = Aws(settings(aws_endpoint_url=moto.url), session=moto.session())
    cfn = aws.client("cloudformation")
    attempts = []
    throttled = (
        b"<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code>"
        b"<Message>Rate exceeded</Message></Error><RequestId>r</RequestId></ErrorResponse>"
    )

    def throttle_twice(request, **_):
        attempts.append(request.url)
        if len(attempts) <= 2:
            return AWSResponse(request.url, 400, {}, _Raw(throttled))
        return None  # the third attempt goes to moto

    cfn.meta.events.register("before-send.cloudformation.ListStacks", throttle_twice)

    response = cfn.list_stacks()

    assert response["ResponseMetadata"]["RetryAttempts"] == 2
    assert len(attempts) == 3 and len(backoffs) == 2
    assert dict(aws.calls) == {"cloudformation.ListStacks": 1}


class _Raw:
    def __init__(self, body: bytes):
        self._body = body

    def stream(self, **_):
        yield self._body


@pytest.mark.parametrize(
    ("error", "kind", "expected"),
    [
        (
            client_error("ValidationError", "Template format error: bad"),
            OperationFailed,
            "creating change set for stack gif-prod-database: Template format error: bad",
        ),
        (
            client_error("Throttling", "Rate exceeded"),
            OperationFailed,
            "creating change set for stack gif-prod-database: AWS kept throttling the requests "
            "after 10 attempts (Rate exceeded). Wait a minute and run the command again.",
        ),
        (
            client_error("AccessDenied", "not authorized to perform: CreateChangeSet"),
            OperationFailed,
            "creating change set for stack gif-prod-database: access denied (not authorized "
            "to perform: CreateChangeSet). The AWS identity running the deploy needs "
            "permission for this action.",
        ),
        (
            client_error("InvalidClientTokenId", "The security token is invalid"),
            BadInput,
            "creating change set for stack gif-prod-database: AWS does not accept these "
            "credentials (InvalidClientTokenId: The security token is invalid). Check "
            "AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY.",
        ),
        (
            EndpointConnectionError(endpoint_url="http://127.0.0.1:1"),
            OperationFailed,
            "creating change set for stack gif-prod-database: cannot reach "
            "http://127.0.0.1:1. Check the network (for --env local: is `invoke local.up` "
            "running?).",
        ),
        (
            client_error(
                "InvalidAccessKeyId",
                "The AWS Access Key Id you provided does not exist in our records.",
            ),
            BadInput,
            "creating change set for stack gif-prod-database: AWS does not accept these "
            "credentials (InvalidAccessKeyId: The AWS Access Key Id you provided does not "
            "exist in our records.). Check AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY.",
        ),
        (
            client_error("SlowDown", "Please reduce your request rate."),
            OperationFailed,
            "creating change set for stack gif-prod-database: AWS kept throttling the requests "
            "after 10 attempts (Please reduce your request rate.). Wait a minute and run the "
            "command again.",
        ),
        (
            client_error("403", "Forbidden"),
            OperationFailed,
            "creating change set for stack gif-prod-database: access denied (HTTP 403). The AWS "
            "identity running the deploy needs permission for this action, and the bucket must "
            "belong to this account.",
        ),
        (
            ConnectTimeoutError(endpoint_url="https://sts.eu-west-1.amazonaws.com/"),
            OperationFailed,
            "creating change set for stack gif-prod-database: connecting to "
            "https://sts.eu-west-1.amazonaws.com/ timed out. Check the network (a VPN or "
            "proxy?) and run the command again.",
        ),
        (
            ReadTimeoutError(endpoint_url="https://cloudformation.eu-west-1.amazonaws.com/"),
            OperationFailed,
            "creating change set for stack gif-prod-database: "
            "https://cloudformation.eu-west-1.amazonaws.com/ stopped answering mid-request. "
            "Check the network and run the command again; CloudFormation carries on with "
            "whatever it had already accepted.",
        ),
    ],
)
def test_translate_names_the_action_and_the_object(error, kind, expected):
    translated = translate(error, "creating change set for", "stack gif-prod-database")
    assert type(translated) is kind
    assert translated.message == expected


@pytest.mark.parametrize(("error", "code"), [(BadInput("no"), 2), (OperationFailed("no"), 1)])
def test_errors_leave_invoke_with_their_exit_code(error, code):
    @reported
    def task_body():
        raise error

    with pytest.raises(Exit) as leaving:
        task_body()
    assert leaving.value.code == code
    assert leaving.value.message == "error: no"


def test_assumed_role_name_is_read_from_the_session_arn():
    session = "arn:aws:sts::111122223333:assumed-role/GifDeployer/gh-actions-42"
    assert assumed_role_name(session) == "GifDeployer"
    assert assumed_role_name("arn:aws:iam::111122223333:user/alice") is None
    assert assumed_role_name("arn:aws-us-gov:sts::111122223333:assumed-role/Ops/x") == "Ops"


SSO_PATH = "/aws-reserved/sso.amazonaws.com/eu-west-1/"
SSO_ROLE = "AWSReservedSSO_AdministratorAccess_0123456789abcdef"


def _assumed(moto: MotoServer, path: str = SSO_PATH) -> boto3.Session:
    """A session acting as a pathed role (as IAM Identity Center makes them), via moto."""
    iam = moto.client("iam")
    role = iam.create_role(
        RoleName=SSO_ROLE, Path=path, AssumeRolePolicyDocument='{"Statement": []}'
    )["Role"]
    creds = moto.client("sts").assume_role(RoleArn=role["Arn"], RoleSessionName="alice")
    creds = creds["Credentials"]
    return boto3.Session(
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
        region_name=REGION,
    )


def test_principal_arn_of_a_pathed_sso_role_keeps_its_path(moto: MotoServer):
    aws = Aws(settings(aws_endpoint_url=moto.url), session=_assumed(moto))

    identity = aws.identity()

    assert identity.arn.endswith(f":assumed-role/{SSO_ROLE}/alice")
    assert identity.principal_arn == f"arn:aws:iam::{ACCOUNT_ID}:role{SSO_PATH}{SSO_ROLE}"
    assert aws.calls["iam.GetRole"] == 1


def _denied_get_role(moto: MotoServer) -> Aws:
    aws = Aws(settings(aws_endpoint_url=moto.url), session=moto.session())
    sts, iam = aws.client("sts"), aws.client("iam")
    sts_stub, iam_stub = Stubber(sts), Stubber(iam)
    session_arn = f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/{SSO_ROLE}/alice"
    sts_stub.add_response(
        "get_caller_identity", {"UserId": "AROA:alice", "Account": ACCOUNT_ID, "Arn": session_arn}
    )
    iam_stub.add_client_error(
        "get_role", "AccessDenied", "not authorized to perform: iam:GetRole", 403
    )
    sts_stub.activate()
    iam_stub.activate()
    return aws


def test_principal_arn_refused_when_get_role_is_denied_names_the_flag(moto, monkeypatch):
    monkeypatch.delenv(PRINCIPAL_ARN_VARIABLE, raising=False)
    with pytest.raises(BadInput) as refused:
        _denied_get_role(moto).identity()
    assert refused.value.exit_code == 2
    assert "--principal-arn" in refused.value.message
    assert SSO_ROLE in refused.value.message and "iam:GetRole" in refused.value.message


def test_principal_arn_from_the_flag_when_get_role_is_denied(moto, monkeypatch):
    given = f"arn:aws:iam::{ACCOUNT_ID}:role{SSO_PATH}{SSO_ROLE}"
    monkeypatch.setenv(PRINCIPAL_ARN_VARIABLE, given)
    assert _denied_get_role(moto).identity().principal_arn == given
    monkeypatch.setenv(PRINCIPAL_ARN_VARIABLE, f"arn:aws:iam::{ACCOUNT_ID}:role/Other")
    with pytest.raises(BadInput, match="not the role these credentials act as"):
        _denied_get_role(moto).identity()


def test_an_endpoint_answering_an_html_error_page_is_a_failed_operation(moto: MotoServer):
    cfn = moto.client("cloudformation")
    # moto 5.2 answers ContinueUpdateRollback with an HTTP 500 HTML page (not implemented).
    with pytest.raises(AWS_ERRORS) as raw:
        cfn.continue_update_rollback(StackName="gif-dev-network")

    error = translate(raw.value, "continuing the rollback of", "stack gif-dev-network")

    assert isinstance(error, OperationFailed)
    assert error.message.startswith(
        "continuing the rollback of stack gif-dev-network: the endpoint's answer is not an "
        "AWS response"
    )


def test_with_no_network_the_identity_check_answers_in_seconds_not_82(moto: MotoServer):
    """Issue 15 item 3: the identity check spent botocore's whole adaptive budget (10
    attempts with backoff) on an unreachable endpoint; it now tries twice and says so."""
    settings = Settings(env="test", region=REGION, aws_endpoint_url="http://127.0.0.1:1")
    aws = Aws(settings, session=moto.session())
    sts = aws.client("sts")
    attempts: list[str] = []
    sts.meta.events.register("before-send.sts", lambda request, **_: attempts.append(request.url))
    started = time.monotonic()

    with pytest.raises(OperationFailed, match="checking the AWS credentials with STS: cannot"):
        aws.identity()

    assert len(attempts) == 2
    assert time.monotonic() - started < 5
    # The long waits keep their patience.
    assert aws.client("cloudformation").meta.config.retries["total_max_attempts"] == 11
