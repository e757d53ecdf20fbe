"""`invoke upgrade --env ENV [--kubernetes X.Y] [--postgres N.M]`: read what the account
runs, plan the steps in the only safe order (infra/orchestration/upgrade_plan.py), show the
plan with what each step means for the app, confirm where it can interrupt traffic (prod:
the stacks' prefix, gif-prod, typed), then run each step: a targeted edit of params/<env>.yaml,
the templates synthesized again (the code `invoke synth` runs), and the affected stack
deployed with the deploy engine (change set, wait), under the environment's deploy lock.

Resumable: the plan is computed from the account every time, so a rerun after an
interruption skips what is done and starts at the step that stopped.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from infra.cfn.types import Result
from infra.core import naming
from infra.core.errors import BadInput, OperationFailed
from infra.orchestration import stack_run, summary
from infra.orchestration import upgrade_plan as plan
from infra.orchestration import upgrade_state as state
from infra.orchestration.frame import REAL_PARTS, Frame, Seams
from infra.orchestration.upgrade_plan import Kind, Step
from infra.settings import params, params_edit
from infra.stacks import synth

DONE = (Result.CREATED, Result.UPDATED, Result.UNCHANGED)


@dataclass(frozen=True)
class Parts:
    """What a test puts in place of the parts beyond the frame: the Blue/Green executor
    (infra/orchestration/blue_green.py `upgrade_major`), its read-only preconditions
    (blue_green_checks.check_ready) and the app's rollout check."""

    blue_green: Callable | None = None
    check_ready: Callable | None = None
    rollout: Callable[[Frame], None] | None = None


def run(
    env: str,
    *,
    kubernetes: str | None = None,
    postgres: str | None = None,
    dry_run: bool = False,
    force: bool = False,
    yes: bool = False,
    console: Console | None = None,
    seams: Seams = REAL_PARTS,
    parts: Parts = Parts(),
) -> list[Step]:
    """The plan's steps (done or not, as observed before running); see the module doc."""
    if not kubernetes and not postgres:
        raise BadInput("say what to upgrade: --kubernetes X.Y, --postgres N.M, or both.")
    if kubernetes:
        plan.minor(kubernetes)
    if postgres:
        plan.minor(postgres, "--postgres")
    frame = Frame.open(env, console, seams, yes=yes, dry_run=dry_run)
    if not frame.target.needs_bootstrap or frame.settings.aws_endpoint_url:
        raise BadInput(
            f"env {env} runs against the local emulator: no EKS cluster or RDS instance to "
            "upgrade. Change its params and `invoke deploy --env local` instead."
        )
    identity = frame.identity()
    steps = plan_steps(frame, kubernetes, postgres, parts)
    print_plan(frame, steps, identity.account_id)
    todo = plan.pending(steps)
    if not todo:
        frame.console.print("nothing to do: the environment already runs these versions")
        return steps
    if dry_run:
        first = next((step for step in todo if step.kind == Kind.INSIGHTS), None)
        if first is not None:  # read-only: would the first hop be refused?
            _insights(frame, first.version, force=force, preview=True)
        frame.console.print("dry run: nothing changed (params, templates and stacks as they were)")
        return steps
    _confirmed(frame, steps, yes)
    with frame.deploy_lock(identity, "upgrade").held():
        for step in todo:
            _execute(frame, step, identity, force=force, parts=parts)
    _finish(frame, todo)
    return steps


def plan_steps(
    frame: Frame, kubernetes: str | None, postgres: str | None, parts: Parts = Parts()
) -> list[Step]:
    """Read the account, then plan (infra/orchestration/upgrade_plan.py)."""
    observed = state.observe(frame, kubernetes=bool(kubernetes), postgres=bool(postgres))
    steps: list[Step] = []
    if kubernetes:
        versions, source = state.kubernetes_versions(frame)
        plan.hops(observed.control_plane, kubernetes, versions)  # validated before more reads
        known = [*versions, observed.nodes, observed.control_plane]
        pending_hops = plan.hops(observed.nodes, kubernetes, known)
        offer = plan.Offer(versions, state.addon_versions(frame, pending_hops), source=source)
        steps += plan.kubernetes_steps(observed, kubernetes, offer)
    if postgres and observed.postgres:
        targets = state.postgres_targets(frame, observed.postgres)
        configured = frame.settings.database.engine_version
        # A newer major only: check_ready is read-only, but a minor or a rerun needs none.
        major = plan.minor(postgres, "--postgres")[0]
        newer = major > plan.minor(observed.postgres, "--postgres")[0]
        problems = _blue_green_problems(frame, postgres, parts) if newer else []
        steps.append(plan.postgres_step(observed.postgres, postgres, targets, configured, problems))
    return steps


def _blue_green_problems(frame: Frame, target: str, parts: Parts) -> list[str]:
    """blue_green_checks.check_ready (read-only): what stops a Blue/Green major upgrade."""
    check_ready = parts.check_ready
    if check_ready is None:
        from infra.orchestration.blue_green_checks import check_ready
    settings = frame.settings
    instance = naming.db_instance_id(settings.project, settings.env)
    return list(check_ready(frame.aws.client("rds"), instance, target))


