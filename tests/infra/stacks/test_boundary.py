"""infra/stacks/boundary.py, the permissions boundary (policy gif-workload-boundary in the ci
stack), and its use: every role of every env stack has it; under it each role can still do all
that its own policies grant (for the AWS managed policies: moto's copy of AWS's documents);
it grants nothing that changes IAM; it can't be edited or removed from under it.

Judged with tests/infra/stacks/policy_eval.py (Deny wins, then Allow) on the built templates.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest
from moto.iam.aws_managed_policies import aws_managed_policies_data

from infra.core import naming
from infra.stacks import boundary, ci, ci_permissions, cluster, database, network, workload
from tests.infra.stacks.helpers import ENVS, as_list, body, of_type, settings, statements
from tests.infra.stacks.policy_eval import ACCOUNT, REGION, allows, decide, resolve

ENV_BUILDERS = (network, database, cluster, workload)
BOUNDARY_ARN = f"arn:aws:iam::{ACCOUNT}:policy/gif-workload-boundary"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/gif-prod-app"
# Every resource the stacks create carries the project tag (tested per stack).
TAGGED = {f"aws:ResourceTag/{naming.TAG_PROJECT}": "gif"}
KEY_ARN = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/0123abcd-4567-89ef-0123-456789abcdef"
# What the env stacks' wired parameters look like when deployed (checked against their patterns).
EXAMPLE_INPUTS = {
    "DatabaseResourceId": "db-ABCDEFGHIJKLMNOPQRSTUVWXY0",
    "DatabaseMasterSecretArn": (
        f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:rds!db-0123abcd-4567-89ef-AbCdEf"
    ),
    "DatabaseKmsKeyArn": KEY_ARN,
}


def the_boundary() -> dict:
    policy = body(ci.build(settings("prod")))["Resources"]["WorkloadBoundary"]
    assert policy["Type"] == "AWS::IAM::ManagedPolicy"
    assert policy["Properties"]["ManagedPolicyName"] == naming.boundary_policy_name("gif")
    return policy["Properties"]["PolicyDocument"]


def env_templates(env: str) -> Iterator[tuple[str, dict]]:
    for builder in ENV_BUILDERS:
        yield builder.__name__.rsplit(".", 1)[-1], body(builder.build(settings(env)))


def env_roles(env: str) -> Iterator[tuple[str, str, dict, dict]]:
    """(stack, logical ID, role, template) for every IAM role of an environment's stacks."""
    for stack, template in env_templates(env):
        for logical_id, role in of_type(template, "AWS::IAM::Role").items():
            yield stack, logical_id, role, template


def _context(statement: dict) -> dict[str, str]:
    """A request that meets the statement's own conditions (the role's policy allows it only
    then), to the project's tagged resources."""
    context = dict(TAGGED)
    for tests in statement.get("Condition", {}).values():
        context.update({key: resolve(as_list(value)[0]) for key, value in tests.items()})
    return context


@pytest.mark.parametrize("env", ENVS)
def test_every_role_of_every_env_stack_is_under_the_boundary(env):
    roles = {(stack, logical_id): role for stack, logical_id, role, _ in env_roles(env)}
    assert set(roles) == {
        ("network", "FlowLogRole"),
        ("database", "MonitoringRole"),
        ("cluster", "ClusterRole"),
        ("cluster", "NodeRole"),
        ("workload", "AppRole"),
        ("workload", "MigrateRole"),
    }
    for where, role in roles.items():
        assert resolve(role["Properties"].get("PermissionsBoundary", "")) == BOUNDARY_ARN, where
    # No other IAM identity or policy resource that could sidestep the boundary.
    for stack, template in env_templates(env):
        kinds = {
            r["Type"] for r in template["Resources"].values() if r["Type"].startswith("AWS::IAM")
        }
        assert kinds <= {"AWS::IAM::Role", "AWS::IAM::OIDCProvider"}, (stack, kinds)


def _attached_managed_policies() -> set[str]:
    names = set()
    for env in ENVS:
        for _, _, role, _ in env_roles(env):
            for arn in role["Properties"].get("ManagedPolicyArns", []):
                names.add(resolve(arn).split(":policy/", 1)[1])
    return names


def _concrete_managed(resource: str) -> str:
    """An AWS managed policy's resource as one request of this account would name it."""
    if resource == "*":
        return "*"  # only a "*" in the boundary lets all of it through
    parts = resource.split(":", 5)
    parts[3] = REGION if parts[3] == "*" else parts[3]
    parts[4] = ACCOUNT if parts[4] == "*" else parts[4]
    return ":".join(parts).replace("*", "x")


