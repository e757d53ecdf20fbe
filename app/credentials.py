"""Where database passwords come from: the environment, an IAM token, or the master secret.

boto3 is imported only when needed: a local run never loads it (start-up time, memory).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from app import logs
from app.config import DatabaseConfig
from app.errors import OperationError

PasswordSource = str | Callable[[], Awaitable[str]] | None


class IamToken:
    """A fresh RDS IAM auth token for each new connection (valid 15 minutes).

    Signing is local (no AWS call), but finding credentials may call the pod identity
    endpoint, so it runs in a thread, off the event loop.
    """

    def __init__(self, host: str, port: int, user: str, region: str):
        import boto3  # only when IAM auth is on

        self._client = boto3.session.Session().client("rds", region_name=region)
        self._request = {"DBHostname": host, "Port": port, "DBUsername": user, "Region": region}

    def generate(self) -> str:
        return self._client.generate_db_auth_token(**self._request)

    async def __call__(self) -> str:
        return await asyncio.to_thread(self.generate)


def password_source(config: DatabaseConfig) -> PasswordSource:
    """The password for the app's pool: a static one, or an IAM token callable."""
    if config.iam_auth:
        assert config.aws_region is not None  # checked by config.load_database
        return IamToken(config.host, config.port, config.user, config.aws_region)
    logs.register_secret(config.password)
    return config.password


@dataclass(frozen=True)
class MasterCredentials:
    username: str
    password: str = field(repr=False)


def read_master_secret(arn: str) -> MasterCredentials:
    """The RDS-managed master secret ({"username", "password"}) from Secrets Manager."""
    import boto3  # only migrate/seed with a master secret need it
    from botocore.exceptions import BotoCoreError, ClientError

    region = arn.split(":")[3]
    try:
        client = boto3.session.Session().client("secretsmanager", region_name=region)
        response = client.get_secret_value(SecretId=arn)
    except ClientError as exc:
        error = exc.response.get("Error", {})
        raise OperationError(
            f"reading the master secret {arn} from Secrets Manager: "
            f"{error.get('Code', 'error')}: {logs.redact(error.get('Message', ''))}"
        ) from None
    except BotoCoreError as exc:
        raise OperationError(
            f"reading the master secret {arn} from Secrets Manager: {logs.describe(exc)}"
        ) from None
    try:
        value = json.loads(response.get("SecretString") or "")
        credentials = MasterCredentials(str(value["username"]), str(value["password"]))
    except (ValueError, KeyError, TypeError):
        raise OperationError(
            f"the master secret {arn} is not JSON with a username and a password "
            "(the format RDS uses for managed master passwords)"
        ) from None
    logs.register_secret(credentials.password)
    return credentials
