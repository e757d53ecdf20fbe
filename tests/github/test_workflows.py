""".github/workflows/*.yml: GitHub's workflow schema (check-jsonschema's built-in copy, offline)
and the project's own rules: pinned actions, timeouts, least-privilege permissions, the prod
deploy's environment, concurrency and image tag.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from infra.orchestration import image
from infra.settings import params

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"
CI = WORKFLOWS / "ci.yml"
DEPLOY = WORKFLOWS / "deploy.yml"
AWS_CREDENTIALS = "aws-actions/configure-aws-credentials"
# deploy.yml's jobs that deploy: the stacks (GitHub-hosted), then the app on the in-VPC runner.
DEPLOY_JOBS = ("stacks", "app")


def load(path: Path) -> dict:
    workflow = yaml.safe_load(path.read_text())
    # YAML 1.1 reads the bare key `on` as True.
    workflow["on"] = workflow.pop(True, workflow.get("on"))
    return workflow


def steps(job: dict) -> list[dict]:
    return job.get("steps", [])


def all_workflows() -> list[Path]:
    return sorted(WORKFLOWS.glob("*.yml")) + sorted(WORKFLOWS.glob("*.yaml"))


def test_both_workflows_exist():
    assert {path.name for path in all_workflows()} >= {"ci.yml", "deploy.yml"}


@pytest.mark.parametrize("path", all_workflows(), ids=lambda path: path.name)
def test_workflow_matches_githubs_schema_check_jsonschema(path):
    result = subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.github-workflows",
         str(path)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


def test_schema_check_rejects_a_broken_workflow(tmp_path):
    # The check above can fail: a job without runs-on/steps is refused by the same schema.
    broken = tmp_path / "broken.yml"
    broken.write_text("on: push\njobs:\n  build:\n    timeout-minutes: 5\n")
    result = subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.github-workflows",
         str(broken)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode != 0


@pytest.mark.parametrize("path", all_workflows(), ids=lambda path: path.name)
def test_every_action_is_pinned_to_a_full_commit_sha_with_its_version(path):
    lines = [line for line in path.read_text().splitlines() if re.match(r"\s*-?\s*uses:", line)]
    assert lines, f"{path.name} uses no actions?"
    for line in lines:
        pinned = re.match(r"\s*-?\s*uses:\s*([\w.-]+/[\w./-]+)@([0-9a-f]{40})\s+#\s*v\d+", line)
        assert pinned, f"{path.name}: not pinned to a 40-hex SHA with '# vX' comment: {line}"
    # The YAML agrees with the lines: no `uses:` hiding in a flow mapping.
    uses = [
        step["uses"] for job in load(path)["jobs"].values() for step in steps(job) if "uses" in step
    ]
    assert len(uses) == len(lines)


def test_one_sha_per_action_across_workflows():
    pins: dict[str, set[str]] = {}
    for path in all_workflows():
        for job in load(path)["jobs"].values():
            for step in steps(job):
                if "uses" in step:
                    action, sha = step["uses"].split("@")
                    pins.setdefault(action, set()).add(sha)
    assert {action: shas for action, shas in pins.items() if len(shas) > 1} == {}


@pytest.mark.parametrize("path", all_workflows(), ids=lambda path: path.name)
def test_every_job_has_a_timeout_and_its_own_permissions(path):
    workflow = load(path)
    assert workflow["permissions"] == {}, "workflow-level default must grant nothing"
    for name, job in workflow["jobs"].items():
        assert isinstance(job.get("timeout-minutes"), int), f"{name}: no timeout-minutes"
        assert 0 < job["timeout-minutes"] <= 180, name
        assert isinstance(job.get("permissions"), dict), f"{name}: no permissions"
        assert job["permissions"].get("contents") == "read", name
        granted = {scope for scope, level in job["permissions"].items() if level == "write"}
        uses_aws = any(step.get("uses", "").startswith(AWS_CREDENTIALS) for step in steps(job))
        # id-token: write only where the job assumes the AWS role; no other write scope.
        assert granted == ({"id-token"} if uses_aws else set()), name


@pytest.mark.parametrize("path", all_workflows(), ids=lambda path: path.name)
def test_no_expression_is_spliced_into_a_shell_script(path):
    # Inputs and event data reach scripts through env: only (no script injection).
    for name, job in load(path)["jobs"].items():
        for step in steps(job):
            assert "${{" not in step.get("run", ""), f"{name}: expression inside run: {step}"


@pytest.mark.parametrize("path", all_workflows(), ids=lambda path: path.name)
def test_aws_access_is_oidc_with_the_role_from_a_repository_variable(path):
    text = path.read_text()
    assert "aws-access-key-id" not in text and "aws-secret-access-key" not in text
    assert "secrets." not in text
    # Each job its own role: the image job pushes (ImageRoleArn), the deploy job deploys.
    roles = {"image": "AWS_IMAGE_ROLE_ARN"} | dict.fromkeys(DEPLOY_JOBS, "AWS_DEPLOY_ROLE_ARN")
    for name, job in load(path)["jobs"].items():
        for step in steps(job):
            if step.get("uses", "").startswith(AWS_CREDENTIALS):
                assert step["with"]["role-to-assume"] == f"${{{{ vars.{roles[name]} }}}}"
                allowed = {
                    "role-to-assume",
                    "role-session-name",
                    "aws-region",
                    "role-duration-seconds",
                }
                assert set(step["with"]) <= allowed


def test_checkout_never_leaves_the_token_behind():
    for path in all_workflows():
        for job in load(path)["jobs"].values():
            for step in steps(job):
                if step.get("uses", "").startswith("actions/checkout@"):
                    assert step["with"]["persist-credentials"] is False


# --- ci.yml --------------------------------------------------------------------------------


def test_ci_runs_on_pull_requests_and_pushes():
    assert set(load(CI)["on"]) == {"pull_request", "push"}


def test_ci_installs_the_lock_and_runs_every_check():
    jobs = load(CI)["jobs"]
    commands = [step.get("run", "") for job in jobs.values() for step in steps(job)]
    script = "\n".join(commands)
    for command in (
        "pip install -r requirements.lock",
        "ruff check .",
        "ruff format --check .",
        "invoke synth --check",
        "invoke lint",
        "invoke audit",
        "sudo apt-get install -y -qq chromium",
        ".ci/run",
    ):
        assert command in script, command
    for job in jobs.values():
        python = [s for s in steps(job) if s.get("uses", "").startswith("actions/setup-python@")]
        assert python and python[0]["with"]["python-version"] == "3.11"


def test_ci_audits_both_lock_files_with_a_pinned_pip_audit(tmp_path, monkeypatch):
    from infra.commands import audit

    job = load(CI)["jobs"]["audit"]
    assert [s["run"] for s in steps(job) if "run" in s] == [
        "pip install -r requirements.lock",
        "invoke audit",
    ]
    assert job["permissions"] == {"contents": "read"} and job["timeout-minutes"] <= 30
    # Both locks, read as the exact hashed lists they are; a package it can't audit fails.
    assert audit.AUDITED_LOCKS == ("requirements.lock", "app/requirements.lock")
    args = audit.arguments()
    assert {"--strict", "--disable-pip", "--require-hashes"} <= set(args)
    assert [args[i + 1] for i, a in enumerate(args) if a == "--requirement"] == list(
        audit.AUDITED_LOCKS
    )
    # pip-audit itself: every package of its lock pinned exactly, with hashes.
    lock = (ROOT / "infra" / "linters" / "pip-audit.lock").read_text()
    pins = re.findall(r"^([a-z0-9._-]+)==\S+ \\\n    --hash=sha256:[0-9a-f]{64}", lock, re.M)
    assert "pip-audit" in pins
    assert len(pins) == len(re.findall(r"^[a-z0-9]", lock, re.M))
    # pip-audit's exit status decides: a finding (or no network) fails the task.
    fake = tmp_path / "pip-audit"
    fake.write_text('#!/bin/sh\necho "$@" > "$0.args"\nexit 1\n')
    fake.chmod(0o755)
    monkeypatch.setattr(audit.tool_env, "command", lambda name: fake)
    with pytest.raises(audit.OperationFailed, match="known vulnerabilities"):
        audit.run()
    assert (tmp_path / "pip-audit.args").read_text().split() == args
    fake.write_text("#!/bin/sh\nexit 0\n")
    audit.run()


def test_ci_test_job_runs_the_readme_test_command():
    # .ci/run extracts the command between the README's test-command markers and runs it.
    readme = (ROOT / "README.md").read_text()
    block = re.search(
        r"<!-- test-command -->\s*```sh\n(.+?)\n```\s*<!-- /test-command -->", readme, re.S
    )
    assert block and "requirements.lock" in block.group(1)
    ci_run = (ROOT / ".ci" / "run").read_text()
    assert "<!-- test-command -->" in ci_run and 'bash -c "$test_command"' in ci_run
    test_job = load(CI)["jobs"]["test"]
    assert [s["run"] for s in steps(test_job) if "run" in s][-1] == ".ci/run"


# --- deploy.yml ----------------------------------------------------------------------------


def test_deploy_runs_on_master_and_by_hand_with_an_image_tag():
    triggers = load(DEPLOY)["on"]
    assert set(triggers) == {"push", "workflow_dispatch"}
    assert triggers["push"] == {"branches": ["master"]}
    tag_input = triggers["workflow_dispatch"]["inputs"]["image_tag"]
    assert tag_input["type"] == "string" and tag_input["required"] is False


def test_image_job_builds_for_the_nodes_platform_tags_with_the_sha_and_outputs_the_digest():
    job = load(DEPLOY)["jobs"]["image"]
    assert job["if"] == "github.event_name == 'push' || inputs.image_tag == ''"
    assert job["outputs"]["tag"] == "${{ github.sha }}"
    assert "steps.build.outputs.digest" in job["outputs"]["digest"]
    by_action = {s["uses"].split("@")[0]: s for s in steps(job) if "uses" in s}
    assert {
        AWS_CREDENTIALS,
        "aws-actions/amazon-ecr-login",
        "docker/setup-buildx-action",
        "docker/build-push-action",
    } <= set(by_action)
    build = by_action["docker/build-push-action"]["with"]
    assert build["push"] is True
    assert build["platforms"] == "${{ steps.settings.outputs.platform }}"
    assert build["tags"].endswith(":${{ github.sha }}")
    assert build["tags"].startswith("${{ steps.ecr.outputs.registry }}/")


def test_the_settings_steps_print_what_params_say(tmp_path):
    # Run the workflows' own `Read the prod settings` scripts with this Python.
    prod = params.load("prod")
    expected = {
        "image": {
            "region": prod.region,
            "platform": image.platform(prod),
            "repository": prod.app.image_repository,
        },
        "stacks": {
            "region": prod.region,
            "stacks": "network,database,cluster,runner",
            "runner": "gif-prod-runner",
        },
        "app": {"region": prod.region},
    }
    for name, job in load(DEPLOY)["jobs"].items():
        (step,) = [s for s in steps(job) if s.get("id") == "settings"]
        output = tmp_path / f"{name}.out"
        script = step["run"].replace("python -", f"{sys.executable} -")
        subprocess.run(
            ["bash", "-euo", "pipefail", "-c", script], cwd=ROOT, check=True, timeout=60,
            env={"GITHUB_OUTPUT": str(output), "PATH": "/usr/bin:/bin"},
        )  # fmt: skip
        lines = output.read_text().splitlines()
        assert dict(line.split("=", 1) for line in lines) == expected[name]


def test_the_stacks_job_deploys_every_stack_but_the_workload_to_production():
    job = load(DEPLOY)["jobs"]["stacks"]
    assert job["needs"] == "image"
    # Runs after a skipped image job (a dispatch naming a tag), never after a failed one.
    assert job["if"] == (
        "${{ !cancelled() && (needs.image.result == 'success' || "
        "needs.image.result == 'skipped') }}"
    )
    assert job["runs-on"] == "ubuntu-24.04"  # CloudFormation needs no path into the VPC
    assert job["environment"] == "production"
    (step,) = [s for s in steps(job) if "invoke deploy" in s.get("run", "")]
    assert step["run"] == (
        'invoke deploy --env prod --only "$STACKS" --image-tag "$IMAGE_TAG" --yes'
    )
    assert step["env"]["STACKS"] == "${{ steps.settings.outputs.stacks }}"
    # The same tag as the app job's, checked in ECR before any stack.
    assert step["env"]["IMAGE_TAG"] == "${{ inputs.image_tag || needs.image.outputs.tag }}"
    assert job["outputs"]["runner"] == "${{ steps.settings.outputs.runner }}"


def test_the_app_job_deploys_exactly_the_built_or_given_tag_on_the_in_vpc_runner():
    job = load(DEPLOY)["jobs"]["app"]
    assert job["needs"] == ["image", "stacks"]
    assert job["if"] == (
        "${{ !cancelled() && needs.stacks.result == 'success' && "
        "(needs.image.result == 'success' || needs.image.result == 'skipped') }}"
    )
    assert job["environment"] == "production"
    (step,) = [s for s in steps(job) if "invoke deploy" in s.get("run", "")]
    assert step["run"] == 'invoke deploy --env prod --only workload --image-tag "$IMAGE_TAG" --yes'
    assert step["env"]["IMAGE_TAG"] == "${{ inputs.image_tag || needs.image.outputs.tag }}"


def test_the_two_jobs_deploy_every_env_stack_once_and_the_runner_before_the_app():
    from infra.core import naming
    from infra.stacks import graph, specs

    stacks = [k for k in specs.ENV_STACKS if k != naming.WORKLOAD]  # the settings step's rule
    assert sorted([*stacks, naming.WORKLOAD]) == sorted(specs.ENV_STACKS)
    # The runner and everything it needs go up in the first job, on GitHub's runner.
    assert {naming.RUNNER, *graph.DEPENDS_ON[naming.RUNNER]} <= set(stacks)


def test_the_app_job_runs_on_the_runner_project_the_builder_names():
    # AWS CodeBuild User Guide (action-runner.html): the label is
    # codebuild-<project name>-${{ github.run_id }}-${{ github.run_attempt }}.
    from infra.core import naming
    from infra.stacks import runner

    job = load(DEPLOY)["jobs"]["app"]
    assert job["runs-on"] == (
        "codebuild-${{ needs.stacks.outputs.runner }}-${{ github.run_id }}-"
        "${{ github.run_attempt }}"
    )
    prod = params.load("prod")
    project = runner.build(prod).resources["RunnerProject"]
    # The stacks job's settings step prints naming.runner_project (checked by running it in
    # test_the_settings_steps_print_what_params_say), the name the builder gives the project.
    assert project.properties["Name"] == naming.runner_project(prod.project, "prod")
    assert project.properties["Name"] == "gif-prod-runner"
    # The webhook starts builds for this workflow's jobs only.
    (group,) = project.properties["Triggers"].properties["FilterGroups"]
    patterns = {f.properties["Type"]: f.properties["Pattern"] for f in group}
    assert re.fullmatch(patterns["WORKFLOW_NAME"], load(DEPLOY)["name"])
    assert patterns["EVENT"] == "WORKFLOW_JOB_QUEUED"


def test_prod_deploys_queue_and_never_cancel_each_other():
    workflow = load(DEPLOY)
    # The whole run: no other run's stacks change between its two deploy jobs.
    assert workflow["concurrency"] == {"group": "deploy-prod", "cancel-in-progress": False}
    assert all("concurrency" not in job for job in workflow["jobs"].values())


@pytest.mark.parametrize("name", DEPLOY_JOBS)
def test_deploy_jobs_refuse_other_refs_and_a_missing_role_variable(tmp_path, name):
    job = load(DEPLOY)["jobs"][name]
    guard = steps(job)[0]
    assert "refs/heads/master" in guard["run"]

    def run(ref: str, role: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["bash", "-c", guard["run"]], capture_output=True, text=True, timeout=30,
            env={"GITHUB_REF": ref, "ROLE_ARN": role, "PATH": "/usr/bin:/bin"},
        )  # fmt: skip

    role = "arn:aws:iam::111122223333:role/gif-deploy"
    assert run("refs/heads/master", role).returncode == 0
    refused = run("refs/heads/feature", role)
    assert refused.returncode == 1 and "master only" in refused.stdout
    unset = run("refs/heads/master", "")
    assert unset.returncode == 1 and "AWS_DEPLOY_ROLE_ARN" in unset.stdout


# --- the tag deploy.yml passes reaches the Deployment exactly ------------------------------


def _leaves(value, path=()):
    """Every scalar of a manifest by its path (lists by index)."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _leaves(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _leaves(item, (*path, index))
    else:
        yield path, value


