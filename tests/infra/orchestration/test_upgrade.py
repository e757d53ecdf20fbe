"""infra/orchestration/upgrade.py end to end: the real command frame against the emulator
(STS, the deploy lock's S3), botocore's Stubber for EKS and RDS (moto emulates neither
ListInsights nor DescribeAddonVersions; every answer is checked against botocore's model),
and a fake engine that plays CloudFormation: it applies the cluster and database templates'
versions to the fake account, so a second run reads what the first one did. params/ and
templates/ are copies in a temporary directory."""

from __future__ import annotations

import io
import shutil
from dataclasses import dataclass, field
from types import SimpleNamespace

import pytest
from botocore.stub import Stubber
from rich.console import Console

from infra.aws.session import Aws
from infra.cfn.types import Result, StackResult, StackStatus
from infra.core import naming
from infra.core.errors import BadInput, OperationFailed
from infra.orchestration import upgrade
from infra.orchestration.frame import Seams
from infra.orchestration.upgrade import Parts
from infra.orchestration.upgrade_plan import Kind
from infra.orchestration.wiring import template_dict
from infra.settings import catalog, params
from infra.settings.params_edit import edit
from infra.stacks import graph, synth
from tests.infra.orchestration.test_upgrade_plan import VPC_CNI

ROLE = "arn:aws:iam::123456789012:role/gif-ci-cloudformation"
# What the cluster runs at 1.34, and the newest version DescribeAddonVersions lists per
# Kubernetes version (vpc-cni's from the recorded answer); illustrative version strings.
OLD = {
    "vpc-cni": "v1.20.9-eksbuild.1",
    "kube-proxy": "v1.34.1-eksbuild.2",
    "eks-pod-identity-agent": "v1.3.9-eksbuild.3",
    "coredns": "v1.12.4-eksbuild.1",
    "metrics-server": "v0.8.0-eksbuild.2",
}
NEWEST = {
    "vpc-cni": {"1.35": "v1.20.10-eksbuild.2", "1.36": "v1.21.1-eksbuild.1"},
    "kube-proxy": {"1.35": "v1.35.0-eksbuild.2", "1.36": "v1.36.0-eksbuild.1"},
    "eks-pod-identity-agent": {"1.35": "v1.3.10-eksbuild.1", "1.36": "v1.3.10-eksbuild.1"},
    "coredns": {"1.35": "v1.12.4-eksbuild.5", "1.36": "v1.13.1-eksbuild.1"},
    "metrics-server": {"1.35": "v0.8.0-eksbuild.3", "1.36": "v0.8.1-eksbuild.1"},
}


def newest(name: str, version: str) -> str:
    return NEWEST[name][version]


def addon_answer(name: str) -> dict:
    """A DescribeAddonVersions answer: VPC_CNI as recorded, the others in its shape."""
    if name == "vpc-cni":
        return VPC_CNI
    versions = [
        {
            "addonVersion": newest(name, v),
            "compatibilities": [{"clusterVersion": v, "defaultVersion": True}],
        }
        for v in ("1.35", "1.36")
    ]
    return {"addons": [{"addonName": name, "addonVersions": versions}]}


