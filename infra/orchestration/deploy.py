"""Orchestration: `invoke deploy / diff / status / destroy / recover / bootstrap`.

Loads the params, checks who we are, synthesizes the templates, shows the plan, then runs
the stack graph (infra/stacks/graph.py) with one StackEngine (infra/cfn/engine.py) per stack
thread, wiring outputs into the next stacks' parameters (infra/orchestration/wiring.py), and
finishes with the workload step: the Kubernetes apply on EKS (infra/kube/step.py), or the
local "pod" for `--env local` (infra/local/pod.py). The engine deploys one stack; this module never
talks to CloudFormation itself.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from infra.aws.call_count import CallCounter
from infra.aws.session import Aws, Identity
from infra.cfn.engine import DeployOptions, StackEngine, StackResult
from infra.core import naming
from infra.core.errors import BadInput, GifstackError, OperationFailed
from infra.orchestration import image, progress, summary, wiring
from infra.settings import params
from infra.settings.params import Settings
from infra.stacks import graph, specs

LOCAL_ENV = "local"
SECRET_WORDS = ("password", "secretstring", "token", "privatekey")

EngineFactory = Callable[..., Any]  # (cfn_client, console, options, template_bucket=) -> engine


def runs_locally(settings: Settings) -> bool:
    """`--env local`: the stacks go to the AWS emulator and the app runs as a local process."""
    return settings.env == LOCAL_ENV


@dataclass
class DeployReport:
    """What a deploy did; tasks print it, tests inspect it."""

    results: list[StackResult]
    app_url: str | None = None
    calls: CallCounter = field(default_factory=CallCounter)

    @property
    def executed_change_sets(self) -> int:
        return self.calls.count("ExecuteChangeSet")


class Orchestration:
    """One command's AWS access: one boto3 session (its clients are shared by the stack
    threads; `Aws` creates them under a lock, and boto3 clients are thread-safe), one
    engine per stack thread, and every AWS call counted."""

    def __init__(
        self,
        settings: Settings,
        console: Console,
        options: DeployOptions,
        *,
        aws_factory: Callable[[Settings], Aws] = Aws,
        engine_factory: EngineFactory = StackEngine,
    ):
        self.settings = settings
        self.console = console
        self.options = options
        self._engine_factory = engine_factory
        self._local = threading.local()
        self.aws = aws_factory(settings)
        self.calls = self.aws.counter

    def engine(self) -> Any:
        """This thread's engine."""
        engine = getattr(self._local, "engine", None)
        if engine is None:
            engine = self._engine_factory(
                self.aws.client("cloudformation"),
                self.console,
                self.options,
                template_bucket=self.aws.template_bucket(),
            )
            self._local.engine = engine
        return engine

    def watch_status(self, listener: Callable[[str, str], None]) -> None:
        """Engines tell `listener` each stack's status while they wait on it."""
        self.options = replace(self.options, on_status=listener)
        self._local = threading.local()  # engines made before this don't know it

    def existing_outputs(self, key: str) -> dict[str, str] | None:
        """A deployed stack's outputs; None when the stack doesn't exist."""
        found = self.engine().status(wiring.stack_name(self.settings, key))
        return None if found is None else dict(found.outputs)


# --- deploy -------------------------------------------------------------------------------


