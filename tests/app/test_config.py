"""app/config.py: environment variables to settings, and one clear error per mistake."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.config import (
    RDS_CA_BUNDLE,
    HttpLimits,
    ServerConfig,
    load_database,
    load_log_level,
    load_server,
)
from app.errors import ConfigError

ARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:rds!db-abc-123"


def test_database_url_gives_every_part():
    config = load_database(
        {"DATABASE_URL": "postgresql://gif%40app:p%2Fw@db.internal:6432/cata%20logue"}
    )
    assert (config.host, config.port, config.user, config.password, config.database) == (
        "db.internal",
        6432,
        "gif@app",
        "p/w",
        "cata logue",
    )


def test_pg_variables_fill_in_and_the_url_wins():
    env = {
        "PGHOST": "pg.internal",
        "PGPORT": "5433",
        "PGUSER": "reader",
        "PGPASSWORD": "from-env",
        "PGDATABASE": "gifs",
        "DATABASE_URL": "postgresql://writer@url.internal/other",
    }
    config = load_database(env)
    assert (config.host, config.port, config.user, config.password, config.database) == (
        "url.internal",
        5433,
        "writer",
        "from-env",
        "other",
    )


def test_defaults_follow_libpq():
    config = load_database({"PGUSER": "alice"})
    assert (config.host, config.port, config.database) == ("localhost", 5432, "alice")
    assert (config.pool_min, config.pool_max) == (1, 10)
    assert config.connect_timeout_s + config.statement_timeout_ms / 1000 < 2
    assert config.request_budget_s < 2  # /gif answers 503 within 2 s when the DB hangs


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("localhost", "disable"),
        ("127.0.0.1", "disable"),
        ("::1", "disable"),
        ("gif.abc.eu-west-1.rds.amazonaws.com", "verify-full"),
        ("10.0.3.7", "verify-full"),
    ],
)
def test_tls_is_on_by_default_except_on_this_machine(host, expected):
    assert load_database({"PGHOST": host}).sslmode == expected


def test_sslmode_sources_in_order():
    url = "postgresql://u@db.internal/gif?sslmode=require"
    assert load_database({"DATABASE_URL": url}).sslmode == "require"
    assert load_database({"DATABASE_URL": url, "DB_SSLMODE": "disable"}).sslmode == "disable"
    assert load_database({"PGHOST": "db", "PGSSLMODE": "require"}).sslmode == "require"


def test_verify_full_uses_the_shipped_rds_bundle_unless_told_otherwise(tmp_path):
    assert load_database({"PGHOST": "db"}).sslrootcert == RDS_CA_BUNDLE
    assert RDS_CA_BUNDLE.read_text().count("BEGIN CERTIFICATE") > 10
    ca = tmp_path / "ca.pem"
    ca.write_text("x")
    assert load_database({"DB_SSLROOTCERT": str(ca)}).sslrootcert == Path(ca)


def test_pool_and_timeouts():
    config = load_database(
        {
            "DB_POOL_MIN": "0",
            "DB_POOL_MAX": "3",
            "DB_CONNECT_TIMEOUT": "0.5",
            "DB_STATEMENT_TIMEOUT": "250",
        }
    )
    assert (config.pool_min, config.pool_max) == (0, 3)
    assert config.connect_timeout_s == 0.5
    assert config.statement_timeout_ms == 250


def test_iam_auth():
    config = load_database(
        {"PGHOST": "db.rds", "PGUSER": "gif_app", "DB_IAM_AUTH": "true", "AWS_REGION": "eu-west-1"}
    )
    assert config.iam_auth and config.sslmode == "verify-full"
    assert config.aws_region == "eu-west-1"


def test_master_secret_for_migrate():
    config = load_database({"DB_MASTER_SECRET_ARN": ARN, "DB_APP_USER": "gif_app"})
    assert (config.master_secret_arn, config.app_user) == (ARN, "gif_app")


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"DATABASE_URL": "mysql://x@y/z"}, "DATABASE_URL must start with postgresql://"),
        ({"DATABASE_URL": "postgresql://u@h:99999/d"}, "DATABASE_URL is not a valid URI"),
        ({"DATABASE_URL": "postgresql://u@h/d?options=-c"}, "option 'options' is not supported"),
        ({"DATABASE_URL": "postgresql://u@h/d?connect_timeout=0"}, "connect_timeout must be"),
        ({"PGPORT": "http"}, "PGPORT must be a whole number"),
        ({"DB_SSLMODE": "prefer"}, "DB_SSLMODE must be one of disable, require, verify-full"),
        ({"DB_POOL_MAX": "0"}, "DB_POOL_MAX must be between 1 and 100"),
        ({"DB_POOL_MIN": "5", "DB_POOL_MAX": "2"}, "DB_POOL_MIN (5) must not be larger"),
        ({"DB_CONNECT_TIMEOUT": "soon"}, "DB_CONNECT_TIMEOUT must be a number of seconds"),
        ({"DB_STATEMENT_TIMEOUT": "0"}, "DB_STATEMENT_TIMEOUT must be between 1 and 600000"),
        ({"DB_IAM_AUTH": "maybe"}, "DB_IAM_AUTH must be true or false"),
        ({"DB_IAM_AUTH": "1", "DB_SSLMODE": "disable"}, "DB_IAM_AUTH=true needs TLS"),
        ({"DB_IAM_AUTH": "1", "PGHOST": "db"}, "DB_IAM_AUTH=true needs AWS_REGION"),
        (
            {"DB_IAM_AUTH": "1", "PGHOST": "db", "AWS_REGION": "x", "PGPASSWORD": "pw"},
            "remove the password",
        ),
        ({"DB_MASTER_SECRET_ARN": "gif-master"}, "must be a Secrets Manager secret ARN"),
        ({"DB_MASTER_SECRET_ARN": ARN}, "DB_APP_USER is not"),
        ({"DB_APP_USER": "Robert'); DROP"}, "DB_APP_USER must be a lower-case"),
        ({"DB_SSLROOTCERT": "/nonexistent.pem"}, "is not a readable file"),
    ],
)
def test_each_mistake_is_one_clear_error(env, message):
    with pytest.raises(ConfigError) as caught:
        load_database(env)
    assert message in caught.value.message
    assert caught.value.exit_code == 2


def test_errors_never_repeat_a_password():
    for url in ("mysql://u:hunter2-secret@h/d", "postgresql://u:hunter2-secret@h/d?x=1"):
        with pytest.raises(ConfigError) as caught:
            load_database({"DATABASE_URL": url})
        assert "hunter2-secret" not in caught.value.message


def test_password_is_not_in_the_repr():
    config = load_database({"DATABASE_URL": "postgresql://u:hunter2-secret@h/d"})
    assert "hunter2-secret" not in repr(config)


def test_server_settings():
    assert load_server({}) == ServerConfig(host="127.0.0.1", port=8080)
    assert load_server({"HOST": "::1", "PORT": "9000"}) == ServerConfig(host="::1", port=9000)
    assert load_server({"HOST": "0.0.0.0", "PORT": "9000"}, port=0).port == 0
    assert load_server({"HOST": "0.0.0.0"}, host="::1").host == "::1"
    with pytest.raises(ConfigError, match="PORT must be between 0 and 65535"):
        load_server({"PORT": "70000"})
    with pytest.raises(ConfigError, match="--port must be between"):
        load_server({}, port=-1)


def test_metrics_port():
    assert load_server({}).metrics_port == 9090
    assert load_server({"METRICS_PORT": "9100"}).metrics_port == 9100
    assert load_server({"METRICS_PORT": "9100"}, metrics_port=0).metrics_port == 0
    assert load_server({"PORT": "0", "METRICS_PORT": "0"}).metrics_port == 0  # both: any free
    with pytest.raises(ConfigError, match=r"METRICS_PORT must differ from PORT \(both 8080\)"):
        load_server({"METRICS_PORT": "8080"})
    with pytest.raises(ConfigError, match="METRICS_PORT must differ"):
        load_server({"METRICS_PORT": "9000"}, port=9000)
    with pytest.raises(ConfigError, match="--metrics-port must be between"):
        load_server({}, metrics_port=65536)


def test_http_limits_defaults_and_environment():
    assert load_server({}).limits == HttpLimits(
        max_head_bytes=16384,
        max_headers=100,
        head_timeout_s=10.0,
        idle_timeout_s=5.0,
        max_connections=1000,
    )
    limits = load_server(
        {
            "HTTP_MAX_HEAD_BYTES": "8192",
            "HTTP_MAX_HEADERS": "50",
            "HTTP_HEAD_TIMEOUT": "2.5",
            "HTTP_IDLE_TIMEOUT": "1",
            "HTTP_MAX_CONNECTIONS": "200",
        }
    ).limits
    assert limits == HttpLimits(8192, 50, 2.5, 1.0, 200)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"HTTP_MAX_HEAD_BYTES": "16k"}, "HTTP_MAX_HEAD_BYTES must be a whole number"),
        ({"HTTP_MAX_HEAD_BYTES": "100"}, "HTTP_MAX_HEAD_BYTES must be between 1024 and 1048576"),
        ({"HTTP_MAX_HEADERS": "0"}, "HTTP_MAX_HEADERS must be between 8 and 1000"),
        ({"HTTP_HEAD_TIMEOUT": "0"}, "HTTP_HEAD_TIMEOUT must be between 0.1 and 300 seconds"),
        ({"HTTP_IDLE_TIMEOUT": "never"}, "HTTP_IDLE_TIMEOUT must be a number of seconds"),
        ({"HTTP_MAX_CONNECTIONS": "100000"}, "HTTP_MAX_CONNECTIONS must be between 1 and 10000"),
    ],
)
def test_http_limits_out_of_range_are_config_errors(env, message):
    with pytest.raises(ConfigError, match=message):
        load_server(env)


def test_log_level():
    assert load_log_level({}) == "info"
    assert load_log_level({"LOG_LEVEL": "WARNING"}) == "warning"
    with pytest.raises(ConfigError, match="LOG_LEVEL must be one of"):
        load_log_level({"LOG_LEVEL": "verbose"})
