"""The HTTP interface: a plain ASGI app (no framework; five routes don't need one).

Routes: GET /gif (random GIF as JSON; the readiness probe), GET /gifs/{id} (the image),
GET / (the page), GET /healthz (liveness, never touches the database); GET /metrics only
on the metrics port (scope["server"] tells the ports apart), which answers nothing else.
HEAD is answered like GET. Every answer, errors included, is JSON except the page, the
image and the metrics; a fault never leaves as a traceback.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from app import logs, metrics, page
from app.db import Database, Unavailable

log = logging.getLogger("app.web")

Headers = list[tuple[bytes, bytes]]
Answer = tuple[int, Headers, bytes]

MAX_ID = 2**31 - 1  # the id column is a PostgreSQL integer
_MAX_ID_DIGITS = len(str(MAX_ID))
_BAD_ID = f"a GIF id is a whole number from 1 to {MAX_ID}, e.g. /gifs/1"
_JSON = (b"content-type", b"application/json")
_COMMON = [(b"x-content-type-options", b"nosniff")]
_NO_STORE = (b"cache-control", b"no-store")
_IMMUTABLE = (b"cache-control", b"public, max-age=31536000, immutable")
_HEALTHY = b'{"status":"ok"}'
_KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def _json(status: int, body: Any, *extra: tuple[bytes, bytes]) -> Answer:
    return status, [_JSON, _NO_STORE, *extra], json.dumps(body, separators=(",", ":")).encode()


def _error(status: int, message: str, *extra: tuple[bytes, bytes]) -> Answer:
    return _json(status, {"error": message}, *extra)


def _unavailable(reason: str) -> Answer:
    # Retry-After: a probe or a client may try again shortly; this is not permanent.
    return _error(503, reason, (b"retry-after", b"1"))


class GifApp:
    """The ASGI application. `database` is opened and closed by the ASGI lifespan."""

    def __init__(self, database: Database, metrics_port: int | None = None):
        self.database = database
        self.metrics = metrics.Metrics(database.pool_stats)
        self.metrics_port = metrics_port  # the port /metrics is served on, and only it
        self._routes: dict[str, tuple[str, Callable[[dict], Awaitable[Answer]]]] = {
            "/gif": ("/gif", self._random_gif),
            "/healthz": ("/healthz", self._healthz),
            "/": ("/", self._page),
        }
        self._metrics_routes: dict[str, tuple[str, Callable[[dict], Awaitable[Answer]]]] = {
            "/metrics": ("/metrics", self._metrics),
        }

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] == "http":
            await self._http(scope, send)
        elif scope["type"] == "lifespan":
            await self._lifespan(receive, send)

    async def _http(self, scope: dict, send: Callable) -> None:
        started = time.perf_counter()
        path: str = scope["path"]
        method: str = scope["method"]
        server = scope.get("server")
        on_metrics_port = server is not None and server[1] == self.metrics_port
        found = (self._metrics_routes if on_metrics_port else self._routes).get(path)
        if found is not None:
            route, handler = found
        elif path.startswith("/gifs/") and not on_metrics_port:
            route, handler = "/gifs/{id}", self._image
        else:
            route, handler = "unmatched", None
        try:
            if handler is None:
                answer = _error(404, f"no such route: {path[:100]}")
            elif method != "GET" and method != "HEAD":
                answer = _error(405, "method not allowed; use GET", (b"allow", b"GET, HEAD"))
            else:
                answer = await handler(scope)
        except Exception:
            log.exception("unexpected error", extra={"fields": {"path": path[:256]}})
            answer = _error(500, "internal error")
        status, headers, body = answer
        if status != 304:  # a 304's Content-Length would have to be the image's (RFC 9110)
            headers.append((b"content-length", str(len(body)).encode()))
        headers.extend(_COMMON)
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
        seconds = time.perf_counter() - started
        self.metrics.observe(
            route, method if method in _KNOWN_METHODS else "other", status, seconds
        )
        logs.request(method, path, status, seconds * 1000)

    # --- handlers -----------------------------------------------------------------

    async def _random_gif(self, scope: dict) -> Answer:
        try:
            gif = await self.database.random_gif()
        except Unavailable as exc:
            return _unavailable(exc.reason)
        if gif is None:
            return _unavailable("no GIFs loaded yet")
        return _json(
            200,
            {
                "id": gif.id,
                "title": gif.title,
                "width": gif.width,
                "height": gif.height,
                "url": f"/gifs/{gif.id}",
            },
        )

    async def _image(self, scope: dict) -> Answer:
        raw = scope["path"][len("/gifs/") :]
        # The length first: int() of thousands of digits is slow, and past 4,300 it raises.
        if (
            not 0 < len(raw) <= _MAX_ID_DIGITS
            or not (raw.isascii() and raw.isdigit())
            or raw.startswith("0")
            or int(raw) > MAX_ID
        ):
            return _error(400, _BAD_ID)
        gif_id = int(raw)
        try:
            image = await self.database.image(gif_id)
        except Unavailable as exc:
            return _unavailable(exc.reason)
        if image is None:
            return _error(404, f"no GIF with id {gif_id}")
        etag = f'"{image.sha256}"'.encode()
        headers: Headers = [(b"etag", etag), _IMMUTABLE]
        if _matches(_header(scope, b"if-none-match"), etag):
            return 304, headers, b""
        return 200, [(b"content-type", b"image/gif"), *headers], image.data

    async def _page(self, scope: dict) -> Answer:
        headers: Headers = [
            (b"content-type", b"text/html; charset=utf-8"),
            _NO_STORE,
            (b"content-security-policy", page.CONTENT_SECURITY_POLICY.encode()),
            (b"referrer-policy", b"no-referrer"),
        ]
        try:
            gif = await self.database.random_gif()
        except Unavailable as exc:
            return 503, headers, page.render(None, f"{exc.reason}; try again shortly")
        if gif is None:
            return 503, headers, page.render(None, "no GIFs loaded yet")
        return 200, headers, page.render(gif)

    async def _healthz(self, scope: dict) -> Answer:
        return 200, [_JSON, _NO_STORE], _HEALTHY

    async def _metrics(self, scope: dict) -> Answer:
        return (
            200,
            [(b"content-type", metrics.CONTENT_TYPE.encode()), _NO_STORE],
            (self.metrics.render()),
        )

    # --- lifespan -------------------------------------------------------------------

    async def _lifespan(self, receive: Callable, send: Callable) -> None:
        flusher: asyncio.Task | None = None
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.database.open()
                except Exception as exc:
                    await send({"type": "lifespan.startup.failed", "message": logs.describe(exc)})
                    return
                flusher = asyncio.get_running_loop().create_task(logs.flush_periodically())
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.database.close()
                log.info("database pool closed")
                if flusher is not None:
                    flusher.cancel()
                await send({"type": "lifespan.shutdown.complete"})
                return


def _header(scope: dict, name: bytes) -> bytes | None:
    for key, value in scope["headers"]:
        if key == name:
            return value
    return None


def _matches(if_none_match: bytes | None, etag: bytes) -> bool:
    """RFC 9110 If-None-Match: `*` or any listed tag (weak comparison)."""
    if if_none_match is None:
        return False
    for candidate in if_none_match.split(b","):
        candidate = candidate.strip()
        if candidate == b"*" or candidate.removeprefix(b"W/") == etag:
            return True
    return False
