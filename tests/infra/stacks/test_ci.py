"""infra/stacks/ci.py: who may assume each CI role, and what each may do.

- execution role (gif-ci-cloudformation): CloudFormation of this account only; provisions the
  env stacks (its handler permissions: test_handler_permissions.py); the only CI role that
  writes IAM, and only gif-<env>-* roles under the permissions boundary;
- deploy role (gif-ci-deploy): the GitHub environment `production` only; change sets with the
  execution role, no IAM writes, nothing on the shared stacks;
- image role (gif-ci-image): the default branch only; push to the ECR repository, nothing else.
"""

from __future__ import annotations

import json
import re

import pytest
from policy_sentry.querying.actions import get_actions_with_access_level

from infra.core import naming
from infra.stacks import ci
from tests.infra.stacks import iam_catalogue as catalogue
from tests.infra.stacks.helpers import as_list, body, of_type, props, settings, statements
from tests.infra.stacks.policy_eval import ACCOUNT, REGION, decide, decide_all, resolve

GITHUB = "token.actions.githubusercontent.com"
ROLES = ("ExecutionRole", "DeployRole", "ImageRole")
BOUNDARY = f"arn:aws:iam::{ACCOUNT}:policy/gif-workload-boundary"
EXECUTION = f"arn:aws:iam::{ACCOUNT}:role/gif-ci-cloudformation"
ENV_ROLE = f"arn:aws:iam::{ACCOUNT}:role/gif-prod-app"
ENV_STACK = f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/gif-prod-network/0123"


def built() -> dict:
    return body(ci.build(settings("prod")))


def documents(template: dict, role: str) -> list[dict]:
    return [catalogue.resolved(d, template) for d in catalogue.role_documents(template, role)]


def with_defaults(value, template: dict) -> str:
    """A Fn::Sub string with the template's parameter defaults filled in."""
    text = value["Fn::Sub"] if isinstance(value, dict) else value
    for name, parameter in template["Parameters"].items():
        text = text.replace(f"${{{name}}}", str(parameter.get("Default", "")))
    return text


def subjects(template: dict, role: str) -> list[str]:
    (trust,) = statements(props(template, role)["AssumeRolePolicyDocument"])
    assert trust["Action"] == ["sts:AssumeRoleWithWebIdentity"]
    assert set(trust["Condition"]) == {"StringEquals"}  # no StringLike wildcards
    condition = trust["Condition"]["StringEquals"]
    assert condition[f"{GITHUB}:aud"] == "sts.amazonaws.com"
    return [with_defaults(s, template) for s in as_list(condition[f"{GITHUB}:sub"])]


def test_the_deploy_role_trusts_only_the_production_environment_and_the_image_role_master():
    template = built()
    ci_settings = settings("prod").ci
    repo = ci_settings.github_repository
    assert subjects(template, "DeployRole") == [
        f"repo:{repo}:environment:{ci_settings.environment}"
    ]
    assert subjects(template, "ImageRole") == [
        f"repo:{repo}:ref:refs/heads/{ci_settings.default_branch}"
    ]
    assert props(template, "GitHubOidcProvider")["Url"] == f"https://{GITHUB}"


def test_the_execution_role_trusts_only_cloudformation_of_this_account():
    (trust,) = statements(props(built(), "ExecutionRole")["AssumeRolePolicyDocument"])
    assert trust["Principal"] == {"Service": "cloudformation.amazonaws.com"}
    assert trust["Action"] == ["sts:AssumeRole"]
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}


def test_outputs_and_names():
    template = built()
    for key, logical_id, role in (
        (naming.Outputs.DEPLOY_ROLE_ARN, "DeployRole", naming.DEPLOY_ROLE),
        (naming.Outputs.EXECUTION_ROLE_ARN, "ExecutionRole", naming.EXECUTION_ROLE),
        (naming.Outputs.IMAGE_ROLE_ARN, "ImageRole", naming.IMAGE_ROLE),
    ):
        assert template["Outputs"][key]["Value"] == {"Fn::GetAtt": [logical_id, "Arn"]}
        assert props(template, logical_id)["RoleName"] == naming.ci_role_name("gif", role)
    assert naming.ci_role_name("gif", naming.EXECUTION_ROLE) == EXECUTION.split("/")[-1]


# Every IAM write IAM's catalogue knows (policy-sentry), the ones that can create or widen an
# identity or its trust first among them.
IAM_WRITES = sorted(
    f"iam:{action.split(':')[1]}"
    for level in ("Write", "Permissions management", "Tagging")
    for action in get_actions_with_access_level("iam", level)
)