def _image_paths(doc: dict) -> set[tuple]:
    pod = doc["spec"]["template"]["spec"]
    return {
        ("spec", "template", "spec", group, index, "image")
        for group in ("initContainers", "containers")
        for index in range(len(pod.get(group, [])))
    }


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_image_tag_reaches_the_deployment_exactly_and_nothing_else_changes(env):
    from infra.kube import render as kube_render

    settings = params.load(env)
    outputs = kube_render.offline_outputs(settings)
    uri = outputs["RepositoryUri"]
    first, second = (
        "0123456789abcdef0123456789abcdef01234567",
        "fedcba9876543210fedcba9876543210fedcba98",
    )
    docs_a = kube_render.render(settings, outputs, first)
    docs_b = kube_render.render(settings, outputs, second)
    assert [d["kind"] for d in docs_a] == [d["kind"] for d in docs_b]

    expected: set[tuple] = set()
    for index, (a, b) in enumerate(zip(docs_a, docs_b, strict=True)):
        leaves_a, leaves_b = dict(_leaves(a)), dict(_leaves(b))
        assert leaves_a.keys() == leaves_b.keys(), a["kind"]
        changed = {path for path in leaves_a if leaves_a[path] != leaves_b[path]}
        if a["kind"] == "Deployment":
            images = _image_paths(a)
            assert changed == images
            assert {leaves_a[path] for path in images} == {f"{uri}:{first}"}
            assert {leaves_b[path] for path in images} == {f"{uri}:{second}"}
        elif a["kind"] == "Job":
            # The migration runs the same image; its name changes because a Job's pod
            # template is immutable (a new image needs a new Job).
            images = _image_paths(a)
            assert changed == images | {("metadata", "name")}
            assert {leaves_b[path] for path in images} == {f"{uri}:{second}"}
        else:
            assert changed == set(), f"{a['kind']} {a['metadata']['name']} changed: {changed}"
        expected |= {(index, path) for path in changed}
    assert expected  # the tag did change something

    # The tag appears nowhere but in those image fields.
    text = "\n".join(kube_render.dump(doc) for doc in docs_b)
    images_b = sum(len(_image_paths(d)) for d in docs_b if d["kind"] in ("Deployment", "Job"))
    assert text.count(second) == images_b


