"""infra/stacks/ci.py: who may assume the deploy role, and what it may touch."""

from __future__ import annotations

import re

from infra import naming
from infra.stacks import ci
from tests.infra.stacks.helpers import as_list, body, policy_documents, props, settings, statements

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
