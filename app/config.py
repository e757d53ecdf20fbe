"""Configuration from environment variables only; every problem is one ConfigError.

Database location: DATABASE_URL (a libpq URI) or the libpq variables PGHOST, PGPORT,
PGDATABASE, PGUSER, PGPASSWORD (the PG* values fill in what the URL leaves out).
Messages name the variable, never its value when it may hold a secret.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal
from urllib.parse import parse_qsl, unquote, urlsplit

from app.errors import ConfigError

SslMode = Literal["disable", "require", "verify-full"]
SSL_MODES: tuple[str, ...] = ("disable", "require", "verify-full")
RDS_CA_BUNDLE = Path(__file__).resolve().parent / "certs" / "rds-global-bundle.pem"
LOG_LEVELS = ("debug", "info", "warning", "error")
_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_URL_PARAMS = ("sslmode", "sslrootcert", "connect_timeout")


@dataclass(frozen=True)
class DatabaseConfig:
    host: str = "localhost"
    port: int = 5432
    database: str = "postgres"
    user: str = "postgres"
    password: str | None = field(default=None, repr=False)
    sslmode: SslMode = "disable"
    sslrootcert: Path = RDS_CA_BUNDLE
    pool_min: int = 1
    pool_max: int = 10
    connect_timeout_s: float = 1.0
    statement_timeout_ms: int = 800
    iam_auth: bool = False
    aws_region: str | None = None
    master_secret_arn: str | None = None
    app_user: str | None = None

    @property
    def request_budget_s(self) -> float:
        """Longest a request may wait on the database: a new connection plus one statement."""
        return self.connect_timeout_s + self.statement_timeout_ms / 1000


@dataclass(frozen=True)
class HttpLimits:
    """What one client may cost the server (enforced by app.protocol)."""

    max_head_bytes: int = 16 * 1024  # request line + header fields
    max_headers: int = 100
    head_timeout_s: float = 10.0  # from a request's first byte to its last
    idle_timeout_s: float = 5.0  # a connection with nothing in flight, or a stalled write
    max_connections: int = 1000  # open connections to the main port, per process


@dataclass(frozen=True)
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = 8080
    metrics_port: int = 9090
    limits: HttpLimits = HttpLimits()


def load_log_level(env: Mapping[str, str]) -> str:
    level = env.get("LOG_LEVEL", "info").strip().lower() or "info"
    if level not in LOG_LEVELS:
        raise ConfigError(f"LOG_LEVEL must be one of {', '.join(LOG_LEVELS)} (got {level!r})")
    return level


def load_server(
    env: Mapping[str, str],
    host: str | None = None,
    port: int | None = None,
    metrics_port: int | None = None,
) -> ServerConfig:
    """HOST/PORT/METRICS_PORT, overridden by --host/--port/--metrics-port (0: any free
    port), and the HTTP_* limits."""
    host = host if host is not None else env.get("HOST", "127.0.0.1")
    port = _port(env, "PORT", 8080, "--port", port)
    metrics_port = _port(env, "METRICS_PORT", 9090, "--metrics-port", metrics_port)
    if not host:
        raise ConfigError("HOST must not be empty (use 0.0.0.0 to listen on all interfaces)")
    if port == metrics_port != 0:
        raise ConfigError(
            f"METRICS_PORT must differ from PORT (both {port}): /metrics is served only on "
            "its own port, which the load balancer does not expose"
        )
    defaults = HttpLimits()
    limits = HttpLimits(
        max_head_bytes=_integer(
            env, "HTTP_MAX_HEAD_BYTES", defaults.max_head_bytes, 1024, 1024 * 1024
        ),
        max_headers=_integer(env, "HTTP_MAX_HEADERS", defaults.max_headers, 8, 1000),
        head_timeout_s=_number(env, "HTTP_HEAD_TIMEOUT", defaults.head_timeout_s, 0.1, 300),
        idle_timeout_s=_number(env, "HTTP_IDLE_TIMEOUT", defaults.idle_timeout_s, 0.1, 300),
        max_connections=_integer(env, "HTTP_MAX_CONNECTIONS", defaults.max_connections, 1, 10_000),
    )
    return ServerConfig(host=host, port=port, metrics_port=metrics_port, limits=limits)


def _port(env: Mapping[str, str], name: str, default: int, flag: str, given: int | None) -> int:
    if given is None:
        return _integer(env, name, default, 0, 65535)
    if not 0 <= given <= 65535:
        raise ConfigError(f"{flag} must be between 0 and 65535 (got {given})")
    return given


def load_database(env: Mapping[str, str]) -> DatabaseConfig:
    """The database settings for serve, migrate and seed."""
    location = _location(env)
    sslmode = _sslmode(env, location)
    iam_auth = _boolean(env, "DB_IAM_AUTH", False)
    region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or None
    if iam_auth:
        if sslmode == "disable":
            raise ConfigError(
                "DB_IAM_AUTH=true needs TLS (RDS accepts IAM tokens only over TLS); "
                "set DB_SSLMODE=verify-full"
            )
        if region is None:
            raise ConfigError("DB_IAM_AUTH=true needs AWS_REGION (the database's region)")
        if location["password"] is not None:
            raise ConfigError(
                "DB_IAM_AUTH=true and a password (PGPASSWORD or in DATABASE_URL) are both set; "
                "remove the password: the IAM token is the password"
            )
    pool_min = _integer(env, "DB_POOL_MIN", 1, 0, 100)
    pool_max = _integer(env, "DB_POOL_MAX", 10, 1, 100)
    if pool_min > pool_max:
        raise ConfigError(
            f"DB_POOL_MIN ({pool_min}) must not be larger than DB_POOL_MAX ({pool_max})"
        )
    master_secret_arn = env.get("DB_MASTER_SECRET_ARN") or None
    app_user = env.get("DB_APP_USER") or None
    if master_secret_arn is not None:
        if not re.match(
            r"^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:.+$", master_secret_arn
        ):
            raise ConfigError(
                "DB_MASTER_SECRET_ARN must be a Secrets Manager secret ARN "
                "(arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME)"
            )
        if app_user is None:
            raise ConfigError(
                "DB_MASTER_SECRET_ARN is set but DB_APP_USER is not: name the app's database "
                "user that migrate should create or update"
            )
    if app_user is not None and not _IDENTIFIER.match(app_user):
        raise ConfigError(
            "DB_APP_USER must be a lower-case PostgreSQL identifier "
            f"(letters, digits, underscore; got {app_user!r})"
        )
    return DatabaseConfig(
        host=location["host"],
        port=location["port"],
        database=location["database"],
        user=location["user"],
        password=location["password"],
        sslmode=sslmode,
        sslrootcert=_rootcert(env, location),
        pool_min=pool_min,
        pool_max=pool_max,
        connect_timeout_s=_number(
            env, "DB_CONNECT_TIMEOUT", location["connect_timeout"] or 1.0, 0.05, 60
        ),
        statement_timeout_ms=_integer(env, "DB_STATEMENT_TIMEOUT", 800, 1, 600_000),
        iam_auth=iam_auth,
        aws_region=region,
        master_secret_arn=master_secret_arn,
        app_user=app_user,
    )


def _location(env: Mapping[str, str]) -> dict:
    """Host, port, database, user, password and URL options; the URL wins over PG*."""
    location: dict = {
        "host": env.get("PGHOST") or "localhost",
        "port": _integer(env, "PGPORT", 5432, 1, 65535),
        "user": env.get("PGUSER") or "postgres",
        "database": env.get("PGDATABASE") or None,
        "password": env.get("PGPASSWORD") or None,
        "sslmode": None,
        "sslrootcert": None,
        "connect_timeout": None,
    }
    url = env.get("DATABASE_URL")
    if url:
        location.update(_parse_url(url))
    location["database"] = location["database"] or location["user"]
    return location


def _parse_url(url: str) -> dict:
    shape = "postgresql://USER:PASSWORD@HOST:PORT/DATABASE"
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise ConfigError(f"DATABASE_URL is not a valid URI (expected {shape})") from None
    if parts.scheme not in ("postgresql", "postgres"):
        raise ConfigError(f"DATABASE_URL must start with postgresql:// (expected {shape})")
    found: dict = {}
    if parts.hostname:
        found["host"] = unquote(parts.hostname)
    if port:
        found["port"] = port
    if parts.username:
        found["user"] = unquote(parts.username)
    if parts.password:
        found["password"] = unquote(parts.password)
    if parts.path.strip("/"):
        found["database"] = unquote(parts.path.lstrip("/"))
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if key not in _URL_PARAMS:
            raise ConfigError(
                f"DATABASE_URL option {key!r} is not supported (supported: "
                f"{', '.join(_URL_PARAMS)}; pool and timeout settings are DB_* variables)"
            )
        if key == "connect_timeout":
            try:
                found[key] = float(value)
            except ValueError:
                found[key] = -1.0
            if not 0.05 <= found[key] <= 60:
                raise ConfigError(
                    "DATABASE_URL connect_timeout must be a number of seconds from 0.05 to 60"
                )
        else:
            found[key] = value
    return found


def _sslmode(env: Mapping[str, str], location: dict) -> SslMode:
    for source, value in (
        ("DB_SSLMODE", env.get("DB_SSLMODE")),
        ("the sslmode of DATABASE_URL", location["sslmode"]),
        ("PGSSLMODE", env.get("PGSSLMODE")),
    ):
        if value:
            if value not in SSL_MODES:
                raise ConfigError(f"{source} must be one of {', '.join(SSL_MODES)} (got {value!r})")
            return value  # type: ignore[return-value]
    # Unset: plain TCP to this machine, otherwise verified TLS (secure by default).
    return "disable" if _is_loopback(location["host"]) else "verify-full"


def _rootcert(env: Mapping[str, str], location: dict) -> Path:
    value = env.get("DB_SSLROOTCERT") or location["sslrootcert"] or env.get("PGSSLROOTCERT")
    if not value:
        return RDS_CA_BUNDLE
    path = Path(value)
    if not path.is_file():
        raise ConfigError(f"DB_SSLROOTCERT {value!r} is not a readable file of CA certificates")
    return path


def _is_loopback(host: str) -> bool:
    if host == "localhost" or host.startswith("/"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _integer(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number (got {raw!r})") from None
    if not low <= value <= high:
        raise ConfigError(f"{name} must be between {low} and {high} (got {value})")
    return value


def _number(env: Mapping[str, str], name: str, default: float, low: float, high: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number of seconds (got {raw!r})") from None
    if not low <= value <= high:
        raise ConfigError(f"{name} must be between {low} and {high} seconds (got {value})")
    return value


def _boolean(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name} must be true or false (got {raw!r})")
