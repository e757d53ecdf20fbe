"""infra/orchestration/deploy.py: orchestration against the AWS emulator process over real HTTP
(moto's server, launched by infra/local/moto.py), with the real synthesized templates; a fake
engine where a state is easier to make than to provoke (a failing parallel branch).

The EKS environments (dev, prod) are deployed with `--only network,database`: those
stacks are what moto emulates; boto3 reaches the emulator through AWS_ENDPOINT_URL, the
same way it would reach any AWS-compatible endpoint.
"""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import threading
from pathlib import Path
from typing import ClassVar

import pytest
from rich.console import Console

from infra.cfn.types import StackResult, StackStatus
from infra.core import naming
from infra.core.errors import BadInput, OperationFailed
from infra.orchestration import bootstrap, deploy, destroy, diff, recover, status
from infra.orchestration.frame import Seams
from infra.settings import params
from infra.stacks import graph
from tests.support import emulator as support

ROOT = Path(__file__).resolve().parents[3]
READ_ONLY = {"GetCallerIdentity", "DescribeStacks", "GetTemplate", "GetStackPolicy"}
# The drift check before a deploy reads resources and changes none (the emulator lacks it:
# its first call is refused and the check is skipped).
CHANGES_NOTHING = READ_ONLY | {"DetectStackDrift"}
# The deploy lock (infra/orchestration/lock.py): put and removed.
LOCK_CALLS = {"s3.PutObject": 1, "s3.DeleteObject": 1}


@pytest.fixture
def console():
    return Console(file=io.StringIO(), width=160)


def _out(console: Console) -> str:
    return console.file.getvalue()


def _stack(aws, name):
    return support.client(aws, "cloudformation").describe_stacks(StackName=name)["Stacks"][0]


def _with_max_storage(monkeypatch, env: str, gib: int):
    """params.load(env) with one setting changed (a property of the DB instance)."""
    real = params.load(env)
    changed = real.model_copy(
        update={"database": real.database.model_copy(update={"max_allocated_storage_gib": gib})}
    )
    original_load = params.load
    monkeypatch.setattr(
        params, "load", lambda name: changed if name == env else original_load(name)
    )


def test_deploy_creates_wires_outputs_and_a_second_deploy_changes_nothing(
    aws, console, tmp_path, monkeypatch
):
    step_summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(step_summary))

    first = deploy.run("dev", only="network,database", yes=True, console=console)

    assert [(r.key, r.status) for r in first.results] == [
        ("network", "created"),
        ("database", "created"),
    ]
    assert first.executed_change_sets == 2
    network = _stack(aws, "gif-dev-network")
    database = _stack(aws, "gif-dev-database")
    network_outputs = {o["OutputKey"]: o["OutputValue"] for o in network["Outputs"]}
    database_parameters = {p["ParameterKey"]: p["ParameterValue"] for p in database["Parameters"]}
    for wired in (naming.Outputs.PRIVATE_SUBNET_IDS, naming.Outputs.DATABASE_SECURITY_GROUP_ID):
        assert database_parameters[wired] == network_outputs[wired]
    tags = {tag["Key"]: tag["Value"] for tag in database["Tags"]}
    assert tags["project"] == "gif"
    # CloudFormation provisions as gif-ci's execution role, not with the caller's credentials.
    role = support.client(aws, "iam").get_role(RoleName="gif-ci-cloudformation")["Role"]["Arn"]
    assert network["RoleARN"] == database["RoleARN"] == role
    assert tags["environment"] == "dev"
    assert tags["managed-by"] == "gifstack"
    assert "git-commit" not in tags  # it would change with every commit (summary instead)
    assert network["EnableTerminationProtection"] is False  # only prod is protected
    assert "Change sets executed: 2" in step_summary.read_text()
    assert "`gif-dev-database` | created" in step_summary.read_text()

    second = deploy.run("dev", only="network,database", yes=True, console=console)

    assert {r.status for r in second.results} == {"unchanged"}
    assert second.executed_change_sets == 0
    assert second.calls.count("CreateChangeSet") == 0
    calls = dict(second.calls.calls)
    assert {name: calls.pop(name, 0) for name in LOCK_CALLS} == LOCK_CALLS
    called = {name.split(".", 1)[1] for name in calls}
    assert called <= CHANGES_NOTHING, called
    # 8, the drift check's one refused call here, the restore guard's two (DescribeStacks,
    # GetTemplate of the database stack), and the lock's two
    assert second.calls.total <= 11 + sum(LOCK_CALLS.values())
    # The summary is printed while the lock is held: its release (DeleteObject) comes after.
    assert f"{second.calls.total - 1} AWS calls" in _out(console)
    assert "change sets executed: 0" in _out(console)
    assert re.search(r"AWS calls per minute: [0-9.]+", _out(console))
    assert _out(console).startswith("checking AWS credentials...")


