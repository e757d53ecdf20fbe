"""Reading built templates in tests: resources by type, policy statements, tags."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from infra.settings import params
from infra.settings.params import Settings

ENVS = ("local", "dev", "prod")


def settings(env: str, **changes: Any) -> Settings:
    """An environment's settings, optionally with sections replaced (`cluster={...}`)."""
    base = params.load(env)
    if not changes:
        return base
    updated = {}
    for section, values in changes.items():
        current = getattr(base, section)
        updated[section] = current.model_copy(update=values) if isinstance(values, dict) else values
    return base.model_copy(update=updated)


def body(template) -> dict[str, Any]:
    return template.to_dict()


def of_type(template: dict, kind: str) -> dict[str, dict]:
    """Logical ID -> resource, for every resource of one type."""
    return {
        name: resource
        for name, resource in template["Resources"].items()
        if resource["Type"] == kind
    }


def props(template: dict, logical_id: str) -> dict:
    return template["Resources"][logical_id].get("Properties", {})


def policy_documents(template: dict) -> Iterator[tuple[str, dict]]:
    """(where, document) for every IAM permission policy (inline or managed) in a template."""
    for name, resource in template["Resources"].items():
        properties = resource.get("Properties", {})
        if resource["Type"] == "AWS::IAM::Role":
            for policy in properties.get("Policies", []):
                yield f"{name}/{policy['PolicyName']}", policy["PolicyDocument"]
        if resource["Type"] in ("AWS::IAM::ManagedPolicy", "AWS::IAM::Policy"):
            yield name, properties["PolicyDocument"]


def as_list(value: Any) -> list:
    return value if isinstance(value, list) else [value]


def statements(document: dict) -> list[dict]:
    return as_list(document["Statement"])


def ref(name: str) -> dict:
    return {"Ref": name}


def all_templates() -> dict[tuple[str, str], dict]:
    """(env, key) -> template as data, for every env stack of every environment, and
    ("shared", key) for the account-wide stacks (built from prod's params, as synth does)."""
    from infra.stacks import specs, synth

    templates = {
        (env, key): body(specs.SPECS[key].build(settings(env)))
        for env in ENVS
        for key in specs.ENV_STACKS
    }
    for key in specs.SHARED_STACKS:
        templates[("shared", key)] = body(specs.SPECS[key].build(synth.shared_settings()))
    return templates


def every_document(template: dict) -> Iterator[tuple[str, dict]]:
    """Every policy of the template: identity, boundary, trust and key policies."""
    for name, resource in template["Resources"].items():
        properties = resource.get("Properties", {})
        for field in ("PolicyDocument", "AssumeRolePolicyDocument", "KeyPolicy"):
            if field in properties:
                yield f"{name}.{field}", properties[field]
        for policy in properties.get("Policies", []):
            yield f"{name}.{policy['PolicyName']}", policy["PolicyDocument"]
