"""Make a plain PostgreSQL database look like a fresh Amazon RDS one, for role tests.

Gap closed here: on RDS the master user is not a superuser (it has CREATEROLE and owns
the database), and the role `rds_iam` exists; a plain PostgreSQL has neither. Roles are
cluster-wide, so everything made here gets a unique name and is dropped afterwards.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import quote, urlsplit, urlunsplit

import asyncpg


@dataclass(frozen=True)
class RdsLike:
    master_user: str
    master_password: str
    app_user: str
    superuser_url: str  # the test database, as the real superuser (for checks)
    host_url: str  # the test database's URL without user and password

    def master_url(self) -> str:
        parts = urlsplit(self.superuser_url)
        netloc = f"{self.master_user}:{quote(self.master_password)}@{parts.hostname}:{parts.port}"
        return urlunsplit(parts._replace(netloc=netloc))


@contextlib.contextmanager
def rds_like(database_url: str, *, with_rds_iam: bool = True) -> Iterator[RdsLike]:
    suffix = uuid.uuid4().hex[:8]
    master, app_user = f"gifadmin_{suffix}", f"gif_app_{suffix}"
    password = "Master-" + secrets.token_urlsafe(12)
    parts = urlsplit(database_url)
    database = parts.path.lstrip("/")
    host_url = urlunsplit(parts._replace(netloc=f"{parts.hostname}:{parts.port}"))
    created_rds_iam = False

    async def setup() -> None:
        nonlocal created_rds_iam
        connection = await asyncpg.connect(database_url)
        try:
            await connection.execute(f"CREATE ROLE {master} LOGIN CREATEROLE PASSWORD '{password}'")
            await connection.execute(f'ALTER DATABASE "{database}" OWNER TO {master}')
            exists = await connection.fetchval("SELECT true FROM pg_roles WHERE rolname='rds_iam'")
            if with_rds_iam and not exists:
                await connection.execute("CREATE ROLE rds_iam NOLOGIN")
                created_rds_iam = True
            if not with_rds_iam and exists:
                raise RuntimeError("role rds_iam exists on the test server; a test leaked it")
        finally:
            await connection.close()

    async def teardown() -> None:
        connection = await asyncpg.connect(database_url)
        try:
            await connection.execute(f'ALTER DATABASE "{database}" OWNER TO CURRENT_USER')
            for role in (app_user, master):
                if await connection.fetchval("SELECT true FROM pg_roles WHERE rolname=$1", role):
                    await connection.execute(f"DROP OWNED BY {role}")
                    await connection.execute(f"DROP ROLE {role}")
            if created_rds_iam:
                await connection.execute("DROP ROLE rds_iam")
        finally:
            await connection.close()

    asyncio.run(setup())
    try:
        yield RdsLike(master, password, app_user, database_url, host_url)
    finally:
        asyncio.run(teardown())


def describe_user(env: RdsLike) -> dict:
    async def query():
        connection = await asyncpg.connect(env.superuser_url)
        try:
            row = await connection.fetchrow(
                """
                SELECT rolcanlogin, rolsuper, rolcreatedb, rolcreaterole, rolreplication,
                       rolbypassrls, rolpassword IS NULL AS no_password,
                       has_table_privilege(rolname, 'gifs', 'SELECT') AS can_select,
                       has_table_privilege(rolname, 'gifs', 'INSERT, UPDATE, DELETE, TRUNCATE')
                           AS can_write,
                       has_schema_privilege(rolname, 'public', 'USAGE') AS can_use_schema,
                       has_schema_privilege(rolname, 'public', 'CREATE') AS can_create,
                       has_database_privilege(rolname, current_database(), 'CONNECT')
                           AS can_connect,
                       EXISTS (SELECT FROM pg_roles WHERE rolname = 'rds_iam')
                           AND pg_has_role(rolname, 'rds_iam', 'MEMBER') AS rds_iam
                FROM pg_authid WHERE rolname = $1
                """,
                env.app_user,
            )
            return dict(row)
        finally:
            await connection.close()

    return asyncio.run(query())


LEAST_PRIVILEGE = {
    "rolcanlogin": True,
    "rolsuper": False,
    "rolcreatedb": False,
    "rolcreaterole": False,
    "rolreplication": False,
    "rolbypassrls": False,
    "no_password": True,  # IAM tokens only
    "can_select": True,
    "can_write": False,
    "can_use_schema": True,
    "can_create": False,
    "can_connect": True,
}