def test_a_commit_that_changes_no_template_or_parameter_gives_no_change_set(
    aws, console, monkeypatch, tmp_path
):
    from infra.core import revision

    step_summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(step_summary))
    monkeypatch.setenv("GITHUB_SHA", "a" * 40)
    revision.git_commit.cache_clear()
    first = deploy.run("dev", only="network,database", yes=True, console=console)
    assert first.executed_change_sets == 2

    monkeypatch.setenv("GITHUB_SHA", "b" * 40)  # the next commit: README only, say
    revision.git_commit.cache_clear()
    second = deploy.run("dev", only="network,database", yes=True, console=console)
    revision.git_commit.cache_clear()

    assert {r.status for r in second.results} == {"unchanged"}
    assert second.executed_change_sets == 0
    assert second.calls.count("CreateChangeSet") == 0
    # The deployed commit is still recorded: in the summary (and the Deployment's annotation).
    assert f"commit: {'b' * 12}" in _out(console)
    assert f"commit: {'b' * 12}" in step_summary.read_text()


def test_an_update_of_one_parameter_executes_a_change_set_only_for_that_stack(
    aws, console, monkeypatch
):
    deploy.run("dev", only="network,database", yes=True, console=console)
    real = params.load("dev")
    changed = real.model_copy(
        update={"database": real.database.model_copy(update={"instance_class": "db.t4g.small"})}
    )
    original_load = params.load
    monkeypatch.setattr(
        params, "load", lambda name: changed if name == "dev" else original_load(name)
    )

    report = deploy.run("dev", only="network,database", yes=True, console=console)

    assert {r.key: r.status for r in report.results} == {
        "network": "unchanged",
        "database": "updated",
    }
    assert report.executed_change_sets == 1
    database = _stack(aws, "gif-dev-database")
    parameters = {p["ParameterKey"]: p["ParameterValue"] for p in database["Parameters"]}
    assert parameters["DatabaseInstanceClass"] == "db.t4g.small"
    assert database["StackStatus"] == "UPDATE_COMPLETE"


def test_diff_shows_the_change_and_changes_nothing(aws, console, monkeypatch):
    deploy.run("dev", only="network,database", yes=True, console=console)
    cfn = support.client(aws, "cloudformation")
    before = cfn.get_template(StackName="gif-dev-database")["TemplateBody"]
    _with_max_storage(monkeypatch, "dev", 200)

    counts = diff.run("dev", only="network,database", console=console)

    assert counts["network"] == 0
    assert counts["database"] >= 1
    assert "nothing was changed" in " ".join(_out(console).split())  # wrap-proof
    assert cfn.get_template(StackName="gif-dev-database")["TemplateBody"] == before
    # moto lists executed change sets too (and ignores StackName); none may be left pending
    pending = cfn.list_change_sets(StackName="gif-dev-database")["Summaries"]
    assert [c for c in pending if c["ExecutionStatus"] == "AVAILABLE"] == []


def test_diff_refuses_the_runner_without_its_github_source_before_any_call(
    emulated, console, monkeypatch, runner_source_set
):
    monkeypatch.setattr(params, "load", runner_source_set)  # as params/prod.yaml ships
    with pytest.raises(BadInput) as refused:
        diff.run("prod", only="runner", console=console)
    assert "params/prod.yaml: ci.github_repository and ci.github_connection_arn" in (
        refused.value.message
    )


def test_diff_leaves_the_runner_out_when_it_is_off(aws, console, monkeypatch):
    off = params.load("dev").model_copy(
        update={"ci": params.load("dev").ci.model_copy(update={"runner": False})}
    )
    monkeypatch.setattr(params, "load", lambda env: off)
    counts = diff.run("dev", only="network,runner", console=console)
    assert set(counts) == {"network"}


