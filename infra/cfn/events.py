"""Stream a stack's new events as one line each, and pick out why it failed."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from rich.console import Console
from rich.markup import escape

# Reasons CloudFormation gives to resources it stopped because another one failed:
# they are consequences, never the root cause.
_CONSEQUENCE_MARKERS = ("cancelled", "canceled")

# One writer at a time on the console: event lines of parallel stacks, and a change set
# table with its question (held while the user answers, so no line scrolls over it).
output_lock = threading.RLock()

HEARTBEAT_S = 60.0  # seconds without an event before a "still ..." line


@dataclass(frozen=True)
class StackEvent:
    event_id: str
    timestamp: datetime
    logical_id: str
    resource_type: str
    status: str
    reason: str

    @property
    def is_stack(self) -> bool:
        return self.resource_type == "AWS::CloudFormation::Stack"

    @property
    def failed(self) -> bool:
        return self.status.endswith("_FAILED")

    @property
    def is_consequence(self) -> bool:
        lowered = self.reason.lower()
        return any(marker.lower() in lowered for marker in _CONSEQUENCE_MARKERS)

    @classmethod
    def from_api(cls, raw: dict) -> StackEvent:
        return cls(
            event_id=raw["EventId"],
            timestamp=raw["Timestamp"],
            logical_id=raw.get("LogicalResourceId", ""),
            resource_type=raw.get("ResourceType", ""),
            status=raw.get("ResourceStatus", ""),
            reason=raw.get("ResourceStatusReason", "") or "",
        )


def root_cause_first(events: list[StackEvent]) -> list[StackEvent]:
    """Failed events, the real failures (oldest first) before cancellations and stack lines."""
    failed = [event for event in events if event.failed]
    return sorted(failed, key=lambda e: (e.is_stack, e.is_consequence, e.timestamp))


def status_style(status: str) -> str:
    if status.endswith("FAILED") or "ROLLBACK" in status:
        return "red"
    if status.endswith("COMPLETE"):
        return "green"
    return "yellow"


class EventStream:
    """The events of one stack that happened after `mark()`, printed as they arrive.

    DescribeStackEvents lists newest first; we page until we meet the last event we
    already know, then print the new ones oldest first.
    """

    def __init__(
        self,
        client,
        stack_id: str,
        stack_name: str,
        console: Console,
        started: float,
        now: Callable[[], float],
    ):
        self._client = client
        self._stack_id = stack_id
        self._name = stack_name
        self._console = console
        self._started = started
        self._now = now
        self._last_seen: str | None = None
        self._last_line = started
        self.before: list[StackEvent] = []
        self.seen: list[StackEvent] = []

    def mark(self) -> None:
        """Forget everything before now: only later events are printed. The latest page
        of earlier events stays in `before` (oldest first), e.g. to say why a stack failed."""
        page = self._client.describe_stack_events(StackName=self._stack_id)["StackEvents"]
        self._last_seen = page[0]["EventId"] if page else None
        self.before = [StackEvent.from_api(raw) for raw in reversed(page)]

    def poll(self) -> list[StackEvent]:
        """Print and return the events that arrived since the last poll."""
        fresh: list[StackEvent] = []
        kwargs = {"StackName": self._stack_id}
        while True:
            response = self._client.describe_stack_events(**kwargs)
            for raw in response["StackEvents"]:
                if raw["EventId"] == self._last_seen:
                    break
                fresh.append(StackEvent.from_api(raw))
            else:
                token = response.get("NextToken")
                if token:
                    kwargs["NextToken"] = token
                    continue
            break
        fresh.reverse()
        if fresh:
            self._last_seen = fresh[-1].event_id
            self.seen.extend(fresh)
            self._print(fresh)
        return fresh

    def heartbeat(self, status: str, every_s: float = HEARTBEAT_S) -> None:
        """After `every_s` without a line, say the stack is still at it (an RDS instance or
        an EKS control plane can go ten minutes without an event)."""
        if self._now() - self._last_line < every_s:
            return
        with output_lock:
            self._console.print(
                f"[bold]{escape(self._name)}[/bold] {self._elapsed()} still "
                f"[{status_style(status)}]{status}[/]",
                highlight=False,
            )
        self._last_line = self._now()

    def _elapsed(self) -> str:
        elapsed = int(self._now() - self._started)
        return f"+{elapsed // 60}:{elapsed % 60:02d}"

    def _print(self, events: list[StackEvent]) -> None:
        clock = self._elapsed()
        self._last_line = self._now()
        with output_lock:
            for event in events:
                reason = f"  {escape(event.reason)}" if event.reason else ""
                self._console.print(
                    f"[bold]{escape(self._name)}[/bold] {clock} "
                    f"{event.timestamp:%H:%M:%S} {escape(event.logical_id)} "
                    f"{escape(event.resource_type)} "
                    f"[{status_style(event.status)}]{event.status}[/]{reason}",
                    highlight=False,
                    soft_wrap=True,
                )
