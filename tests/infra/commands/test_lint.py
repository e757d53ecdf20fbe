"""infra/commands/lint.py with the real tools (cfn-lint, checkov, cfripper, hadolint): every
template of every environment is clean. Each tool runs once, over all templates plus one known-bad
template, which proves in the same run that the check can fail and that its findings reach us.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from infra.commands import lint
from infra.settings import params

ROOT = Path(__file__).resolve().parents[3]
KNOWN_BAD = "zz-known-bad"
BAD_TEMPLATE = """\
AWSTemplateFormatVersion: '2010-09-09'
Resources:
  OpenRole:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Version: '2012-10-17'
        Statement:
        - {Effect: Allow, Principal: {AWS: '*'}, Action: 'sts:AssumeRole'}
      Policies:
      - PolicyName: everything
        PolicyDocument:
          Version: '2012-10-17'
          Statement:
          - {Effect: Allow, Action: '*', Resource: '*'}
  PublicDatabase:
    Type: AWS::RDS::DBInstance
    Properties:
      Engine: postgres
      EngineVersion: '16.6'
      DBInstanceClass: db.t4g.micro
      AllocatedStorage: '20'
      PubliclyAccessible: true
      MasterUsername: admin
      MasterUserPassword: hunter2hunter2
      Colour: red
"""
BAD_DOCKERFILE = "FROM python\nRUN apt-get update && apt-get install curl\nADD . /app\n"


@pytest.fixture(scope="module")
def targets(tmp_path_factory) -> lint.LintTargets:
    folder = tmp_path_factory.mktemp("lint")
    rendered = lint.render_targets(params.environments(), folder)
    (folder / KNOWN_BAD).mkdir()
    (folder / KNOWN_BAD / "bad.yaml").write_text(BAD_TEMPLATE)
    return rendered


@pytest.fixture(scope="module")
def findings(targets) -> dict[str, list[str]]:
    """Each template check, run once over everything."""
    return {
        check.name: check.run(targets)
        for check in lint.CHECKS
        if check.name in ("cfn-lint", "checkov", "cfripper")
    }


def split(found: list[str]) -> tuple[list[str], list[str]]:
    bad = [f for f in found if KNOWN_BAD in f]
    return bad, [f for f in found if KNOWN_BAD not in f]


def test_every_environment_and_the_shared_stacks_are_linted(targets):
    names = {p.relative_to(targets.template_dir).as_posix() for p in targets.templates}
    for env in params.environments():
        assert {f"{env}/{s}.yaml" for s in ("network", "database", "cluster", "workload")} <= names
    assert {"shared/registry.yaml", "shared/ci.yaml"} <= names
    assert set(targets.regions) == {params.load(env).region for env in params.environments()}


@pytest.mark.parametrize(
    ("tool", "caught"),
    [
        ("cfn-lint", ["E3002"]),  # `Colour` is no DBInstance property (AWS's schema)
        ("checkov", ["CKV_AWS_16", "CKV_AWS_17"]),  # unencrypted, publicly accessible
        ("cfripper", ["FullWildcardPrincipalRule", "IAMRolesOverprivilegedRule"]),
    ],
)
def test_templates_are_clean_and_the_known_bad_one_is_caught(findings, tool, caught):
    bad, ours = split(findings[tool])
    assert ours == [], f"{tool} findings in our templates:\n" + "\n".join(ours)
    for rule in caught:
        assert any(rule in finding for finding in bad), (tool, rule, bad)


def test_checkov_skips_only_in_resource_metadata_with_a_reason(targets):
    for path in targets.templates:
        text = path.read_text()
        assert "skip-check" not in text and "--skip-check" not in text
        if "checkov:" in text:
            assert "comment:" in text, path
    assert "skip-check" not in Path(lint.__file__).read_text()


def test_hadolint_passes_the_dockerfile_and_catches_a_bad_one(tmp_path, targets):
    ours = lint.LintTargets(root=ROOT, template_dir=targets.template_dir, regions=("eu-west-1",))
    assert lint._hadolint(ours) == []
    (tmp_path / "Dockerfile").write_text(BAD_DOCKERFILE)
    theirs = lint.LintTargets(root=tmp_path, template_dir=targets.template_dir, regions=())
    found = lint._hadolint(theirs)
    assert any("DL3020" in f for f in found), found  # ADD instead of COPY


def test_a_missing_tool_is_a_clear_failure_not_a_skip(monkeypatch):
    monkeypatch.setattr(lint.shutil, "which", lambda name: None)
    with pytest.raises(lint.OperationFailed, match="no-such-linter is not installed"):
        lint.tool("no-such-linter")


# The cfripper exceptions (infra/cfripper_filters/) are narrow: the same names with one more
# dangerous action, or a wildcard statement that is not a copy of an AWS managed policy, fail.
WIDENED_CI_TEMPLATE = """\
AWSTemplateFormatVersion: '2010-09-09'
Resources:
  RolesPolicy:
    Type: AWS::IAM::ManagedPolicy
    Properties:
      ManagedPolicyName: gif-ci-deploy-roles
      PolicyDocument:
        Version: '2012-10-17'
        Statement:
        - Sid: ChangeRolePermissionsOnlyUnderTheBoundary
          Effect: Allow
          Action: [iam:AttachRolePolicy, iam:PutRolePolicy, iam:UpdateAssumeRolePolicy,
                   iam:CreatePolicyVersion]
          Resource: arn:aws:iam::123456789012:role/gif-prod-*
  WorkloadBoundary:
    Type: AWS::IAM::ManagedPolicy
    Properties:
      ManagedPolicyName: gif-workload-boundary
      PolicyDocument:
        Version: '2012-10-17'
        Statement:
        - Sid: EksNodes
          Effect: Allow
          Action: [ecr:BatchGetImage]
          Resource: '*'
        - Sid: SomethingElse
          Effect: Allow
          Action: [s3:PutObject]
          Resource: '*'
"""


def test_the_cfripper_exceptions_do_not_cover_more_than_they_say(tmp_path):
    (tmp_path / "shared").mkdir()
    (tmp_path / "shared" / "ci.yaml").write_text(WIDENED_CI_TEMPLATE)
    found = lint._cfripper(lint.LintTargets(root=ROOT, template_dir=tmp_path, regions=()))
    assert any("PrivilegeEscalationRule" in f and "iam:CreatePolicyVersion" in f for f in found)
    wildcard = [f for f in found if "WildcardResourceRule" in f]
    assert any("s3:PutObject" in f for f in wildcard), found
    assert not any("ecr:BatchGetImage" in f for f in wildcard), found  # the copied statement


def test_zizmor_passes_our_workflows_and_catches_the_pip_cache_of_a_publishing_job(tmp_path):
    ours = lint.LintTargets(root=ROOT, template_dir=tmp_path, regions=())
    assert lint._zizmor(ours) == []
    # The workflow as it was: setup-python's pip cache in the job that pushes the image.
    workflows = tmp_path / ".github" / "workflows"
    workflows.mkdir(parents=True)
    workflow = (ROOT / ".github" / "workflows" / "deploy.yml").read_text()
    cached = workflow.replace(
        '          python-version: "3.11"\n',
        '          python-version: "3.11"\n          cache: pip\n',
        1,
    )
    assert cached != workflow
    (workflows / "deploy.yml").write_text(cached)
    found = lint._zizmor(lint.LintTargets(root=tmp_path, template_dir=tmp_path, regions=()))
    assert any("cache-poisoning (high)" in f and "deploy.yml" in f for f in found), found