@pytest.mark.parametrize("role", ["DeployRole", "ImageRole"])
def test_the_deploy_and_image_roles_write_no_iam_at_all(role):
    docs = documents(built(), role)
    for action in IAM_WRITES:
        for resource in (ENV_ROLE, f"arn:aws:iam::{ACCOUNT}:role/anything", "*"):
            assert decide_all(docs, action, resource) != "Allow", (role, action)
    # ... and the trust writers are denied outright, whatever a later Allow says.
    for action in ("iam:CreateRole", "iam:UpdateAssumeRolePolicy", "iam:PutRolePolicy"):
        assert decide_all(docs, action, ENV_ROLE) == "Deny", (role, action)


def test_trust_policies_are_written_only_by_the_execution_role():
    """Issue 13 defect 6: the deploy path could create gif-* roles and rewrite their trust.
    Only CloudFormation (as the execution role) writes a trust policy now; a CI session can
    only hand the execution role to CloudFormation."""
    template = built()
    context = {"iam:PermissionsBoundary": BOUNDARY}
    writers = {
        role
        for role in ROLES
        for action in ("iam:CreateRole", "iam:UpdateAssumeRolePolicy")
        if decide_all(documents(template, role), action, ENV_ROLE, context) == "Allow"
    }
    assert writers == {"ExecutionRole"}
    # The execution role can't reach the CI roles (their trust stays the bootstrap's).
    execution = documents(template, "ExecutionRole")
    for name in ("gif-ci-deploy", "gif-ci-image", "gif-ci-cloudformation", "gif-ci-new"):
        role = f"arn:aws:iam::{ACCOUNT}:role/{name}"
        for action in ("iam:CreateRole", "iam:UpdateAssumeRolePolicy", "iam:PutRolePolicy"):
            assert decide_all(execution, action, role, context) != "Allow", (name, action)


def test_the_deploy_role_passes_only_the_execution_role_and_only_to_cloudformation():
    docs = documents(built(), "DeployRole")
    cfn = {"iam:PassedToService": "cloudformation.amazonaws.com"}
    assert decide_all(docs, "iam:PassRole", EXECUTION, cfn) == "Allow"
    assert (
        decide_all(docs, "iam:PassRole", EXECUTION, {"iam:PassedToService": "ec2.amazonaws.com"})
        != "Allow"
    )
    assert decide_all(docs, "iam:PassRole", EXECUTION, {}) != "Allow"
    for other in (ENV_ROLE, f"arn:aws:iam::{ACCOUNT}:role/gif-ci-deploy"):
        assert decide_all(docs, "iam:PassRole", other, cfn) != "Allow"


def test_change_sets_only_with_the_execution_role_and_no_imports():
    docs = documents(built(), "DeployRole")
    good = {"cloudformation:RoleArn": EXECUTION}
    for action in ("cloudformation:CreateChangeSet", "cloudformation:DeleteStack"):
        assert decide_all(docs, action, ENV_STACK, good) == "Allow"
        assert decide_all(docs, action, ENV_STACK, {}) != "Allow"  # the caller's credentials
        other = {"cloudformation:RoleArn": f"arn:aws:iam::{ACCOUNT}:role/admin"}
        assert decide_all(docs, action, ENV_STACK, other) != "Allow"
    importing = {**good, "cloudformation:ImportResourceTypes": "AWS::KMS::Key"}
    assert decide_all(docs, "cloudformation:CreateChangeSet", ENV_STACK, importing) != "Allow"
    assert decide_all(docs, "cloudformation:ExecuteChangeSet", ENV_STACK) == "Allow"


@pytest.mark.parametrize("stack", ["gif-ci", "gif-registry", "other-stack"])
def test_no_ci_role_may_change_the_shared_stacks(stack):
    template = built()
    arn = f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/{stack}/0123"
    good = {"cloudformation:RoleArn": EXECUTION}
    for role in ROLES:
        docs = documents(template, role)
        for action in ("CreateChangeSet", "ExecuteChangeSet", "DeleteStack", "SetStackPolicy"):
            assert decide_all(docs, f"cloudformation:{action}", arn, good) != "Allow"


