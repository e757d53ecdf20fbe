"""The one clock every wait polls with (CloudFormation stacks, Kubernetes rollouts and Jobs,
RDS deployments): injectable, so tests move time on by themselves and never really sleep."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Clock:
    now: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
