"""The local environment's workarounds for moto's known gaps, all in one place.

Each workaround names the gap it closes (see DESIGN.md, "Known gaps of the stand-ins").
The engine (infra/cfn.py) and orchestration never special-case moto: the emulator is
patched in its own process so that it answers like CloudFormation, and the stacks it
can't emulate are left out of the local plan (they are still synthesized and linted).
"""

from __future__ import annotations

import functools
import os
from typing import Any

from infra import naming

# Gap: moto 5.2's CloudFormation skips resource types it doesn't emulate (EKS cluster,
# node group, add-ons, access entries, OIDC provider). A "cluster" stack would report
# success with no cluster in it, and the workload stack's pod roles need that cluster's
# outputs. So locally both are synthesized and linted but not created; the app runs as a
# local process instead of on Kubernetes (infra/local/pod.py).
NOT_EMULATED: dict[str, str] = {
    naming.CLUSTER: "not created locally: moto does not emulate EKS",
    naming.WORKLOAD: "not created locally: its pod roles need the EKS cluster",
}

# Gap: the emulator accepts any credentials, but boto3 refuses to sign a request without
# some, and a fresh machine has none. These fixed values are only ever sent to the
# loopback emulator endpoint; they are not secrets and open nothing.
EMULATOR_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "gifstack-local",
    "AWS_SECRET_ACCESS_KEY": "gifstack-local",
}


def emulated_stacks(keys: list[str]) -> list[str]:
    """The stacks of `keys` that the emulator can really create."""
    return [key for key in keys if key not in NOT_EMULATED]


def use_emulator_credentials() -> None:
    """Give boto3 credentials for the emulator when the user has none configured."""
    if os.environ.get("AWS_ACCESS_KEY_ID") or os.environ.get("AWS_PROFILE"):
        return
    os.environ.update(EMULATOR_CREDENTIALS)


def patch_moto() -> None:
    """Make moto's ExecuteChangeSet leave a stack as CloudFormation does.

    Call it in the emulator's own process (infra/local/moto.py) before serving.
    """
    from moto.cloudformation.models import CloudFormationBackend

    original = CloudFormationBackend.execute_change_set
    if getattr(original, "gifstack_patched", False):
        return

    @functools.wraps(original)
    def execute_change_set(self: Any, change_set_name: str, stack_name: str | None = None):
        change_set = self.describe_change_set(change_set_name)
        original(self, change_set_name, stack_name)
        stack = self.stacks[change_set.stack_id]
        # Gap: moto builds a stack's output map when the stack object is created (for a
        # CREATE change set: from an empty template) and never again, so DescribeStacks
        # reports no outputs after ExecuteChangeSet. Rebuild it from the applied template.
        stack._parse_template()
        stack.description = stack.template_dict.get("Description")
        stack.output_map = stack._create_output_map()
        # Gap: an UPDATE change set leaves the stack's recorded parameters and tags as they
        # were, so the next "has anything changed?" comparison sees stale values. (No tags
        # on an update means "keep the stack's tags", as in CloudFormation.)
        stack.parameters = dict(change_set.parameters)
        if change_set.tags:
            stack.tags = dict(change_set.tags)

    execute_change_set.gifstack_patched = True  # type: ignore[attr-defined]
    CloudFormationBackend.execute_change_set = execute_change_set
    _add_update_termination_protection()


def _add_update_termination_protection() -> None:
    """Gap: moto 5.2 has no UpdateTerminationProtection action (it answers 500 "not
    implemented"), which the engine calls to protect prod stacks. Store the flag on the
    stack; DescribeStacks already reports it as EnableTerminationProtection."""
    from moto.cloudformation.responses import CloudFormationResponse
    from moto.core.responses import ActionResult

    if hasattr(CloudFormationResponse, "update_termination_protection"):
        return

    def update_termination_protection(self: Any) -> ActionResult:
        stack = self.cloudformation_backend.get_stack(self._get_param("StackName"))
        stack.enable_termination_protection = self._get_param("EnableTerminationProtection")
        return ActionResult({"StackId": stack.stack_id})

    CloudFormationResponse.update_termination_protection = update_termination_protection