def test_dry_run_on_an_empty_account_plans_and_creates_nothing(emulated, console):
    aws = emulated
    report = deploy.run("dev", only="network,database", dry_run=True, yes=True, console=console)

    assert "warning: the account-wide stack gif-ci does not exist" in _out(console)

    statuses = {r.key: (r.status, r.message) for r in report.results}
    assert statuses["network"][0] == "planned"
    assert statuses["database"] == (
        "planned",
        "change set can be made once gif-dev-network exists",
    )
    assert report.executed_change_sets == 0
    stacks = support.client(aws, "cloudformation").list_stacks()["StackSummaries"]
    assert [s for s in stacks if s["StackStatus"] != "DELETE_COMPLETE"] == []


def test_the_database_stack_gets_a_policy_denying_replace_and_delete_of_the_instance(aws, console):
    deploy.run("dev", only="network,database", yes=True, console=console)

    body = support.client(aws, "cloudformation").get_stack_policy(StackName="gif-dev-database")
    policy = json.loads(body["StackPolicyBody"])
    deny = next(s for s in policy["Statement"] if s["Effect"] == "Deny")
    assert sorted(deny["Action"]) == ["Update:Delete", "Update:Replace"]
    assert deny["Resource"] == ["LogicalResourceId/Database"]


def test_prod_stacks_get_protection_and_a_policy_and_destroy_needs_the_exact_name(aws, console):
    deploy.run("prod", only="network,database", yes=True, console=console)

    for name in ("gif-prod-network", "gif-prod-database"):
        assert _stack(aws, name)["EnableTerminationProtection"] is True
    policy = support.client(aws, "cloudformation").get_stack_policy(StackName="gif-prod-database")
    assert '"Update:Replace"' in policy["StackPolicyBody"]

    with pytest.raises(BadInput, match="--confirm gif-prod"):
        destroy.run("prod", console=console)
    with pytest.raises(BadInput, match=r"--confirm gif-prod \(got 'prod'\)"):
        destroy.run("prod", confirm="prod", console=console)
    # Typed right, prod's database still has deletion protection: refused before anything.
    with pytest.raises(BadInput, match="deletion protection"):
        destroy.run("prod", confirm="gif-prod", console=console)
    assert _stack(aws, "gif-prod-network")["StackStatus"] == "CREATE_COMPLETE"


def test_destroy_deletes_in_reverse_order_and_names_the_final_snapshot(aws, console):
    deploy.run("dev", only="network,database", yes=True, console=console)

    results = destroy.run("dev", yes=True, console=console)

    deleted = [r.key for r in results if r.status == "deleted"]
    assert deleted == ["database", "network"]  # finished in this order: dependents first
    assert {r.key: r.status for r in results}["cluster"] == "skipped"  # never created
    text = _out(console)
    assert "final snapshot" in text
    assert "--db-instance-identifier gif-dev" in text
    assert "region eu-west-1" in text
    stacks = support.client(aws, "cloudformation").list_stacks()["StackSummaries"]
    assert {s["StackStatus"] for s in stacks if s["StackName"] != "gif-ci"} == {"DELETE_COMPLETE"}


def test_destroy_without_a_terminal_and_without_yes_refuses(aws, console):
    with pytest.raises(BadInput, match="Pass --yes"):
        destroy.run("dev", console=console)


