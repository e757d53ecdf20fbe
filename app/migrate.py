"""Versioned SQL migrations (app/migrations/NNNN_name.sql), applied once each, in order.

Safe when several pods migrate at once: everything happens under one PostgreSQL advisory
lock, so the second runner waits and then finds nothing left to do. Each migration runs
in its own transaction together with its row in schema_migrations. A migration that was
changed after it was applied is refused (add a new one instead).
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from app.errors import OperationError

log = logging.getLogger("app.migrate")

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# "gifstack" in ASCII as a bigint: the one lock migrate and seed serialise on.
LOCK_KEY = 0x676966737461636B
_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")

_CREATE_LEDGER = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version integer PRIMARY KEY,
    name text NOT NULL,
    checksum text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)
"""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def load(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    migrations = []
    for path in sorted(directory.glob("*.sql")):
        match = _NAME.match(path.name)
        if match is None:
            raise OperationError(
                f"migration file {path.name} is not named NNNN_description.sql; rename it"
            )
        migrations.append(Migration(int(match[1]), match[2], path.read_text()))
    versions = [m.version for m in migrations]
    if len(set(versions)) != len(versions):
        raise OperationError(f"two migration files share a version number in {directory}")
    return migrations


@asynccontextmanager
async def exclusive(connection: asyncpg.Connection) -> AsyncIterator[None]:
    """Hold the gifstack advisory lock (session level) for the block."""
    await connection.execute("SELECT pg_advisory_lock($1)", LOCK_KEY)
    try:
        yield
    finally:
        await connection.execute("SELECT pg_advisory_unlock($1)", LOCK_KEY)


async def migrate(connection: asyncpg.Connection, directory: Path = MIGRATIONS_DIR) -> list[int]:
    """Apply the pending migrations; returns the versions applied by this call."""
    migrations = load(directory)
    applied_now: list[int] = []
    async with exclusive(connection):
        await connection.execute(_CREATE_LEDGER)
        applied = {
            row["version"]: row["checksum"]
            for row in await connection.fetch("SELECT version, checksum FROM schema_migrations")
        }
        for migration in migrations:
            if migration.version in applied:
                if applied[migration.version] != migration.checksum:
                    raise OperationError(
                        f"migration {migration.version:04d}_{migration.name}.sql was changed "
                        "after it was applied to this database; restore it and add a new "
                        "migration for the change"
                    )
                continue
            async with connection.transaction():
                await connection.execute(migration.sql)
                await connection.execute(
                    "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                    migration.version,
                    migration.name,
                    migration.checksum,
                )
            log.info(
                "migration applied",
                extra={"fields": {"version": migration.version, "name": migration.name}},
            )
            applied_now.append(migration.version)
        newest_known = max((m.version for m in migrations), default=0)
        if applied and max(applied) > newest_known:
            log.warning(
                "the database has migrations this version of the app does not know",
                extra={"fields": {"database_version": max(applied), "app_version": newest_known}},
            )
    return applied_now


async def schema_version(connection: asyncpg.Connection) -> int | None:
    """The highest applied migration, None before the first migrate."""
    exists = await connection.fetchval("SELECT to_regclass('schema_migrations') IS NOT NULL")
    if not exists:
        return None
    return await connection.fetchval("SELECT max(version) FROM schema_migrations")
