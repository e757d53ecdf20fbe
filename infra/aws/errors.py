"""`ClientError` and botocore's other failures translated once, into errors that name the
action and the object (house rule 5)."""

from __future__ import annotations

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    CredentialRetrievalError,
    EndpointConnectionError,
    NoCredentialsError,
    PartialCredentialsError,
    ReadTimeoutError,
    SSOTokenLoadError,
    TokenRetrievalError,
    UnauthorizedSSOTokenError,
)
from botocore.parsers import ResponseParserError

from infra.core.errors import BadInput, GifstackError, OperationFailed

# Throttling is retried by botocore itself: adaptive mode adds client-side rate limiting
# on top of the standard exponential backoff, which is what parallel stacks polling the
# same API need.
RETRIES = {"mode": "adaptive", "max_attempts": 10}

_EXPIRED_CODES = frozenset({"ExpiredToken", "ExpiredTokenException", "RequestExpired"})
_INVALID_CODES = frozenset(
    {
        "InvalidClientTokenId",
        "UnrecognizedClientException",
        "SignatureDoesNotMatch",
        "AuthFailure",
        "InvalidAccessKeyId",  # S3's word for an access key it does not know
    }
)
_DENIED_CODES = frozenset({"AccessDenied", "AccessDeniedException", "UnauthorizedOperation"})
_THROTTLE_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "SlowDown",  # S3
    }
)
_EXPIRED_SSO = (TokenRetrievalError, SSOTokenLoadError, UnauthorizedSSOTokenError)

# Everything a boto3 call raises when AWS (or an emulator) says no or can't be reached.
# ResponseParserError is not a BotoCoreError: an endpoint answering HTML (an emulator's
# HTTP 500 page, a proxy) raises it.
AWS_ERRORS = (ClientError, BotoCoreError, ResponseParserError)

NO_CREDENTIALS = (
    "no AWS credentials found. Set AWS_PROFILE to a configured profile (and run "
    "`aws sso login` if it uses SSO) or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, "
    "then run the command again."
)


def is_throttling(error: Exception) -> bool:
    """AWS still throttling once botocore's retries are spent (a wait keeps waiting)."""
    if not isinstance(error, ClientError):
        return False
    return error.response.get("Error", {}).get("Code", "") in _THROTTLE_CODES


def translate(error: Exception, action: str, obj: str) -> GifstackError:
    """One domain error for a boto3 failure: `{action} {obj}: what went wrong. what to do`."""
    where = f"{action} {obj}".strip()
    if isinstance(error, NoCredentialsError | PartialCredentialsError):
        return BadInput(NO_CREDENTIALS)
    if isinstance(error, _EXPIRED_SSO):
        return BadInput(
            f"{where}: the AWS SSO session has expired. Run `aws sso login` (with the same "
            "AWS_PROFILE) and run the command again."
        )
    if isinstance(error, CredentialRetrievalError):
        return BadInput(
            f"{where}: could not get AWS credentials ({error}). Check the profile's "
            "credential_process / role settings, or set other credentials."
        )
    if isinstance(error, ConnectTimeoutError):
        return OperationFailed(
            f"{where}: connecting to {error.kwargs.get('endpoint_url', 'the AWS endpoint')} "
            "timed out. Check the network (a VPN or proxy?) and run the command again."
        )
    if isinstance(error, ReadTimeoutError | ConnectionClosedError):
        return OperationFailed(
            f"{where}: {error.kwargs.get('endpoint_url', 'the AWS endpoint')} stopped "
            "answering mid-request. Check the network and run the command again; "
            "CloudFormation carries on with whatever it had already accepted."
        )
    if isinstance(error, EndpointConnectionError):
        return OperationFailed(
            f"{where}: cannot reach {error.kwargs.get('endpoint_url', 'the AWS endpoint')}. "
            "Check the network (for --env local: is `invoke local.up` running?)."
        )
    if isinstance(error, ClientError):
        code = error.response.get("Error", {}).get("Code", "")
        message = error.response.get("Error", {}).get("Message", "") or str(error)
        if code in _EXPIRED_CODES:
            return BadInput(
                f"{where}: the AWS credentials have expired ({code}). Refresh them (e.g. "
                "`aws sso login`, or new temporary keys) and run the command again."
            )
        if code in _INVALID_CODES:
            return BadInput(
                f"{where}: AWS does not accept these credentials ({code}: {message}). "
                "Check AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY."
            )
        if code == "403":  # a HEAD request (HeadBucket): S3 sends no body, so no code
            return OperationFailed(
                f"{where}: access denied (HTTP 403). The AWS identity running the deploy needs "
                "permission for this action, and the bucket must belong to this account."
            )
        if code in _DENIED_CODES:
            return OperationFailed(
                f"{where}: access denied ({message}). The AWS identity running the deploy "
                "needs permission for this action."
            )
        if code in _THROTTLE_CODES:
            return OperationFailed(
                f"{where}: AWS kept throttling the requests after {RETRIES['max_attempts']} "
                f"attempts ({message}). Wait a minute and run the command again."
            )
        return OperationFailed(f"{where}: {message}")
    if isinstance(error, ResponseParserError):
        return OperationFailed(
            f"{where}: the endpoint's answer is not an AWS response (an HTTP error page?): "
            f"{str(error).splitlines()[0]}"
        )
    if isinstance(error, BotoCoreError):
        return OperationFailed(f"{where}: {error}")
    return OperationFailed(f"{where}: {error}")


# How an endpoint says it has no such operation: AWS's Query API answers InvalidAction for an
# unknown action (CloudFormation API Reference, "Common Errors",
# https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/CommonErrors.html);
# emulators answer 501/NotImplemented, or an HTML error page instead of an AWS response
# (moto 5.2: HTTP 500 "The describe_events action has not been implemented", which botocore
# cannot parse).
_UNSUPPORTED_CODES = frozenset(
    {"InvalidAction", "UnknownOperation", "UnknownOperationException", "NotImplemented"}
)


def unsupported_operation(error: Exception) -> bool:
    """The endpoint doesn't offer the operation at all (an emulator, an old partition)."""
    if isinstance(error, ResponseParserError):
        return True
    if isinstance(error, ClientError):
        code = error.response.get("Error", {}).get("Code", "")
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        return code in _UNSUPPORTED_CODES or status == 501
    return False
