"""app/cli.py: `python -m app migrate|seed|serve` as the image and the migration Job run
them: the master secret from Secrets Manager (moto's server over HTTP) on a real
PostgreSQL made to look like RDS, and one clear error line with the right exit code."""

from __future__ import annotations

import asyncio
import json

import asyncpg
import pytest

from app.seed import bundled
from tests.support.app_service import app_env, json_lines, run_app
from tests.support.moto_server import REGION, serve
from tests.support.rds_like import LEAST_PRIVILEGE, describe_user, rds_like


@pytest.fixture(scope="module")
def moto_server():
    yield from serve()


def _aws(moto_server) -> dict[str, str]:
    return {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_ENDPOINT_URL": moto_server.url,
        "AWS_REGION": REGION,
    }


def test_migrate_and_seed_as_master_from_secrets_manager(database_url, moto_server):
    moto_server.reset()
    with rds_like(database_url) as env:
        arn = moto_server.client("secretsmanager").create_secret(
            Name="rds!db-gif-master",
            SecretString=json.dumps({"username": env.master_user, "password": env.master_password}),
        )["ARN"]
        job_env = app_env(
            DATABASE_URL=env.host_url,  # no user, no password: they come from the secret
            DB_MASTER_SECRET_ARN=arn,
            DB_APP_USER=env.app_user,
            DB_SSLMODE="disable",
            **_aws(moto_server),
        )
        migrated = run_app("migrate", env=job_env)
        assert migrated.returncode == 0, migrated.stdout + migrated.stderr
        seeded = run_app("seed", env=job_env)
        assert seeded.returncode == 0, seeded.stdout + seeded.stderr
        again = run_app("migrate", env=job_env)
        assert again.returncode == 0, again.stdout + again.stderr

        assert describe_user(env) == {**LEAST_PRIVILEGE, "rds_iam": True}

        async def catalogue():
            connection = await asyncpg.connect(env.superuser_url)
            try:
                return await connection.fetchrow(
                    "SELECT count(*) AS gifs, (SELECT tableowner FROM pg_tables "
                    "WHERE tablename = 'gifs') AS owner FROM gifs"
                )
            finally:
                await connection.close()

        row = asyncio.run(catalogue())
        assert row["gifs"] == len(bundled())
        assert row["owner"] == env.master_user  # migrations ran as the master user

    output = migrated.stdout + seeded.stdout + again.stdout
    messages = [line["msg"] for line in json_lines(output)]
    assert messages.count("app user created") == 1 and "app user ready" in messages
    assert env.master_password not in output + migrated.stderr + seeded.stderr


def test_unreadable_master_secret_is_exit_1(database_url, moto_server):
    moto_server.reset()
    arn = f"arn:aws:secretsmanager:{REGION}:123456789012:secret:missing-AbCdEf"
    result = run_app(
        "migrate",
        env=app_env(
            DATABASE_URL=database_url,
            DB_MASTER_SECRET_ARN=arn,
            DB_APP_USER="gif_app",
            **_aws(moto_server),
        ),
    )
    assert result.returncode == 1
    (line,) = json_lines(result.stdout)
    assert line["level"] == "error"
    assert line["msg"].startswith(f"reading the master secret {arn} from Secrets Manager")


@pytest.mark.parametrize(
    ("command", "env", "message"),
    [
        ("serve", {"DB_POOL_MAX": "lots"}, "DB_POOL_MAX must be a whole number"),
        ("migrate", {"DB_SSLMODE": "allow"}, "DB_SSLMODE must be one of"),
        ("seed", {"DATABASE_URL": "http://x"}, "DATABASE_URL must start with postgresql://"),
        ("serve", {"LOG_LEVEL": "loud"}, "LOG_LEVEL must be one of"),
        ("serve", {"PORT": "9100", "METRICS_PORT": "9100"}, "METRICS_PORT must differ"),
        ("serve", {"HTTP_HEAD_TIMEOUT": "soon"}, "HTTP_HEAD_TIMEOUT must be a number"),
        ("serve", {"HTTP_MAX_CONNECTIONS": "0"}, "HTTP_MAX_CONNECTIONS must be between"),
    ],
)
def test_bad_configuration_is_exit_2_with_one_json_line(command, env, message):
    result = run_app(command, env=app_env(**env))
    assert result.returncode == 2
    (line,) = json_lines(result.stdout)
    assert line["level"] == "error" and message in line["msg"]
    assert result.stderr == ""


def test_a_ca_file_that_is_not_pem_is_exit_2(tmp_path):
    bogus = tmp_path / "ca.pem"
    bogus.write_text("not a certificate\n")
    result = run_app("serve", env=app_env(PGHOST="db.internal", DB_SSLROOTCERT=str(bogus)))
    assert result.returncode == 2
    (line,) = json_lines(result.stdout)
    assert line["msg"].startswith(f"cannot load the CA bundle {bogus}")


def test_seed_before_migrate_says_what_to_do(database_url):
    result = run_app("seed", env=app_env(DATABASE_URL=database_url))
    assert result.returncode == 1
    (line,) = json_lines(result.stdout)
    assert line["msg"] == "the gifs table does not exist; run `python -m app migrate` first"


def test_unknown_command_shows_usage():
    result = run_app("dance", env=app_env())
    assert result.returncode == 2
    assert "invalid choice: 'dance'" in result.stderr
    assert "serve" in result.stderr and "migrate" in result.stderr