@dataclass
class Account:
    """What the fake account runs; the fake engine changes it as CloudFormation would."""

    control_plane: str = "1.34"
    nodes: str = "1.34"
    addons: dict = field(default_factory=lambda: dict(OLD))
    postgres: str = "17.6"
    postgres_targets: tuple = ("17.7", "17.8")
    insights: dict = field(default_factory=dict)  # version -> list of ListInsights entries
    deploys: list = field(default_factory=list)  # (stack key, what the template said)
    fail_on_deploy: int | None = None  # the n-th deploy (1-based) is interrupted
    versions_denied: bool = False  # DescribeClusterVersions refused: the shipped table
    cluster_missing: bool = False
    managed_password: bool = False  # the real check_ready reads an instance like gifstack's
    stubs: list = field(default_factory=list)

    def stub(self, aws: Aws, env: str, kubernetes: str | None, postgres: bool) -> None:
        cluster = f"gif-{env}"
        eks = Stubber(aws.client("eks"))
        rds = Stubber(aws.client("rds"))
        if kubernetes and self.cluster_missing:
            eks.add_client_error("describe_cluster", "ResourceNotFoundException")
        elif kubernetes:
            eks.add_response(
                "describe_cluster",
                {"cluster": {"name": cluster, "version": self.control_plane}},
                {"name": cluster},
            )
            eks.add_response(
                "list_nodegroups", {"nodegroups": ["NodeGroup-x1"]}, {"clusterName": cluster}
            )
            eks.add_response(
                "describe_nodegroup",
                {"nodegroup": {"nodegroupName": "NodeGroup-x1", "version": self.nodes}},
                {"clusterName": cluster, "nodegroupName": "NodeGroup-x1"},
            )
            for name in catalog.EKS_ADDONS:
                expected = {"clusterName": cluster, "addonName": name}
                if self.addons.get(name):
                    answer = {"addon": {"addonName": name, "addonVersion": self.addons[name]}}
                    eks.add_response("describe_addon", answer, expected)
                else:
                    eks.add_client_error(
                        "describe_addon", "ResourceNotFoundException", expected_params=expected
                    )
            if self.versions_denied:
                eks.add_client_error("describe_cluster_versions", "AccessDeniedException")
            else:
                eks.add_response(
                    "describe_cluster_versions",
                    {
                        "clusterVersions": [
                            {"clusterVersion": v, "versionStatus": "STANDARD_SUPPORT"}
                            for v in ("1.33", "1.34", "1.35", "1.36")
                        ]
                    },
                    {},
                )
            hops = [v for v in ("1.35", "1.36") if v > self.nodes and v <= kubernetes]
            for version in hops:
                for name in catalog.EKS_ADDONS:
                    eks.add_response(
                        "describe_addon_versions",
                        addon_answer(name),
                        {"addonName": name, "kubernetesVersion": version},
                    )
            for version in hops:
                if version <= self.control_plane:
                    continue  # the insights of a hop whose control plane is done: not read
                found = self.insights.get(version, [])
                eks.add_response(
                    "list_insights",
                    {"insights": found},
                    {
                        "clusterName": cluster,
                        "filter": {
                            "categories": ["UPGRADE_READINESS"],
                            "kubernetesVersions": [version],
                        },
                    },
                )
                for item in found:
                    if item["insightStatus"]["status"] == "ERROR":
                        detail = {**item, "recommendation": "Migrate to the served API."}
                        eks.add_response(
                            "describe_insight",
                            {"insight": detail},
                            {"clusterName": cluster, "id": item["id"]},
                        )
                        break  # an ERROR stops here unless forced (one test forces one)
        if postgres:
            rds.add_response(
                "describe_db_instances",
                {
                    "DBInstances": [
                        {"DBInstanceIdentifier": cluster, "EngineVersion": self.postgres}
                    ]
                },
                {"DBInstanceIdentifier": cluster},
            )
            rds.add_response(
                "describe_db_engine_versions",
                {
                    "DBEngineVersions": [
                        {
                            "Engine": "postgres",
                            "EngineVersion": self.postgres,
                            "ValidUpgradeTarget": [
                                {"EngineVersion": v} for v in self.postgres_targets
                            ],
                        }
                    ]
                },
                {"Engine": "postgres", "EngineVersion": self.postgres},
            )
        if postgres and self.managed_password:
            self._stub_check_ready(rds, cluster)
        eks.activate()
        rds.activate()
        self.stubs = [eks, rds]

    def _stub_check_ready(self, rds: Stubber, instance: str) -> None:
        """blue_green_checks.check_ready's reads of an instance as gifstack deploys it: the
        master password managed by RDS, no rds.logical_replication in its group."""
        group = f"{instance}-databaseparametergroup-1a2b3c"
        found = {
            "DBInstanceIdentifier": instance,
            "EngineVersion": self.postgres,
            "DBInstanceStatus": "available",
            "MasterUserSecret": {"SecretArn": "arn:aws:secretsmanager:x", "SecretStatus": "active"},
            "DBParameterGroups": [
                {"DBParameterGroupName": group, "ParameterApplyStatus": "in-sync"}
            ],
        }
        rds.add_response(
            "describe_db_instances", {"DBInstances": [found]}, {"DBInstanceIdentifier": instance}
        )
        targets = [
            {"EngineVersion": v, "IsMajorVersionUpgrade": v.split(".")[0] != self.postgres[:2]}
            for v in self.postgres_targets
        ]
        rds.add_response(
            "describe_db_engine_versions",
            {"DBEngineVersions": [{"EngineVersion": self.postgres, "ValidUpgradeTarget": targets}]},
            {"Engine": "postgres", "EngineVersion": self.postgres},
        )
        rds.add_response(
            "describe_db_parameters",
            {"Parameters": [{"ParameterName": "rds.force_ssl", "ParameterValue": "1"}]},
            {"DBParameterGroupName": group, "Source": "user"},
        )

    def apply(self, key: str, body: str) -> dict:
        """What CloudFormation would make of the template: the versions it names."""
        template = template_dict(body)
        parameters = template["Parameters"]
        if key == naming.CLUSTER:
            self.control_plane = parameters["KubernetesVersion"]["Default"]
            self.nodes = parameters["NodeKubernetesVersion"]["Default"]
            for name in catalog.EKS_ADDONS:
                logical = "Addon" + "".join(p.capitalize() for p in name.split("-"))
                pinned = template["Resources"][logical]["Properties"].get("AddonVersion")
                self.addons[name] = pinned or self.addons[name]
            return {"control": self.control_plane, "nodes": self.nodes, **self.addons}
        resources = template["Resources"]
        instance = next(r for r in resources.values() if r["Type"] == "AWS::RDS::DBInstance")
        self.postgres = instance["Properties"]["EngineVersion"]
        return {"postgres": self.postgres}


