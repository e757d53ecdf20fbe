"""`invoke bootstrap`: the account-wide stacks (gif-registry, gif-ci), once, with `env`'s
account and region."""

from __future__ import annotations

from rich.console import Console

from infra.cfn.types import StackResult
from infra.orchestration import stack_run, summary
from infra.orchestration.frame import REAL_PARTS, Frame, Seams
from infra.settings import placeholders
from infra.stacks import specs


def run(
    env: str = "prod",
    *,
    yes: bool = False,
    dry_run: bool = False,
    console: Console | None = None,
    seams: Seams = REAL_PARTS,
) -> list[StackResult]:
    frame = Frame.open(env, console, seams, yes=yes, dry_run=dry_run)
    placeholders.require_github_repository(frame.settings)  # before anything is called
    keys = list(specs.SHARED_STACKS)
    frame.target.connect(keys)
    if not frame.target.asks_before_change_sets:
        frame.options = stack_run.replace_yes(frame.options)
    identity = frame.identity()
    templates = frame.render()
    stack_run.print_plan(frame, identity, keys, {}, tag=None, app_step=False)
    results = stack_run.deploy_stacks(frame, keys, templates, {}, identity)
    summary.print_table(frame.console, "gifstack bootstrap", results)
    frame.console.print(frame.calls.describe())
    failed = stack_run.failed(results)
    if failed:
        raise stack_run.failure(failed, f"bootstrap --env {env}")
    return results
