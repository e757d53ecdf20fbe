"""Deploy one CloudFormation stack through a change set: the engine's per-stack half.

One `StackEngine` per run; orchestration (infra/deploy.py) calls `deploy()` for each
stack in graph order, possibly from several threads at once.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field

from rich.console import Console

from infra.changes import Change


@dataclass(frozen=True)
class StackRequest:
    """Everything the engine needs to deploy one stack; built by orchestration."""

    key: str  # naming.NETWORK ...
    name: str  # gif-prod-network
    template_body: str
    parameters: dict[str, str]
    tags: dict[str, str]
    capabilities: tuple[str, ...] = ("CAPABILITY_NAMED_IAM",)
    termination_protection: bool = False
    stack_policy: dict | None = None  # database stack: deny Replace/Delete of the DB
    timeout_minutes: int = 30
    env: str = ""  # only used in messages (`invoke recover --env ENV ...`)


@dataclass(frozen=True)
class DeployOptions:
    yes: bool = False
    dry_run: bool = False
    allow_replace: bool = False
    protect_stateful: bool = False  # True in prod: refuse stateful replace/remove
    interactive: bool = field(default_factory=lambda: sys.stdin.isatty())


@dataclass
class StackResult:
    key: str
    name: str
    # "created" | "updated" | "unchanged" | "planned" | "failed" | "skipped"
    # (destroy: "deleted"; recover: "recovered")
    status: str
    outputs: dict[str, str]
    duration_s: float
    changes: int = 0  # resources in the change set
    message: str = ""


@dataclass(frozen=True)
class StackStatus:
    name: str
    status: str
    reason: str
    last_updated: str  # ISO 8601, UTC
    drift_status: str  # NOT_CHECKED | IN_SYNC | DRIFTED | UNKNOWN
    termination_protection: bool
    outputs: dict[str, str]


class StackEngine:
    def __init__(self, cfn_client, console: Console, options: DeployOptions, **_extras):
        raise NotImplementedError

    def deploy(self, request: StackRequest) -> StackResult:
        raise NotImplementedError

    def diff(self, request: StackRequest) -> list[Change]:
        raise NotImplementedError

    def status(self, name: str) -> StackStatus | None:
        raise NotImplementedError

    def destroy(self, name: str) -> StackResult:
        raise NotImplementedError

    def recover(self, name: str, skip: list[str]) -> StackResult:
        raise NotImplementedError

    def outputs(self, name: str) -> dict[str, str]:
        raise NotImplementedError