def test_the_boundary_lets_the_aws_managed_policies_do_all_they_grant():
    policies = json.loads(aws_managed_policies_data)
    attached = _attached_managed_policies()
    assert attached == set(
        ci_permissions.ATTACHABLE_POLICIES
    )  # the deploy role may attach exactly these
    document = the_boundary()
    for name in sorted(attached):
        aws_document = policies[name.rsplit("/", 1)[-1]]["Document"]
        for statement in statements(aws_document):
            assert statement["Effect"] == "Allow"
            for action in as_list(statement["Action"]):
                for resource in as_list(statement["Resource"]):
                    request = _concrete_managed(resource)
                    assert allows(document, action, request, _context(statement)), (
                        f"{name} grants {action} on {resource}, the boundary cuts it"
                    )


def test_the_boundary_grants_on_star_only_what_aws_managed_policies_grant_on_star():
    policies = json.loads(aws_managed_policies_data)
    aws_star = {
        (action, json.dumps(statement.get("Condition", {}), sort_keys=True))
        for name in ci_permissions.ATTACHABLE_POLICIES
        for statement in statements(policies[name.rsplit("/", 1)[-1]]["Document"])
        if "*" in as_list(statement["Resource"])
        for action in as_list(statement["Action"])
    }
    star_statements = 0
    for statement in statements(the_boundary()):
        if statement["Effect"] == "Allow" and "*" in as_list(statement["Resource"]):
            assert as_list(statement["Resource"]) == ["*"]
            condition = json.dumps(statement.get("Condition", {}), sort_keys=True)
            for action in as_list(statement["Action"]):
                assert (action, condition) in aws_star or (action, "{}") in aws_star, (
                    f"{statement['Sid']}: {action} on * is not an AWS managed policy's grant"
                )
            star_statements += 1
    assert star_statements == 3


def _concrete(value, template: dict) -> str:
    """A role policy's resource as deployed, with example values for wired parameters."""
    if isinstance(value, dict) and set(value) == {"Ref"}:
        return EXAMPLE_INPUTS[value["Ref"]]
    if isinstance(value, dict) and set(value) == {"Fn::GetAtt"}:
        logical_id, attribute = value["Fn::GetAtt"]
        target = template["Resources"][logical_id]
        assert attribute == "Arn"
        assert {"Key": naming.TAG_PROJECT, "Value": "gif"} in target["Properties"]["Tags"]
        if target["Type"] == "AWS::KMS::Key":
            return KEY_ARN
        if target["Type"] == "AWS::Logs::LogGroup":
            name = target["Properties"]["LogGroupName"]
            return f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{name}:*"
        pytest.fail(f"no example ARN for {target['Type']}")
    if isinstance(value, dict) and set(value) == {"Fn::Sub"}:
        text, variables = value["Fn::Sub"] if isinstance(value["Fn::Sub"], list) else (value, {})
        names = {**EXAMPLE_INPUTS, **{k: _concrete(v, template) for k, v in variables.items()}}
        return resolve(text if isinstance(text, dict) else {"Fn::Sub": text}, names)
    return resolve(value)


@pytest.mark.parametrize("env", ENVS)
def test_under_the_boundary_each_role_can_do_all_its_own_policies_say(env):
    document = the_boundary()
    checked = 0
    for stack, logical_id, role, template in env_roles(env):
        for policy in role["Properties"].get("Policies", []):
            for statement in statements(policy["PolicyDocument"]):
                for action in as_list(statement["Action"]):
                    for resource in as_list(statement["Resource"]):
                        request = _concrete(resource, template)
                        context = {**_context(statement), "aws:PrincipalArn": _arn(role)}
                        assert allows(document, action, request, context), (
                            f"{stack} {logical_id}: {action} on {request} is cut by the boundary"
                        )
                        checked += 1
    assert checked >= 10


def _arn(role: dict) -> str:
    return f"arn:aws:iam::{ACCOUNT}:role/{role['Properties']['RoleName']}"


@pytest.mark.parametrize("env", ENVS)
def test_only_the_migrate_role_can_read_the_master_secret(env):
    """Issue 13 defect 6: the boundary let every role under it read RDS master secrets. Now the
    boundary itself admits only the migrate roles, whatever a role's own policies say (a role
    that grants itself secretsmanager:* is still refused)."""
    document = the_boundary()
    secret = EXAMPLE_INPUTS["DatabaseMasterSecretArn"]
    readers = []
    for stack, logical_id, role, _ in env_roles(env):
        context = {"aws:PrincipalArn": _arn(role), **TAGGED}
        if allows(document, "secretsmanager:GetSecretValue", secret, context):
            readers.append((stack, logical_id))
    assert readers == [("workload", "MigrateRole")]
    # Any other role of the project, e.g. one a template adds under the boundary:
    other = {"aws:PrincipalArn": f"arn:aws:iam::{ACCOUNT}:role/gif-{env}-reader"}
    assert not allows(document, "secretsmanager:GetSecretValue", secret, other)
    assert not allows(document, "secretsmanager:GetSecretValue", secret, {})


