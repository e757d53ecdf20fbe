"""Before `invoke deploy` touches the database stack: its PostgreSQL major must be the one the
deployed stack names. A newer major is an upgrade, and only `invoke upgrade --postgres` runs
one: it reads whether Blue/Green can (infra/orchestration/blue_green_checks.py), shows the
plan with the downtime of an in-place upgrade and asks first (prod: the name, typed).

Why a guard and not a template switch: the database template always sets
AllowMajorVersionUpgrade: true (infra/stacks/database.py), which AWS::RDS::DBInstance needs
for an EngineVersion of another major; with it, a hand-edited `database.engine_version: 18.x`
deployed with `invoke deploy` would silently make RDS upgrade the instance in place, the
database unavailable meanwhile. The deployed stack's template (GetTemplate) says which major
the stack runs; a minor change is a normal deploy.
"""

from __future__ import annotations

from infra.core import naming
from infra.core.errors import BadInput
from infra.orchestration.frame import Frame
from infra.stacks import specs


def engine_version_in(template: dict) -> str:
    """The DB instance's EngineVersion in a template ("" when none)."""
    for resource in (template.get("Resources") or {}).values():
        if isinstance(resource, dict) and resource.get("Type") == specs.DB_INSTANCE_TYPE:
            return str((resource.get("Properties") or {}).get("EngineVersion") or "")
    return ""


def _major(version: str) -> str:
    return version.split(".")[0]


def check(frame: Frame, template: dict | None) -> None:
    """BadInput when this deploy would change the database's PostgreSQL major (`template`:
    the deployed one, restore_guard.deployed_template; None: no stack yet)."""
    deployed = None if template is None else engine_version_in(template)
    wanted = frame.settings.database.engine_version
    if not deployed or _major(deployed) == _major(wanted):
        return
    env, where = frame.env, f"params/{frame.env}.yaml"
    stack = frame.stack_name(naming.DATABASE)
    if int(_major(wanted)) < int(_major(deployed)):
        raise BadInput(
            f"{where} names PostgreSQL {wanted}, older than the {deployed} {stack} runs: RDS "
            f"can't downgrade a major. Put back `database.engine_version: '{deployed}'` in "
            f"{where} (`invoke restore` restores a snapshot into a new instance)."
        )
    raise BadInput(
        f"{where} names PostgreSQL {wanted}, a newer major than the {deployed} {stack} runs: "
        "`invoke deploy` doesn't run a major upgrade (the database is unavailable while RDS "
        f"upgrades it). Run `invoke upgrade --env {env} --postgres {wanted}`, which shows the "
        f"plan and asks first, or put back `database.engine_version: '{deployed}'`."
    )
