"""app/roles.py on a real PostgreSQL made to look like RDS (a non-superuser master with
CREATEROLE that owns the database; the rds_iam role present or absent)."""

from __future__ import annotations

import asyncio
import io

import asyncpg

from app import logs
from app.migrate import migrate
from app.roles import ensure_app_user
from tests.support.rds_like import LEAST_PRIVILEGE, RdsLike, describe_user, rds_like


async def _as_master(env: RdsLike, *, existing_password: bool = False) -> None:
    connection = await asyncpg.connect(env.master_url())
    try:
        if existing_password:  # an app user left over from a password-based setup
            await connection.execute(f"CREATE ROLE {env.app_user} LOGIN CREATEDB PASSWORD 'x'")
        await migrate(connection)
        await ensure_app_user(connection, env.app_user)
        await ensure_app_user(connection, env.app_user)  # idempotent
    finally:
        await connection.close()


def test_app_user_is_created_with_least_privilege_and_rds_iam(database_url):
    with rds_like(database_url) as env:
        asyncio.run(_as_master(env))
        assert describe_user(env) == {**LEAST_PRIVILEGE, "rds_iam": True}


def test_an_existing_user_is_brought_in_line(database_url):
    with rds_like(database_url) as env:
        asyncio.run(_as_master(env, existing_password=True))
        assert describe_user(env) == {**LEAST_PRIVILEGE, "rds_iam": True}


def test_without_rds_iam_the_grant_is_skipped_with_a_warning(database_url):
    stream = io.StringIO()
    logs.setup("info", stream)
    try:
        with rds_like(database_url, with_rds_iam=False) as env:
            asyncio.run(_as_master(env))
            assert describe_user(env) == {**LEAST_PRIVILEGE, "rds_iam": False}
    finally:
        logs.setup("info")
    assert "role rds_iam does not exist (this PostgreSQL is not Amazon RDS)" in stream.getvalue()


def test_odd_user_names_are_quoted_not_executed(database_url):
    """The name reaches SQL only through format(%I); config also refuses such names."""
    with rds_like(database_url) as env:
        odd = f"{env.app_user} login superuser"

        async def body():
            connection = await asyncpg.connect(env.master_url())
            try:
                await migrate(connection)
                await ensure_app_user(connection, odd)
                return await connection.fetchval(
                    "SELECT rolsuper FROM pg_roles WHERE rolname = $1", odd
                )
            finally:
                await connection.close()
                superuser = await asyncpg.connect(env.superuser_url)
                await superuser.execute(f'DROP OWNED BY "{odd}"')
                await superuser.execute(f'DROP ROLE "{odd}"')
                await superuser.close()

        assert asyncio.run(body()) is False