def deploy(
    env: str,
    *,
    image_tag: str | None = None,
    only: str | None = None,
    yes: bool = False,
    dry_run: bool = False,
    allow_replace: bool = False,
    console: Console | None = None,
    aws_factory: Callable[[Settings], Aws] = Aws,
    engine_factory: EngineFactory = StackEngine,
    local_dir: Path | None = None,
) -> DeployReport:
    """Deploy an environment's stacks in graph order, then its workload. See README."""
    console = console or summary.new_console()
    settings = params.load(env)
    selected = select_stacks(only, specs.ENV_STACKS, env)
    local = runs_locally(settings)
    skipped: dict[str, str] = {}
    database_url = None
    if local:
        from infra.local import stack_gaps, stand_ins

        stack_gaps.use_emulator_credentials()
        database_url = stand_ins.require_up(settings, **_local_dir(local_dir))
        skipped = specs.not_emulated(selected)
    # Locally the change sets go to the emulator: shown, never asked about.
    options = deploy_options(
        settings, yes=yes or local, dry_run=dry_run, allow_replace=allow_replace
    )
    run = Orchestration(
        settings, console, options, aws_factory=aws_factory, engine_factory=engine_factory
    )
    identity = run.aws.identity()
    app_step = only is None or naming.WORKLOAD in selected
    tag = None
    if app_step and not local:
        tag = _checked_image_tag(run.aws, settings, image_tag)

    templates = _render(settings)
    keys = [key for key in selected if key not in skipped]
    if keys and not local:
        _require_bootstrap(run, settings, dry_run=dry_run)
    _print_plan(
        console, settings, identity, keys, skipped, tag=tag, dry_run=dry_run, app_step=app_step
    )

    outputs = _upstream_outputs(run, keys)
    report = DeployReport(results=[], calls=run.calls)
    report.results = _deploy_stacks(run, keys, templates, outputs, identity, skipped=skipped)
    report.results += [_skipped(settings, key, why) for key, why in skipped.items()]
    report.results.sort(key=lambda result: graph.run_order(specs.ENV_STACKS).index(result.key))
    failed = [result for result in report.results if result.status in ("failed", "not run")]

    app_error: GifstackError | None = None
    if not failed and app_step:
        try:
            if local:
                from infra.local import pod

                report.app_url = pod.deploy(
                    settings, database_url, console, dry_run=dry_run, **_local_dir(local_dir)
                ).url
            else:
                report.app_url = _kube_step(run, settings, outputs, tag, dry_run=dry_run)
        except GifstackError as exc:  # the stacks' summary still gets printed first
            app_error = exc

    title = f"gifstack deploy --env {env}" + (" (dry run)" if dry_run else "")
    summary.print_table(console, title, report.results)
    calls_line = f"{report.calls.describe()}; change sets executed: {report.executed_change_sets}"
    console.print(calls_line)
    if report.app_url:
        console.print(f"app: [bold]{report.app_url}[/]")
    footer = calls_line
    if app_error is not None:
        step = "local pod" if local else "Kubernetes step"
        footer += f"\n\nThe {step} failed: {summary.first_line(app_error.message)}"
    summary.write_step_summary(
        summary.markdown(title, report.results, app_url=report.app_url, footer=footer)
    )
    if failed:
        raise _failure(failed, env)
    if app_error is not None:
        raise app_error
    return report


def deploy_options(
    settings: Settings, *, yes: bool, dry_run: bool, allow_replace: bool
) -> DeployOptions:
    return DeployOptions(
        yes=yes,
        dry_run=dry_run,
        allow_replace=allow_replace,
        protect_stateful=settings.is_prod,
        interactive=sys.stdin.isatty(),
    )


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


def _deploy_stacks(
    run: Orchestration,
    keys: list[str],
    templates: Mapping[str, str],
    outputs: dict[str, dict[str, str]],
    identity: Identity,
    *,
    skipped: Mapping[str, str] | None = None,
) -> list[StackResult]:
    """Run the graph: each stack gets its wired request; outputs flow on as they arrive.
    On a terminal a live board shows each stack's state meanwhile
    (infra/orchestration/progress.py)."""
    settings = run.settings
    lock = threading.Lock()
    skipped = skipped or {}
    rows = [wiring.stack_name(settings, key) for key in graph.run_order([*keys, *skipped])]

    def deploy_one(key: str) -> StackResult:
        board.start(wiring.stack_name(settings, key))
        with lock:
            known = dict(outputs)
        try:
            request = wiring.build_request(
                settings,
                key,
                templates[key],
                known,
                deployer_principal_arn=identity.principal_arn,
            )
        except wiring.MissingInput as exc:
            if not run.options.dry_run:
                raise
            return _planned_later(settings, key, exc)
        result = run.engine().deploy(request)
        if result.status != "failed":
            with lock:
                outputs[key] = dict(result.outputs)
        return result

    def finished(outcome: graph.Outcome) -> None:
        result = _as_result(settings, outcome)
        board.finish(result.name, result.status)

    with progress.board(run.console, rows, enabled=progress.wanted(run.options)) as board:
        for key in skipped:
            board.finish(wiring.stack_name(settings, key), "skipped")
        if board.shown:
            run.watch_status(board.stack_status)
        graph_run = graph.run(keys, deploy_one, on_done=finished)
    return [_as_result(settings, outcome) for outcome in graph_run.outcomes.values()]


