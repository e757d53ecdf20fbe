"""app/db.py against a real PostgreSQL: the two queries, the index plan, the pool and
its per-connection password callable, and failures as Unavailable."""

from __future__ import annotations

import asyncio
import socket
import time

import asyncpg
import pytest

from app.config import load_database
from app.db import PICK_RANDOM, Database, Gif, Unavailable, admin_connection
from app.errors import OperationError
from app.seed import bundled
from tests.support.app_service import prepare


def _run(coroutine):
    return asyncio.run(coroutine)


async def _with_database(url: str, body, **env):
    database = Database(load_database({"DATABASE_URL": url, **env}))
    await database.open()
    try:
        return await body(database)
    finally:
        await database.close()


def test_random_gif_and_image(database_url):
    prepare(database_url)
    by_slug = {gif.title: gif for gif in bundled()}

    async def body(database: Database):
        gif = await database.random_gif()
        image = await database.image(gif.id)
        missing = await database.image(987654)
        return gif, image, missing

    gif, image, missing = _run(_with_database(database_url, body))
    assert isinstance(gif, Gif)
    expected = by_slug[gif.title]
    assert (gif.width, gif.height) == (expected.width, expected.height)
    assert image.data == expected.data and image.sha256 == expected.sha256
    assert missing is None


def test_empty_catalogue_gives_none(database_url):
    prepare(database_url, seeded=False)
    assert _run(_with_database(database_url, lambda db: db.random_gif())) is None


def test_random_pick_is_one_index_scan_never_a_full_scan(database_url):
    """With many rows (so the planner has a real choice) the pick reads one index entry."""
    prepare(database_url)

    async def plan() -> str:
        connection = await asyncpg.connect(database_url)
        try:
            await connection.execute(
                "INSERT INTO gifs (slug, title, width, height, sha256, data) "
                "SELECT 'extra-' || n, 'Extra ' || n, 1, 1, repeat('0', 64), '\\x00' "
                "FROM generate_series(1, 20000) AS n"
            )
            await connection.execute("VACUUM ANALYZE gifs")
            rows = await connection.fetch(
                "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) "
                + PICK_RANDOM.replace("$1", "0.5")
            )
            return "\n".join(row[0] for row in rows)
        finally:
            await connection.close()

    text = _run(plan())
    assert "Seq Scan" not in text and "Sort" not in text, text
    assert "gifs_pick_key_idx" in text, text
    # The wrap-around branch is never executed when the first branch found a row.
    assert "never executed" in text, text


def test_password_callable_is_asked_for_each_new_connection(database_url):
    prepare(database_url)
    config = load_database({"DATABASE_URL": database_url, "DB_POOL_MIN": "2"})
    calls = []

    async def password() -> str:
        calls.append(time.monotonic())
        return config.password

    async def body():
        database = Database(config, password=password)
        await database.open()
        try:
            # The warm-up opens DB_POOL_MIN connections in the background.
            for _ in range(100):
                if database.pool_stats()[1] == 2:
                    break
                await asyncio.sleep(0.02)
            assert len(calls) == 2
            # Five at once need five connections: three more, three more passwords.
            await asyncio.gather(
                *(database._run("execute", "SELECT pg_sleep(0.2)") for _ in range(5))
            )
            in_use, idle, maximum = database.pool_stats()
            return in_use, idle, maximum
        finally:
            await database.close()

    assert _run(body()) == (0, 5, 10)
    assert len(calls) == 5


def test_unreachable_database_is_unavailable_quickly():
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    url = f"postgresql://app:pw@127.0.0.1:{port}/gif"

    async def body(database: Database):
        started = time.monotonic()
        with pytest.raises(Unavailable) as caught:
            await database.random_gif()
        return caught.value.reason, time.monotonic() - started

    reason, elapsed = _run(_with_database(url, body))
    assert reason == "database unavailable"
    assert elapsed < 2


def test_admin_connection_failure_is_one_clear_error():
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    config = load_database({"DATABASE_URL": f"postgresql://app:pw@127.0.0.1:{port}/gif"})
    with pytest.raises(OperationError) as caught:
        _run(admin_connection(config))
    assert f"connecting to PostgreSQL at 127.0.0.1:{port} database gif as app" in str(caught.value)
    assert ":pw@" not in str(caught.value)


def test_iam_auth_without_aws_credentials_is_unavailable_not_a_crash(postgres, monkeypatch):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    port = postgres.url.rsplit(":", 1)[1].split("/")[0]
    env = {
        "PGHOST": "127.0.0.1",
        "PGPORT": port,
        "PGUSER": "gif_app",
        "DB_IAM_AUTH": "true",
        "DB_SSLMODE": "require",
        "AWS_REGION": "eu-west-1",
    }

    async def body():
        database = Database(load_database(env))
        await database.open()
        try:
            with pytest.raises(Unavailable):
                await database.random_gif()
        finally:
            await database.close()

    asyncio.run(body())
