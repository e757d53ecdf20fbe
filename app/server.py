"""Serve the ASGI app with uvicorn (uvloop + httptools), with a graceful SIGTERM.

One process, two listening sockets: the main port (the load balancer's) and the metrics
port (GET /metrics only; not exposed). Both go through app.protocol, which bounds what one
client may cost (head size and field count, head deadline, idle time, connections).

On SIGTERM (or Ctrl-C) the server stops accepting, lets in-flight requests finish (up to
GRACE_S, below Kubernetes' default 30 s grace period), closes the pool and exits 0.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import socket
from collections.abc import Iterator

import uvicorn

from app.config import DatabaseConfig, ServerConfig
from app.db import Database
from app.errors import OperationError
from app.protocol import protocol_class
from app.web import GifApp

log = logging.getLogger("app.server")

GRACE_S = 20


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # uvicorn re-raises the signal after its graceful shutdown, which would end the
        # process "killed by SIGTERM"; a drained, clean stop should exit 0 instead.
        previous = {
            sig: signal.signal(sig, self.handle_exit) for sig in (signal.SIGINT, signal.SIGTERM)
        }
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def listen(host: str, port: int) -> socket.socket:
    """Bind and listen before serving, so the real port (PORT=0) can be reported."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
        sock = socket.socket(family, kind, proto)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(2048)
    except OSError as exc:
        raise OperationError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    return sock


def serve(server_config: ServerConfig, database_config: DatabaseConfig) -> None:
    sock = listen(server_config.host, server_config.port)
    try:
        metrics_sock = listen(server_config.host, server_config.metrics_port)
    except OperationError:
        sock.close()
        raise
    host, port = sock.getsockname()[:2]
    metrics_port = metrics_sock.getsockname()[1]
    app = GifApp(Database(database_config), metrics_port=metrics_port)
    limits = server_config.limits
    config = uvicorn.Config(
        app,
        loop="uvloop",
        http=protocol_class(limits, metrics_port, app.metrics.refused),
        ws="none",
        lifespan="on",
        interface="asgi3",
        access_log=False,  # app.logs writes the request lines
        log_config=None,
        server_header=False,
        proxy_headers=False,
        timeout_graceful_shutdown=GRACE_S,
        timeout_keep_alive=limits.idle_timeout_s,  # type: ignore[arg-type]
        backlog=2048,
    )
    display = f"[{host}]" if ":" in host else host
    log.info(
        "listening",
        extra={
            "fields": {
                "url": f"http://{display}:{port}",
                "metrics_url": f"http://{display}:{metrics_port}/metrics",
            }
        },
    )
    _Server(config).run(sockets=[sock, metrics_sock])
    log.info("stopped")