def _upstream_outputs(run: Orchestration, keys: list[str]) -> dict[str, dict[str, str]]:
    """Outputs of the stacks the selected ones need but that this run doesn't deploy."""
    needed = sorted(set().union(*(graph.upstream(key) for key in keys)) - set(keys)) if keys else []
    outputs: dict[str, dict[str, str]] = {}
    for key in needed:
        found = run.existing_outputs(key)
        if found is not None:
            outputs[key] = found
    return outputs


def _as_result(settings: Settings, outcome: graph.Outcome) -> StackResult:
    name = wiring.stack_name(settings, outcome.key)
    if outcome.blocked_by is not None:
        return StackResult(
            outcome.key,
            name,
            "not run",
            {},
            0.0,
            message=f"not run: {wiring.stack_name(settings, outcome.blocked_by)} failed",
        )
    if outcome.error is not None:
        message = getattr(outcome.error, "message", None) or f"{outcome.error!r}"
        result = StackResult(outcome.key, name, "failed", {}, outcome.duration_s, message=message)
        result.error = outcome.error  # type: ignore[attr-defined]  # keeps BadInput vs failure
        return result
    return outcome.value  # type: ignore[return-value]


def _skipped(settings: Settings, key: str, why: str) -> StackResult:
    return StackResult(key, wiring.stack_name(settings, key), "skipped", {}, 0.0, message=why)


def _planned_later(settings: Settings, key: str, exc: Exception) -> StackResult:
    missing = [wiring.stack_name(settings, dep) for dep in graph.DEPENDS_ON[key] if dep in str(exc)]
    after = ", ".join(missing) or "the stacks it needs"
    return StackResult(
        key,
        wiring.stack_name(settings, key),
        "planned",
        {},
        0.0,
        message=f"change set can be made once {after} exists",
    )


def _failure(failed: list[StackResult], env: str) -> GifstackError:
    """One error for the run: BadInput only when every failure was the user's to fix."""
    roots = [result for result in failed if result.status == "failed"]
    blocked = [result.name for result in failed if result.status == "not run"]
    lines = " ".join(f"{result.name}: {summary.first_line(result.message)}" for result in roots)
    errors = [getattr(result, "error", None) for result in roots]
    message = f"deploy --env {env} failed. {lines}"
    if blocked:
        message += f" Not run, because a stack they need failed: {', '.join(blocked)}."
    if errors and all(isinstance(error, BadInput) for error in errors):
        return BadInput(message)
    return OperationFailed(message)


def _require_bootstrap(run: Orchestration, settings: Settings, *, dry_run: bool) -> None:
    """Every IAM role of the env stacks has the permissions boundary that the account-wide
    gif-ci stack holds; without it CloudFormation would fail on the first role, midway."""
    ci = wiring.stack_name(settings, naming.CI)
    if run.engine().status(ci) is not None:
        return
    boundary = naming.boundary_policy_name(settings.project)
    message = (
        f"the account-wide stack {ci} does not exist in region {settings.region} of this "
        f"account; it holds the permissions boundary {boundary} that every role of the env "
        f"stacks needs. Run `invoke bootstrap --env {settings.env}` once (with admin rights), "
        "then deploy again."
    )
    if not dry_run:
        raise BadInput(message)
    run.console.print(Text(f"warning: {message}", style="yellow"))


def _checked_image_tag(aws: Aws, settings: Settings, image_tag: str | None) -> str:
    tag = image_tag or settings.app.image_tag
    if not tag:
        raise BadInput(
            f"no image tag for --env {settings.env}: pass --image-tag TAG (a tag in ECR, e.g. "
            "the commit a push to master built) or set app.image_tag in "
            f"params/{settings.env}.yaml."
        )
    image.require_tag(aws, settings, tag)
    return tag


def _render(settings: Settings) -> dict[str, str]:
    from infra.stacks import synth

    return synth.render(settings)


def _kube_step(
    run: Orchestration,
    settings: Settings,
    outputs: dict[str, dict[str, str]],
    tag: str | None,
    *,
    dry_run: bool,
) -> str | None:
    """Kubernetes apply with every stack's outputs (and the shared registry's)."""
    from infra.kube import step as kube

    merged: dict[str, str] = {}
    for key in (*specs.ENV_STACKS, naming.REGISTRY):
        found = outputs.get(key)
        if found is None:
            found = run.existing_outputs(key)
        if found is None:
            if key == naming.REGISTRY:
                raise BadInput(
                    f"the shared stack {wiring.stack_name(settings, key)} "
                    "does not exist, so there is no image repository. Run `invoke bootstrap` "
                    "once (with admin rights) first."
                )
            if dry_run:
                run.console.print(
                    "[bold]kubernetes[/] would apply the manifests once every stack exists"
                )
                return None
        merged.update(found or {})
    return kube.deploy_workload(settings, merged, tag, dry_run=dry_run, console=run.console)