def test_destroy_on_a_terminal_refuses_anything_but_the_name_typed(aws, console, monkeypatch):
    deploy.run("dev", only="network", yes=True, console=console)
    monkeypatch.setattr("sys.stdin", type("Tty", (), {"isatty": staticmethod(lambda: True)}))
    asked = []
    monkeypatch.setattr(console, "input", lambda prompt: asked.append(prompt) or " gif-dv ")
    with pytest.raises(BadInput) as refused:
        destroy.run("dev", console=console)
    assert refused.value.message == "not confirmed (typed 'gif-dv'); nothing was deleted."
    assert asked == ["Type [bold]gif-dev[/] to delete env dev's stacks: "]
    stacks = support.client(aws, "cloudformation").describe_stacks(StackName="gif-dev-network")
    assert stacks["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"


def test_status_lists_every_stack_and_its_outputs(aws, console):
    deploy.run("dev", only="network,database", yes=True, console=console)

    found = status.run("dev", console=console)

    assert [stack.name for stack in found] == ["gif-dev-network", "gif-dev-database", "gif-ci"]
    text = _out(console)
    assert "gif-dev-cluster" in text and "does not exist" in text
    assert "DatabaseMasterSecretArn" in text and "arn:aws:secretsmanager" in text
    assert "NOT_CHECKED" in text


def test_status_never_shows_a_secret_value():
    assert status.shown_output("DatabasePassword", "hunter2") == "(hidden)"
    assert status.shown_output("DatabaseMasterSecretArn", "arn:x") == "arn:x"


def test_recover_refuses_a_stack_that_is_not_stuck_and_an_unknown_stack(aws, console):
    deploy.run("dev", only="network", yes=True, console=console)

    with pytest.raises(BadInput, match="nothing to recover"):
        recover.run("dev", "network", console=console)
    with pytest.raises(BadInput, match=r"unknown stack 'vpc'.*network, database"):
        recover.run("dev", "vpc", console=console)


def test_only_names_are_validated_with_the_valid_ones_listed():
    with pytest.raises(BadInput) as bad:
        deploy.run("dev", only="network,dtabase")

    assert bad.value.message == (
        "--only: unknown stack 'dtabase'. Valid stacks for --env dev: network, database, "
        "cluster, workload, runner (comma-separated, e.g. --only database,cluster)."
    )


def test_deploying_a_stack_whose_inputs_do_not_exist_fails_naming_the_fix(aws, console):
    with pytest.raises(OperationFailed) as failed:
        deploy.run("dev", only="database", yes=True, console=console)

    assert "gif-dev-database needs output" in failed.value.message
    assert "gif-dev-network, which does not exist yet" in failed.value.message


# --- a failing branch, with a fake engine ---------------------------------------------------


EXECUTION_ROLE = "arn:aws:iam::123456789012:role/gif-ci-cloudformation"


class FakeEngine:
    """Stands in for infra.cfn.StackEngine: records requests, fails where told."""

    def __init__(self, fail: set[str], log: list[str], lock: threading.Lock, gate: threading.Event):
        self.fail, self.log, self.lock, self.gate = fail, log, lock, gate

    def deploy(self, request):
        with self.lock:
            self.log.append(f"start {request.key}")
        if request.key == naming.DATABASE:
            # still deploying when its sibling fails, and allowed to finish
            assert self.gate.wait(10)
        if request.key in self.fail:
            self.gate.set()
            raise OperationFailed(f"stack {request.name} failed: CREATE_FAILED (boom)")
        with self.lock:
            self.log.append(f"end {request.key}")
        outputs = {key: f"{key}-value" for key in graph.PRODUCES[request.key]}
        return StackResult(request.key, request.name, "created", outputs, 0.01, changes=3)

    def drift(self, name, timeout_minutes=15):
        return None  # these tests start from an empty account

    def status(self, name):
        if name == "gif-registry":
            outputs = {naming.Outputs.REPOSITORY_URI: "123456789012.dkr.ecr/gif-service"}
            return StackStatus(name, "CREATE_COMPLETE", "", "", "NOT_CHECKED", False, outputs)
        if name == "gif-ci":
            outputs = {naming.Outputs.EXECUTION_ROLE_ARN: EXECUTION_ROLE}
            return StackStatus(name, "CREATE_COMPLETE", "", "", "NOT_CHECKED", False, outputs)
        return None


def _fake_engines(fail: set[str]):
    log: list[str] = []
    lock = threading.Lock()
    gate = threading.Event()
    if not fail:
        gate.set()

    def factory(cfn_client, console, options, **_):
        return FakeEngine(fail, log, lock, gate)

    return factory, log


@pytest.fixture
def image_in_ecr(aws):
    """dev's image tag exists in the (emulated) ECR, so deploy's image check passes."""
    ecr = support.client(aws, "ecr")
    ecr.create_repository(repositoryName="gif-service")
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {"digest": "sha256:" + "a" * 64},
        }
    )
    ecr.put_image(repositoryName="gif-service", imageManifest=manifest, imageTag="v1")


