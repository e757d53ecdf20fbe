"""Benchmark: AWS calls per minute while a deploy waits on CloudFormation (issue 15 item 16).

Two stacks waited on in parallel (as `database` and `cluster` are), each taking
--minutes of CloudFormation time, with the engine's real wait loop (infra/cfn/calls.py) on a
simulated clock and a CloudFormation stand-in that counts calls. Prints calls per minute at
the old pace (5 s) and the engine's (change sets 5 s, stacks STACK_POLL_S), beside what
botocore's own CloudFormation waiters would make (30 s, DescribeStacks only).

    .venv/bin/python bench/wait_pace.py [--minutes 10]
"""

from __future__ import annotations

import argparse
import io
import sys
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rich.console import Console

from infra.cfn.calls import StackCalls
from infra.cfn.engine import STACK_POLL_S
from infra.cfn.statuses import UPDATE_BAD, UPDATE_OK
from infra.cfn.types import DeployOptions
from infra.core.clock import Clock


class FakeCloudFormation:
    """UPDATE_IN_PROGRESS until `done_at` simulated seconds, then UPDATE_COMPLETE."""

    meta = SimpleNamespace(region_name="eu-west-1")

    def __init__(self, clock: list[float], done_at: float):
        self._clock = clock
        self._done_at = done_at
        self.calls = 0

    def _status(self) -> str:
        return "UPDATE_COMPLETE" if self._clock[0] >= self._done_at else "UPDATE_IN_PROGRESS"

    def describe_stacks(self, StackName: str) -> dict:
        self.calls += 1
        return {"Stacks": [{"StackName": "gif-x", "StackId": StackName, **self._stack()}]}

    def _stack(self) -> dict:
        return {"StackStatus": self._status(), "CreationTime": datetime.now(UTC)}

    def describe_stack_events(self, StackName: str, **_: str) -> dict:
        self.calls += 1
        return {"StackEvents": []}


def calls_per_minute(interval: float, minutes: float) -> float:
    now = [0.0]
    clock = Clock(now=lambda: now[0], sleep=lambda s: now.__setitem__(0, now[0] + s))
    cfn = FakeCloudFormation(now, minutes * 60)
    quiet = Console(file=io.StringIO())
    calls = StackCalls(cfn, quiet, DeployOptions(yes=True, interactive=False), clock, 5, interval)
    stream = calls.stream("stack-id", "gif-x", 0.0)
    calls.wait(stream, "stack-id", "gif-x", UPDATE_OK, UPDATE_BAD, 120, "the bench stack")
    return 2 * cfn.calls / minutes  # two stacks in parallel


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10, help="CloudFormation time each.")
    args = parser.parse_args()
    old = calls_per_minute(5.0, args.minutes)
    new = calls_per_minute(STACK_POLL_S, args.minutes)
    waiter = 2 * 60 / 30
    print(f"two stacks waited on for {args.minutes:g} min each, in parallel:")
    print(f"  old pace (5 s, DescribeStacks + DescribeStackEvents): {old:5.1f} calls/min")
    print(
        f"  engine ({STACK_POLL_S:g} s, DescribeStacks + DescribeStackEvents): {new:5.1f} calls/min"
    )
    print(f"  botocore's waiters (30 s, DescribeStacks only):        {waiter:5.1f} calls/min")


if __name__ == "__main__":
    main()