def engine_for(account: Account):
    class FakeEngine:
        def __init__(self, cfn_client, console, options, **_):
            self.options = options

        def deploy(self, request):
            number = len(account.deploys) + 1
            if account.fail_on_deploy == number:
                account.deploys.append((request.key, "interrupted"))
                raise OperationFailed("the connection to CloudFormation was lost")
            account.deploys.append((request.key, account.apply(request.key, request.template_body)))
            outputs = {key: f"{key}-value" for key in graph.PRODUCES[request.key]}
            return StackResult(request.key, request.name, Result.UPDATED, outputs, 0.0)

        def status(self, name):
            if name == "gif-ci":
                outputs = {naming.Outputs.EXECUTION_ROLE_ARN: ROLE}
            else:
                key = name.rsplit("-", 1)[-1]
                outputs = {output: f"{output}-value" for output in graph.PRODUCES[key]}
            return StackStatus(name, "UPDATE_COMPLETE", "", "", "NOT_CHECKED", False, outputs)

    return FakeEngine


@pytest.fixture
def workspace(tmp_path, monkeypatch):
    """params/ and templates/ copied, with dev and prod on Kubernetes 1.34 (extended support
    by the catalog's dates, so opted in)."""
    shutil.copytree(params.PARAMS_DIR, tmp_path / "params")
    shutil.copytree(synth.TEMPLATES_DIR, tmp_path / "templates")
    monkeypatch.setattr(params, "PARAMS_DIR", tmp_path / "params")
    monkeypatch.setattr(synth, "TEMPLATES_DIR", tmp_path / "templates")
    for env in ("dev", "prod"):
        edit(
            tmp_path / "params" / f"{env}.yaml",
            {"cluster.kubernetes_version": "1.34", "cluster.support_type": "EXTENDED"},
        )
    params.forget()
    synth.write(["dev", "prod"])
    yield tmp_path
    params.forget()