def test_a_failure_in_one_branch_stops_its_dependents_while_the_other_branch_finishes(
    aws, image_in_ecr, console, monkeypatch
):
    applied = []
    monkeypatch.setattr("infra.kube.step.deploy_workload", lambda *a, **k: applied.append(a))
    factory, log = _fake_engines(fail={naming.CLUSTER})

    with pytest.raises(OperationFailed) as failed:
        deploy.run("dev", image_tag="v1", console=console, seams=Seams(engine_factory=factory))

    assert "gif-dev-cluster: stack gif-dev-cluster failed" in failed.value.message
    assert "Not run, because a stack they need failed: gif-dev-workload" in failed.value.message
    assert "end database" in log  # the independent branch finished
    assert "start workload" not in log
    assert applied == []  # no Kubernetes step after a failed stack
    table = _out(console)
    for row in ("gif-dev-network", "gif-dev-database", "gif-dev-cluster", "gif-dev-workload"):
        assert row in table
    assert "not run: gif-dev-cluster failed" in table


def test_after_every_stack_the_kubernetes_step_gets_all_outputs_and_the_image_tag(
    aws, image_in_ecr, console, monkeypatch
):
    applied = {}

    def deploy_workload(settings, outputs, image_tag, **options):
        applied.update(outputs=outputs, tag=image_tag, options=options)
        return "http://gif.example"

    monkeypatch.setattr("infra.kube.step.deploy_workload", deploy_workload)
    factory, _ = _fake_engines(fail=set())

    report = deploy.run("dev", image_tag="v1", console=console, seams=Seams(engine_factory=factory))

    assert report.app_url == "http://gif.example"
    assert applied["tag"] == "v1"
    assert applied["outputs"][naming.Outputs.REPOSITORY_URI].endswith("gif-service")
    assert applied["outputs"][naming.Outputs.APP_ROLE_ARN] == "AppRoleArn-value"
    assert applied["outputs"][naming.Outputs.DATABASE_ENDPOINT] == "DatabaseEndpoint-value"


def test_an_image_tag_missing_from_ecr_stops_before_any_stack(aws, image_in_ecr, console):
    factory, log = _fake_engines(fail=set())

    with pytest.raises(BadInput, match="image tag 'v2' is not in ECR"):
        deploy.run("dev", image_tag="v2", console=console, seams=Seams(engine_factory=factory))
    assert log == []


def test_a_given_tag_is_checked_even_when_the_app_step_is_left_out(aws, image_in_ecr, console):
    # CI's `stacks` job deploys all but the workload with the run's tag: a tag missing from
    # ECR stops it before any stack, as it would the `app` job.
    factory, log = _fake_engines(fail=set())
    with pytest.raises(BadInput, match="image tag 'v2' is not in ECR"):
        deploy.run(
            "dev",
            image_tag="v2",
            only="network,database",
            console=console,
            seams=Seams(engine_factory=factory),
        )
    assert log == []


# --- exit codes through invoke ----------------------------------------------------------------


