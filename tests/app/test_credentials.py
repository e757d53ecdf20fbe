"""app/credentials.py: IAM auth tokens, and the master secret read from Secrets Manager
(moto's server over real HTTP)."""

from __future__ import annotations

import asyncio
import json
from urllib.parse import parse_qs, urlsplit

import pytest

from app import logs
from app.config import load_database
from app.credentials import IamToken, password_source, read_master_secret
from app.errors import OperationError
from tests.support.moto_server import REGION, MotoServer, serve


@pytest.fixture(scope="module")
def moto_server():
    yield from serve()


@pytest.fixture
def aws_env(monkeypatch, moto_server: MotoServer):
    moto_server.reset()
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_ENDPOINT_URL": moto_server.url,
        "AWS_REGION": REGION,
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    return moto_server


def test_iam_token_is_a_presigned_rds_connect_request(aws_env):
    token = IamToken("gif.abc.eu-west-1.rds.amazonaws.com", 5432, "gif_app", REGION).generate()
    parts = urlsplit("https://" + token)
    query = parse_qs(parts.query)
    assert parts.netloc == "gif.abc.eu-west-1.rds.amazonaws.com:5432"
    assert query["Action"] == ["connect"] and query["DBUser"] == ["gif_app"]
    assert f"/{REGION}/rds-db/aws4_request" in query["X-Amz-Credential"][0]
    assert int(query["X-Amz-Expires"][0]) == 900
    assert query["X-Amz-Signature"][0]
    assert query["X-Amz-Signature"][0] not in logs.redact(f"connecting with {token}")


def test_iam_token_is_fresh_per_call_and_awaitable(aws_env):
    source = password_source(
        load_database(
            {
                "PGHOST": "db.internal",
                "PGUSER": "gif_app",
                "DB_IAM_AUTH": "true",
                "AWS_REGION": REGION,
            }
        )
    )
    assert isinstance(source, IamToken)
    token = asyncio.run(source())
    assert token.startswith("db.internal:5432/?") and "DBUser=gif_app" in token


def test_static_password_is_registered_as_a_secret():
    config = load_database({"DATABASE_URL": "postgresql://u:Static-Pass-987@h/d"})
    assert password_source(config) == "Static-Pass-987"
    assert "Static-Pass-987" not in logs.redact("oops Static-Pass-987 leaked")


def test_master_secret_is_read_from_secrets_manager(aws_env):
    client = aws_env.client("secretsmanager")
    arn = client.create_secret(
        Name="rds!db-gif",
        SecretString=json.dumps({"username": "gifadmin", "password": "Master-Pass-123"}),
    )["ARN"]
    credentials = read_master_secret(arn)
    assert (credentials.username, credentials.password) == ("gifadmin", "Master-Pass-123")
    assert "Master-Pass-123" not in repr(credentials)
    assert "Master-Pass-123" not in logs.redact("password is Master-Pass-123")


def test_missing_secret_is_a_clear_error(aws_env):
    arn = f"arn:aws:secretsmanager:{REGION}:123456789012:secret:nope-AbCdEf"
    with pytest.raises(OperationError) as caught:
        read_master_secret(arn)
    assert caught.value.message.startswith(f"reading the master secret {arn} from Secrets Manager")
    assert "ResourceNotFoundException" in caught.value.message


def test_a_secret_in_another_shape_is_a_clear_error(aws_env):
    client = aws_env.client("secretsmanager")
    arn = client.create_secret(Name="not-rds", SecretString="just-a-string")["ARN"]
    with pytest.raises(OperationError, match="is not JSON with a username and a password"):
        read_master_secret(arn)
