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
