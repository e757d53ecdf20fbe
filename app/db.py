"""The database: the app's connection pool and its two queries, and admin connections.

Requests never wait on the database longer than `DatabaseConfig.request_budget_s`
(a new connection plus one statement); any failure inside that budget becomes
`Unavailable`, which the web layer answers with 503. The pool reconnects by itself on
the next request once the database is back.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from dataclasses import dataclass
from typing import Any

import asyncpg

from app import logs
from app.config import DatabaseConfig
from app.credentials import PasswordSource, password_source, read_master_secret
from app.errors import OperationError
from app.tls import ssl_context

log = logging.getLogger("app.db")

# One index scan on gifs_pick_key_idx: the first row at or after a random key, wrapping
# around to the first row overall. The second branch only runs when the first is empty.
PICK_RANDOM = """
(SELECT id, title, width, height FROM gifs WHERE pick_key >= $1 ORDER BY pick_key LIMIT 1)
UNION ALL
(SELECT id, title, width, height FROM gifs ORDER BY pick_key LIMIT 1)
LIMIT 1
"""
IMAGE_BY_ID = "SELECT sha256, data FROM gifs WHERE id = $1"
APPLICATION_NAME = "gifstack"


@dataclass(frozen=True)
class Gif:
    id: int
    title: str
    width: int
    height: int


@dataclass(frozen=True)
class Image:
    sha256: str
    data: bytes


class Unavailable(Exception):
    """The database could not answer within the budget; `reason` is safe to show."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def connect_kwargs(
    config: DatabaseConfig,
    password: PasswordSource,
    *,
    user: str | None = None,
    statement_timeout: bool = True,
) -> dict[str, Any]:
    """Arguments for asyncpg.connect/create_pool; never a DSN string (it would hold secrets)."""
    server_settings = {"application_name": APPLICATION_NAME}
    kwargs: dict[str, Any] = {}
    if statement_timeout:
        # The server cancels a slow statement; the client-side timeout is the backstop
        # for a connection that went silent.
        server_settings["statement_timeout"] = str(config.statement_timeout_ms)
        kwargs["command_timeout"] = config.statement_timeout_ms / 1000 + 0.2
    return {
        "host": config.host,
        "port": config.port,
        "user": user or config.user,
        "password": password,
        "database": config.database,
        "ssl": ssl_context(config.sslmode, config.sslrootcert),
        "timeout": config.connect_timeout_s,
        "server_settings": server_settings,
        **kwargs,
    }


async def _keep_session(connection: asyncpg.Connection) -> None:
    """Pool `reset` hook: skip asyncpg's per-release RESET ALL round trip.

    The app never changes session state (no SET, LISTEN, cursors or advisory locks), and
    asyncpg still rolls back an open transaction before calling this.
    """


