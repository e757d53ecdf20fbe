"""`python -m app serve|migrate|seed`: the image's entrypoint and the migration Job.

Configuration comes from environment variables (see app.config); errors leave as one
JSON log line and exit code 2 (bad configuration) or 1 (the database or AWS failed).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Sequence

import asyncpg

from app import config, logs
from app.db import admin_connection
from app.errors import AppError, ConfigError, OperationError
from app.tls import ssl_context

log = logging.getLogger("app")


def main(argv: Sequence[str] | None = None) -> None:
    parser = _parser()
    args = parser.parse_args(argv)
    env = os.environ
    try:
        logs.setup(config.load_log_level(env))
    except ConfigError as exc:
        logs.setup("info")
        _fail(exc)
    try:
        database = config.load_database(env)
        ssl_context(database.sslmode, database.sslrootcert)  # a bad CA file is bad config
        if args.command == "serve":
            from app.server import serve  # migrate/seed don't need uvicorn

            serve(config.load_server(env, args.host, args.port, args.metrics_port), database)
        elif args.command == "migrate":
            asyncio.run(_migrate(database))
        elif args.command == "seed":
            asyncio.run(_seed(database))
    except AppError as exc:
        _fail(exc)
    except KeyboardInterrupt:
        sys.exit(130)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m app", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve = commands.add_parser("serve", help="serve HTTP (HOST/PORT, default 127.0.0.1:8080)")
    serve.add_argument("--host", help="address to listen on (default: $HOST or 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default: $PORT or 8080; 0 = any free)")
    serve.add_argument(
        "--metrics-port",
        type=int,
        help="port of /metrics, on the same host (default: $METRICS_PORT or 9090; 0 = any free)",
    )
    commands.add_parser(
        "migrate",
        help="apply pending schema migrations; with DB_MASTER_SECRET_ARN also set up "
        "the app user DB_APP_USER",
    )
    commands.add_parser("seed", help="load the bundled GIFs (idempotent)")
    return parser


async def _migrate(database: config.DatabaseConfig) -> None:
    from app.migrate import exclusive, migrate, schema_version
    from app.roles import ensure_app_user

    connection = await admin_connection(database)
    try:
        applied = await migrate(connection)
        if database.master_secret_arn and database.app_user:
            async with exclusive(connection):
                await ensure_app_user(connection, database.app_user)
        version = await schema_version(connection)
    except asyncpg.PostgresError as exc:
        raise OperationError(f"migrating the database: {logs.describe(exc)}") from None
    finally:
        await connection.close()
    log.info("database migrated", extra={"fields": {"applied": applied, "version": version}})


async def _seed(database: config.DatabaseConfig) -> None:
    from app.seed import seed

    connection = await admin_connection(database)
    try:
        await seed(connection)
    except asyncpg.UndefinedTableError:
        raise OperationError(
            "the gifs table does not exist; run `python -m app migrate` first"
        ) from None
    except asyncpg.PostgresError as exc:
        raise OperationError(f"seeding the database: {logs.describe(exc)}") from None
    finally:
        await connection.close()


def _fail(error: AppError) -> None:
    log.error(error.message, extra={"fields": {"exit_code": error.exit_code}})
    sys.exit(error.exit_code)
