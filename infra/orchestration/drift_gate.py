"""Drift before a deploy: detect drift on the stacks about to be deployed that exist, and
decide. Drift on a resource that holds data (database, cluster, KMS key, VPC) stops a prod
deploy with the list and the two ways forward; anywhere else drift is a warning in the plan.

The two ways forward: adopt the change (put it in params/<env>.yaml, so the template says
what the resource already is), or let the deploy revert it with `--revert-drift`, which asks
CloudFormation for drift-aware change sets (CreateChangeSet DeploymentMode REVERT_DRIFT:
"brings actual resource states in line with template definitions", botocore's model and the
User Guide's "Using drift-aware change sets"). An endpoint without drift detection (the
local emulator) is said to lack it; nothing is faked.
"""

from __future__ import annotations

from rich.text import Text

from infra.aws.errors import unsupported_operation
from infra.cfn.changes import stateful_types
from infra.cfn.types import StackDrift
from infra.core.errors import BadInput, GifstackError
from infra.orchestration import drift as drift_command
from infra.orchestration.frame import Frame


def check(frame: Frame, keys: list[str], *, revert: bool) -> list[StackDrift]:
    """Drift of the stacks about to be deployed; BadInput for drift that holds data in prod
    (unless the deploy reverts it)."""
    found: list[StackDrift] = []
    for key in keys:
        name = frame.stack_name(key)
        try:
            drift = frame.engine().drift(name)
        except GifstackError as exc:
            if not unsupported_operation(exc.__context__ or exc):
                raise
            frame.console.print(
                "[yellow]drift check: drift detection is not available from this endpoint; "
                "skipped[/]"
            )
            return found
        if drift is not None and drift.drifted:
            found.append(drift)
            frame.console.print(drift_command.describe(drift))
            frame.console.print(drift_command.table(drift))
    if not found:
        return found
    held = [
        f"{drift.name} {resource.logical_id} ({resource.resource_type})"
        for drift in found
        for resource in drift.resources
        if resource.resource_type in stateful_types()
    ]
    if revert:
        frame.console.print(
            Text("drift: the change sets revert it (--revert-drift: drift-aware change sets)")
        )
    elif held and frame.settings.is_prod:
        env = frame.env
        raise BadInput(
            f"drift on resources that hold data: {', '.join(held)}; nothing was deployed. "
            f"Either adopt the change (put it in params/{env}.yaml, `invoke synth`, and "
            f"deploy), or let this deploy revert it: `invoke deploy --env {env} "
            "--revert-drift`. `invoke drift --env ENV` shows the details again."
        )
    else:
        frame.console.print(
            Text(
                "warning: the deploy will not keep the drift above: CloudFormation leaves "
                "drifted properties it doesn't change as they are; --revert-drift puts "
                "them back to the template",
                style="yellow",
            )
        )
    return found