@pytest.fixture
def console():
    return Console(file=io.StringIO(), width=240)


def run(
    account: Account,
    env: str,
    console,
    *,
    rollouts=None,
    blue_green=None,
    check_ready=None,
    **flags,
):
    def aws_factory(settings):
        aws = Aws(settings)
        account.stub(aws, env, flags.get("kubernetes"), bool(flags.get("postgres")))
        return aws

    seams = Seams(aws_factory=aws_factory, engine_factory=engine_for(account))
    parts = Parts(
        blue_green=blue_green,
        check_ready=check_ready,
        rollout=lambda frame: (rollouts if rollouts is not None else []).append(frame.env),
    )
    try:
        return upgrade.run(env, console=console, seams=seams, parts=parts, **flags)
    finally:
        params.forget()


def settled(account: Account) -> None:
    """Every stubbed answer was asked for (no read skipped, none extra)."""
    for stub in account.stubs:
        stub.assert_no_pending_responses()


def test_1_34_to_1_36_runs_two_hops_with_addons_and_nodes_between(aws, workspace, console):
    account, rollouts = Account(), []

    run(account, "dev", console, kubernetes="1.36", yes=True, rollouts=rollouts)

    settled(account)
    assert [(key, said["control"], said["nodes"]) for key, said in account.deploys] == [
        ("cluster", "1.35", "1.34"),  # the control plane alone
        ("cluster", "1.35", "1.34"),  # its add-ons
        ("cluster", "1.35", "1.35"),  # then the nodes
        ("cluster", "1.36", "1.35"),
        ("cluster", "1.36", "1.35"),
        ("cluster", "1.36", "1.36"),
    ]
    assert account.deploys[1][1]["vpc-cni"] == "v1.20.10-eksbuild.2"  # newest for 1.35
    assert account.deploys[4][1]["vpc-cni"] == "v1.21.1-eksbuild.1"  # newest for 1.36
    assert account.deploys[4][1]["coredns"] == "v1.13.1-eksbuild.1"
    assert rollouts == ["dev", "dev"]  # after each hop's nodes
    text = (workspace / "params" / "dev.yaml").read_text()
    assert "kubernetes_version: '1.36'" in text and "node_kubernetes_version: '1.36'" in text
    assert "# Dev: cheapest sensible setup" in text  # the comments stay
    assert "Default: '1.36'" in (workspace / "templates" / "dev" / "cluster.yaml").read_text()
    out = console.file.getvalue()
    assert "review them (`git diff`) and commit them" in out
    assert "no app downtime; the Kubernetes API is briefly unavailable" in out


def test_an_interrupted_upgrade_resumes_at_the_step_it_stopped(aws, workspace, console):
    account = Account(fail_on_deploy=2)  # the add-ons' deploy is cut off
    with pytest.raises(OperationFailed) as stopped:
        run(account, "dev", console, kubernetes="1.36", yes=True)
    assert "the connection to CloudFormation was lost" in stopped.value.message
    assert (account.control_plane, account.nodes, account.addons) == ("1.35", "1.34", OLD)

    account.fail_on_deploy, account.deploys = None, []
    again = Console(file=io.StringIO(), width=240)
    steps = run(account, "dev", again, kubernetes="1.36", yes=True)

    settled(account)  # no insights read for 1.35: that control plane is done
    assert [(str(s.kind), s.version, s.done) for s in steps[:3]] == [
        ("upgrade insights", "1.35", True),
        ("control plane", "1.35", True),
        ("add-ons", "1.35", False),
    ]
    first = account.deploys[0][1]
    assert (first["control"], first["nodes"], first["vpc-cni"]) == (
        "1.35",
        "1.34",
        "v1.20.10-eksbuild.2",
    )
    assert len(account.deploys) == 5 and account.nodes == "1.36"


