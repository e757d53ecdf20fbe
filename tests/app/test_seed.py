"""app/seed.py against a real PostgreSQL: the bundled GIFs load once, changes update,
and the pick keys end up evenly spaced."""

from __future__ import annotations

import asyncio
import shutil

import asyncpg
import pytest

from app.errors import OperationError
from app.migrate import migrate
from app.seed import GIFS_DIR, SeedResult, bundled, seed


def _seed_twice(url: str, directory, change=None):
    async def body():
        connection = await asyncpg.connect(url)
        try:
            await migrate(connection)
            first = await seed(connection, directory)
            if change:
                change()
            second = await seed(connection, directory)
            keys = await connection.fetch("SELECT pick_key FROM gifs ORDER BY pick_key")
            return first, second, [row[0] for row in keys]
        finally:
            await connection.close()

    return asyncio.run(body())


def test_bundled_gifs_are_real_and_titled():
    gifs = bundled()
    assert len(gifs) >= 12
    for gif in gifs:
        assert gif.data[:6] == b"GIF89a"
        assert (gif.width, gif.height) == (64, 64)
        assert gif.title[0].isupper() and "-" not in gif.title
    assert len({gif.sha256 for gif in gifs}) == len(gifs)


def test_seed_is_idempotent_and_spaces_pick_keys_evenly(database_url):
    first, second, keys = _seed_twice(database_url, GIFS_DIR)
    count = len(bundled())
    assert first == SeedResult(inserted=count, updated=0, unchanged=0)
    assert second == SeedResult(inserted=0, updated=0, unchanged=count)
    assert keys == [i / count for i in range(count)]


def test_a_changed_file_updates_its_row(database_url, tmp_path):
    directory = tmp_path / "gifs"
    shutil.copytree(GIFS_DIR, directory, ignore=shutil.ignore_patterns("*.py"))
    first_two = sorted(directory.glob("*.gif"))[:2]

    def change():
        first_two[0].write_bytes(first_two[1].read_bytes())

    _, second, _ = _seed_twice(database_url, directory, change)
    assert second.updated == 1 and second.inserted == 0


def test_no_gifs_is_a_clear_error(tmp_path):
    with pytest.raises(OperationError, match="no GIF files in"):
        bundled(tmp_path)


def test_a_file_that_is_not_a_gif_is_refused(tmp_path):
    (tmp_path / "fake.gif").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(20))
    with pytest.raises(OperationError, match="is not a GIF file"):
        bundled(tmp_path)
