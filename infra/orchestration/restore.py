"""`invoke restore`: bring an environment's database back, never over a live one.

- No database stack (the environment was destroyed): list the snapshots of its instance
  (the final one `destroy` left, manual and automated ones; infra/orchestration/snapshots.py),
  check the chosen one against what RDS requires, write `database.restore_snapshot` into
  params/<env>.yaml (the template then sets DBSnapshotIdentifier, infra/stacks/database.py),
  regenerate the templates as `invoke synth` does, and deploy the environment as usual: the
  database stack is created from the snapshot.
- A live database stack: a point-in-time restore into a NEW instance beside it
  (infra/orchestration/pitr.py); the running instance and the stacks are not touched.
  Replacing the live instance is not offered: it would need the app cut over and the old
  data's fate decided, which the new instance lets a person do with the data in front of them.

The plan comes first, with what each step means for the data; `--dry-run` stops there; the
data-affecting step asks for a typed confirmation (prod: the environment's full name).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from datetime import datetime

from rich.console import Console
from rich.text import Text

from infra.core import naming
from infra.core.errors import BadInput, OperationFailed
from infra.orchestration import deploy, pitr, restore_guard, snapshots, stack_run
from infra.orchestration.frame import REAL_PARTS, Frame, Seams
from infra.settings import params_edit
from infra.stacks import specs, synth

NO_REPLACE = (
    "replacing the live instance is not offered: restore into a new instance (without "
    "--snapshot: to a point in time), check it, then move the data or the app to it"
)


@dataclass
class RestoreReport:
    kind: str  # "snapshot" or "point-in-time"
    source: str  # the snapshot, or the live instance
    target: str  # the instance created
    as_of: datetime | None
    deployed: deploy.DeployReport | None = None


def run(
    env: str,
    *,
    snapshot: str | None = None,
    point_in_time: str | None = None,
    dry_run: bool = False,
    yes: bool = False,
    only: str | None = None,
    console: Console | None = None,
    seams: Seams = REAL_PARTS,
) -> RestoreReport | None:
    """Restore env's database (see the module's docstring); None after a dry run."""
    when = pitr.parse_time(point_in_time) if point_in_time else None
    frame = Frame.open(env, console, seams, yes=yes, dry_run=dry_run)
    identity = frame.identity()
    frame.console.print(
        f"restore --env {env}: account {identity.account_id}, region {frame.settings.region}"
    )
    if restore_guard.deployed_snapshot(frame) is not None:
        return _into_new_instance(frame, when, snapshot, yes=yes)
    if when is not None:
        raise BadInput(
            f"--point-in-time needs a live database, and env {env} has no database stack "
            f"({frame.stack_name(naming.DATABASE)}); restore it from a snapshot instead "
            "(leave out --point-in-time; --snapshot ID picks one)."
        )
    return _from_snapshot(frame, snapshot, yes=yes, only=only)


def _from_snapshot(
    frame: Frame, wanted: str | None, *, yes: bool, only: str | None
) -> RestoreReport | None:
    settings, console, env = frame.settings, frame.console, frame.env
    instance = naming.db_instance_id(settings.project, env)
    found = snapshots.list_for(frame.aws, settings)
    if not found:
        raise OperationFailed(
            f"no snapshot of the database {instance} in region {settings.region} of this "
            "account: nothing to restore from (`aws rds describe-db-snapshots "
            f"--db-instance-identifier {instance}` lists the same)."
        )
    snapshots.print_table(console, f"snapshots of {instance}, newest first", found)
    chosen = _choose(found, wanted, instance)
    console.print(f"chosen: [bold]{chosen.identifier}[/] ({chosen.kind})")
    notes: list[str] = []
    problems = snapshots.problems(frame.aws, settings, chosen, notes)
    if problems:
        raise BadInput(f"can't restore from {chosen.identifier}: " + " Also: ".join(problems))
    for note in notes:
        console.print(Text(f"note: {note}", style="yellow"))
    taken = f"{chosen.created:%Y-%m-%d %H:%M} UTC" if chosen.created else "its time"
    stacks = stack_run.select_stacks(only, specs.ENV_STACKS, env)
    _plan(
        frame,
        [
            f"params/{env}.yaml: database.restore_snapshot: {chosen.identifier}, and "
            f"templates/{env}/ regenerated (commit both: the key stays for the instance's life)",
            f"deploy env {env} as usual ({', '.join(map(frame.stack_name, stacks))}, then the "
            f"app): {frame.stack_name(naming.DATABASE)} is created from the snapshot (its KMS "
            "key; RDS makes a new master secret)",
        ],
        [
            "creates the database; no existing data is touched",
            f"restores data as of {taken}: writes after that are not in it",
        ],
    )
    if frame.options.dry_run:
        console.print("dry run: nothing was written or changed.")
        return None
    _confirmed(frame, yes, f"create env {env}'s database from {chosen.identifier}")
    params_edit.apply(env, {"database.restore_snapshot": chosen.identifier})
    for written in synth.write([env]):
        shown = written.relative_to(synth.ROOT) if written.is_relative_to(synth.ROOT) else written
        console.print(f"wrote {shown}")
    console.print(
        Text(
            f"wrote params/{env}.yaml: database.restore_snapshot: {chosen.identifier}. "
            "Commit it with templates/; never remove it while this instance lives.",
            style="bold",
        )
    )
    report = deploy.run(env, only=only, yes=True, console=console, seams=frame.seams)
    return RestoreReport("snapshot", chosen.identifier, instance, chosen.created, report)


def _choose(found: list[snapshots.Snapshot], wanted: str | None, instance: str):
    if wanted is None:  # the newest that can stay named in the template
        kept = [s for s in found if s.kind != snapshots.AUTOMATED]
        return (kept or found)[0]
    for snapshot in found:
        if wanted in (snapshot.identifier, snapshot.arn):
            return snapshot
    raise BadInput(
        f"--snapshot {wanted}: no such snapshot of {instance}; pick one of the table above "
        f"(newest: {found[0].identifier})."
    )


def _into_new_instance(
    frame: Frame, when: datetime | None, snapshot: str | None, *, yes: bool
) -> RestoreReport | None:
    settings, console, env = frame.settings, frame.console, frame.env
    instance = naming.db_instance_id(settings.project, env)
    if snapshot is not None:
        raise BadInput(
            f"env {env}'s database {instance} is live; --snapshot restores only a destroyed "
            f"environment, and {NO_REPLACE}."
        )
    live = pitr.source(frame.aws, instance)
    if live is None:
        raise OperationFailed(
            f"{frame.stack_name(naming.DATABASE)} exists but RDS has no instance {instance}; "
            f"see `invoke status --env {env}` and the stack's events before restoring."
        )
    as_of = pitr.check_window(live, when)
    target = pitr.target_name(live, as_of)
    console.print(
        f"{instance} is live ({live.status}); restorable from {live.earliest:%Y-%m-%d %H:%M} "
        f"to {live.latest:%Y-%m-%d %H:%M} UTC. {NO_REPLACE[0].upper()}{NO_REPLACE[1:]}."
    )
    _plan(
        frame,
        [
            f"create {target} from {instance} as of {as_of:%Y-%m-%dT%H:%M:%SZ}"
            + (" (the latest restorable time)" if when is None else "")
            + f", in its subnet group {live.subnet_group}, security groups, parameter group "
            "and KMS key, with its tags"
        ],
        [
            f"creates a new instance; the old one ({instance}) untouched, the app still on it",
            f"restores data as of {as_of:%Y-%m-%d %H:%M:%S} UTC: writes after that are not in it",
        ],
    )
    if frame.options.dry_run:
        console.print("dry run: nothing was created.")
        return None
    _confirmed(frame, yes, f"create {target} from {instance}")
    created = pitr.restore(frame.aws, live, target, as_of, latest=when is None)
    status = created.get("DBInstanceStatus", "?")
    console.print(f"restoring: {created['DBInstanceIdentifier']} ({status})")
    for line in _next_steps(frame, target, live):
        console.print(f"  {line}")
    return RestoreReport("point-in-time", instance, target, as_of)


def _next_steps(frame: Frame, target: str, live: pitr.Source) -> list[str]:
    region = f"--region {frame.settings.region}"
    return [
        f"wait: `aws rds wait db-instance-available --db-instance-identifier {target} {region}`",
        f"endpoint: `aws rds describe-db-instances --db-instance-identifier {target} "
        f"--query 'DBInstances[0].Endpoint' {region}`",
        "inspect it from inside the VPC (the app's security group may reach it), as the app "
        "user with an IAM token, or as the master user: its password is the source's at that "
        f"time; give it a managed one: `aws rds modify-db-instance --db-instance-identifier "
        f"{target} --manage-master-user-password --apply-immediately {region}`",
        "to serve from it: copy the rows you need into the live database (pg_dump/pg_restore), "
        "or take a snapshot of it, `invoke destroy` the env, and `invoke restore --snapshot`",
        f"it is outside CloudFormation: delete it when done (`aws rds delete-db-instance "
        f"--db-instance-identifier {target} --final-db-snapshot-identifier {target}-final "
        f"{region}`)",
    ]


def _plan(frame: Frame, steps: list[str], safety: list[str]) -> None:
    console = frame.console
    title = "Plan (dry run)" if frame.options.dry_run else "Plan"
    console.print(f"[bold]{title}[/] for restore --env [bold]{frame.env}[/]:")
    for number, step in enumerate(steps, start=1):
        console.print(f"  step {number}: {step}")
    for line in safety:
        console.print(f"  safety: {line}")


def _confirmed(frame: Frame, yes: bool, what: str) -> None:
    """--yes, or a typed answer on a terminal: prod's full name, "yes" elsewhere."""
    if yes:
        return
    expected = frame.typed_name if frame.settings.is_prod else "yes"
    if not sys.stdin.isatty():
        raise BadInput(
            f"restore would {what}; no terminal to confirm on. Review the plan (--dry-run) and "
            "run again with --yes."
        )
    frame.ask_typed(f"Type [bold]{expected}[/] to {what}: ", expected)