def _local_dir(local_dir: Path | None) -> dict[str, Path]:
    return {} if local_dir is None else {"local_dir": local_dir}


def _print_plan(
    console: Console,
    settings: Settings,
    identity: Identity,
    keys: list[str],
    skipped: Mapping[str, str],
    *,
    tag: str | None,
    dry_run: bool,
    app_step: bool,
) -> None:
    """Show the plan before doing anything."""
    where = f"account {identity.account_id}, region {settings.region}"
    if settings.aws_endpoint_url:
        where += f", endpoint {settings.aws_endpoint_url}"
    console.print(
        f"[bold]{'Plan (dry run)' if dry_run else 'Plan'}[/] for env [bold]{settings.env}[/]: "
        f"{where}, as {identity.arn}, commit {wiring.git_commit()}"
    )
    for number, wave in enumerate(graph.waves(keys), start=1):
        names = ", ".join(wiring.stack_name(settings, key) for key in wave)
        console.print(f"  step {number}: {names}" + ("  (in parallel)" if len(wave) > 1 else ""))
    for key, why in skipped.items():
        console.print(f"  skip:   {wiring.stack_name(settings, key)} ({why})")
    if app_step and runs_locally(settings):
        console.print("  then:   the app as a local process (migrate, seed, serve)")
    elif app_step:
        console.print(f"  then:   Kubernetes apply with image tag {tag}")


# --- diff, status ---------------------------------------------------------------------------


def diff(
    env: str,
    *,
    only: str | None = None,
    console: Console | None = None,
    aws_factory: Callable[[Settings], Aws] = Aws,
    engine_factory: EngineFactory = StackEngine,
) -> dict[str, int | None]:
    """Create each stack's change set, print it, delete it: stack key -> change count
    (None when it can't be made yet because a stack it needs doesn't exist)."""
    console = console or summary.new_console()
    settings = params.load(env)
    selected = select_stacks(only, specs.ENV_STACKS, env)
    run, skipped = _connect(
        settings, console, selected, aws_factory=aws_factory, engine_factory=engine_factory
    )
    identity = run.aws.identity()
    templates = _render(settings)
    keys = [key for key in selected if key not in skipped]
    outputs = _upstream_outputs(run, keys)
    counts: dict[str, int | None] = {}
    for key in keys:
        name = wiring.stack_name(settings, key)
        try:
            request = wiring.build_request(
                settings,
                key,
                templates[key],
                outputs,
                deployer_principal_arn=identity.principal_arn,
            )
        except wiring.MissingInput:
            console.print(f"{name}: would be created after the stacks it needs exist")
            counts[key] = None
            continue
        changes = run.engine().diff(request)
        counts[key] = len(changes)
        console.print(f"{name}: {len(changes) or 'no'} change{'s' if len(changes) != 1 else ''}")
        found = run.existing_outputs(key)
        if found is not None:
            outputs[key] = found
    for key, why in skipped.items():
        console.print(f"{wiring.stack_name(settings, key)}: skipped ({why})")
    console.print(f"{run.calls.describe()}; nothing was changed")
    return counts


