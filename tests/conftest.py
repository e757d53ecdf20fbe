"""Fixtures shared by every area. Add yours in a small section of its own.

A real PostgreSQL (infra/local/postgres.py: the system's server binaries, else the
pgserver wheel) runs once per test session; each test that asks for `database_url` gets
a fresh, empty database on it.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest

from infra.local.postgres import LocalPostgres

# --- a real PostgreSQL -----------------------------------------------------------------


def make_postgres_dir(prefix: str = "gifstack-test-pg-") -> Path:
    """A directory for a throwaway data dir that the PostgreSQL server user can enter."""
    root = Path(tempfile.mkdtemp(prefix=prefix))
    root.chmod(0o755)  # as root the server runs as `postgres`, which must reach data/
    return root


@pytest.fixture(scope="session")
def postgres() -> Iterator[LocalPostgres]:
    """One PostgreSQL server for the session (loopback, free port, no fsync)."""
    root = make_postgres_dir()
    server = LocalPostgres(root / "data", ephemeral=True)
    server.start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def database_url(postgres: LocalPostgres) -> Iterator[str]:
    """DATABASE_URL of a new empty database, dropped after the test."""
    name = f"test_{uuid.uuid4().hex[:12]}"
    admin = postgres.url_for("postgres")
    asyncio.run(_admin_execute(admin, f'CREATE DATABASE "{name}"'))
    try:
        yield postgres.url_for(name)
    finally:
        asyncio.run(_admin_execute(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _admin_execute(url: str, statement: str) -> None:
    connection = await asyncpg.connect(url)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()
