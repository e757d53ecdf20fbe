"""`invoke destroy`: delete an environment's stacks in reverse graph order, after the
confirmations that keep a database from going by accident."""

from __future__ import annotations

import sys

from rich.console import Console

from infra.cfn.types import StackResult
from infra.core import naming
from infra.core.errors import BadInput, OperationFailed
from infra.orchestration import stack_run, summary, wiring
from infra.orchestration.frame import REAL_PARTS, Frame, Seams
from infra.stacks import graph, specs


def run(
    env: str,
    *,
    confirm: str | None = None,
    yes: bool = False,
    console: Console | None = None,
    seams: Seams = REAL_PARTS,
) -> list[StackResult]:
    frame = Frame.open(env, console, seams)
    settings, console = frame.settings, frame.console
    _confirmed(frame, confirm, yes)
    all_keys = list(specs.ENV_STACKS)
    skipped = frame.target.connect(all_keys)
    identity = frame.identity()
    keys = [key for key in all_keys if key not in skipped]
    database = naming.DATABASE in keys and frame.existing_outputs(naming.DATABASE) is not None
    if database and settings.database.deletion_protection:
        raise BadInput(
            f"the database of env {env} has deletion protection (database."
            f"deletion_protection in params/{env}.yaml), so CloudFormation can't delete "
            f"it; nothing was deleted. Set it to false, `invoke deploy --env {env}`, then "
            "destroy again."
        )
    templates = frame.render()
    policy = wiring.deletion_policy(
        wiring.template_dict(templates[naming.DATABASE]), specs.DB_INSTANCE_TYPE
    )
    if database and policy == "Snapshot":  # no snapshot of a database already gone
        instance = naming.db_instance_id(settings.project, env)
        console.print(
            f"The database {instance} leaves a final snapshot (DeletionPolicy: Snapshot): RDS "
            f"names it {frame.stack_name(naming.DATABASE)}-<logical id>-<suffix>, in "
            f"account {identity.account_id}, region {settings.region} (RDS console > Snapshots, "
            f"or `aws rds describe-db-snapshots --db-instance-identifier {instance} "
            f"--snapshot-type manual --region {settings.region}`)."
        )
    order = graph.reverse_dependencies(keys)

    role_arn = frame.execution_role_arn() if keys else None

    def destroy_one(key: str) -> StackResult:
        return frame.engine().destroy(frame.stack_name(key), role_arn=role_arn)

    frame.target.before_destroy()
    with frame.deploy_lock(identity, "destroy").held():  # never alongside a deploy
        outcome = graph.run(keys, destroy_one, depends_on=order)
    results = [stack_run.as_result(frame, o) for o in outcome.outcomes.values()]
    results += [stack_run.skipped_result(frame, key, why) for key, why in skipped.items()]
    summary.print_table(console, f"gifstack destroy --env {env}", results)
    console.print(frame.calls.describe())
    failed = stack_run.failed(results)
    if failed:
        raise OperationFailed(
            f"destroy --env {env} failed: "
            + "; ".join(f"{r.name}: {summary.first_line(r.message)}" for r in failed)
        )
    return results


def _confirmed(frame: Frame, confirm: str | None, yes: bool) -> None:
    """Prod needs its name typed in --confirm; other envs --yes, --confirm or a terminal."""
    settings, env = frame.settings, frame.env
    expected = frame.typed_name
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
        frame.ask_typed(
            f"Type [bold]{expected}[/] to delete env {env}'s stacks: ", expected, nothing="deleted"
        )