class Database:
    """The app's pool. `open()` never fails on an unreachable database: /healthz must
    answer and /gif must say 503 until the database is there."""

    def __init__(self, config: DatabaseConfig, password: PasswordSource | None = None):
        self.config = config
        self._password = password if password is not None else password_source(config)
        self._pool: asyncpg.Pool | None = None
        # First come, first served for the pool's connections. asyncpg's own wait queue
        # (an asyncio.Queue) lets a newcomer take a just-released connection ahead of a
        # waiter that was already woken, which sends that waiter to the back of the line:
        # under load a few requests wait very long (p99). A semaphore is strictly FIFO.
        self._turns = asyncio.Semaphore(config.pool_max)
        self._warm_task: asyncio.Task | None = None
        self._last_warning = 0.0

    async def open(self) -> None:
        # min_size=0: creating the pool opens no connection; the warm-up below opens
        # DB_POOL_MIN of them in the background, and requests open the rest on demand.
        self._pool = await asyncpg.create_pool(
            min_size=0,
            max_size=self.config.pool_max,
            max_inactive_connection_lifetime=300,
            reset=_keep_session,
            **connect_kwargs(self.config, self._password),
        )
        self._warm_task = asyncio.get_running_loop().create_task(self._warm())

    async def close(self, timeout_s: float = 5) -> None:
        if self._warm_task is not None:
            self._warm_task.cancel()
        if self._pool is None:
            return
        try:
            await asyncio.wait_for(self._pool.close(), timeout_s)
        except TimeoutError:
            self._pool.terminate()
        self._pool = None

    async def random_gif(self) -> Gif | None:
        """A random GIF's metadata, None when the catalogue is empty."""
        row = await self._run("fetchrow", PICK_RANDOM, random.random())
        return Gif(row[0], row[1], row[2], row[3]) if row is not None else None

    async def image(self, gif_id: int) -> Image | None:
        row = await self._run("fetchrow", IMAGE_BY_ID, gif_id)
        return Image(row[0], row[1]) if row is not None else None

    def pool_stats(self) -> tuple[int, int, int]:
        """(in use, idle, max) connections."""
        if self._pool is None:
            return 0, 0, self.config.pool_max
        size, idle = self._pool.get_size(), self._pool.get_idle_size()
        return size - idle, idle, self._pool.get_max_size()

    async def _run(self, method: str, query: str, *args: Any) -> Any:
        if self._pool is None:
            raise Unavailable("database unavailable")
        try:
            async with asyncio.timeout(self.config.request_budget_s), self._turns:
                return await getattr(self._pool, method)(query, *args)
        except asyncpg.UndefinedTableError:
            self._warn("the gifs table does not exist: run `python -m app migrate`")
            raise Unavailable("database not migrated yet") from None
        except (TimeoutError, asyncpg.QueryCanceledError) as exc:
            self._warn("the database did not answer in time", exc)
            raise Unavailable("database timed out") from None
        except Exception as exc:
            # Unreachable, refused, or no credentials for an IAM token: all mean "not
            # ready" to a client and a probe, never a 500.
            self._warn("the database is unreachable or refused the query", exc)
            raise Unavailable("database unavailable") from None

    async def _warm(self) -> None:
        """Open DB_POOL_MIN connections at once (each returned to the pool right away)."""
        pool = self._pool
        assert pool is not None
        if self.config.pool_min == 0:
            return

        async def open_one() -> None:
            async with pool.acquire(timeout=self.config.request_budget_s * 2):
                pass

        results = await asyncio.gather(
            *(open_one() for _ in range(self.config.pool_min)), return_exceptions=True
        )
        failures = [result for result in results if isinstance(result, BaseException)]
        if not failures:
            log.info("database connected", extra={"fields": self._where()})
            return
        log.warning(
            "database not reachable yet; /gif answers 503 until it is",
            extra={"fields": {**self._where(), "error": logs.describe(failures[0])}},
        )

    def _warn(self, message: str, exc: BaseException | None = None) -> None:
        """At most one warning a second: an outage must not flood the log."""
        now = time.monotonic()
        if now - self._last_warning < 1:
            return
        self._last_warning = now
        fields = self._where()
        if exc is not None:
            fields["error"] = logs.describe(exc)
        log.warning(message, extra={"fields": fields})

    def _where(self) -> dict[str, Any]:
        return {
            "db_host": self.config.host,
            "db_port": self.config.port,
            "db_name": self.config.database,
        }


async def admin_connection(config: DatabaseConfig) -> asyncpg.Connection:
    """A connection for migrate and seed: as the master user from DB_MASTER_SECRET_ARN when
    set, else as the configured user. No statement timeout (migrations may be slow)."""
    if config.master_secret_arn:
        master = read_master_secret(config.master_secret_arn)
        user, password = master.username, master.password
    else:
        user, password = config.user, password_source(config)
    try:
        return await asyncpg.connect(
            **connect_kwargs(config, password, user=user, statement_timeout=False)
        )
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        raise OperationError(
            f"connecting to PostgreSQL at {config.host}:{config.port} database "
            f"{config.database} as {user}: {logs.describe(exc)}"
        ) from None
