"""Is a stack already exactly what we are about to deploy? Then no change set is needed.

Compares what CloudFormation reports (DescribeStacks, GetTemplate) with a new request:
tags, parameter values (template defaults filled in) and the template body as sent.
"""

from __future__ import annotations

import json

import yaml

from infra.stacks import template_yaml


def same_tags(stack: dict, tags: dict[str, str]) -> bool:
    return {item["Key"]: item["Value"] for item in stack.get("Tags") or []} == tags


def same_parameters(stack: dict, template_body: str, parameters: dict[str, str]) -> bool:
    """The stack's parameter values equal the new ones, defaults of the new template
    included. A NoEcho value reads "****" and so never matches: a change set decides."""
    current = {
        item["ParameterKey"]: item.get("ParameterValue", "")
        for item in stack.get("Parameters") or []
    }
    return current == parameter_defaults(template_body) | parameters


def same_template(deployed_body: str | dict, body: str) -> bool:
    """GetTemplate returns YAML as text and (botocore decodes it) JSON as a dict."""
    if isinstance(deployed_body, dict):
        try:
            return json.loads(body) == deployed_body
        except ValueError:
            return False
    return deployed_body == body


def parameter_defaults(body: str) -> dict[str, str]:
    """Parameter defaults of a template, as the strings DescribeStacks reports.

    Read as text: every scalar stays a string (`true`, not True), as CloudFormation reports.
    """
    try:
        template = template_yaml.load(body, text=True)
    except yaml.YAMLError:
        return {}
    parameters = template.get("Parameters") or {}
    return {
        key: str(spec["Default"])
        for key, spec in parameters.items()
        if isinstance(spec, dict) and "Default" in spec
    }
