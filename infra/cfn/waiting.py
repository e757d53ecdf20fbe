"""Poll until a status reaches an explicit success or failure set, or a deadline passes.

botocore's waiters cannot stream stack events between polls nor take a per-stack
timeout with a message that names the stack, so the engine polls with this one loop.
The clock is injectable so tests never really sleep.
"""

from __future__ import annotations

from collections.abc import Callable, Collection

from infra.core.clock import Clock
from infra.core.errors import OperationFailed

__all__ = ["Clock", "wait_for"]


def wait_for(
    fetch: Callable[[], str],
    *,
    success: Collection[str],
    failure: Collection[str],
    timeout_s: float,
    interval_s: float,
    what: str,
    clock: Clock | None = None,
    on_poll: Callable[[str], None] | None = None,
) -> str:
    """Return the first status in `success` or `failure`; OperationFailed on timeout.

    `on_poll` runs after every fetch (the engine prints new stack events there).
    """
    clock = clock or Clock()
    deadline = clock.now() + timeout_s
    while True:
        status = fetch()
        if on_poll is not None:
            on_poll(status)
        if status in success or status in failure:
            return status
        if clock.now() >= deadline:
            raise OperationFailed(
                f"timed out after {timeout_s / 60:g} min waiting for {what} "
                f"(still {status}). CloudFormation carries on by itself; run the command "
                "again to wait for it, or raise deploy.stack_timeout_minutes in params."
            )
        clock.sleep(interval_s)