def print_plan(frame: Frame, steps: list[Step], account: str) -> None:
    settings = frame.settings
    title = f"Upgrade plan for env {settings.env} (account {account}, region {settings.region})"
    table = Table(title=title + (" (dry run)" if frame.options.dry_run else ""))
    for column in ("#", "step", "change", "what it means for the app", "state"):
        table.add_column(column, overflow="fold")
    for number, step in enumerate(steps, start=1):
        table.add_row(
            str(number),
            f"{step.kind} {step.version}",
            escape(step.change) or "-",
            ("[bold red]" if step.interrupts else "") + escape(step.safety),
            "[green]done[/]" if step.done else "to do",
        )
    frame.console.print(table)
    for step in plan.pending(steps):
        if step.why:
            frame.console.print(f"{step.kind} {step.version}: in place, not Blue/Green, because:")
            for line in step.why:
                frame.console.print(f"  - {escape(line)}")


def _confirmed(frame: Frame, steps: list[Step], yes: bool) -> None:
    """Before anything changes: --yes, or a terminal to ask on (change sets, prod's name)."""
    env, interactive = frame.env, frame.options.interactive
    if yes:
        return
    if not interactive:
        raise BadInput(
            f"upgrade --env {env} changes stacks and there is no terminal to confirm on; "
            "review the plan above and run again with --yes."
        )
    if plan.asks_typed_confirmation(steps, prod=frame.settings.is_prod):
        frame.ask_typed(
            "Steps above in [bold red]red[/] interrupt traffic. "
            f"Type [bold]{frame.typed_name}[/] to go on: ",
            frame.typed_name,
        )


def _execute(frame: Frame, step: Step, identity, *, force: bool, parts: Parts) -> None:
    frame.console.print(f"[bold]{step.kind} {step.version}[/]: {escape(step.change)}")
    if step.kind == Kind.INSIGHTS:
        _insights(frame, step.version, force=force)
    elif step.kind == Kind.ROLLOUT:
        (parts.rollout or _rollout)(frame)
    elif step.kind == Kind.POSTGRES_MAJOR:
        _blue_green(frame, step, parts)
    if step.stack:
        _apply_params(frame, step)
        _deploy(frame, step, identity)


def _insights(frame: Frame, version: str, *, force: bool, preview: bool = False) -> None:
    found, details = state.insights(frame, version)
    errors = plan.insight_errors(found)
    if errors and not force and preview:
        line = plan.refusal(version, errors, details)
        frame.console.print(f"[bold red]the upgrade would stop here:[/] {escape(line)}")
        return
    if errors and not force:
        raise BadInput(plan.refusal(version, errors, details))
    if errors:
        names = ", ".join(item.get("name", item.get("id", "?")) for item in errors)
        frame.console.print(f"[yellow]--force: upgrading despite ERROR insights: {names}[/]")
    else:
        frame.console.print(f"  {len(found)} upgrade insight(s) for {version}, none an error")


def _rollout(frame: Frame) -> None:
    from infra.kube import step as kube
    from infra.orchestration.kube_tasks import deployed_outputs

    kube.check_rollout(
        frame.settings, deployed_outputs(frame), console=frame.console, session=frame.aws.session
    )


def _blue_green(frame: Frame, step: Step, parts: Parts) -> None:
    upgrade_major = parts.blue_green
    if upgrade_major is None:
        try:
            from infra.orchestration.blue_green import upgrade_major
        except ImportError:
            raise OperationFailed(
                "the Blue/Green executor (infra/orchestration/blue_green.py) is not in this "
                "checkout; nothing was changed."
            ) from None
    settings = frame.settings
    outcome = upgrade_major(
        frame.aws.client("rds"),
        instance_id=naming.db_instance_id(settings.project, settings.env),
        target_version=step.version,
        target_parameter_group=None,  # RDS's default group of the new family until redeploy
        say=lambda line: frame.console.print(escape(line)),
    )
    frame.console.print(
        f"Blue/Green {outcome.identifier}: {outcome.status}; the old instance "
        f"{outcome.blue_instance_id} is kept until you delete it."
    )


def _apply_params(frame: Frame, step: Step) -> None:
    """The step's params change, validated before it is written, then the templates."""
    changed = params_edit.apply(frame.env, step.params)
    frame.settings = params.load(frame.env)
    written = synth.write([frame.env])
    where = [f"params/{frame.env}.yaml"] if changed else []
    where += [str(p.relative_to(synth.TEMPLATES_DIR.parent)) for p in written]
    frame.console.print(f"  wrote {', '.join(where) or 'nothing (already as planned)'}")


def _deploy(frame: Frame, step: Step, identity) -> None:
    keys = [step.stack]
    templates = frame.render()
    outputs = stack_run.upstream_outputs(frame, keys)
    role_arn = frame.execution_role_arn()
    results = stack_run.deploy_stacks(frame, keys, templates, outputs, identity, role_arn=role_arn)
    what = f"upgrade --env {frame.env} ({step.kind} {step.version})"
    failed = stack_run.failed(results)
    if failed:
        raise stack_run.failure(failed, what)
    stopped = [result for result in results if result.status not in DONE]
    if stopped:  # e.g. a change set not confirmed: the next steps depend on this one
        raise OperationFailed(
            f"{what} stopped: {stopped[0].name} {stopped[0].status} "
            f"({summary.first_line(stopped[0].message)}). Run the upgrade again to go on."
        )


def _finish(frame: Frame, done: list[Step]) -> None:
    env = frame.env
    line = (
        f"upgrade --env {env}: {len(done)} step(s) done. params/{env}.yaml and templates/{env}/ "
        "changed: review them (`git diff`) and commit them, so the next deploy keeps these "
        "versions."
    )
    frame.console.print(f"[bold green]{escape(line)}[/]")
    frame.console.print(frame.calls.describe())
    summary.write_step_summary(f"## gifstack upgrade --env {env}\n\n{line}\n")