def status(
    env: str,
    *,
    console: Console | None = None,
    aws_factory: Callable[[Settings], Aws] = Aws,
    engine_factory: EngineFactory = StackEngine,
) -> list[Any]:
    """Each stack's status, last update, drift status and outputs (never a secret)."""
    console = console or summary.new_console()
    settings = params.load(env)
    run, _ = _connect(settings, console, [], aws_factory=aws_factory, engine_factory=engine_factory)
    run.aws.identity()
    table = Table(title=f"stacks of env {env}", title_justify="left")
    for column in ("stack", "status", "last updated", "drift", "termination protection"):
        table.add_column(column)
    found = []
    for key in (*specs.ENV_STACKS, *specs.SHARED_STACKS):
        name = wiring.stack_name(settings, key)
        stack = run.engine().status(name)
        if stack is None:
            table.add_row(name, "[dim]does not exist[/]", "-", "-", "-")
            continue
        found.append(stack)
        reason = f" ({stack.reason})" if stack.reason else ""
        table.add_row(
            name,
            Text(f"{stack.status}{reason}"),
            stack.last_updated or "-",
            stack.drift_status or "-",
            "on" if stack.termination_protection else "off",
        )
    console.print(table)
    for stack in found:
        if stack.outputs:
            outputs = Table(title=f"outputs of {stack.name}", title_justify="left")
            outputs.add_column("output")
            outputs.add_column("value", overflow="fold")
            for key, value in sorted(stack.outputs.items()):
                outputs.add_row(key, Text(shown_output(key, value)))
            console.print(outputs)
    if runs_locally(settings):
        from infra.local.pod import Pod

        pod = Pod.for_settings(settings)
        pid = pod.pid()
        state = f"running (pid {pid}) at {pod.url}" if pid else "not running"
        console.print(f"local pod: {state}")
    return found


def shown_output(key: str, value: str) -> str:
    """An output as printed: ARNs of secrets are fine, a secret value never is."""
    lowered = key.lower()
    if any(word in lowered for word in SECRET_WORDS) and not lowered.endswith("arn"):
        return "(hidden)"
    return value


# --- destroy, recover, bootstrap --------------------------------------------------------------


def destroy(
    env: str,
    *,
    confirm: str | None = None,
    yes: bool = False,
    console: Console | None = None,
    aws_factory: Callable[[Settings], Aws] = Aws,
    engine_factory: EngineFactory = StackEngine,
) -> list[StackResult]:
    """Delete the environment's stacks in reverse graph order."""
    console = console or summary.new_console()
    settings = params.load(env)
    expected = f"{settings.project}-{env}"
    if settings.is_prod and confirm != expected:
        raise BadInput(
            f"destroying prod deletes its network, cluster and database: type the "
            f"environment's name to confirm, exactly: --confirm {expected}"
            + (f" (got {confirm!r})" if confirm is not None else "")
        )
    if not settings.is_prod and confirm not in (None, expected):
        raise BadInput(f"--confirm must be {expected!r} for --env {env} (got {confirm!r}).")
    if not settings.is_prod and confirm is None and not yes:
        if not sys.stdin.isatty():
            raise BadInput(
                f"destroying env {env} deletes its database; no terminal to ask on. "
                f"Pass --yes (or --confirm {expected}) to say so explicitly."
            )
        answer = console.input(f"Type [bold]{expected}[/] to delete env {env}'s stacks: ")
        if answer.strip() != expected:
            raise BadInput(f"not confirmed (typed {answer.strip()!r}); nothing was deleted.")
    all_keys = list(specs.ENV_STACKS)
    run, skipped = _connect(
        settings, console, all_keys, aws_factory=aws_factory, engine_factory=engine_factory
    )
    identity = run.aws.identity()
    keys = [key for key in all_keys if key not in skipped]
    protected = naming.DATABASE in keys and settings.database.deletion_protection
    if protected and run.existing_outputs(naming.DATABASE) is not None:
        raise BadInput(
            f"the database of env {env} has deletion protection (database."
            f"deletion_protection in params/{env}.yaml), so CloudFormation can't delete "
            f"it; nothing was deleted. Set it to false, `invoke deploy --env {env}`, then "
            "destroy again."
        )
    templates = _render(settings)
    policy = wiring.deletion_policy(
        wiring.template_dict(templates[naming.DATABASE]), specs.DB_INSTANCE_TYPE
    )
    if naming.DATABASE in keys and policy == "Snapshot":
        instance = naming.db_instance_id(settings.project, env)
        console.print(
            f"The database {instance} leaves a final snapshot (DeletionPolicy: Snapshot): RDS "
            f"names it {wiring.stack_name(settings, naming.DATABASE)}-<logical id>-<suffix>, in "
            f"account {identity.account_id}, region {settings.region} (RDS console > Snapshots, "
            f"or `aws rds describe-db-snapshots --db-instance-identifier {instance} "
            f"--snapshot-type manual --region {settings.region}`)."
        )
    order = graph.reverse_dependencies(keys)

    def destroy_one(key: str) -> StackResult:
        return run.engine().destroy(wiring.stack_name(settings, key))

    if runs_locally(settings):
        # The local "pod" is the workload: it goes first, as the pods go with the cluster.
        from infra.local.pod import Pod

        pod = Pod.for_settings(settings)
        pid = pod.pid()
        if pod.stop():
            console.print(f"local pod: stopped (pid {pid}); its data stays in PostgreSQL")
    outcome = graph.run(keys, destroy_one, depends_on=order)
    results = [_as_result(settings, o) for o in outcome.outcomes.values()]
    results += [_skipped(settings, key, why) for key, why in skipped.items()]
    summary.print_table(console, f"gifstack destroy --env {env}", results)
    console.print(run.calls.describe())
    failed = [result for result in results if result.status in ("failed", "not run")]
    if failed:
        raise OperationFailed(
            f"destroy --env {env} failed: "
            + "; ".join(f"{r.name}: {summary.first_line(r.message)}" for r in failed)
        )
    return results


