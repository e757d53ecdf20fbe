"""The deploy engine's data types, and the `Engine` protocol that the real engine
(infra/cfn/engine.py) and the tests' fakes both satisfy."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from infra.cfn.changes import Change


class Result(StrEnum):
    """What happened to one stack in a command (the summary's result column)."""

    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    PLANNED = "planned"  # dry run, or a change set that can only be made later
    SKIPPED = "skipped"
    FAILED = "failed"
    NOT_RUN = "not run"  # a stack it needs failed
    DELETED = "deleted"  # destroy
    RECOVERED = "recovered"  # recover


# A stack with one of these results stops the command's success.
FAILED_RESULTS = frozenset({Result.FAILED, Result.NOT_RUN})


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
    env: str = ""  # only for messages (`invoke recover --env ENV`); else the env tag
    # The role CloudFormation provisions with (RoleARN): the gif-ci stack's execution role
    # for env stacks; None for the account-wide stacks, which the bootstrap's admin deploys.
    role_arn: str | None = None


def _stdin_is_terminal() -> bool:
    return sys.stdin is not None and sys.stdin.isatty()


@dataclass(frozen=True)
class DeployOptions:
    yes: bool = False
    dry_run: bool = False
    allow_replace: bool = False
    protect_stateful: bool = False  # True in prod: refuse stateful replace/remove
    interactive: bool = field(default_factory=_stdin_is_terminal)
    # Update change sets revert drift (CreateChangeSet DeploymentMode REVERT_DRIFT).
    revert_drift: bool = False
    # Told (stack name, stack status) at every poll while a stack operation runs; the
    # live progress board (infra/orchestration/progress.py) listens here.
    on_status: Callable[[str, str], None] | None = field(default=None, compare=False)


@dataclass
class StackResult:
    key: str
    name: str
    status: Result
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


def role_argument(role_arn: str | None) -> dict[str, str]:
    """RoleARN for CreateChangeSet and DeleteStack: CloudFormation then acts as that role for
    every resource operation, and the caller needs only iam:PassRole of it (botocore's
    CloudFormation model, CreateChangeSet/DeleteStack `RoleARN`)."""
    return {"RoleARN": role_arn} if role_arn else {}


def outputs_of(stack: dict) -> dict[str, str]:
    """A DescribeStacks stack's outputs (OutputKey -> OutputValue)."""
    return {item["OutputKey"]: item["OutputValue"] for item in stack.get("Outputs") or []}


# Drift (infra/cfn/drift.py): what was changed by hand since CloudFormation set it.
@dataclass(frozen=True)
class PropertyDrift:
    path: str  # e.g. /Tags/0/Value
    expected: str
    actual: str
    kind: str  # ADD | REMOVE | NOT_EQUAL


@dataclass(frozen=True)
class ResourceDrift:
    logical_id: str
    resource_type: str
    status: str  # MODIFIED | DELETED
    properties: tuple[PropertyDrift, ...] = ()


@dataclass(frozen=True)
class StackDrift:
    name: str
    status: str  # DRIFTED | IN_SYNC | UNKNOWN
    resources: list[ResourceDrift] = field(default_factory=list)
    reason: str = ""  # why detection failed for some resources

    @property
    def drifted(self) -> bool:
        return bool(self.resources)


class Engine(Protocol):
    """What orchestration asks of a stack engine (one per thread)."""

    def deploy(self, request: StackRequest) -> StackResult: ...

    def diff(self, request: StackRequest) -> list[Change]: ...

    def status(self, name: str) -> StackStatus | None: ...

    def drift(self, name: str, timeout_minutes: int = ...) -> StackDrift | None: ...

    def destroy(
        self, name: str, timeout_minutes: int = ..., role_arn: str | None = None
    ) -> StackResult: ...

    def recover(self, name: str, skip: list[str], timeout_minutes: int = ...) -> StackResult: ...
