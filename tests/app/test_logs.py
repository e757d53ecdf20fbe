"""app/logs.py: one JSON object per line, secrets scrubbed; and end to end, the service's
and migrate's output never holds a password, token or connection string."""

from __future__ import annotations

import io
import json
import logging

import pytest

from app import logs
from tests.support.app_service import Service, app_env, json_lines, run_app


@pytest.fixture
def stream():
    buffer = io.StringIO()
    logs.setup("info", buffer)
    yield buffer
    logs.setup("info")


def test_log_records_are_single_json_lines(stream):
    logging.getLogger("app.test").info("hello %s", "world", extra={"fields": {"n": 3}})
    try:
        raise ValueError("bad thing\nsecond line")
    except ValueError:
        logging.getLogger("app.test").exception("failed")
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2
    first, second = (json.loads(line) for line in lines)
    assert first["msg"] == "hello world" and first["n"] == 3 and first["level"] == "info"
    assert first["time"].endswith("Z") and first["logger"] == "app.test"
    assert second["error"] == "ValueError: bad thing"  # no traceback, one line


def test_request_lines_are_valid_json_whatever_the_path(stream):
    logs.request("GET", '/a"b\\c\n\x00\u00e9', 404, 1.234)
    logs.request("GET", "/gif", 200, 0.5)
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first["path"] == '/a"b\\c\n\x00\u00e9'
    assert (second["msg"], second["status"], second["duration_ms"]) == ("request", 200, 0.5)


def test_request_lines_follow_the_level():
    buffer = io.StringIO()
    logs.setup("warning", buffer)
    try:
        logs.request("GET", "/gif", 200, 1)
        assert buffer.getvalue() == ""
    finally:
        logs.setup("info")


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("connecting to postgresql://app:s3cret-pass@db:5432/gif", "s3cret-pass"),
        ("password=s3cret-pass host=db", "s3cret-pass"),
        (
            "db:5432/?Action=connect&DBUser=app&X-Amz-Credential=AKIAXXX%2F20260101"
            "&X-Amz-Signature=abcdef0123&X-Amz-Security-Token=FQoGZXIvYXdzE",
            "abcdef0123",
        ),
    ],
)
def test_secrets_are_masked_by_pattern(text, secret):
    assert secret not in logs.redact(text)
    assert "***" in logs.redact(text)


def test_registered_secrets_are_masked_anywhere(stream):
    logs.register_secret("plain-old-value-42")
    logging.getLogger("app.test").warning("it was plain-old-value-42 all along")
    assert "plain-old-value-42" not in stream.getvalue()


def test_service_logs_hold_no_password(database_url):
    """A wrong password in DATABASE_URL: the failure is logged, the password is not."""
    wrong = "wr0ng-Passw0rd-xyz"
    url = database_url.replace(database_url.split(":")[2].split("@")[0], wrong)
    with Service(app_env(DATABASE_URL=url, PGPASSWORD="env-Passw0rd-abc")) as service:
        assert service.get("/gif").status_code == 503
        service.wait_until(lambda: "authentication failed" in service.output(), timeout_s=5)
    output = service.output()
    for secret in (wrong, "env-Passw0rd-abc", url):
        assert secret not in output
    assert all(isinstance(line, dict) for line in json_lines(output))


def test_migrate_failure_holds_no_password(database_url):
    wrong = "wr0ng-Passw0rd-xyz"
    url = database_url.replace(database_url.split(":")[2].split("@")[0], wrong)
    result = run_app("migrate", env=app_env(DATABASE_URL=url))
    assert result.returncode == 1
    (line,) = json_lines(result.stdout)
    assert "password authentication failed" in line["msg"]
    assert wrong not in result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr


def test_service_logs_hold_no_iam_token(postgres):
    """IAM auth against a server that refuses it: tokens are made, and never logged."""
    port = postgres.url.rsplit(":", 1)[1].split("/")[0]
    env = app_env(
        PGHOST="127.0.0.1",
        PGPORT=port,
        PGUSER="gif_app",
        DB_IAM_AUTH="true",
        DB_SSLMODE="require",  # this server has no TLS: every connection attempt fails
        AWS_REGION="eu-west-1",
        AWS_ACCESS_KEY_ID="AKIATESTTESTTEST",
        AWS_SECRET_ACCESS_KEY="test-secret-key-123",
    )
    with Service(env) as service:
        assert service.get("/gif").status_code == 503
        service.wait_until(lambda: "database not reachable yet" in service.output(), 5)
    output = service.output()
    for leak in ("X-Amz", "Action=connect", "AKIATESTTESTTEST", "test-secret-key-123"):
        assert leak not in output
