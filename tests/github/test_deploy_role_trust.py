"""The ci stack's GitHub roles (assumed by .github/workflows/deploy.yml through GitHub OIDC):
the deploy role trusts only this repository's `production` environment (job `deploy`), the
image role only its master branch (job `image`).

Checked on the committed template (templates/shared/ci.yaml, what `invoke bootstrap` deploys)
and on infra.stacks.ci.build with another repository (the trust follows the settings), by
evaluating the trust policy's conditions against the claims GitHub puts in its OIDC tokens.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from cfnlint.decode import decode

from infra.core import naming
from infra.settings import params

ROOT = Path(__file__).resolve().parents[2]
COMMITTED = ROOT / "templates" / "shared" / f"{naming.CI}.yaml"
ISSUER = "token.actions.githubusercontent.com"
ASSUME = "sts:AssumeRoleWithWebIdentity"


def _committed() -> dict:
    template, errors = decode(str(COMMITTED))
    assert not errors, errors
    return template


def _built(repository: str, **ci_settings) -> dict:
    from infra.stacks import ci

    prod = params.load("prod")
    update = {"github_repository": repository, **ci_settings}
    settings = prod.model_copy(update={"ci": prod.ci.model_copy(update=update)})
    return ci.build(settings).to_dict()


def _deploy_role(template: dict, output_key=naming.Outputs.DEPLOY_ROLE_ARN) -> tuple[str, dict]:
    """The role the DeployRoleArn (or another) output names."""
    output = template["Outputs"][output_key]["Value"]
    target = output["Fn::GetAtt"]  # ["Role", "Arn"], or "Role.Arn" in short form
    logical_id = target[0] if isinstance(target, list) else target.split(".")[0]
    role = template["Resources"][logical_id]
    assert role["Type"] == "AWS::IAM::Role"
    return logical_id, role


def _as_list(value) -> list:
    return value if isinstance(value, list) else [value]


def _like(pattern: str, value: str) -> bool:
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value) is not None


def _resolve(value, parameters: dict) -> str:
    """A condition value as deployed: parameters take their defaults (the engine passes only
    wired outputs, see CONTRACTS), `Fn::Sub` and `Ref` of them resolved."""
    if isinstance(value, str):
        return value
    if set(value) == {"Ref"}:
        return parameters[value["Ref"]]["Default"]
    if set(value) == {"Fn::Sub"} and isinstance(value["Fn::Sub"], str):
        return re.sub(r"\$\{(\w+)\}", lambda m: parameters[m.group(1)]["Default"], value["Fn::Sub"])
    pytest.fail(f"trust policy condition value this test can't resolve: {value!r}")


def _passes(operator: str, expected: dict, claims: dict[str, str], parameters: dict) -> bool:
    for key, allowed in expected.items():
        claim = claims.get(key)
        if claim is None:
            return False
        allowed = [_resolve(value, parameters) for value in _as_list(allowed)]
        if operator in ("StringEquals", "ForAnyValue:StringEquals"):
            ok = claim in allowed
        elif operator in ("StringLike", "ForAnyValue:StringLike"):
            ok = any(_like(pattern, claim) for pattern in allowed)
        else:
            pytest.fail(f"trust policy uses condition operator {operator!r} this test can't judge")
        if not ok:
            return False
    return True


def _admits(role: dict, sub: str, aud: str = "sts.amazonaws.com", parameters=None) -> bool:
    """Whether an OIDC token with these claims may assume the role."""
    claims = {f"{ISSUER}:sub": sub, f"{ISSUER}:aud": aud}
    parameters = parameters or {}
    for statement in role["Properties"]["AssumeRolePolicyDocument"]["Statement"]:
        if statement["Effect"] != "Allow" or ASSUME not in _as_list(statement["Action"]):
            continue
        conditions = statement.get("Condition", {})
        if all(_passes(op, want, claims, parameters) for op, want in conditions.items()):
            return True
    return False


def _check_github_provider(federated, template: dict) -> None:
    """The federated principal is GitHub's OIDC provider, whichever way the stack names it:
    the provider it creates, or (Fn::If) the account's existing one given as a parameter."""
    if isinstance(federated, str):
        assert federated.endswith(f":oidc-provider/{ISSUER}"), federated
    elif "Fn::If" in federated:
        _, when_true, when_false = federated["Fn::If"]
        _check_github_provider(when_true, template)
        _check_github_provider(when_false, template)
    elif federated["Ref"] in template["Resources"]:
        provider = template["Resources"][federated["Ref"]]
        assert provider["Type"] == "AWS::IAM::OIDCProvider"
        assert provider["Properties"]["Url"] == f"https://{ISSUER}"
        assert "sts.amazonaws.com" in provider["Properties"]["ClientIdList"]
    else:
        # A parameter: its pattern admits GitHub's provider ARN and no other provider.
        pattern = template["Parameters"][federated["Ref"]]["AllowedPattern"]
        assert re.fullmatch(pattern, f"arn:aws:iam::123456789012:oidc-provider/{ISSUER}")
        assert not re.fullmatch(pattern, "arn:aws:iam::123456789012:oidc-provider/evil.example")
        assert not re.fullmatch(pattern, "arn:aws:iam::123456789012:role/admin")