def _invoke(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    return subprocess.run(
        [sys.executable, "-m", "invoke", *args],
        cwd=ROOT,
        env={**clean, **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


def test_bad_input_exits_2_with_one_line_and_no_traceback():
    done = _invoke("deploy", "--env", "staging")

    assert done.returncode == 2
    assert done.stderr.strip() == (
        "error: unknown environment 'staging': there is no params/staging.yaml. "
        "Environments that exist: dev, local, prod."
    )
    assert "Traceback" not in done.stdout + done.stderr


def test_destroy_prod_without_confirm_exits_2():
    done = _invoke("destroy", "--env", "prod")

    assert done.returncode == 2
    assert "--confirm gif-prod" in done.stderr
    assert "Traceback" not in done.stdout + done.stderr


def test_a_failed_deploy_exits_1(aws):
    done = _invoke(
        "deploy",
        "--env",
        "dev",
        "--only",
        "database",
        "--yes",
        env={
            "AWS_ENDPOINT_URL": aws.url,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
        },
    )

    assert done.returncode == 1, done.stdout + done.stderr
    assert "error: deploy --env dev failed" in done.stderr
    assert "Traceback" not in done.stdout + done.stderr


def _with_repository(monkeypatch, repository: str = "acme/gifstack") -> None:
    """The params as a user's would be after README step 1: ci.github_repository set."""
    original = params.load

    def load(env):
        settings = original(env)
        ci = settings.ci.model_copy(update={"github_repository": repository})
        return settings.model_copy(update={"ci": ci})

    monkeypatch.setattr(params, "load", load)


def test_bootstrap_refuses_an_unset_repository_before_any_call(
    emulated, console, monkeypatch, runner_source_set
):
    monkeypatch.setattr(params, "load", runner_source_set)  # as params/dev.yaml ships
    with pytest.raises(BadInput) as refused:
        bootstrap.run("dev", yes=True, console=console)
    assert refused.value.exit_code == 2
    assert "params/dev.yaml: ci.github_repository is not set" in refused.value.message
    stacks = support.client(emulated, "cloudformation").describe_stacks()["Stacks"]
    assert stacks == []


def test_bootstrap_creates_the_shared_stacks_tagged_as_shared(emulated, console, monkeypatch):
    aws = emulated
    _with_repository(monkeypatch)
    results = bootstrap.run("dev", yes=True, console=console)

    assert {r.key: r.status for r in results} == {"registry": "created", "ci": "created"}
    registry = _stack(aws, "gif-registry")
    assert {t["Key"]: t["Value"] for t in registry["Tags"]}["environment"] == "shared"
    outputs = {o["OutputKey"]: o["OutputValue"] for o in registry["Outputs"]}
    assert outputs[naming.Outputs.REPOSITORY_URI].endswith("/gif-service")


class RecordingEngine:
    """Records what orchestration hands the engine."""

    seen: ClassVar[list] = []

    def __init__(self, cfn_client, console, options, **_):
        RecordingEngine.seen.append(("options", options))

    def deploy(self, request):
        RecordingEngine.seen.append(("deploy", request.name))
        return StackResult(request.key, request.name, "unchanged", {}, 0.0)

    def drift(self, name, timeout_minutes=15):
        RecordingEngine.seen.append(("drift", name))
        return None  # no stack of this name yet

    def recover(self, name, skip):
        RecordingEngine.seen.append(("recover", name, skip))
        return StackResult("database", name, "recovered", {}, 0.0, message="rolled back")

    def status(self, name):
        if name == "gif-ci":
            outputs = {naming.Outputs.EXECUTION_ROLE_ARN: EXECUTION_ROLE}
            return StackStatus(name, "CREATE_COMPLETE", "", "", "NOT_CHECKED", False, outputs)
        return None


def test_prod_protects_stateful_resources_and_allow_replace_is_passed_on(aws, console):
    RecordingEngine.seen = []

    deploy.run(
        "prod",
        only="network",
        allow_replace=True,
        console=console,
        seams=Seams(engine_factory=RecordingEngine),
    )

    options = [item[1] for item in RecordingEngine.seen if item[0] == "options"]
    assert options and all(o.protect_stateful and o.allow_replace for o in options)
    assert not any(o.yes for o in options)  # prod still asks (or refuses without a terminal)
    assert ("deploy", "gif-prod-network") in RecordingEngine.seen


def test_recover_hands_the_stack_and_the_resources_to_skip_to_the_engine(aws, console):
    RecordingEngine.seen = []

    result = recover.run(
        "dev",
        "database",
        skip="Database, DatabaseKey",
        console=console,
        seams=Seams(engine_factory=RecordingEngine),
    )

    assert result.status == "recovered"
    assert ("recover", "gif-dev-database", ["Database", "DatabaseKey"]) in RecordingEngine.seen


def test_a_failed_kubernetes_step_still_prints_the_stacks_summary(
    aws, image_in_ecr, console, monkeypatch, tmp_path
):
    step_summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(step_summary))

    def deploy_workload(*args, **kwargs):
        raise OperationFailed("rollout of deployment gif-app timed out")

    monkeypatch.setattr("infra.kube.step.deploy_workload", deploy_workload)
    factory, _ = _fake_engines(fail=set())

    with pytest.raises(OperationFailed, match="rollout of deployment gif-app timed out"):
        deploy.run("dev", image_tag="v1", console=console, seams=Seams(engine_factory=factory))

    assert "gif-dev-workload" in _out(console)  # the table came first
    assert "The Kubernetes step failed: rollout of deployment gif-app" in step_summary.read_text()


def test_env_stacks_wait_for_the_bootstrap_that_holds_their_permissions_boundary(emulated, console):
    with pytest.raises(BadInput) as bad:
        deploy.run("dev", only="network", yes=True, console=console)

    assert "gif-ci does not exist" in bad.value.message
    assert "gif-workload-boundary" in bad.value.message
    assert "invoke bootstrap --env dev" in bad.value.message
    stacks = support.client(emulated, "cloudformation").list_stacks()["StackSummaries"]
    assert stacks == []
