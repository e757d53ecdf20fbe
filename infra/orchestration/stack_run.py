"""Running a command's stacks through the graph: each stack gets its wired request, outputs
flow on as they arrive, and every outcome becomes one `StackResult` for the summary."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from dataclasses import replace

from rich.text import Text

from infra.aws.session import Identity
from infra.cfn.types import FAILED_RESULTS, DeployOptions, Result, StackResult
from infra.core.errors import BadInput, GifstackError, OperationFailed
from infra.orchestration import progress, summary, wiring
from infra.orchestration.frame import Frame
from infra.stacks import graph


def select_stacks(only: str | None, valid: Iterable[str], env: str) -> list[str]:
    """The stacks `--only` names (validated), in graph order; all of `valid` without it."""
    valid = list(valid)
    if only is None:
        return graph.run_order(valid)
    names = [name.strip() for name in only.split(",") if name.strip()]
    unknown = [name for name in names if name not in valid]
    if not names or unknown:
        what = f"unknown stack {', '.join(map(repr, unknown))}" if unknown else "no stack"
        raise BadInput(
            f"--only: {what}. Valid stacks for --env {env}: {', '.join(valid)} "
            "(comma-separated, e.g. --only database,cluster)."
        )
    return graph.run_order(names)


def deploy_stacks(
    frame: Frame,
    keys: list[str],
    templates: Mapping[str, str],
    outputs: dict[str, dict[str, str]],
    identity: Identity,
    *,
    skipped: Mapping[str, str] | None = None,
    role_arn: str | None = None,
) -> list[StackResult]:
    """Run the graph: each stack gets its wired request; outputs flow on as they arrive.
    On a terminal a live board shows each stack's state meanwhile
    (infra/orchestration/progress.py)."""
    lock = threading.Lock()
    skipped = skipped or {}
    rows = [frame.stack_name(key) for key in graph.run_order([*keys, *skipped])]

    def deploy_one(key: str) -> StackResult:
        board.start(frame.stack_name(key))
        with lock:
            known = dict(outputs)
        try:
            request = wiring.build_request(
                frame.settings,
                key,
                templates[key],
                known,
                deployer_principal_arn=identity.principal_arn,
                role_arn=role_arn,
            )
        except wiring.MissingInput as exc:
            if not frame.options.dry_run:
                raise
            return planned_later(frame, key, exc)
        result = frame.engine().deploy(request)
        if result.status != Result.FAILED:
            with lock:
                outputs[key] = dict(result.outputs)
        return result

    def finished(outcome: graph.Outcome) -> None:
        result = as_result(frame, outcome)
        board.finish(result.name, result.status)

    with progress.board(frame.console, rows, enabled=progress.wanted(frame.options)) as board:
        for key in skipped:
            board.finish(frame.stack_name(key), Result.SKIPPED)
        if board.shown:
            frame.watch_status(board.stack_status)
        graph_run = graph.run(keys, deploy_one, on_done=finished)
    return [as_result(frame, outcome) for outcome in graph_run.outcomes.values()]


def upstream_outputs(frame: Frame, keys: list[str]) -> dict[str, dict[str, str]]:
    """Outputs of the stacks the selected ones need but that this run doesn't deploy."""
    needed = sorted(set().union(*(graph.upstream(key) for key in keys)) - set(keys)) if keys else []
    outputs: dict[str, dict[str, str]] = {}
    for key in needed:
        found = frame.existing_outputs(key)
        if found is not None:
            outputs[key] = found
    return outputs


def as_result(frame: Frame, outcome: graph.Outcome) -> StackResult:
    name = frame.stack_name(outcome.key)
    if outcome.blocked_by is not None:
        return StackResult(
            outcome.key,
            name,
            Result.NOT_RUN,
            {},
            0.0,
            message=f"not run: {frame.stack_name(outcome.blocked_by)} failed",
        )
    if outcome.error is not None:
        message = getattr(outcome.error, "message", None) or f"{outcome.error!r}"
        result = StackResult(
            outcome.key, name, Result.FAILED, {}, outcome.duration_s, message=message
        )
        result.error = outcome.error  # type: ignore[attr-defined]  # keeps BadInput vs failure
        return result
    return outcome.value  # type: ignore[return-value]


def skipped_result(frame: Frame, key: str, why: str) -> StackResult:
    return StackResult(key, frame.stack_name(key), Result.SKIPPED, {}, 0.0, message=why)


def planned_later(frame: Frame, key: str, exc: Exception) -> StackResult:
    missing = [frame.stack_name(dep) for dep in graph.DEPENDS_ON[key] if dep in str(exc)]
    after = ", ".join(missing) or "the stacks it needs"
    return StackResult(
        key,
        frame.stack_name(key),
        Result.PLANNED,
        {},
        0.0,
        message=f"change set can be made once {after} exists",
    )


def failed(results: Iterable[StackResult]) -> list[StackResult]:
    return [result for result in results if result.status in FAILED_RESULTS]


def failure(failed: list[StackResult], command: str) -> GifstackError:
    """One error for the run: BadInput only when every failure was the user's to fix."""
    roots = [result for result in failed if result.status == Result.FAILED]
    blocked = [result.name for result in failed if result.status == Result.NOT_RUN]
    lines = " ".join(f"{result.name}: {summary.first_line(result.message)}" for result in roots)
    errors = [getattr(result, "error", None) for result in roots]
    message = f"{command} failed. {lines}"
    if blocked:
        message += f" Not run, because a stack they need failed: {', '.join(blocked)}."
    if errors and all(isinstance(error, BadInput) for error in errors):
        return BadInput(message)
    return OperationFailed(message)


def print_plan(
    frame: Frame,
    identity: Identity,
    keys: list[str],
    skipped: Mapping[str, str],
    *,
    tag: str | None,
    app_step: bool,
) -> None:
    """Show the plan before doing anything."""
    settings, console, dry_run = frame.settings, frame.console, frame.options.dry_run
    where = f"account {identity.account_id}, region {settings.region}"
    if settings.aws_endpoint_url:
        where += f", endpoint {settings.aws_endpoint_url}"
    console.print(
        f"[bold]{'Plan (dry run)' if dry_run else 'Plan'}[/] for env [bold]{settings.env}[/]: "
        f"{where}, as {identity.arn}, commit {wiring.git_commit()}"
    )
    for number, wave in enumerate(graph.waves(keys), start=1):
        names = ", ".join(frame.stack_name(key) for key in wave)
        console.print(f"  step {number}: {names}" + ("  (in parallel)" if len(wave) > 1 else ""))
    for key, why in skipped.items():
        console.print(f"  skip:   {frame.stack_name(key)} ({why})")
    if app_step:
        console.print(f"  then:   {frame.target.plan_line(tag)}")


def warn(frame: Frame, message: str) -> None:
    frame.console.print(Text(f"warning: {message}", style="yellow"))


def replace_yes(options: DeployOptions) -> DeployOptions:
    """Execute change sets without asking (--yes, or a target whose change sets are only
    shown: the local emulator's)."""
    return replace(options, yes=True)
