"""The app's own database user: created or updated by migrate when it runs as the master.

The app logs in with RDS IAM authentication tokens, so its user has no password, is a
member of `rds_iam`, and may only read the catalogue.
"""

from __future__ import annotations

import logging

import asyncpg

log = logging.getLogger("app.roles")


async def ensure_app_user(connection: asyncpg.Connection, user: str) -> None:
    """Create or update `user`: login without a password, rds_iam, SELECT on gifs."""
    exists = await connection.fetchval("SELECT true FROM pg_roles WHERE rolname = $1", user)
    # Attributes a non-superuser master (RDS) may set; the defaults of CREATE ROLE are
    # already NOSUPERUSER NOREPLICATION NOBYPASSRLS.
    verb = "ALTER" if exists else "CREATE"
    await _execute(
        connection, f"{verb} ROLE %I WITH LOGIN NOCREATEDB NOCREATEROLE PASSWORD NULL", user
    )
    if await connection.fetchval("SELECT true FROM pg_roles WHERE rolname = 'rds_iam'"):
        await _execute(connection, "GRANT rds_iam TO %I", user)
    else:
        # Only Amazon RDS has rds_iam (it is what lets a user log in with an IAM token).
        log.warning(
            "role rds_iam does not exist (this PostgreSQL is not Amazon RDS): the app user "
            "was not granted IAM authentication",
            extra={"fields": {"app_user": user}},
        )
    database = await connection.fetchval("SELECT current_database()")
    await _execute(connection, "GRANT CONNECT ON DATABASE %I TO %I", database, user)
    await _execute(connection, "GRANT USAGE ON SCHEMA public TO %I", user)
    await _execute(connection, "GRANT SELECT ON TABLE gifs TO %I", user)
    log.info(
        "app user ready" if exists else "app user created", extra={"fields": {"app_user": user}}
    )


async def _execute(connection: asyncpg.Connection, template: str, *names: str) -> None:
    """Run DDL naming roles/databases: identifiers are quoted by PostgreSQL's format(%I)."""
    placeholders = ", ".join(f"${i + 1}::text" for i in range(len(names)))
    statement = await connection.fetchval(f"SELECT format('{template}', {placeholders})", *names)
    await connection.execute(statement)
