"""Glue between invoke tasks and the engine: domain errors become `invoke.Exit`."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import Any

from invoke import Exit

from infra.core.errors import BadInput, GifstackError


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


def exclusive(**flags: object) -> None:
    """At most one of these flags may be given; BadInput naming them otherwise."""
    given = [f"--{name.replace('_', '-')}" for name, value in flags.items() if value]
    if len(given) > 1:
        raise BadInput(f"{' and '.join(given)} exclude each other: give one of them.")


def package_names(text: str) -> list[str]:
    """`--upgrade a,b`: the package names, each checked (PEP 508: letters, digits, . _ -)."""
    names = [name.strip() for name in text.split(",") if name.strip()]
    for name in names:
        if not re.fullmatch(r"[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?", name):
            raise BadInput(
                f"--upgrade: {name!r} is not a package name; give names separated by commas "
                "(e.g. boto3,botocore), or 'all'."
            )
    return names
