"""`invoke recover`: get a stack out of UPDATE_ROLLBACK_FAILED (ContinueUpdateRollback,
skipping the resources named)."""

from __future__ import annotations

from rich.console import Console

from infra.cfn.types import Result, StackResult
from infra.core.errors import BadInput, OperationFailed
from infra.orchestration import summary
from infra.orchestration.frame import REAL_PARTS, Frame, Seams
from infra.stacks import specs


def run(
    env: str,
    stack: str,
    *,
    skip: str | None = None,
    console: Console | None = None,
    seams: Seams = REAL_PARTS,
) -> StackResult:
    frame = Frame.open(env, console, seams)
    valid = specs.ALL_STACKS
    if stack not in valid:
        raise BadInput(f"--stack: unknown stack {stack!r}. Valid stacks: {', '.join(valid)}.")
    resources = [name.strip() for name in (skip or "").split(",") if name.strip()]
    frame.target.connect([])
    identity = frame.identity()
    with frame.deploy_lock(identity, "recover").held():  # never alongside a deploy
        result = frame.engine().recover(frame.stack_name(stack), resources)
    summary.print_table(frame.console, f"gifstack recover --env {env} --stack {stack}", [result])
    if result.status == Result.FAILED:
        raise OperationFailed(f"recover {result.name} failed: {result.message}")
    return result
