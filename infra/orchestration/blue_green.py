"""A PostgreSQL major-version upgrade through an RDS Blue/Green deployment, never by replacing
the instance: create the deployment (the green copy on the new major, kept in sync), wait for
it, switch over, and keep the old (blue) instance until the user asks `delete_blue` for it.

Facts it depends on, and where they come from:
- Operations, parameters, filters: botocore's rds model (2014-10-31): CreateBlueGreenDeployment
  (BlueGreenDeploymentName `[a-zA-Z](?:-?[a-zA-Z0-9]+)*`, at most 60; Source = the ARN),
  DescribeBlueGreenDeployments (filters blue-green-deployment-name, source, target...),
  SwitchoverBlueGreenDeployment (SwitchoverTimeout in seconds, min 30, default 300; the
  User Guide's "Switching a blue/green deployment" gives 30-3,600 s and says a switchover that
  takes longer is rolled back), DeleteBlueGreenDeployment (DeleteTarget not allowed once
  SWITCHOVER_COMPLETED).
- Statuses (the model's BlueGreenDeployment.Status documentation, the same list in the API
  Reference): PROVISIONING, AVAILABLE, SWITCHOVER_IN_PROGRESS, SWITCHOVER_COMPLETED,
  INVALID_CONFIGURATION, SWITCHOVER_FAILED, DELETING. Tasks[].Status: PENDING, IN_PROGRESS,
  COMPLETED, FAILED. The field is a plain string, so any status outside that list (a
  PROVISIONING_FAILED, say) stops the wait as a failure instead of being waited on.
- Switchover renames: the green instance takes the blue's identifier (and so its endpoint) and
  the old blue is renamed with the suffix `-old1` (User Guide, "Switching a blue/green
  deployment", switchover actions; moto 5.2 models the same). The old instance is read from the
  deployment's Source ARN, which then names it.
- Preconditions for RDS for PostgreSQL: infra/orchestration/blue_green_checks.py.

Before it can run at all: RDS blue/green deployments don't support a master password managed
in Secrets Manager (User Guide, blue/green limitations; the Secrets Manager integration's
limitations say the same), and gifstack's instance uses ManageMasterUserPassword. check_ready
says so; README, Day 2, says the ways forward.

Around the switchover (`invoke upgrade`'s part):
- No DDL on the blue from the create to the switchover (no migration Job): a major upgrade
  replicates logically, and the switchover guardrails refuse once DDL or a large-object change
  reached the blue (User Guide, "Switching a blue/green deployment", guardrails).
- IAM database authentication: rds-db:connect ARNs name the instance's DbiResourceId, and the
  green is a new instance with its own. Before switching over, the app's role must be allowed
  the green's resource id too (`before_switchover` hands it over: a workload deploy), or the
  app's new connections are refused from the switchover until the stacks are redeployed.
- After it, so the templates match reality: the database stack still names the same
  DBInstanceIdentifier, which RDS gave to the green, so nothing is replaced. Set
  `database.engine_version` to the new version (the parameter group's Family follows) and deploy
  the database stack, then the workload stack (the new DatabaseResourceId output). From
  AWS::RDS::DBInstance's schema (cfn-lint): EngineVersion and DBParameterGroupName are not
  create-only, so they update in place, never by replacement; AllowMajorVersionUpgrade is
  required when EngineVersion names another major than the instance's current one: after the
  switchover it is already on that major, so the update only records it (setting
  AllowMajorVersionUpgrade: true in that deploy costs nothing: "doesn't result in an outage").
  A new Family replaces the AWS::RDS::DBParameterGroup (Family is create-only) and points the
  instance at the new group; the schema says an instance whose group has static parameters
  (rds.logical_replication is one) reboots on such an update: a short interruption, to be
  said in the plan's row. Then drop `database.upgrade_target_version`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from infra.cfn.waiting import Clock
from infra.core.errors import BadInput, OperationFailed
from infra.orchestration.blue_green_checks import (
    check_ready,
    find_instance,
    problems_of,
    rds_errors,
)

__all__ = [
    "BlueGreenOutcome",
    "GreenInstance",
    "check_ready",
    "delete_blue",
    "upgrade_major",
]
REAL_CLOCK = Clock()

PROVISIONING = "PROVISIONING"
AVAILABLE = "AVAILABLE"
SWITCHOVER_IN_PROGRESS = "SWITCHOVER_IN_PROGRESS"
SWITCHOVER_COMPLETED = "SWITCHOVER_COMPLETED"
DELETING = "DELETING"
SWITCHOVER_TIMEOUT_S = 300  # AWS's default; within 30-3,600 s
PROVISION_TIMEOUT_S = 8 * 3600  # copying a large database can take hours
POLL_S = 30.0

Say = Callable[[str], None]


@dataclass(frozen=True)
class BlueGreenOutcome:
    identifier: str  # BlueGreenDeploymentIdentifier
    status: str  # final status, e.g. "SWITCHOVER_COMPLETED"
    blue_instance_id: str  # the old instance, kept until `delete_blue`


@dataclass(frozen=True)
class GreenInstance:
    instance_id: str  # RDS's name for it until the switchover (`<id>-green-xxxxxx`)
    resource_id: str  # DbiResourceId: what rds-db:connect ARNs name; it keeps it afterwards


def deployment_name(instance_id: str, target_version: str) -> str:
    """One name per (instance, target): how an interrupted upgrade finds its deployment."""
    return f"{instance_id}-to-pg{target_version.replace('.', '-')}"[:60].rstrip("-")


def instance_name(arn: str) -> str:
    """arn:aws:rds:region:account:db:NAME -> NAME."""
    return arn.split(":")[-1]


def _find(rds, name: str, value: str) -> list[dict]:
    with rds_errors("listing", "blue/green deployments"):
        answer = rds.describe_blue_green_deployments(Filters=[{"Name": name, "Values": [value]}])
    return answer["BlueGreenDeployments"]


def _describe(rds, identifier: str) -> dict:
    with rds_errors("reading", f"blue/green deployment {identifier}"):
        return rds.describe_blue_green_deployments(BlueGreenDeploymentIdentifier=identifier)[
            "BlueGreenDeployments"
        ][0]


def _failure(deployment: dict, blue: str) -> OperationFailed:
    status = deployment["Status"]
    ident = deployment["BlueGreenDeploymentIdentifier"]
    details = deployment.get("StatusDetails") or "RDS gave no details"
    if status == DELETING:
        return OperationFailed(
            f"blue/green deployment {deployment.get('BlueGreenDeploymentName', ident)} "
            f"({ident}) is being deleted; the blue instance {blue} is untouched and still "
            "serving. Wait until it is gone, then run the upgrade again."
        )
    return OperationFailed(
        f"blue/green deployment {deployment.get('BlueGreenDeploymentName', ident)} ({ident}) "
        f"is {status}: {details}. The blue instance {blue} is untouched and still serving. "
        f"Read why in `aws rds describe-events --source-type blue-green-deployment "
        f"--source-identifier {ident}`, fix it, then delete the green copy (`aws rds "
        f"delete-blue-green-deployment --blue-green-deployment-identifier {ident} "
        "--delete-target`) and run the upgrade again."
    )


class _Progress:
    """Says each status and task change once."""

    def __init__(self, say: Say) -> None:
        self._say = say
        self._seen: dict[str, str] = {}

    def report(self, deployment: dict) -> None:
        name = deployment["BlueGreenDeploymentIdentifier"]
        changes = [(name, deployment["Status"])] + [
            (f"{name} task {task['Name']}", task["Status"]) for task in deployment.get("Tasks", [])
        ]
        for key, status in changes:
            if self._seen.get(key) != status:
                self._seen[key] = status
                self._say(f"{key}: {status}")


def _wait(
    rds,
    identifier: str,
    *,
    until: str,
    waiting: frozenset[str],
    also_done: frozenset[str] = frozenset(),
    timeout_s: float,
    blue: str,
    progress: _Progress,
    clock: Clock,
) -> dict:
    deadline = clock.now() + timeout_s
    while True:
        deployment = _describe(rds, identifier)
        progress.report(deployment)
        status = deployment["Status"]
        if status == until or status in also_done:
            return deployment
        if status not in waiting:
            raise _failure(deployment, blue)
        if clock.now() >= deadline:
            raise OperationFailed(
                f"timed out after {timeout_s / 60:g} min waiting for blue/green deployment "
                f"{identifier} to reach {until} (still {status}). RDS carries on by itself; "
                "run the upgrade again to keep waiting."
            )
        clock.sleep(POLL_S)


def upgrade_major(
    rds,
    *,
    instance_id: str,
    target_version: str,
    target_parameter_group: str | None,
    say: Say,
    clock: Clock = REAL_CLOCK,
    tags: dict[str, str] | None = None,
    switchover_timeout_s: int = SWITCHOVER_TIMEOUT_S,
    provision_timeout_s: float = PROVISION_TIMEOUT_S,
    before_switchover: Callable[[GreenInstance], None] | None = None,
) -> BlueGreenOutcome:
    """Create (or resume), wait until AVAILABLE, switch over, wait until SWITCHOVER_COMPLETED.

    `tags` for the deployment: the instance's own by default (its project tag is what the
    deploy role may create deployments with, infra/stacks/ci_blue_green.py).
    `before_switchover` runs once the green is in sync, before the switchover (not when an
    interrupted run is resumed after it): where the caller lets the app's IAM role connect to
    the green's DbiResourceId too (see the module docstring). If it raises, nothing switches.
    Never deletes or replaces anything: the old instance is kept (as `<id>-old1`)."""
    progress = _Progress(say)
    name = deployment_name(instance_id, target_version)
    found = _find(rds, "blue-green-deployment-name", name)
    if found:
        deployment = found[0]
        say(f"resuming blue/green deployment {name} ({deployment['Status']})")
    else:
        deployment = _create(
            rds, instance_id, target_version, target_parameter_group, name, tags, say
        )
    identifier = deployment["BlueGreenDeploymentIdentifier"]
    blue = instance_name(deployment["Source"])
    progress.report(deployment)
    if deployment["Status"] in (PROVISIONING, AVAILABLE):
        ready = _wait(
            rds,
            identifier,
            until=AVAILABLE,
            waiting=frozenset({PROVISIONING}),
            # switched over meanwhile by someone else (the console): wait for that instead
            also_done=frozenset({SWITCHOVER_IN_PROGRESS, SWITCHOVER_COMPLETED}),
            timeout_s=provision_timeout_s,
            blue=blue,
            progress=progress,
            clock=clock,
        )
        if ready["Status"] == AVAILABLE:
            _switch_over(rds, ready, switchover_timeout_s, before_switchover, say)
    final = _wait(
        rds,
        identifier,
        until=SWITCHOVER_COMPLETED,
        waiting=frozenset({SWITCHOVER_IN_PROGRESS}),
        timeout_s=switchover_timeout_s + 600,
        blue=blue,
        progress=progress,
        clock=clock,
    )
    old = instance_name(final["Source"])
    say(f"{instance_id} now runs PostgreSQL {target_version}; the old instance {old} is kept")
    return BlueGreenOutcome(identifier, final["Status"], old)


def _switch_over(rds, ready: dict, timeout_s: int, before_switchover, say: Say) -> None:
    identifier = ready["BlueGreenDeploymentIdentifier"]
    if before_switchover is not None:
        before_switchover(green_instance(rds, ready))
    say(f"switching over {identifier} (timeout {timeout_s} s)")
    with rds_errors("switching over", f"blue/green deployment {identifier}"):
        rds.switchover_blue_green_deployment(
            BlueGreenDeploymentIdentifier=identifier, SwitchoverTimeout=timeout_s
        )


def green_instance(rds, deployment: dict) -> GreenInstance:
    """The green of a deployment before switchover: its identifier and DbiResourceId."""
    name = instance_name(deployment["Target"])
    found = find_instance(rds, name)
    if found is None:
        raise OperationFailed(
            f"the green instance {name} of blue/green deployment "
            f"{deployment['BlueGreenDeploymentIdentifier']} does not exist; nothing switched."
        )
    return GreenInstance(name, found["DbiResourceId"])


def _own_tags(instance: dict) -> dict[str, str]:
    return {
        tag["Key"]: tag["Value"]
        for tag in instance.get("TagList", [])
        if not tag["Key"].startswith("aws:")
    }


def _create(rds, instance_id, target_version, parameter_group, name, tags, say) -> dict:
    instance = find_instance(rds, instance_id)
    if instance is None:
        raise BadInput(f"DB instance {instance_id} does not exist; deploy the database first.")
    others = _find(rds, "source", instance["DBInstanceArn"])
    if others:
        other = others[0]
        raise BadInput(
            f"DB instance {instance_id} already has blue/green deployment "
            f"{other.get('BlueGreenDeploymentName')} ({other['BlueGreenDeploymentIdentifier']}, "
            f"{other['Status']}) for another change; switch it over or delete it first."
        )
    problems = problems_of(rds, instance, target_version, parameter_group)
    if problems:
        raise BadInput(
            f"{instance_id} is not ready for a blue/green upgrade: " + " ".join(problems)
        )
    # The deployment carries the instance's own tags unless told otherwise (the project tag is
    # what the deploy role may create it with); "aws:" keys are AWS's, no caller may set them.
    labels = tags if tags is not None else _own_tags(instance)
    group = {"TargetDBParameterGroupName": parameter_group} if parameter_group else {}
    if not parameter_group:
        say("no target parameter group: RDS gives the green instance its default group")
    say(f"creating blue/green deployment {name}: {instance_id} -> PostgreSQL {target_version}")
    with rds_errors("creating", f"blue/green deployment {name}"):
        return rds.create_blue_green_deployment(
            BlueGreenDeploymentName=name,
            Source=instance["DBInstanceArn"],
            TargetEngineVersion=target_version,
            Tags=[{"Key": key, "Value": value} for key, value in sorted(labels.items())],
            **group,
        )["BlueGreenDeployment"]


def delete_blue(rds, *, identifier: str, say: Say) -> str:
    """Delete the old instance of a switched-over deployment (final snapshot first), then the
    deployment object. Never the current instance. Returns the final snapshot's name."""
    deployment = _describe(rds, identifier)
    status = deployment["Status"]
    if status != SWITCHOVER_COMPLETED:
        raise BadInput(
            f"blue/green deployment {identifier} is {status}, not {SWITCHOVER_COMPLETED}: its "
            "blue instance is still the one serving and is not deleted."
        )
    blue, current = instance_name(deployment["Source"]), instance_name(deployment["Target"])
    if blue == current:
        raise OperationFailed(
            f"blue/green deployment {identifier} names {blue} as both old and current "
            "instance; nothing deleted. Check it with `aws rds describe-blue-green-deployments`."
        )
    snapshot = f"{blue}-final-{identifier}"
    instance = find_instance(rds, blue)
    if instance is None:
        say(f"{blue} is already gone")
    elif instance["DBInstanceStatus"] != "deleting":
        if instance.get("DeletionProtection"):
            say(f"turning off deletion protection on the old instance {blue}")
            with rds_errors("modifying", f"DB instance {blue}"):
                rds.modify_db_instance(
                    DBInstanceIdentifier=blue, DeletionProtection=False, ApplyImmediately=True
                )
        say(f"deleting the old instance {blue} (final snapshot {snapshot}); {current} stays")
        with rds_errors("deleting", f"DB instance {blue}"):
            rds.delete_db_instance(
                DBInstanceIdentifier=blue,
                SkipFinalSnapshot=False,
                FinalDBSnapshotIdentifier=snapshot,
                DeleteAutomatedBackups=False,
            )
    with rds_errors("deleting", f"blue/green deployment {identifier}"):
        rds.delete_blue_green_deployment(BlueGreenDeploymentIdentifier=identifier)
    say(f"blue/green deployment {identifier} deleted")
    return snapshot
