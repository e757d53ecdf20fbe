"""Build the engine's `StackRequest` for one stack: its template, the parameters wired from
other stacks' outputs (by name, see infra/stacks/graph.py), the stack tags, termination
protection and the database stack's policy. No AWS here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from infra.cfn.types import StackRequest
from infra.core import naming
from infra.core.errors import OperationFailed
from infra.core.revision import git_commit

__all__ = ["git_commit"]  # the plan and the summary name the commit (infra/core/revision.py)
from infra.settings.params import Settings
from infra.stacks import graph, specs, template_yaml


class MissingInput(OperationFailed):
    """A stack needs an output of a stack that doesn't exist (yet) or lacks it."""


def stack_name(settings: Settings, key: str) -> str:
    return specs.stack_name(settings.project, settings.env, key)


def template_dict(body: str) -> dict[str, Any]:
    """The template as data; CloudFormation's short tags (!Ref, !Sub...) are kept as plain
    values, which is enough to read Parameters and resource types."""
    return template_yaml.load(body)


def parameter_names(template: Mapping[str, Any]) -> list[str]:
    return list((template.get("Parameters") or {}).keys())


def stack_tags(settings: Settings, key: str) -> dict[str, str]:
    """project, environment and managed-by, on every stack. Not the git commit: it changes
    with every commit, and a tag change is a change set re-tagging every resource of the
    stack; the commit is in the deploy summary and the Deployment's annotation instead."""
    shared = specs.SPECS[key].shared
    return {
        naming.TAG_PROJECT: settings.project,
        naming.TAG_ENVIRONMENT: naming.SHARED_ENVIRONMENT if shared else settings.env,
        naming.TAG_MANAGED_BY: naming.MANAGED_BY,
    }


def stack_policy(template: Mapping[str, Any], protected_types: tuple[str, ...]) -> dict | None:
    """Deny Replace and Delete of the resources of the protected types (the database stack's
    DB instance); allow every other update. None when the stack has no such resource."""
    instances = sorted(
        logical_id
        for logical_id, resource in (template.get("Resources") or {}).items()
        if isinstance(resource, dict) and resource.get("Type") in protected_types
    )
    if not instances:
        return None
    return {
        "Statement": [
            {
                "Effect": "Deny",
                "Action": ["Update:Replace", "Update:Delete"],
                "Principal": "*",
                "Resource": [f"LogicalResourceId/{logical_id}" for logical_id in instances],
            },
            {"Effect": "Allow", "Action": "Update:*", "Principal": "*", "Resource": "*"},
        ]
    }


def deletion_policy(template: Mapping[str, Any], resource_type: str) -> str | None:
    """The DeletionPolicy of the first resource of that type (e.g. "Snapshot")."""
    for resource in (template.get("Resources") or {}).values():
        if isinstance(resource, dict) and resource.get("Type") == resource_type:
            return resource.get("DeletionPolicy")
    return None


def build_request(
    settings: Settings,
    key: str,
    body: str,
    outputs: Mapping[str, Mapping[str, str]],
    *,
    deployer_principal_arn: str,
    role_arn: str | None = None,
) -> StackRequest:
    """The request for one stack; `outputs` maps stack key -> that stack's outputs."""
    spec = specs.SPECS[key]
    template = template_dict(body)
    names = parameter_names(template)
    parameters: dict[str, str] = {}
    for parameter, producer in graph.inputs(key, names).items():
        produced = outputs.get(producer)
        if produced is None:
            raise MissingInput(
                f"stack {stack_name(settings, key)} needs output {parameter} of "
                f"{stack_name(settings, producer)}, which does not exist yet. Deploy it first "
                f"(`invoke deploy --env {settings.env}` without --only, or add "
                f"{producer} to --only)."
            )
        if parameter not in produced:
            raise MissingInput(
                f"stack {stack_name(settings, key)} needs output {parameter} of "
                f"{stack_name(settings, producer)}, which has no such output. Redeploy "
                f"{producer} from this commit (`invoke deploy --env {settings.env} "
                f"--only {producer}`)."
            )
        parameters[parameter] = produced[parameter]
    if naming.DEPLOYER_PRINCIPAL_ARN in names:
        parameters[naming.DEPLOYER_PRINCIPAL_ARN] = deployer_principal_arn
    return StackRequest(
        key=key,
        name=stack_name(settings, key),
        template_body=body,
        parameters=parameters,
        tags=stack_tags(settings, key),
        termination_protection=settings.is_prod or settings.deploy.termination_protection,
        stack_policy=stack_policy(template, spec.protected_types),
        timeout_minutes=settings.deploy.stack_timeout_minutes.get(key, spec.timeout_minutes),
        env=settings.env,
        role_arn=None if spec.shared else role_arn,
    )
