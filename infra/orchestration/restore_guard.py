"""Before a deploy touches the database stack: its instance's DBSnapshotIdentifier must be the
one it was created with.

CloudFormation's AWS::RDS::DBInstance reference (the schema's DBSnapshotIdentifier
description): the same value in an update changes nothing, while "if you specify a different
DBSnapshotIdentifier value, a new DB instance is restored from the specified snapshot, and
the original DB instance is deleted"; with none, a new empty database is created. So a
restored instance must keep `database.restore_snapshot` for its whole life, and a live
instance must never gain one. The deployed stack's template says which it is. (The stack
policy denies the instance's replacement too, and its fixed name makes CloudFormation refuse
one; this says why before any change set, and what to put back.)
"""

from __future__ import annotations

from infra.aws.errors import AWS_ERRORS, translate
from infra.core import naming
from infra.core.errors import BadInput
from infra.orchestration import wiring
from infra.orchestration.frame import Frame
from infra.stacks import specs

PROPERTY = "DBSnapshotIdentifier"
# Stack statuses with no resources behind the template (a change set never executed, a
# failed creation rolled back): nothing there to keep.
NO_INSTANCE = frozenset({"REVIEW_IN_PROGRESS", "ROLLBACK_COMPLETE"})


def snapshot_in(template: dict) -> str:
    """The DB instance's DBSnapshotIdentifier in a template ("" when none)."""
    for resource in (template.get("Resources") or {}).values():
        if isinstance(resource, dict) and resource.get("Type") == specs.DB_INSTANCE_TYPE:
            return str((resource.get("Properties") or {}).get(PROPERTY) or "")
    return ""


def deployed_template(frame: Frame) -> dict | None:
    """The deployed database stack's template; None when the stack doesn't exist (or has no
    instance behind it). Read once per deploy for both guards (upgrade_guard.py too)."""
    name = frame.stack_name(naming.DATABASE)
    found = frame.engine().status(name)
    if found is None or found.status in NO_INSTANCE:
        return None
    try:
        body = frame.aws.client("cloudformation").get_template(StackName=name)["TemplateBody"]
    except AWS_ERRORS as exc:
        raise translate(exc, "reading the template of stack", name) from None
    return body if isinstance(body, dict) else wiring.template_dict(body)


def deployed_snapshot(frame: Frame) -> str | None:
    """The deployed database stack's DBSnapshotIdentifier ("" when it has none); None when
    the stack doesn't exist."""
    template = deployed_template(frame)
    return None if template is None else snapshot_in(template)


def check(frame: Frame, template: dict | None) -> None:
    """BadInput when this deploy would change the database instance's snapshot (`template`:
    the deployed one, `deployed_template`)."""
    deployed = None if template is None else snapshot_in(template)
    wanted = frame.settings.database.restore_snapshot
    if deployed is None or deployed == wanted:
        return
    where = f"params/{frame.env}.yaml"
    stack = frame.stack_name(naming.DATABASE)
    if deployed:
        raise BadInput(
            f"the database of {stack} was restored from snapshot {deployed}, and {where} now "
            + (f"names {wanted}" if wanted else "names none")
            + ": CloudFormation would create a new instance "
            + ("from that snapshot" if wanted else "(an EMPTY database)")
            + " and delete the restored one. Put back `database.restore_snapshot: "
            f"{deployed}` in {where}; it stays for the life of this instance."
        )
    raise BadInput(
        f"{where} sets database.restore_snapshot: {wanted}, but {stack}'s database is live and "
        "was not restored from a snapshot: CloudFormation would replace it. Remove the key; "
        f"`invoke restore --env {frame.env}` restores a live database into a new instance."
    )
