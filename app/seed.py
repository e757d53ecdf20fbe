"""Load the bundled GIFs (app/gifs/*.gif) into the catalogue; safe to run again and again.

A GIF is known by its file name (the slug); a changed file updates its row, an unchanged
one is left alone. Afterwards the pick keys are spaced evenly over [0, 1) so that the
random pick of GET /gif gives every GIF the same chance.
"""

from __future__ import annotations

import hashlib
import logging
import struct
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from app.errors import OperationError
from app.migrate import exclusive

log = logging.getLogger("app.seed")

GIFS_DIR = Path(__file__).resolve().parent / "gifs"

_UPSERT = """
INSERT INTO gifs (slug, title, width, height, sha256, data)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (slug) DO UPDATE
    SET title = EXCLUDED.title, width = EXCLUDED.width, height = EXCLUDED.height,
        sha256 = EXCLUDED.sha256, data = EXCLUDED.data
    WHERE gifs.sha256 <> EXCLUDED.sha256 OR gifs.title <> EXCLUDED.title
RETURNING (xmax = 0) AS inserted
"""
_SPACE_PICK_KEYS = """
UPDATE gifs SET pick_key = spaced.key
FROM (SELECT id, (row_number() OVER (ORDER BY id) - 1)::float8 / count(*) OVER () AS key
      FROM gifs) AS spaced
WHERE gifs.id = spaced.id AND gifs.pick_key <> spaced.key
"""


@dataclass(frozen=True)
class BundledGif:
    slug: str
    title: str
    width: int
    height: int
    sha256: str
    data: bytes


@dataclass(frozen=True)
class SeedResult:
    inserted: int
    updated: int
    unchanged: int


def bundled(directory: Path = GIFS_DIR) -> list[BundledGif]:
    gifs = [_read(path) for path in sorted(directory.glob("*.gif"))]
    if not gifs:
        raise OperationError(f"no GIF files in {directory}; run app/gifs/generate.py")
    return gifs


def _read(path: Path) -> BundledGif:
    data = path.read_bytes()
    if data[:6] not in (b"GIF87a", b"GIF89a") or len(data) < 13:
        raise OperationError(f"{path} is not a GIF file")
    width, height = struct.unpack("<HH", data[6:10])  # the logical screen size
    return BundledGif(
        slug=path.stem,
        title=path.stem.replace("-", " ").capitalize(),
        width=width,
        height=height,
        sha256=hashlib.sha256(data).hexdigest(),
        data=data,
    )


async def seed(connection: asyncpg.Connection, directory: Path = GIFS_DIR) -> SeedResult:
    gifs = bundled(directory)
    inserted = updated = 0
    async with exclusive(connection), connection.transaction():
        for gif in gifs:
            row = await connection.fetchrow(
                _UPSERT, gif.slug, gif.title, gif.width, gif.height, gif.sha256, gif.data
            )
            if row is not None:
                inserted += row["inserted"]
                updated += not row["inserted"]
        await connection.execute(_SPACE_PICK_KEYS)
    result = SeedResult(inserted, updated, len(gifs) - inserted - updated)
    log.info("seeded", extra={"fields": result.__dict__})
    return result
