"""The one reader of stack outputs for their consumers: take the required keys (and any
optional ones) from a stack's or several stacks' merged outputs, or stop with one message
that names every missing key, the stacks that make them and the command that does."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from infra.core.errors import BadInput
from infra.settings.params import Settings
from infra.stacks import specs


class MissingOutputs(BadInput):
    """Required stack outputs are missing: their stacks are not deployed (or are older)."""


def collect(
    settings: Settings,
    outputs: Mapping[str, str],
    required: Iterable[str],
    optional: Iterable[str] = (),
    *,
    alternative: str = "",
) -> dict[str, str]:
    """The required outputs (each non-empty) and whichever optional ones are there."""
    required = tuple(required)
    missing = [key for key in required if not outputs.get(key)]
    if missing:
        stacks = sorted(
            specs.stack_name(settings.project, settings.env, key)
            for key in specs.producers(missing)
        )
        raise MissingOutputs(
            f"stack outputs {', '.join(missing)} are missing (from {', '.join(stacks)}): "
            f"deploy those stacks first (invoke deploy --env {settings.env})"
            + (f", or {alternative}." if alternative else ".")
        )
    wanted = (*required, *(key for key in optional if outputs.get(key)))
    return {key: outputs[key] for key in wanted}
