"""`invoke diff`: create each stack's change set, print it, delete it; changes nothing."""

from __future__ import annotations

from rich.console import Console

from infra.orchestration import stack_run, targets, wiring
from infra.orchestration.frame import REAL_PARTS, Frame, Seams
from infra.stacks import specs


def run(
    env: str,
    *,
    only: str | None = None,
    console: Console | None = None,
    seams: Seams = REAL_PARTS,
) -> dict[str, int | None]:
    """Stack key -> change count (None when it can't be made yet because a stack it needs
    doesn't exist)."""
    frame = Frame.open(env, console, seams)
    selected = stack_run.select_stacks(only, specs.ENV_STACKS, env)
    # The runner stack as deploy treats it (off: skipped; on: its GitHub source must be set).
    skipped = {**targets.runner_stack(frame.settings, selected), **frame.target.connect(selected)}
    identity = frame.identity()
    templates = frame.render()
    keys = [key for key in selected if key not in skipped]
    outputs = stack_run.upstream_outputs(frame, keys)
    role_arn = frame.execution_role_arn() if keys else None
    counts: dict[str, int | None] = {}
    for key in keys:
        name = frame.stack_name(key)
        try:
            request = wiring.build_request(
                frame.settings,
                key,
                templates[key],
                outputs,
                deployer_principal_arn=identity.principal_arn,
                role_arn=role_arn,
            )
        except wiring.MissingInput:
            frame.console.print(f"{name}: would be created after the stacks it needs exist")
            counts[key] = None
            continue
        # The engine prints the stack's change set (or that it is unchanged): once.
        counts[key] = len(frame.engine().diff(request))
        found = frame.existing_outputs(key)
        if found is not None:
            outputs[key] = found
    for key, why in skipped.items():
        frame.console.print(f"{frame.stack_name(key)}: skipped ({why})")
    frame.console.print(f"{frame.calls.describe()}; nothing was changed")
    return counts