def test_an_error_insight_refuses_naming_it_before_the_control_plane(aws, workspace, console):
    error = {
        "id": "deprecated-apis",
        "name": "Deprecated APIs removed in Kubernetes v1.35",
        "category": "UPGRADE_READINESS",
        "kubernetesVersion": "1.35",
        "insightStatus": {"status": "ERROR", "reason": "flowcontrol v1beta3 in use"},
    }
    account = Account(insights={"1.35": [error]})
    with pytest.raises(BadInput) as refused:
        run(account, "dev", console, kubernetes="1.35", yes=True)

    message = refused.value.message
    assert "Deprecated APIs removed in Kubernetes v1.35 (flowcontrol v1beta3 in use)" in message
    assert "recommended: Migrate to the served API." in message and "--force" in message
    assert account.deploys == []
    assert "kubernetes_version: '1.34'" in (workspace / "params" / "dev.yaml").read_text()


def test_force_upgrades_despite_an_error_insight(aws, workspace, console):
    error = {
        "id": "skew",
        "name": "Kubelet version skew",
        "insightStatus": {"status": "ERROR", "reason": "old kubelets"},
    }
    account = Account(insights={"1.35": [error]})

    run(account, "dev", console, kubernetes="1.35", yes=True, force=True)

    settled(account)
    assert account.control_plane == "1.35" and account.nodes == "1.35"
    assert "--force: upgrading despite ERROR insights: Kubelet version skew" in (
        console.file.getvalue()
    )


def test_dry_run_prints_the_plan_and_changes_nothing(aws, workspace, console):
    error = {
        "id": "deprecated-apis",
        "name": "Deprecated APIs removed in Kubernetes v1.35",
        "insightStatus": {"status": "ERROR", "reason": "flowcontrol v1beta3 in use"},
    }
    account = Account(insights={"1.35": [error]})
    before = (workspace / "params" / "prod.yaml").read_text()

    steps = run(account, "prod", console, kubernetes="1.36", dry_run=True)

    assert len(steps) == 10 and account.deploys == []
    assert (workspace / "params" / "prod.yaml").read_text() == before
    out = console.file.getvalue()
    assert "Upgrade plan for env prod" in out and "dry run: nothing changed" in out
    assert "rolling, one node at a time: pods rescheduled, the PDB respected" in out
    # The first hop's insights are read (read-only) and their verdict shown.
    assert "the upgrade would stop here: EKS upgrade insights for 1.35 report 1" in out


def test_already_there_is_nothing_to_do(aws, workspace, console):
    account = Account(control_plane="1.36", nodes="1.36")
    assert all(step.done for step in run(account, "dev", console, kubernetes="1.36"))
    assert "nothing to do" in console.file.getvalue() and account.deploys == []


@pytest.mark.parametrize(
    ("flags", "words"),
    [
        ({"kubernetes": "1.33"}, "older than the cluster's 1.34: EKS can't downgrade"),
        ({"kubernetes": "1.40"}, "--kubernetes 1.40 is not a version EKS offers here"),
        ({"kubernetes": "banana"}, "--kubernetes 'banana' is not a version like 1.36"),
        ({}, "say what to upgrade"),
        ({"kubernetes": "1.35"}, "no terminal to confirm on"),  # no --yes, no terminal
    ],
)
def test_bad_input_exits_2_with_one_line_and_changes_nothing(aws, workspace, console, flags, words):
    account = Account()
    with pytest.raises(BadInput) as refused:
        run(account, "dev", console, **flags)
    assert words in refused.value.message and "\n" not in refused.value.message
    assert refused.value.exit_code == 2 and account.deploys == []


def test_postgres_minor_in_place_asks_prod_for_its_name(aws, workspace, console, monkeypatch):
    monkeypatch.setattr("sys.stdin", SimpleNamespace(isatty=lambda: True))
    account, asked = Account(), []

    def answer(prompt):
        asked.append(prompt)
        return "gif-prod"  # the stacks' prefix, as destroy and restore ask

    monkeypatch.setattr(console, "input", answer)
    run(account, "prod", console, postgres="17.7")

    settled(account)
    assert account.deploys == [("database", {"postgres": "17.7"})]
    assert len(asked) == 1 and "Type [bold]gif-prod[/] to go on" in asked[0]
    assert "database restarts: a few minutes of errors" in console.file.getvalue()