@pytest.mark.parametrize("env", ENVS)
def test_example_inputs_fit_the_workload_parameters(env):
    parameters = body(workload.build(settings(env)))["Parameters"]
    for name, example in EXAMPLE_INPUTS.items():
        assert re.fullmatch(parameters[name]["AllowedPattern"], example), name


@pytest.mark.parametrize(
    ("action", "resource", "context"),
    [
        # Nothing that changes IAM: no role, user, policy or trust.
        ("iam:CreateRole", ROLE_ARN, {"iam:PermissionsBoundary": BOUNDARY_ARN}),
        ("iam:PutRolePolicy", ROLE_ARN, {}),
        ("iam:AttachRolePolicy", ROLE_ARN, {}),
        ("iam:UpdateAssumeRolePolicy", ROLE_ARN, {}),
        ("iam:CreateUser", f"arn:aws:iam::{ACCOUNT}:user/someone", {}),
        ("iam:CreateAccessKey", f"arn:aws:iam::{ACCOUNT}:user/someone", {}),
        ("iam:CreatePolicyVersion", f"arn:aws:iam::{ACCOUNT}:policy/other", {}),
        ("iam:PassRole", ROLE_ARN, {}),
        ("sts:AssumeRole", f"arn:aws:iam::{ACCOUNT}:role/admin", {}),
        # Service-linked roles of the load balancers only.
        ("iam:CreateServiceLinkedRole", "*", {"iam:AWSServiceName": "rds.amazonaws.com"}),
        # Data: only RDS-managed secrets, only project keys, only the app user, only own logs.
        ("s3:GetObject", "arn:aws:s3:::some-bucket/key", {}),
        (
            "secretsmanager:GetSecretValue",
            f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:prod/other-AbCdEf",
            TAGGED,
        ),
        ("kms:Decrypt", KEY_ARN, {f"aws:ResourceTag/{naming.TAG_PROJECT}": "other"}),
        ("kms:Decrypt", KEY_ARN, {}),
        ("kms:Decrypt", "arn:aws:kms:eu-west-1:999999999999:key/x", TAGGED),
        ("rds-db:connect", f"arn:aws:rds-db:{REGION}:{ACCOUNT}:dbuser:db-ABC/gifadmin", {}),
        ("logs:PutLogEvents", f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/other/x:*", {}),
        ("logs:DeleteLogGroup", f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/gif/prod/x:*", {}),
    ],
)
def test_the_boundary_refuses_what_no_env_role_needs(action, resource, context):
    assert not allows(the_boundary(), action, resource, context)


def test_the_boundary_denies_editing_itself_and_removing_or_swapping_boundaries():
    document = the_boundary()
    for action in boundary.POLICY_EDIT_ACTIONS:
        assert decide(document, action, BOUNDARY_ARN) == "Deny", action
    for action in boundary.BOUNDARY_REMOVAL_ACTIONS:
        assert decide(document, action, ROLE_ARN) == "Deny", action
    other = {"iam:PermissionsBoundary": f"arn:aws:iam::{ACCOUNT}:policy/AdministratorAccess"}
    assert decide(document, "iam:PutRolePermissionsBoundary", ROLE_ARN, other) == "Deny"
    assert decide(document, "iam:PutUserPermissionsBoundary", ROLE_ARN, other) == "Deny"
    # The same request with this boundary is not denied (just not granted): the check can tell.
    same = {"iam:PermissionsBoundary": BOUNDARY_ARN}
    assert decide(document, "iam:PutRolePermissionsBoundary", ROLE_ARN, same) == "NoMatch"
    # Explicit denies hold even beside a policy that allows everything.
    with_admin = {
        "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}, *document["Statement"]]
    }
    assert decide(with_admin, "iam:CreatePolicyVersion", BOUNDARY_ARN) == "Deny"
    assert decide(with_admin, "iam:DeleteRolePermissionsBoundary", ROLE_ARN) == "Deny"
    assert decide(with_admin, "iam:CreatePolicyVersion", f"{BOUNDARY_ARN}-2") == "Allow"


def test_the_boundary_is_account_wide_and_fits_iams_size_limit():
    document = the_boundary()
    text = json.dumps(document, separators=(",", ":"))
    # Env stacks may live in any region: no regional ARN in the boundary pins one.
    assert "${AWS::Region}" not in text
    # As IAM stores it (Fn::Sub resolved, no whitespace): within its 6,144-character limit.
    deployed = re.sub(r'\{"Fn::Sub":"([^"]*)"\}', lambda m: f'"{resolve(m.group(1))}"', text)
    assert "Fn::" not in deployed
    assert len(deployed) <= 6144
