"""TLS for database connections: the SSL context for each DB_SSLMODE."""

from __future__ import annotations

import ssl
from pathlib import Path

from app.config import SslMode
from app.errors import ConfigError


def ssl_context(mode: SslMode, rootcert: Path) -> ssl.SSLContext | bool:
    """`disable` -> no TLS; `require` -> TLS without checking who answers;
    `verify-full` -> the server's certificate must chain to `rootcert` (the shipped RDS CA
    bundle by default) and name the host we connect to."""
    if mode == "disable":
        return False
    if mode == "require":
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    try:
        context = ssl.create_default_context(cafile=str(rootcert))
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"cannot load the CA bundle {rootcert}: {exc}") from None
    context.check_hostname = True
    context.verify_mode = ssl.CERT_REQUIRED
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context