def test_prod_refuses_a_wrong_name_or_no_terminal(aws, workspace, console, monkeypatch):
    monkeypatch.setattr("sys.stdin", SimpleNamespace(isatty=lambda: True))
    monkeypatch.setattr(console, "input", lambda prompt: "prod")  # not the whole name
    account = Account()
    with pytest.raises(BadInput) as refused:
        run(account, "prod", console, postgres="17.7")
    assert "not confirmed (typed 'prod')" in refused.value.message and account.deploys == []

    monkeypatch.setattr("sys.stdin", SimpleNamespace(isatty=lambda: False))
    with pytest.raises(BadInput) as refused:
        run(Account(), "prod", console, postgres="17.7")
    assert "no terminal to confirm on" in refused.value.message


def test_postgres_major_goes_through_blue_green_then_the_params(aws, workspace, console):
    edit(workspace / "params" / "dev.yaml", {"database.engine_version": "16.9"})
    params.forget()
    account, calls = Account(postgres="16.9", postgres_targets=("16.10", "17.6")), []

    def blue_green(rds, **kwargs):
        calls.append((rds.meta.service_model.service_name, kwargs.pop("say"), kwargs))
        return SimpleNamespace(
            identifier="bgd-1", status="SWITCHOVER_COMPLETED", blue_instance_id="gif-dev-old1"
        )

    ready = []

    def check_ready(rds, *args):  # passes: an instance without a managed master password
        ready.append(args)
        return []

    run(
        account,
        "dev",
        console,
        postgres="17.6",
        yes=True,
        blue_green=blue_green,
        check_ready=check_ready,
    )

    assert ready == [("gif-dev", "17.6")]
    ((service, say, arguments),) = calls
    assert service == "rds" and callable(say)
    assert arguments == {
        "instance_id": "gif-dev",
        "target_version": "17.6",
        "target_parameter_group": None,
    }
    assert account.deploys == [("database", {"postgres": "17.6"})]
    out = console.file.getvalue()
    assert "the old instance gif-dev-old1 is kept until you delete it" in out
    assert "engine_version: '17.6'" in (workspace / "params" / "dev.yaml").read_text()


def test_without_describe_cluster_versions_the_shipped_table_is_the_offer(aws, workspace, console):
    account = Account(versions_denied=True)

    steps = run(account, "dev", console, kubernetes="1.36", dry_run=True)

    assert len(steps) == 10 and account.deploys == []
    assert "using gifstack's table of EKS versions" in console.file.getvalue()


def test_a_cluster_that_does_not_exist_has_nothing_to_upgrade(aws, workspace, console):
    with pytest.raises(BadInput) as refused:
        run(Account(cluster_missing=True), "dev", console, kubernetes="1.36", dry_run=True)
    assert refused.value.message == (
        "EKS cluster gif-dev does not exist in eu-west-1: nothing to upgrade. Deploy it first "
        "(`invoke deploy --env dev`)."
    )


def test_the_local_environment_has_nothing_to_upgrade(aws, workspace, console):
    with pytest.raises(BadInput) as refused:
        run(Account(), "local", console, kubernetes="1.36")
    assert "runs against the local emulator" in refused.value.message


def test_a_major_interrupted_after_the_switchover_only_catches_the_params_up(
    aws, workspace, console
):
    edit(workspace / "params" / "dev.yaml", {"database.engine_version": "16.9"})
    params.forget()
    account, calls = Account(postgres="17.6", postgres_targets=("17.7",)), []

    steps = run(
        account,
        "dev",
        console,
        postgres="17.6",
        yes=True,
        blue_green=lambda *a, **k: calls.append(a),
    )

    settled(account)
    assert [str(step.kind) for step in steps] == ["PostgreSQL params"]
    assert calls == [] and account.deploys == [("database", {"postgres": "17.6"})]
    assert "engine_version: '17.6'" in (workspace / "params" / "dev.yaml").read_text()