def test_the_deploy_role_can_do_what_the_engine_calls():
    docs = documents(built(), "DeployRole")
    repository = (
        f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/{settings('prod').app.image_repository}"
    )
    for action, resource in (
        (
            "cloudformation:DescribeStacks",
            f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/gif-ci/1",
        ),
        (
            "cloudformation:DescribeStacks",
            f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/gif-registry/1",
        ),
        ("cloudformation:GetTemplate", ENV_STACK),
        ("cloudformation:SetStackPolicy", ENV_STACK),
        ("ecr:DescribeImages", repository),
        ("eks:DescribeCluster", f"arn:aws:eks:{REGION}:{ACCOUNT}:cluster/gif-prod"),
    ):
        assert decide_all(docs, action, resource) == "Allow", action
    # It provisions nothing itself: CloudFormation does, as the execution role.
    for action, resource in (
        ("ec2:CreateVpc", f"arn:aws:ec2:{REGION}:{ACCOUNT}:vpc/vpc-1"),
        ("rds:CreateDBInstance", f"arn:aws:rds:{REGION}:{ACCOUNT}:db:gif-prod"),
        ("eks:CreateCluster", "*"),
        ("ecr:PutImage", repository),
    ):
        assert decide_all(docs, action, resource, {"aws:RequestTag/project": "gif"}) != "Allow"


def test_the_image_role_only_pushes_to_the_repository():
    template = built()
    repository = (
        f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/{settings('prod').app.image_repository}"
    )
    allowed = {
        (action, resource)
        for document in documents(template, "ImageRole")
        for statement in statements(document)
        if statement["Effect"] == "Allow"
        for action in as_list(statement["Action"])
        for resource in statement["Resource"]
    }
    assert allowed == {("ecr:GetAuthorizationToken", "*")} | {
        (f"ecr:{a}", repository)
        for a in (
            "BatchCheckLayerAvailability",
            "InitiateLayerUpload",
            "UploadLayerPart",
            "CompleteLayerUpload",
            "PutImage",
            "BatchGetImage",
            "DescribeImages",
        )
    }


def test_every_statement_says_why_it_exists():
    for resource in built()["Resources"].values():
        document = resource.get("Properties", {}).get("PolicyDocument")
        for statement in statements(document) if document else []:
            assert statement.get("Sid"), resource


def test_each_managed_policy_fits_iams_size_limit():
    """6,144 characters per managed policy as IAM stores it (no whitespace, Fn::Sub resolved);
    at most 10 managed policies per role (IAM's default quota)."""
    template = built()
    for name, policy in of_type(template, "AWS::IAM::ManagedPolicy").items():
        text = json.dumps(policy["Properties"]["PolicyDocument"], separators=(",", ":"))
        deployed = re.sub(r'\{"Fn::Sub":"([^"]*)"\}', lambda m: f'"{resolve(m.group(1))}"', text)
        deployed = deployed.replace('{"Ref":"AWS::AccountId"}', f'"{ACCOUNT}"')
        assert "Fn::" not in deployed, name
        assert len(deployed) <= 6144, (name, len(deployed))
    for role in ROLES:
        assert len(catalogue.role_documents(template, role)) <= 10


def test_an_existing_github_provider_is_reused_instead_of_created():
    arn = "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"
    template = body(ci.build(settings("prod", ci={"existing_oidc_provider_arn": arn})))
    assert template["Parameters"]["ExistingGitHubOidcProviderArn"]["Default"] == arn
    assert template["Conditions"]["NeedsGitHubOidcProvider"] == {
        "Fn::Equals": [{"Ref": "ExistingGitHubOidcProviderArn"}, ""]
    }
    assert template["Resources"]["GitHubOidcProvider"]["Condition"] == "NeedsGitHubOidcProvider"


# IAM writes the execution role holds without the boundary condition, because IAM has no
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
    "iam:AddClientIDToOpenIDConnectProvider",
    "iam:RemoveClientIDFromOpenIDConnectProvider",
    # AWS-defined roles of four named services.
    "iam:CreateServiceLinkedRole",
}