def _invoke_commands():
    """(workflow, task, flags) for every `invoke TASK --flag ...` the workflows run."""
    for path in all_workflows():
        for job in load(path)["jobs"].values():
            for step in steps(job):
                for line in step.get("run", "").splitlines():
                    if line.strip().startswith("invoke "):
                        words = shlex.split(line)
                        flags = [w.split("=")[0][2:] for w in words[2:] if w.startswith("--")]
                        yield path.name, words[1], flags


def test_every_invoke_command_in_the_workflows_exists_with_its_flags():
    import tasks

    commands = list(_invoke_commands())
    assert {task for _, task, _ in commands} >= {"deploy", "synth", "lint"}
    for workflow, name, flags in commands:
        assert name in tasks.ns.task_names, f"{workflow}: no task {name!r}"
        known = {n for argument in tasks.ns[name].get_arguments() for n in argument.names}
        assert set(flags) <= known, f"{workflow}: invoke {name} has no flag {set(flags) - known}"


def test_steps_run_in_a_working_order():
    def order(job: dict) -> list[str]:
        names = []
        for step in steps(job):
            if "uses" in step:
                names.append(step["uses"].split("@")[0])
            elif "invoke deploy" in step.get("run", ""):
                names.append("invoke deploy")
            elif step.get("id") == "settings":
                names.append("settings")
        return names

    jobs = load(DEPLOY)["jobs"]
    image_steps = order(jobs["image"])
    wanted = [
        "actions/checkout",
        "settings",
        AWS_CREDENTIALS,
        "aws-actions/amazon-ecr-login",
        "docker/setup-buildx-action",
        "docker/build-push-action",
    ]
    assert [name for name in image_steps if name in wanted] == wanted
    wanted = ["actions/checkout", "settings", AWS_CREDENTIALS, "invoke deploy"]
    for name in DEPLOY_JOBS:
        assert [step for step in order(jobs[name]) if step in wanted] == wanted, name
