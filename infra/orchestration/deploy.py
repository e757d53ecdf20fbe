"""`invoke deploy`: load the params, check who we are, synthesize the templates, show the
plan, run the stack graph (infra/stacks/graph.py) with one engine (infra/cfn/engine.py) per
stack thread, wiring outputs into the next stacks' parameters (infra/orchestration/wiring.py),
and finish with the workload (infra/orchestration/targets.py): the Kubernetes apply on EKS,
or the local "pod" for `--env local`. This module never talks to CloudFormation itself.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace

from rich.console import Console

from infra.aws.call_count import CallCounter
from infra.cfn.types import StackResult
from infra.core import naming, revision
from infra.core.errors import GifstackError
from infra.orchestration import (
    drift_gate,
    image,
    preflight,
    restore_guard,
    stack_run,
    summary,
    upgrade_guard,
)
from infra.orchestration.frame import REAL_PARTS, Frame, Seams
from infra.orchestration.targets import workload_outputs
from infra.settings import image_tag as image_tag_rule
from infra.stacks import graph, specs


@dataclass
class DeployReport:
    """What a deploy did; tasks print it, tests inspect it."""

    results: list[StackResult]
    app_url: str | None = None
    calls: CallCounter = field(default_factory=CallCounter)

    @property
    def executed_change_sets(self) -> int:
        return self.calls.count("ExecuteChangeSet")


def run(
    env: str,
    *,
    image_tag: str | None = None,
    only: str | None = None,
    yes: bool = False,
    dry_run: bool = False,
    allow_replace: bool = False,
    drift_check: bool = True,
    revert_drift: bool = False,
    wait_for_lock: float = 0,
    break_lock: bool = False,
    console: Console | None = None,
    seams: Seams = REAL_PARTS,
) -> DeployReport:
    """Deploy an environment's stacks in graph order, then its workload, holding the
    environment's deploy lock (infra/orchestration/lock.py) throughout. See README."""
    started = time.monotonic()
    frame = Frame.open(env, console, seams, yes=yes, dry_run=dry_run, allow_replace=allow_replace)
    target = frame.target
    selected = stack_run.select_stacks(only, specs.ENV_STACKS, env)
    skipped = target.prepare_deploy(selected, image_tag)
    if not target.asks_before_change_sets:
        frame.options = stack_run.replace_yes(frame.options)
    identity = frame.identity()
    with frame.deploy_lock(identity).held(wait_s=wait_for_lock, break_lock=break_lock):
        return _deploy(
            frame,
            identity,
            selected,
            skipped,
            image_tag,
            only,
            started,
            drift_check=drift_check,
            revert_drift=revert_drift,
        )


def _deploy(
    frame: Frame,
    identity,
    selected: list[str],
    skipped: dict[str, str],
    image_tag: str | None,
    only: str | None,
    started: float,
    *,
    drift_check: bool,
    revert_drift: bool,
) -> DeployReport:
    env, target, dry_run = frame.env, frame.target, frame.options.dry_run
    app_step = only is None or naming.WORKLOAD in selected
    tag = None
    # A tag given without the app step is checked too: CI's stacks job deploys the stacks
    # before another job runs the app with that tag, and a missing tag stops both first.
    if (app_step or image_tag) and target.checks_image_in_ecr:
        tag = image_tag_rule.resolve(frame.settings, image_tag)
        image.require_tag(frame.aws, frame.settings, tag)

    # Read-only checks of the account, region and params before any stack is touched.
    preflight.before_deploy(frame, app_step=app_step)
    templates = frame.render()
    keys = [key for key in selected if key not in skipped]
    # Every env stack's roles need gif-ci's permissions boundary, and CloudFormation
    # provisions them as gif-ci's execution role: checked before any stack is touched.
    role_arn = frame.execution_role_arn(dry_run=dry_run) if keys else None
    stack_run.print_plan(frame, identity, keys, skipped, tag=tag, app_step=app_step)
    if naming.DATABASE in keys:  # the deployed template, read once for both guards
        deployed = restore_guard.deployed_template(frame)
        restore_guard.check(frame, deployed)  # a restored database keeps its DBSnapshotIdentifier
        upgrade_guard.check(frame, deployed)  # a PostgreSQL major only through `invoke upgrade`
    if drift_check and target.checks_drift and keys:
        drift_gate.check(frame, keys, revert=revert_drift)
    if revert_drift:
        frame.options = replace(frame.options, revert_drift=True)

    outputs = stack_run.upstream_outputs(frame, keys)
    report = DeployReport(results=[], calls=frame.calls)
    report.results = stack_run.deploy_stacks(
        frame, keys, templates, outputs, identity, skipped=skipped, role_arn=role_arn
    )
    report.results += [stack_run.skipped_result(frame, key, why) for key, why in skipped.items()]
    order = graph.run_order(specs.ENV_STACKS)
    report.results.sort(key=lambda result: order.index(result.key))
    failed = stack_run.failed(report.results)

    app_error: GifstackError | None = None
    if not failed and app_step:
        try:
            report.app_url = target.deploy(
                lambda: workload_outputs(
                    frame.settings, outputs, frame.existing_outputs, dry_run=dry_run
                ),
                tag,
                dry_run=dry_run,
                session=frame.aws.session,
            )
        except GifstackError as exc:  # the stacks' summary still gets printed first
            app_error = exc

    title = f"gifstack deploy --env {env}" + (" (dry run)" if dry_run else "")
    summary.print_table(frame.console, title, report.results)
    # The account's API budget is shared (CloudFormation throttles per account and region):
    # the pace of this run, for the reader and for bench/wait_pace.py.
    minutes = max(time.monotonic() - started, 1.0) / 60
    calls_line = f"{report.calls.describe()}; change sets executed: {report.executed_change_sets}"
    pace_line = f"AWS calls per minute: {report.calls.total / minutes:.1f}"
    frame.console.print(calls_line, soft_wrap=True)  # one line, however many operations
    frame.console.print(pace_line)
    # The commit is recorded here and on the Deployment, never as a stack tag.
    commit_line = f"commit: {revision.git_commit()}"
    frame.console.print(commit_line)
    if report.app_url:
        frame.console.print(f"app: [bold]{report.app_url}[/]")
    footer = f"{calls_line}\n\n{pace_line}\n\n{commit_line}"
    if app_error is not None:
        footer += f"\n\nThe {target.step} failed: {summary.first_line(app_error.message)}"
    summary.write_step_summary(
        summary.markdown(title, report.results, app_url=report.app_url, footer=footer)
    )
    if failed:
        raise stack_run.failure(failed, f"deploy --env {env}")
    if app_error is not None:
        raise app_error
    return report