def test_every_iam_write_of_the_execution_role_is_conditioned_on_the_boundary():
    template = built()
    expected = {
        "Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:policy/gif-workload-boundary"
    }
    bounded = set()
    for document in catalogue.role_documents(template, "ExecutionRole"):
        for statement in statements(document):
            if statement["Effect"] != "Allow":
                continue
            for action in as_list(statement["Action"]):
                if not action.startswith("iam:") or catalogue.access_level(action) in (
                    "Read",
                    "List",
                ):
                    continue
                if "iam:PermissionsBoundary" in catalogue.condition_keys(action):
                    condition = statement.get("Condition", {}).get("StringEquals", {})
                    assert condition.get("iam:PermissionsBoundary") == expected, action
                    bounded.add(action)
                else:
                    assert action in UNCONDITIONABLE_IAM_WRITES, action
    assert bounded == {
        "iam:CreateRole",
        "iam:PutRolePolicy",
        "iam:DeleteRolePolicy",
        "iam:AttachRolePolicy",
        "iam:DetachRolePolicy",
        "iam:PutRolePermissionsBoundary",
    }
    for action in UNCONDITIONABLE_IAM_WRITES:
        assert "iam:PermissionsBoundary" not in catalogue.condition_keys(action), action


def test_no_ci_role_removes_a_boundary_nor_edits_it_or_the_ci_policies():
    template = built()
    for role in ROLES:
        docs = documents(template, role)
        assert decide_all(docs, "iam:DeleteRolePermissionsBoundary", ENV_ROLE) == "Deny", role
        for action in (
            "iam:CreatePolicyVersion",
            "iam:SetDefaultPolicyVersion",
            "iam:DeletePolicy",
        ):
            assert decide_all(docs, action, BOUNDARY) != "Allow", (role, action)
            ci_policy = f"arn:aws:iam::{ACCOUNT}:policy/gif-ci-deploy"
            assert decide_all(docs, action, ci_policy) != "Allow", (role, action)
    execution = documents(template, "ExecutionRole")
    assert decide(execution[-1], "iam:CreatePolicyVersion", BOUNDARY) == "Deny"
    # Every policy of every CI role is one of the gif-ci-* names the denies cover.
    for name, resource in of_type(template, "AWS::IAM::ManagedPolicy").items():
        if name != "WorkloadBoundary":
            assert resource["Properties"]["ManagedPolicyName"].startswith("gif-ci-"), name


def test_the_env_roles_and_the_execution_role_name_the_same_boundary():
    from infra.stacks import cluster, database, network, workload

    expected = {
        "Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:policy/gif-workload-boundary"
    }
    roles = 0
    for env in ("dev", "prod"):
        for builder in (network, database, cluster, workload):
            for role in of_type(body(builder.build(settings(env))), "AWS::IAM::Role").values():
                assert role["Properties"]["PermissionsBoundary"] == expected
                roles += 1
    assert roles == 12


def test_the_deploy_role_can_restore_into_a_new_instance_and_never_over_one():
    """`invoke restore` (infra/orchestration/restore.py): the snapshots, the live instance,
    the key, a point-in-time restore into a new project instance; no instance modified."""
    docs = documents(built(), "DeployRole")
    rds = f"arn:aws:rds:{REGION}:{ACCOUNT}"
    key = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/0123abcd-4567-89ef-0123-456789abcdef"
    tagged = {"aws:ResourceTag/project": "gif"}
    requested = {"aws:RequestTag/project": "gif"}
    for action, resource, context in (
        ("rds:DescribeDBSnapshots", f"{rds}:snapshot:gif-prod-database-database-1a2b", {}),
        ("rds:DescribeDBSnapshots", f"{rds}:snapshot:rds:gif-prod-2026-12-05-02-10", {}),
        ("rds:DescribeDBInstances", f"{rds}:db:gif-prod", {}),
        ("kms:DescribeKey", key, tagged),
        ("rds:RestoreDBInstanceToPointInTime", f"{rds}:db:gif-prod-pitr-202612050130", requested),
        ("rds:RestoreDBInstanceToPointInTime", f"{rds}:subgrp:gif-prod-db-sg-1a2b", requested),
    ):
        assert decide_all(docs, action, resource, context) == "Allow", (action, resource)
    for action, resource, context in (
        ("rds:RestoreDBInstanceToPointInTime", f"{rds}:db:other-db", requested),
        ("rds:RestoreDBInstanceToPointInTime", f"{rds}:db:gif-prod-pitr-1", {}),  # untagged
        ("kms:DescribeKey", key, {}),  # a key that isn't the project's
        ("rds:ModifyDBInstance", f"{rds}:db:gif-prod", tagged),
        ("rds:DeleteDBInstance", f"{rds}:db:gif-prod", tagged),
        ("rds:RestoreDBInstanceFromDBSnapshot", f"{rds}:db:gif-prod", requested),
    ):
        assert decide_all(docs, action, resource, context) != "Allow", (action, resource)
