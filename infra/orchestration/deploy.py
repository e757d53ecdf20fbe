"""`invoke deploy`: load the params, check who we are, synthesize the templates, show the
plan, run the stack graph (infra/stacks/graph.py) with one engine (infra/cfn/engine.py) per
stack thread, wiring outputs into the next stacks' parameters (infra/orchestration/wiring.py),
and finish with the workload (infra/orchestration/targets.py): the Kubernetes apply on EKS,
or the local "pod" for `--env local`. This module never talks to CloudFormation itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rich.console import Console

from infra.aws.call_count import CallCounter
from infra.cfn.types import StackResult
from infra.core import naming
from infra.core.errors import BadInput, GifstackError
from infra.orchestration import image, stack_run, summary
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
    console: Console | None = None,
    seams: Seams = REAL_PARTS,
) -> DeployReport:
    """Deploy an environment's stacks in graph order, then its workload. See README."""
    frame = Frame.open(env, console, seams, yes=yes, dry_run=dry_run, allow_replace=allow_replace)
    target = frame.target
    selected = stack_run.select_stacks(only, specs.ENV_STACKS, env)
    skipped = target.prepare_deploy(selected, image_tag)
    if not target.asks_before_change_sets:
        frame.options = stack_run.replace_yes(frame.options)
    identity = frame.identity()
    app_step = only is None or naming.WORKLOAD in selected
    tag = None
    if app_step and target.checks_image_in_ecr:
        tag = image_tag_rule.resolve(frame.settings, image_tag)
        image.require_tag(frame.aws, frame.settings, tag)

    templates = frame.render()
    keys = [key for key in selected if key not in skipped]
    if keys and target.needs_bootstrap:
        _require_bootstrap(frame)
    stack_run.print_plan(frame, identity, keys, skipped, tag=tag, app_step=app_step)

    outputs = stack_run.upstream_outputs(frame, keys)
    report = DeployReport(results=[], calls=frame.calls)
    report.results = stack_run.deploy_stacks(
        frame, keys, templates, outputs, identity, skipped=skipped
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
    calls_line = f"{report.calls.describe()}; change sets executed: {report.executed_change_sets}"
    frame.console.print(calls_line)
    if report.app_url:
        frame.console.print(f"app: [bold]{report.app_url}[/]")
    footer = calls_line
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


def _require_bootstrap(frame: Frame) -> None:
    """Every IAM role of the env stacks has the permissions boundary that the account-wide
    gif-ci stack holds; without it CloudFormation would fail on the first role, midway."""
    settings = frame.settings
    ci = frame.stack_name(naming.CI)
    if frame.engine().status(ci) is not None:
        return
    boundary = naming.boundary_policy_name(settings.project)
    message = (
        f"the account-wide stack {ci} does not exist in region {settings.region} of this "
        f"account; it holds the permissions boundary {boundary} that every role of the env "
        f"stacks needs. Run `invoke bootstrap --env {settings.env}` once (with admin rights), "
        "then deploy again."
    )
    if not frame.options.dry_run:
        raise BadInput(message)
    stack_run.warn(frame, message)
