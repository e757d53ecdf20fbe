"""Glue between invoke tasks and the engine: domain errors become `invoke.Exit`."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from invoke import Exit

from infra.core.errors import GifstackError


def reported(task_body: Callable[..., Any]) -> Callable[..., Any]:
    """Run a task body; a GifstackError leaves with its message and exit code, no traceback."""

    @functools.wraps(task_body)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return task_body(*args, **kwargs)
        except GifstackError as exc:
            raise Exit(f"error: {exc.message}", code=exc.exit_code) from None
        except KeyboardInterrupt:
            raise Exit("interrupted", code=130) from None

    return wrapper
