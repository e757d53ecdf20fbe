"""Count the AWS API calls a command makes (printed after every deploy; a no-op deploy's
figure is kept in bench/noop_deploy.py). Counted per API call, not per HTTP retry, on
botocore's before-parameter-build event (which every call emits, stubbed or not)."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any


class CallCounter:
    """Attach to boto3 sessions or clients; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.calls: Counter[str] = Counter()  # "cloudformation.DescribeStacks" -> n

    def watch_session(self, session: Any) -> None:
        """Count every call of every client the (boto3) session creates from now on."""
        session.events.register("before-parameter-build", self._count)

    def watch_client(self, client: Any) -> None:
        client.meta.events.register("before-parameter-build", self._count)

    def _count(self, model: Any, **_: Any) -> None:
        with self._lock:
            self.calls[f"{model.service_model.service_name}.{model.name}"] += 1

    @property
    def total(self) -> int:
        return sum(self.calls.values())

    def count(self, operation: str) -> int:
        """Calls of one operation, e.g. "ExecuteChangeSet", across services."""
        return sum(n for name, n in self.calls.items() if name.endswith(f".{operation}"))

    def describe(self) -> str:
        """`12 AWS calls (DescribeStacks 4, GetTemplate 2, ...)`"""
        parts = ", ".join(f"{name.split('.', 1)[1]} {n}" for name, n in sorted(self.calls.items()))
        return f"{self.total} AWS call{'s' if self.total != 1 else ''}" + (
            f" ({parts})" if parts else ""
        )