def _check_trust(template: dict, repository: str) -> None:
    parameters = template.get("Parameters", {})
    master = f"repo:{repository}:ref:refs/heads/master"
    production = f"repo:{repository}:environment:production"
    for output_key, admitted, other in (
        (naming.Outputs.DEPLOY_ROLE_ARN, production, master),  # job `deploy`
        (naming.Outputs.IMAGE_ROLE_ARN, master, production),  # job `image`
    ):
        _, role = _deploy_role(template, output_key)
        _check_one_subject(role, template, repository, admitted, other, parameters)


def _check_one_subject(role, template, repository, admitted, other, parameters) -> None:
    statements = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    # Only GitHub's OIDC provider may assume the role, only with web identity.
    for statement in statements:
        assert statement["Effect"] == "Allow"
        assert _as_list(statement["Action"]) == [ASSUME]
        assert set(statement["Principal"]) == {"Federated"}
        _check_github_provider(statement["Principal"]["Federated"], template)
        # Both the audience and the subject are pinned in every statement.
        keys = {key for expected in statement.get("Condition", {}).values() for key in expected}
        assert {f"{ISSUER}:aud", f"{ISSUER}:sub"} <= keys

    assert _admits(role, admitted, parameters=parameters)
    owner, name = repository.split("/")
    for refused in (
        other,
        f"repo:{repository}:ref:refs/heads/feature",
        f"repo:{repository}:ref:refs/heads/master-old",
        f"repo:{repository}:ref:refs/tags/v1",
        f"repo:{repository}:pull_request",
        f"repo:{repository}:environment:staging",
        f"repo:{repository}:environment:production-2",
        f"repo:{owner}/{name}-fork:ref:refs/heads/master",
        f"repo:{owner}-evil/{name}:environment:production",
        "repo:someone/else:ref:refs/heads/master",
    ):
        assert not _admits(role, refused, parameters=parameters), refused
    assert not _admits(role, admitted, aud="https://github.com/" + owner, parameters=parameters)


def test_committed_ci_template_trusts_only_master_and_production():
    template = _committed()
    repository = params.load("prod").ci.github_repository
    if not repository:  # unset in the shipped params: bootstrap refuses it; test with one
        repository = "acme/widgets"
        assert template["Parameters"]["GitHubRepository"]["Default"] == ""
        template["Parameters"]["GitHubRepository"]["Default"] = repository
    _check_trust(template, repository)


@pytest.mark.parametrize("repository", ["acme/widgets", "Other-Org/gif.stack"])
def test_trust_follows_the_configured_repository(repository):
    _check_trust(_built(repository), repository)


def test_trust_with_the_accounts_existing_github_provider():
    existing = f"arn:aws:iam::111122223333:oidc-provider/{ISSUER}"
    template = _built("acme/widgets", existing_oidc_provider_arn=existing)
    assert template["Parameters"]["ExistingGitHubOidcProviderArn"]["Default"] == existing
    _check_trust(template, "acme/widgets")


def test_the_evaluator_can_refuse():
    # The checks above can fail: a policy with a wildcard subject admits a feature branch.
    role = {
        "Properties": {
            "AssumeRolePolicyDocument": {
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": ASSUME,
                        "Principal": {"Federated": "arn"},
                        "Condition": {
                            "StringEquals": {f"{ISSUER}:aud": "sts.amazonaws.com"},
                            "StringLike": {f"{ISSUER}:sub": "repo:acme/widgets:*"},
                        },
                    }
                ]
            }
        }
    }
    assert _admits(role, "repo:acme/widgets:ref:refs/heads/feature")
    template = {
        "Resources": {"Role": {"Type": "AWS::IAM::Role", **role}},
        "Outputs": {naming.Outputs.DEPLOY_ROLE_ARN: {"Value": {"Fn::GetAtt": ["Role", "Arn"]}}},
    }
    with pytest.raises(AssertionError):
        _check_trust(template, "acme/widgets")


def test_deploy_job_sessions_fit_the_roles_max_session_duration():
    # configure-aws-credentials fails when it asks for more than the role allows.
    _, role = _deploy_role(_committed())
    allowed = role["Properties"].get("MaxSessionDuration", 3600)
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "deploy.yml").read_text())
    asked = [
        step["with"].get("role-duration-seconds", 3600)
        for job in workflow["jobs"].values()
        for step in job["steps"]
        if step.get("uses", "").startswith("aws-actions/configure-aws-credentials@")
    ]
    assert asked and all(seconds <= allowed for seconds in asked)
    assert max(asked) >= 7200  # a first prod deploy takes over an hour