MANAGED = (
    "gif-dev's master password is managed by RDS in Secrets Manager, which blue/green "
    "deployments don't support (RDS User Guide, blue/green limitations): upgrade in place"
)


def test_postgres_major_is_in_place_when_check_ready_refuses_blue_green(aws, workspace, console):
    edit(workspace / "params" / "dev.yaml", {"database.engine_version": "16.9"})
    params.forget()
    account, calls = Account(postgres="16.9", postgres_targets=("16.10", "17.6")), []

    steps = run(
        account,
        "dev",
        console,
        postgres="17.6",
        yes=True,
        blue_green=lambda *a, **k: calls.append(a),
        check_ready=lambda rds, *args: [MANAGED + "."],
    )

    settled(account)
    (step,) = steps
    assert step.kind == Kind.POSTGRES_MAJOR_IN_PLACE and step.interrupts
    assert step.why == (MANAGED + ".",)
    # No Blue/Green: the params name the target, the templates follow, the database stack is
    # deployed (CloudFormation's ModifyDBInstance does the major upgrade).
    assert calls == [] and account.deploys == [("database", {"postgres": "17.6"})]
    assert "engine_version: '17.6'" in (workspace / "params" / "dev.yaml").read_text()
    template = template_dict((workspace / "templates" / "dev" / "database.yaml").read_text())
    resources = template["Resources"]
    assert resources["Database"]["Properties"]["EngineVersion"] == "17.6"
    assert resources["DatabaseParameterGroup"]["Properties"]["Family"] == "postgres17"
    out = " ".join(console.file.getvalue().split())
    assert "in place, not Blue/Green, because:" in out and "master password is managed" in out
    assert "RDS snapshots it before the upgrade" in out


def test_a_rerun_after_the_in_place_major_shows_it_done(aws, workspace, console):
    edit(workspace / "params" / "dev.yaml", {"database.engine_version": "16.9"})
    params.forget()
    # The deploy is interrupted (the connection lost) after params/ were written; RDS goes on.
    account = Account(postgres="16.9", postgres_targets=("17.6",), fail_on_deploy=1)
    blue_green, refused = [], lambda rds, *args: [MANAGED]
    with pytest.raises(OperationFailed):
        run(
            account,
            "dev",
            console,
            postgres="17.6",
            yes=True,
            check_ready=refused,
            blue_green=lambda *a, **k: blue_green.append(a),
        )
    assert account.deploys == [("database", "interrupted")] and blue_green == []
    account.postgres = "17.6"  # RDS finished the major upgrade

    steps = run(account, "dev", console, postgres="17.6", yes=True, check_ready=refused)

    settled(account)
    assert [(str(step.kind), step.done) for step in steps] == [("PostgreSQL params", True)]
    assert account.deploys == [("database", "interrupted")]
    assert "nothing to do" in console.file.getvalue()


def test_prod_dry_run_of_a_major_on_gifstacks_instance_plans_it_in_place(aws, workspace, console):
    """The real check_ready (Stubber answers shaped like gifstack's instance): Blue/Green is
    refused for the managed master password, so the plan is in place and says why."""
    edit(workspace / "params" / "prod.yaml", {"database.engine_version": "16.9"})
    params.forget()
    account = Account(postgres="16.9", postgres_targets=("16.10", "17.6"), managed_password=True)

    (step,) = run(account, "prod", console, postgres="17.6", dry_run=True)

    settled(account)
    assert step.kind == Kind.POSTGRES_MAJOR_IN_PLACE and account.deploys == []
    assert [line.split(" ")[1:4] for line in step.why] == [
        ["master", "password", "is"],
        ["is", "not", "1"],
    ]
    out = " ".join(console.file.getvalue().split())
    assert "which blue/green deployments don't support" in out
    assert "dry run: nothing changed" in out
