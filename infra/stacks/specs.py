"""One table of the stacks: everything the rest of gifstack knows about each one.

The graph (which stack runs after which), synth (which builder, which folder), the wiring
(which outputs feed which parameters, the timeout, the stack policy), the local plan (which
stacks the emulator can't create) and the Kubernetes step (where each output it reads comes
from) all read this table. Adding a stack is its builder in infra/stacks/, its row here, and
its permissions (infra/stacks/ci.py, boundary.py); nothing else.

Builders are imported on first use, so this module is cheap to import (the command line's
help reads it) and the builders may themselves read the table.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from infra.core import naming
from infra.core.naming import Outputs

if TYPE_CHECKING:
    from troposphere import Template

    from infra.settings.params import Settings

DB_INSTANCE_TYPE = "AWS::RDS::DBInstance"


@dataclass(frozen=True)
class StackSpec:
    key: str  # the short name on the command line (`--only database`)
    needs: tuple[str, ...]  # stacks whose outputs become this one's parameters
    produces: tuple[str, ...]  # its outputs (a parameter named like one is fed from it)
    timeout_minutes: int  # default wait; params' deploy.stack_timeout_minutes overrides
    shared: bool = False  # account-wide (gif-<key>), built from prod's params
    # Why the local AWS emulator can't create it ("" = it can).
    not_emulated: str = ""
    # Resource types its stack policy keeps from being replaced or deleted in an update.
    protected_types: tuple[str, ...] = ()

    @property
    def build(self) -> Callable[[Settings], Template]:
        """The troposphere builder: infra/stacks/<key>.py's `build(settings)`."""
        return importlib.import_module(f"infra.stacks.{self.key}").build


SPECS: dict[str, StackSpec] = {
    spec.key: spec
    for spec in (
        StackSpec(
            naming.NETWORK,
            needs=(),
            produces=(
                Outputs.VPC_ID,
                Outputs.PUBLIC_SUBNET_IDS,
                Outputs.PRIVATE_SUBNET_IDS,
                Outputs.DATABASE_SUBNET_CIDRS,
                Outputs.APP_SECURITY_GROUP_ID,
                Outputs.DATABASE_SECURITY_GROUP_ID,
            ),
            timeout_minutes=20,
        ),
        StackSpec(
            naming.DATABASE,
            needs=(naming.NETWORK,),
            produces=(
                Outputs.DATABASE_ENDPOINT,
                Outputs.DATABASE_PORT,
                Outputs.DATABASE_NAME,
                Outputs.DATABASE_INSTANCE_ID,
                Outputs.DATABASE_RESOURCE_ID,
                Outputs.DATABASE_MASTER_SECRET_ARN,
                Outputs.DATABASE_KMS_KEY_ARN,
            ),
            timeout_minutes=60,
            protected_types=(DB_INSTANCE_TYPE,),
        ),
        StackSpec(
            naming.CLUSTER,
            needs=(naming.NETWORK,),
            produces=(
                Outputs.CLUSTER_NAME,
                Outputs.CLUSTER_ENDPOINT,
                Outputs.CLUSTER_CERTIFICATE_AUTHORITY,
                Outputs.CLUSTER_OIDC_PROVIDER_ARN,
                Outputs.NODE_ROLE_ARN,
                Outputs.CLUSTER_SECURITY_GROUP_ID,
            ),
            timeout_minutes=60,
            # moto 5.2's CloudFormation skips the resource types it doesn't emulate (EKS
            # cluster, node group, add-ons, access entries): the stack would "succeed" empty.
            not_emulated="not created locally: moto has no EKS",
        ),
        StackSpec(
            naming.WORKLOAD,
            needs=(naming.DATABASE, naming.CLUSTER),
            produces=(Outputs.APP_ROLE_ARN, Outputs.MIGRATE_ROLE_ARN),
            timeout_minutes=15,
            not_emulated="not created locally: needs the EKS cluster",
        ),
        StackSpec(
            naming.RUNNER,
            needs=(naming.NETWORK, naming.CLUSTER),
            produces=(
                Outputs.RUNNER_PROJECT_NAME,
                Outputs.RUNNER_SECURITY_GROUP_ID,
                Outputs.RUNNER_ROLE_ARN,
            ),
            timeout_minutes=15,
            # moto 5.2's CloudFormation doesn't emulate AWS::CodeBuild::Project (nor a GitHub
            # webhook), and the runner only exists to reach the EKS API endpoint.
            not_emulated="not created locally: no CodeBuild (and no EKS to reach)",
        ),
        StackSpec(
            naming.REGISTRY,
            needs=(),
            produces=(Outputs.REPOSITORY_URI, Outputs.REPOSITORY_NAME, Outputs.REPOSITORY_ARN),
            timeout_minutes=10,
            shared=True,
        ),
        StackSpec(
            naming.CI,
            needs=(),
            produces=(
                Outputs.DEPLOY_ROLE_ARN,
                Outputs.EXECUTION_ROLE_ARN,
                Outputs.IMAGE_ROLE_ARN,
            ),
            timeout_minutes=10,
            shared=True,
        ),
    )
}

# Per-environment stacks in a valid run order, and the account-wide ones.
ENV_STACKS = tuple(key for key, spec in SPECS.items() if not spec.shared)
SHARED_STACKS = tuple(key for key, spec in SPECS.items() if spec.shared)
ALL_STACKS = ENV_STACKS + SHARED_STACKS

# Output key -> the stack that produces it.
PRODUCER: dict[str, str] = {out: key for key, spec in SPECS.items() for out in spec.produces}


def stack_name(project: str, env: str, key: str) -> str:
    """`gif-prod-database` for an environment's stack, `gif-registry` for a shared one."""
    if SPECS[key].shared:
        return f"{project}-{key}"
    return f"{project}-{env}-{key}"


def producers(outputs: Iterable[str]) -> tuple[str, ...]:
    """The stacks that produce these outputs, in table order."""
    wanted = {PRODUCER[output] for output in outputs}
    return tuple(key for key in SPECS if key in wanted)


def not_emulated(keys: Iterable[str]) -> dict[str, str]:
    """Of `keys`, the stacks the local emulator can't create, with the reason."""
    return {key: SPECS[key].not_emulated for key in keys if SPECS[key].not_emulated}
