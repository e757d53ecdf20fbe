"""JSON logs to stdout, one object per line, with secrets scrubbed.

Every line has `time`, `level` and `msg`; request lines add method, path, status and
duration_ms. Passwords, IAM tokens and connection strings never reach the output:
known secret values are registered with `register_secret`, and URI passwords and
presigned-token signatures are masked by pattern as a second line of defence.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import sys
import time
from typing import Any, TextIO

_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}
_MASK = "***"
_PATTERNS = (
    # scheme://user:PASSWORD@host
    (re.compile(r"([a-z][a-z0-9+.-]*://[^:/@\s]*:)[^@\s]+@", re.IGNORECASE), r"\1" + _MASK + "@"),
    # password=..., PGPASSWORD=...
    (re.compile(r"(password\s*[=:]\s*)\S+", re.IGNORECASE), r"\1" + _MASK),
    # RDS IAM auth tokens are presigned URLs: hide credential, token and signature
    (
        re.compile(r"(X-Amz-(?:Signature|Security-Token|Credential)=)[^&\s\"']+", re.IGNORECASE),
        r"\1" + _MASK,
    ),
)
_secrets: set[str] = set()
_stream: TextIO = sys.stdout
_request_lines = True


def register_secret(value: str | None) -> None:
    """Never print this value (a password read from the environment or a secret)."""
    if value and len(value) >= 4:
        _secrets.add(value)


def redact(text: str) -> str:
    for secret in _secrets:
        if secret in text:
            text = text.replace(secret, _MASK)
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": _timestamp(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": redact(record.getMessage()),
        }
        fields = getattr(record, "fields", None)
        if fields:
            entry.update({k: redact(v) if isinstance(v, str) else v for k, v in fields.items()})
        if record.exc_info and record.exc_info[1] is not None:
            # Type and message only: one line, no traceback in the log stream.
            entry["error"] = redact(describe(record.exc_info[1]))
        return json.dumps(entry, separators=(",", ":"), default=str)


def describe(exc: BaseException) -> str:
    """`TypeName: message` of an exception, secrets scrubbed."""
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return redact(f"{type(exc).__name__}: {message}" if message else type(exc).__name__)


def setup(level: str = "info", stream: TextIO | None = None) -> None:
    """Route every logger (ours, uvicorn's, asyncpg's) to one JSON handler on stdout."""
    global _stream, _request_lines
    _stream = stream or sys.stdout
    handler = logging.StreamHandler(_stream)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(_LEVELS[level])
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "asyncpg", "botocore", "boto3"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    for noisy in ("botocore", "boto3", "urllib3"):
        logging.getLogger(noisy).setLevel(max(_LEVELS[level], logging.WARNING))
    _request_lines = _LEVELS[level] <= logging.INFO


def request(method: str, path: str, status: int, duration_ms: float) -> None:
    """The access log line. It runs once per request, so it is formatted by hand and
    buffered: `flush_periodically` writes the buffer out four times a second (a write
    per line costs more than the rest of a /healthz request)."""
    if not _request_lines:
        return
    _stream.write(
        f'{{"time":"{_timestamp(time.time())}","level":"info","msg":"request",'
        f'"method":"{_json_text(method)}","path":"{_json_text(path[:256])}",'
        f'"status":{status},"duration_ms":{duration_ms:.2f}}}\n'
    )


def _json_text(text: str) -> str:
    """`text` as the inside of a JSON string (escaped only when it has to be)."""
    if text.isascii() and text.isprintable() and '"' not in text and "\\" not in text:
        return text
    return json.dumps(text)[1:-1]


async def flush_periodically(interval_s: float = 0.25) -> None:
    """Write buffered request lines out; run as a task for the server's lifetime."""
    try:
        while True:
            await asyncio.sleep(interval_s)
            _stream.flush()
    finally:
        _stream.flush()


_last_second = -1
_last_prefix = ""


def _timestamp(created: float) -> str:
    """RFC 3339 UTC with milliseconds; the formatted second is cached (many lines/second)."""
    global _last_second, _last_prefix
    second = int(created)
    if second != _last_second:
        _last_prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        _last_second = second
    return f"{_last_prefix}.{int((created - second) * 1000):03d}Z"
