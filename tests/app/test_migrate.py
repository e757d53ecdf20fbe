"""app/migrate.py against a real PostgreSQL: once and in order, under an advisory lock,
safe from two processes at once, and strict about edited history."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys

import asyncpg
import pytest

from app.errors import OperationError
from app.migrate import LOCK_KEY, MIGRATIONS_DIR, load, migrate, schema_version
from tests.support.app_service import ROOT, app_env, json_lines


async def _connect(url: str) -> asyncpg.Connection:
    return await asyncpg.connect(url)


def test_applies_each_migration_once(database_url):
    async def body():
        connection = await _connect(database_url)
        try:
            before = await schema_version(connection)
            first = await migrate(connection)
            second = await migrate(connection)
            after = await schema_version(connection)
            tables = await connection.fetchval(
                "SELECT count(*) FROM pg_tables WHERE tablename = 'gifs'"
            )
            return before, first, second, after, tables
        finally:
            await connection.close()

    newest = max(m.version for m in load())
    before, first, second, after, tables = asyncio.run(body())
    assert before is None
    assert first == [m.version for m in load()]
    assert second == []
    assert after == newest and tables == 1


def test_two_processes_migrating_at_once_end_with_one_schema_version(database_url):
    env = app_env(DATABASE_URL=database_url)
    runners = [
        subprocess.Popen(
            [sys.executable, "-m", "app", "migrate"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [runner.communicate(timeout=60) for runner in runners]
    assert [runner.returncode for runner in runners] == [0, 0], outputs

    applied = [
        line["applied"]
        for stdout, _ in outputs
        for line in json_lines(stdout)
        if line["msg"] == "database migrated"
    ]
    assert sorted(applied, key=len) == [[], [1]], "exactly one runner applied the migration"

    async def ledger():
        connection = await _connect(database_url)
        try:
            return await connection.fetch("SELECT version FROM schema_migrations")
        finally:
            await connection.close()

    assert [row["version"] for row in asyncio.run(ledger())] == [1]


def test_migrate_waits_for_the_advisory_lock(database_url):
    async def body():
        holder = await _connect(database_url)
        runner = await _connect(database_url)
        try:
            await holder.execute("SELECT pg_advisory_lock($1)", LOCK_KEY)
            task = asyncio.create_task(migrate(runner))
            await asyncio.sleep(0.5)
            waited = not task.done()
            await holder.execute("SELECT pg_advisory_unlock($1)", LOCK_KEY)
            applied = await asyncio.wait_for(task, 10)
            return waited, applied
        finally:
            await holder.close()
            await runner.close()

    waited, applied = asyncio.run(body())
    assert waited, "migrate must not run while another runner holds the lock"
    assert applied == [1]


def test_an_edited_migration_is_refused(database_url, tmp_path):
    directory = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS_DIR, directory)

    async def body():
        connection = await _connect(database_url)
        try:
            await migrate(connection, directory)
            (directory / "0001_create_gifs.sql").write_text("SELECT 1; -- edited\n")
            await migrate(connection, directory)
        finally:
            await connection.close()

    with pytest.raises(OperationError, match="was changed after it was applied"):
        asyncio.run(body())


def test_a_new_migration_is_applied_after_the_old_ones(database_url, tmp_path):
    directory = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS_DIR, directory)
    (directory / "0002_add_note.sql").write_text("ALTER TABLE gifs ADD COLUMN note text;\n")

    async def body():
        connection = await _connect(database_url)
        try:
            applied = await migrate(connection, directory)
            column = await connection.fetchval(
                "SELECT count(*) FROM information_schema.columns "
                "WHERE table_name = 'gifs' AND column_name = 'note'"
            )
            # The shipped app still runs against the newer schema, with a warning.
            again = await migrate(connection)
            return applied, column, again
        finally:
            await connection.close()

    assert asyncio.run(body()) == ([1, 2], 1, [])


def test_a_failing_migration_leaves_no_trace(database_url, tmp_path):
    directory = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS_DIR, directory)
    (directory / "0002_broken.sql").write_text(
        "ALTER TABLE gifs ADD COLUMN half_done text;\nSELECT no_such_function();\n"
    )

    async def body():
        connection = await _connect(database_url)
        try:
            with pytest.raises(asyncpg.UndefinedFunctionError):
                await migrate(connection, directory)
            columns = await connection.fetchval(
                "SELECT count(*) FROM information_schema.columns WHERE column_name = 'half_done'"
            )
            return columns, await schema_version(connection)
        finally:
            await connection.close()

    assert asyncio.run(body()) == (0, 1)


@pytest.mark.parametrize("name", ["1_short.sql", "0003-dash.sql", "0003_UPPER.sql"])
def test_badly_named_files_are_refused(tmp_path, name):
    (tmp_path / name).write_text("SELECT 1;")
    with pytest.raises(OperationError, match=r"is not named NNNN_description\.sql"):
        load(tmp_path)
