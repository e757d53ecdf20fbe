"""infra/orchestration/kube_tasks.py and the `k8s.render` / `kubeconfig` / `k8s.apply` tasks: stack
outputs read from CloudFormation (moto, in-process), offline rendering into build/, the
kubeconfig, and one clear message per bad input."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path

import boto3
import pytest
import yaml
from moto import mock_aws
from rich.console import Console

from infra.core import naming
from infra.core.errors import BadInput
from infra.kube import render as kube_render
from infra.orchestration import kube_tasks as kube_commands
from infra.orchestration.frame import REAL_PARTS, Frame
from infra.stacks import specs

ROOT = Path(__file__).resolve().parents[3]
CA = base64.b64encode(b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n").decode()
OUTPUTS = {
    naming.NETWORK: {"DatabaseSubnetCidrs": "10.0.64.0/18,10.0.128.0/18"},
    naming.DATABASE: {
        "DatabaseEndpoint": "gif-dev-db.abc.eu-west-1.rds.amazonaws.com",
        "DatabasePort": "5432",
        "DatabaseName": "gif",
        "DatabaseMasterSecretArn": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:rds!db",
    },
    naming.CLUSTER: {
        "ClusterName": "gif-dev",
        "ClusterEndpoint": "https://ABC.gr7.eu-west-1.eks.amazonaws.com",
        "ClusterCertificateAuthority": CA,
    },
    naming.WORKLOAD: {
        "AppRoleArn": "arn:aws:iam::123456789012:role/gif-dev-app",
        "MigrateRoleArn": "arn:aws:iam::123456789012:role/gif-dev-migrate",
    },
    naming.REGISTRY: {"RepositoryUri": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/gif"},
}


@pytest.fixture
def stacks(monkeypatch):
    """The five stacks the Kubernetes step reads, with outputs, in moto's CloudFormation."""
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(key, "testing")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    with mock_aws():
        cfn = boto3.client("cloudformation", region_name="eu-west-1")
        for key, outputs in OUTPUTS.items():
            template = {
                "Resources": {"Marker": {"Type": "AWS::SNS::Topic"}},
                "Outputs": {name: {"Value": value} for name, value in outputs.items()},
            }
            cfn.create_stack(
                StackName=specs.stack_name("gif", "dev", key), TemplateBody=json.dumps(template)
            )
        yield


def test_deployed_outputs_merges_the_five_stacks(stacks):
    merged = kube_commands.deployed_outputs(Frame.open("dev", Console(), REAL_PARTS))
    expected = {k: v for outputs in OUTPUTS.values() for k, v in outputs.items()}
    assert merged == expected


def test_render_with_deployed_outputs_writes_build_env_k8s(stacks, tmp_path, monkeypatch):
    monkeypatch.setattr(kube_commands, "ROOT", tmp_path)
    paths = kube_commands.render_to_build("dev", image_tag="abc", offline=False, console=Console())
    assert paths[0].parent == tmp_path / "build" / "dev" / "k8s"
    config = yaml.safe_load(next(p for p in paths if "configmap" in p.name).read_text())
    assert config["data"]["PGHOST"] == "gif-dev-db.abc.eu-west-1.rds.amazonaws.com"


def test_a_missing_stack_is_bad_input(stacks):
    boto3.client("cloudformation", region_name="eu-west-1").delete_stack(
        StackName="gif-dev-workload"
    )
    with pytest.raises(BadInput, match="gif-dev-workload"):
        kube_commands.deployed_outputs(Frame.open("dev", Console(), REAL_PARTS))


def test_kubeconfig_writes_a_context_for_the_cluster(stacks, tmp_path):
    target = kube_commands.write_kubeconfig("dev", path=str(tmp_path / "config"), console=Console())
    config = yaml.safe_load(target.read_text())
    assert config["current-context"] == "gif-dev"
    assert config["clusters"][0]["cluster"] == {
        "server": "https://ABC.gr7.eu-west-1.eks.amazonaws.com",
        "certificate-authority-data": CA,
    }
    assert "--cluster" in config["users"][0]["user"]["exec"]["args"]


def test_the_local_environment_has_no_cluster_to_talk_to():
    for command in (
        lambda: kube_commands.write_kubeconfig("local", path=None, console=Console()),
        lambda: kube_commands.render_to_build(
            "local", image_tag=None, offline=False, console=Console()
        ),
    ):
        with pytest.raises(BadInput, match="--offline"):
            command()


def test_offline_render_writes_every_object_with_placeholders(tmp_path, monkeypatch):
    monkeypatch.setattr(kube_commands, "ROOT", tmp_path)
    paths = kube_commands.render_to_build("prod", image_tag=None, offline=True, console=Console())
    assert len(paths) == 12
    text = "".join(path.read_text() for path in paths)
    assert ".invalid" in text and kube_render.OFFLINE_TAG in text


def invoke(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(Path(sys.executable).parent / "invoke"), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_render_task_offline_exits_zero_and_a_bad_tag_exits_two_without_traceback():
    good = invoke("k8s.render", "--env", "dev", "--offline", "--image-tag", "test-render")
    assert good.returncode == 0, good.stderr
    assert "wrote build/dev/k8s/05-deployment-gif-app.yaml" in good.stdout

    bad = invoke("k8s.render", "--env", "dev", "--offline", "--image-tag", "latest")
    assert bad.returncode == 2
    assert "error: image tag 'latest' is mutable" in bad.stderr
    assert "Traceback" not in bad.stderr

    unknown = invoke("k8s.render", "--env", "staging", "--offline")
    assert unknown.returncode == 2
    assert "unknown environment 'staging'" in unknown.stderr


def test_apply_dry_run_reads_the_stacks_and_shows_the_plan(stacks):
    console = Console(record=True, width=200)
    url = kube_commands.apply(
        "dev", image_tag="abc", prune=False, rollback=True, dry_run=True, console=console
    )
    text = console.export_text()
    assert url is None
    assert "123456789012.dkr.ecr.eu-west-1.amazonaws.com/gif:abc" in text
    assert "prune: off" in text and "dry run: nothing applied" in text
