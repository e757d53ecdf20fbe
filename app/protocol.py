"""uvicorn's httptools protocol, bounded: what one client may cost the server.

uvicorn (0.54) with httptools limits none of this: llhttp and httptools buffer a header of
any size (httptools concatenates its pieces in memory), any number of header fields is
kept, a connection that never finishes its head is held forever (the keep-alive timer runs
only after a response and any received byte cancels it), and `limit_concurrency` answers
503 only after a complete head, so it bounds nothing that a slow client holds. Here:

- **Head size**: bytes are fed to the parser only as far as the head may still grow, so
  the parser never holds more than `max_head_bytes` of a head; beyond that (or beyond
  `max_headers` fields) the answer is 431 and the connection closes. Reads are parsed
  in pieces of at most 4 KiB, and a head that begins inside a piece counts all of it: never
  less than its real size, and exact unless requests are pipelined (then up to 4 KiB more).
- **Head deadline**: from the first byte of a request until its last (head, and a body if
  one is sent): `head_timeout_s`, however slowly the bytes trickle in; then 408 and close.
- **Idle**: a connection with nothing in flight (new, or kept alive after a response) is
  closed after `idle_timeout_s` without a byte; so is one whose client stops reading a
  response (writes stalled that long).
- **Bodies and pipelining**: no route takes a body; one over `MAX_BODY_BYTES` makes the
  request's answer the last on the connection, and so do more than `MAX_PIPELINED`
  requests queued behind the one being answered (uvicorn parses a whole read at once and
  would queue every request in it).
- **Connections**: at most `max_connections` open to the main port; one more is answered
  503 and closed at once. The metrics port has a small cap of its own
  (`METRICS_MAX_CONNECTIONS`), so a flood on one never locks the other out.

Refusals write no log line (they are the client's doing and would let it flood the log);
they are counted in /metrics as `gif_http_refused_total{reason=...}`.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any, ClassVar

import httptools
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from app.config import HttpLimits

METRICS_MAX_CONNECTIONS = 16
PIECE = 4096  # bytes parsed at a time: a head that begins mid-piece counts all of the piece
MAX_BODY_BYTES = 16 * 1024  # no route takes a body: up to this much is read and dropped
MAX_PIPELINED = 16  # requests queued behind the one being answered (each costs ~3 KiB)
LINGER_S = 1.0  # after a refusal: read and drop for this long, so the client sees the answer

Refused = Callable[[str], None]
_Base = HttpToolsProtocol  # the callbacks below call it directly: they run per request


class _Refusal(Exception):
    """Raised in a parser callback to stop parsing: the connection is refused."""

    def __init__(self, status: int, reason: str, message: str):
        super().__init__(message)
        self.status, self.reason, self.message = status, reason, message


class LimitedHttpToolsProtocol(HttpToolsProtocol):
    """One connection. Class attributes are set per server by `protocol_class`."""

    limits: HttpLimits = HttpLimits()
    metrics_port: int | None = None
    on_refused: Refused = staticmethod(lambda reason: None)  # type: ignore[assignment]
    open_connections: ClassVar[dict[str, int]] = {}  # by listener: "main" or "metrics"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._listener: str | None = None
        self._head_pending = False  # a request has begun and its head is not complete
        self._head_bytes = 0
        self._header_count = 0
        self._body_bytes = 0
        self._in_body = False  # the head is complete, the message is not: it has a cycle
        self._piece = 0  # length of the piece being parsed
        self._incomplete = False  # bytes received that are not yet a complete request
        self._deadline: asyncio.TimerHandle | None = None
        self._stall: asyncio.TimerHandle | None = None
        self._refused = False

    # --- connection ------------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        listener = "metrics" if self.server and self.server[1] == self.metrics_port else "main"
        cap = METRICS_MAX_CONNECTIONS if listener == "metrics" else self.limits.max_connections
        if self.open_connections.get(listener, 0) >= cap:
            self.on_refused("over_capacity")
            self._refused = True
            transport.write(_answer(503, "too many connections; try again shortly", retry=True))
            transport.close()
            return
        self.open_connections[listener] = self.open_connections.get(listener, 0) + 1
        self._listener = listener
        # Idle until the first byte (uvicorn arms this timer only after a response).
        self.timeout_keep_alive_task = self.loop.call_later(
            self.timeout_keep_alive, self.timeout_keep_alive_handler
        )

    def connection_lost(self, exc: Exception | None) -> None:
        if self._listener is not None:
            self.open_connections[self._listener] -= 1
            self._listener = None
        self._cancel_deadline()
        if self._stall is not None:
            self._stall.cancel()
            self._stall = None
        self._unset_keepalive_if_required()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self.timeout_keep_alive_task is not None:  # uvicorn's idle timer: a byte came
            self.timeout_keep_alive_task.cancel()
            self.timeout_keep_alive_task = None
        if self._refused:
            return  # answered and closing: drop the rest
        self._incomplete = True
        limit = self.limits.max_head_bytes
        while data:
            size = PIECE
            if self._head_pending:
                room = limit - self._head_bytes
                if room <= 0:
                    self._refuse(431, "head_too_large", f"request head over {limit} bytes")
                    return
                size = min(size, room)
                self._head_bytes += min(size, len(data))
            if len(data) <= size:
                piece, data = data, b""
            else:
                piece, data = data[:size], data[size:]
            self._piece = len(piece)
            try:
                self.parser.feed_data(piece)
            except httptools.HttpParserUpgrade:
                pass  # no upgrade is offered (ws="none"): it was answered as plain HTTP
            except httptools.HttpParserError as exc:
                refusal = exc.__context__
                if isinstance(refusal, _Refusal):
                    self._refuse(refusal.status, refusal.reason, refusal.message)
                else:
                    self._refuse(400, "invalid", "invalid HTTP request")
                return
        if self._incomplete and self._deadline is None and not self.transport.is_closing():
            self._deadline = self.loop.call_later(self.limits.head_timeout_s, self._too_slow)

    # --- parser callbacks --------------------------------------------------------------

    def on_message_begin(self) -> None:
        _Base.on_message_begin(self)
        self._head_pending = True
        self._head_bytes = self._piece  # all of the piece it began in: never an undercount
        self._header_count = 0
        self._body_bytes = 0
        self._in_body = False
        self._incomplete = True

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_count += 1
        if self._header_count > self.limits.max_headers:
            limit = self.limits.max_headers
            raise _Refusal(431, "too_many_headers", f"more than {limit} header fields")
        _Base.on_header(self, name, value)

    def on_headers_complete(self) -> None:
        self._head_pending = False
        if (
            self.cycle is not None
            and not self.cycle.response_complete
            and len(self.pipeline) >= MAX_PIPELINED
        ):
            raise _Refusal(400, "pipelined", f"more than {MAX_PIPELINED} pipelined requests")
        _Base.on_headers_complete(self)
        self._in_body = True

    def on_body(self, body: bytes) -> None:
        self._body_bytes += len(body)
        if self._body_bytes > MAX_BODY_BYTES:
            raise _Refusal(413, "body_too_large", f"request body over {MAX_BODY_BYTES} bytes")
        _Base.on_body(self, body)

    def on_message_complete(self) -> None:
        _Base.on_message_complete(self)
        self._in_body = False
        self._incomplete = False
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    # --- timers and refusals -------------------------------------------------------------

    def _too_slow(self) -> None:
        self._deadline = None
        if not self.transport.is_closing():
            self._refuse(408, "head_timeout", "request not received in time")

    def _cancel_deadline(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def pause_writing(self) -> None:
        super().pause_writing()
        if self._stall is None:
            self._stall = self.loop.call_later(self.limits.idle_timeout_s, self._stalled)

    def resume_writing(self) -> None:
        super().resume_writing()
        if self._stall is not None:
            self._stall.cancel()
            self._stall = None

    def _stalled(self) -> None:
        self._stall = None
        self.on_refused("send_stalled")
        self.transport.abort()  # the client reads nothing: drop what is buffered for it

    def _refuse(self, status: int, reason: str, message: str) -> None:
        """Answer `status` and close; count it. With a response in flight, that response is
        the last: read no more, close after it (requests queued behind it are dropped).
        A request that has been answered (its body is what is refused) gets no second one."""
        self.on_refused(reason)
        self._refused = True
        self._cancel_deadline()
        if self.cycle is not None and not self.cycle.response_complete:
            self.cycle.keep_alive = False
            self.flow.pause_reading()
            return
        if self._in_body:  # this request was answered already: no second answer
            self.transport.close()
            return
        self.transport.write(_answer(status, message))
        # Half-close and read on for a moment: closing with unread bytes would reset the
        # connection, and the client would lose the answer.
        if self.transport.can_write_eof():
            self.transport.write_eof()
            self.loop.call_later(LINGER_S, self.transport.close)
        else:  # pragma: no cover - TCP transports can
            self.transport.close()


def _answer(status: int, message: str, *, retry: bool = False) -> bytes:
    body = json.dumps({"error": message}).encode()
    return b"".join(
        [
            STATUS_LINE[status],
            b"content-type: application/json\r\n",
            b"content-length: %d\r\n" % len(body),
            b"cache-control: no-store\r\n",
            b"retry-after: 1\r\n" if retry else b"",
            b"connection: close\r\n\r\n",
            body,
        ]
    )


def protocol_class(
    limits: HttpLimits, metrics_port: int | None, on_refused: Refused
) -> type[LimitedHttpToolsProtocol]:
    """The protocol for one server: its limits, its metrics port and its refusal counter."""
    return type(
        "GifHttpProtocol",
        (LimitedHttpToolsProtocol,),
        {
            "limits": limits,
            "metrics_port": metrics_port,
            "on_refused": staticmethod(on_refused),
            "open_connections": {},
        },
    )