def recover(
    env: str,
    stack: str,
    *,
    skip: str | None = None,
    console: Console | None = None,
    aws_factory: Callable[[Settings], Aws] = Aws,
    engine_factory: EngineFactory = StackEngine,
) -> StackResult:
    """Get a stack out of UPDATE_ROLLBACK_FAILED (ContinueUpdateRollback, skipping resources)."""
    console = console or summary.new_console()
    settings = params.load(env)
    valid = [*specs.ENV_STACKS, *specs.SHARED_STACKS]
    if stack not in valid:
        raise BadInput(f"--stack: unknown stack {stack!r}. Valid stacks: {', '.join(valid)}.")
    resources = [name.strip() for name in (skip or "").split(",") if name.strip()]
    run, _ = _connect(settings, console, [], aws_factory=aws_factory, engine_factory=engine_factory)
    run.aws.identity()
    result = run.engine().recover(wiring.stack_name(settings, stack), resources)
    summary.print_table(console, f"gifstack recover --env {env} --stack {stack}", [result])
    if result.status == "failed":
        raise OperationFailed(f"recover {result.name} failed: {result.message}")
    return result


def bootstrap(
    env: str = "prod",
    *,
    yes: bool = False,
    dry_run: bool = False,
    console: Console | None = None,
    aws_factory: Callable[[Settings], Aws] = Aws,
    engine_factory: EngineFactory = StackEngine,
) -> list[StackResult]:
    """Deploy the account-wide stacks (gif-registry, gif-ci) with `env`'s account/region."""
    console = console or summary.new_console()
    settings = params.load(env)
    keys = list(specs.SHARED_STACKS)
    if runs_locally(settings):
        from infra.local import stack_gaps

        stack_gaps.use_emulator_credentials()
    options = deploy_options(settings, yes=yes, dry_run=dry_run, allow_replace=False)
    run = Orchestration(
        settings, console, options, aws_factory=aws_factory, engine_factory=engine_factory
    )
    identity = run.aws.identity()
    templates = _render(settings)
    _print_plan(console, settings, identity, keys, {}, tag=None, dry_run=dry_run, app_step=False)
    results = _deploy_stacks(run, keys, templates, {}, identity)
    summary.print_table(console, "gifstack bootstrap", results)
    console.print(run.calls.describe())
    failed = [result for result in results if result.status in ("failed", "not run")]
    if failed:
        raise _failure(failed, env)
    return results


def _connect(
    settings: Settings,
    console: Console,
    keys: list[str],
    *,
    aws_factory: Callable[[Settings], Aws] = Aws,
    engine_factory: EngineFactory = StackEngine,
) -> tuple[Orchestration, dict[str, str]]:
    """AWS access for a read-only or teardown command; the stacks this env can't have."""
    skipped: dict[str, str] = {}
    if runs_locally(settings):
        from infra.local import stack_gaps
        from infra.local.moto import Emulator

        stack_gaps.use_emulator_credentials()
        emulator = Emulator.for_settings(settings)
        if not emulator.answers():
            raise BadInput(
                f"the AWS emulator ({emulator.url}) is not running. Start the local "
                "stand-ins first: `invoke local.up`."
            )
        skipped = specs.not_emulated(keys)
    options = deploy_options(settings, yes=True, dry_run=False, allow_replace=False)
    run = Orchestration(
        settings, console, options, aws_factory=aws_factory, engine_factory=engine_factory
    )
    return run, skipped
