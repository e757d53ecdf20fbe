"""infra/orchestration/image.py against moto's server over HTTP (ECR) and a recording stand-in
docker CLI.

No Docker engine runs here (see tests/support/fake_docker.py); everything ECR answers comes
from moto's server through the real boto3 gateway (infra.aws.Aws).
"""

from __future__ import annotations

import base64
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import boto3
import pytest
from botocore.stub import Stubber
from rich.console import Console

from infra.aws import session as aws_gateway
from infra.core.errors import BadInput, OperationFailed
from infra.orchestration import image
from infra.settings import params

ROOT = Path(__file__).resolve().parents[3]
FAKE_DOCKER = ROOT / "tests" / "support" / "fake_docker.py"
SHA = "0123456789abcdef0123456789abcdef01234567"
MANIFEST = json.dumps(
    {
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {"digest": "sha256:" + "a" * 64},
    }
)


@pytest.fixture
def settings(moto, monkeypatch):
    # `moto` (tests/infra/conftest.py) is moto's server with fresh state for this test.
    # Fake credentials, so nothing here could reach a real account.
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "eu-west-1",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    return params.load("prod").model_copy(update={"aws_endpoint_url": moto.url})


@pytest.fixture
def ecr(settings):
    return boto3.client("ecr", endpoint_url=settings.aws_endpoint_url, region_name=settings.region)


@pytest.fixture
def aws(settings):
    return aws_gateway.Aws(settings)


@pytest.fixture
def docker_log(tmp_path, monkeypatch, settings):
    """A `docker` on PATH that records its calls (see tests/support/fake_docker.py)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    docker = bin_dir / "docker"
    docker.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{FAKE_DOCKER}" "$@"\n')
    docker.chmod(0o755)
    log = tmp_path / "docker.log"
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_DOCKER_LOG", str(log))
    monkeypatch.setenv("FAKE_DOCKER_ECR_ENDPOINT", settings.aws_endpoint_url)
    return log


def calls(log: Path) -> list[dict]:
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def console() -> Console:
    return Console(file=io.StringIO(), width=200)


# --- require_tag ---------------------------------------------------------------------------


def test_require_tag_returns_the_digest_of_a_tag_in_ecr_moto_server(aws, settings, ecr):
    ecr.create_repository(repositoryName=settings.app.image_repository)
    pushed = ecr.put_image(
        repositoryName=settings.app.image_repository, imageTag=SHA, imageManifest=MANIFEST
    )
    digest = image.require_tag(aws, settings, SHA)
    assert digest == pushed["image"]["imageId"]["imageDigest"]
    assert digest.startswith("sha256:")


def test_require_tag_refuses_a_tag_not_in_ecr_moto_server(aws, settings, ecr):
    ecr.create_repository(repositoryName=settings.app.image_repository)
    ecr.put_image(
        repositoryName=settings.app.image_repository, imageTag=SHA, imageManifest=MANIFEST
    )
    missing = "f" * 40
    with pytest.raises(BadInput) as caught:
        image.require_tag(aws, settings, missing)
    message = caught.value.message
    assert caught.value.exit_code == 2
    assert missing in message and settings.app.image_repository in message
    assert "nothing was deployed" in message and f"invoke image.push --tag {missing}" in message


def test_require_tag_takes_a_digest_too_moto_server(aws, settings, ecr):
    ecr.create_repository(repositoryName=settings.app.image_repository)
    pushed = ecr.put_image(
        repositoryName=settings.app.image_repository, imageTag=SHA, imageManifest=MANIFEST
    )
    digest = pushed["image"]["imageId"]["imageDigest"]
    assert image.require_tag(aws, settings, digest) == digest
    with pytest.raises(BadInput, match="is not in ECR"):
        image.require_tag(aws, settings, "sha256:" + "0" * 64)


def test_require_tag_without_repository_says_to_bootstrap_moto_server(aws, settings):
    with pytest.raises(BadInput, match=r"does not exist .*invoke bootstrap"):
        image.require_tag(aws, settings, SHA)


def test_build_refuses_a_bad_tag_before_any_aws_call(settings):
    with pytest.raises(BadInput, match="invalid image tag"):
        image.build(None, settings, "has space", console())  # type: ignore[arg-type]


# --- login ---------------------------------------------------------------------------------


def test_login_decodes_the_ecr_authorization_token_moto_server(aws, settings):
    login = image.login(aws)
    # moto's token is base64("AWS:<account>-auth-token") for its default account.
    assert login.username == "AWS"
    assert login.password == "123456789012-auth-token"
    assert login.registry == f"123456789012.dkr.ecr.{settings.region}.amazonaws.com"
    assert login.password not in repr(login)


# --- platform ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("arch", "expected"), [("x86_64", "linux/amd64"), ("arm64", "linux/arm64")]
)
def test_platform_follows_the_node_architecture(arch, expected):
    base = params.load("prod")
    settings = base.model_copy(
        update={"cluster": base.cluster.model_copy(update={"node_architecture": arch})}
    )
    assert image.platform(settings) == expected


# --- docker missing ------------------------------------------------------------------------


def test_build_without_docker_says_what_to_install(aws, settings, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty directory: no docker anywhere
    with pytest.raises(BadInput) as caught:
        image.build(aws, settings, SHA, console())
    assert "docker is not installed" in caught.value.message
    assert "docker buildx version" in caught.value.message


def test_build_without_buildx_says_what_to_install(aws, settings, docker_log, monkeypatch):
    monkeypatch.setenv("FAKE_DOCKER_NO_BUILDX", "1")
    with pytest.raises(BadInput, match="Buildx plugin is not"):
        image.build(aws, settings, SHA, console())
    assert [call["args"] for call in calls(docker_log)] == [["buildx", "version"]]


def test_build_without_a_running_daemon_says_to_start_docker(
    aws, settings, docker_log, monkeypatch
):
    monkeypatch.setenv("FAKE_DOCKER_NO_DAEMON", "1")
    with pytest.raises(BadInput, match="cannot reach its daemon"):
        image.build(aws, settings, SHA, console())
    with pytest.raises(BadInput, match="cannot reach its daemon"):
        image.push(aws, settings, SHA, console())
    assert not any(call["args"][0] in ("login", "push") for call in calls(docker_log))


def test_task_reports_missing_docker_without_traceback(tmp_path):
    env = {**os.environ, "PATH": str(tmp_path), "AWS_DEFAULT_REGION": "eu-west-1"}
    result = subprocess.run(
        [sys.executable, "-m", "invoke", "image.build", "--tag", SHA],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert "docker is not installed" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


# --- build and push (stand-in docker CLI, moto's ECR) -------------------------------------


def test_build_runs_buildx_for_the_nodes_platform(aws, settings, ecr, docker_log):
    uri = ecr.create_repository(repositoryName=settings.app.image_repository)["repository"]
    arm = settings.model_copy(
        update={"cluster": settings.cluster.model_copy(update={"node_architecture": "arm64"})}
    )
    ref = image.build(aws, arm, SHA, console())
    assert ref == f"{uri['repositoryUri']}:{SHA}"
    assert calls(docker_log)[-1]["args"] == [
        "buildx", "build", "--platform", "linux/arm64", "--file", str(ROOT / "Dockerfile"),
        "--tag", ref, "--load", str(ROOT),
    ]  # fmt: skip


def test_push_logs_in_on_stdin_pushes_and_returns_the_ecr_digest(aws, settings, ecr, docker_log):
    ecr.create_repository(repositoryName=settings.app.image_repository)
    ref = image.build(aws, settings, SHA, console())
    digest = image.push(aws, settings, SHA, console())
    assert digest == image.require_tag(aws, settings, SHA)

    login = next(call for call in calls(docker_log) if call["args"][0] == "login")
    password = "123456789012-auth-token"
    assert login["stdin"] == password
    assert login["args"] == [
        "login", "--username", "AWS", "--password-stdin",
        f"123456789012.dkr.ecr.{settings.region}.amazonaws.com",
    ]  # fmt: skip
    assert all(password not in " ".join(call["args"]) for call in calls(docker_log))
    assert calls(docker_log)[-1]["args"] == ["push", ref]


def test_push_without_a_local_build_says_to_build_first(aws, settings, ecr, docker_log):
    ecr.create_repository(repositoryName=settings.app.image_repository)
    with pytest.raises(BadInput, match=re.escape(f"invoke image.build --tag {SHA}")):
        image.push(aws, settings, SHA, console())
    assert not any(call["args"][0] in ("login", "push") for call in calls(docker_log))


def test_push_refuses_to_overwrite_an_immutable_tag(aws, settings, ecr, docker_log):
    ecr.create_repository(
        repositoryName=settings.app.image_repository, imageTagMutability="IMMUTABLE"
    )
    ecr.put_image(
        repositoryName=settings.app.image_repository, imageTag=SHA, imageManifest=MANIFEST
    )
    image.build(aws, settings, SHA, console())
    with pytest.raises(BadInput, match="immutable"):
        image.push(aws, settings, SHA, console())


def test_failed_docker_push_is_an_operation_failure(aws, settings, ecr, docker_log, monkeypatch):
    ecr.create_repository(repositoryName=settings.app.image_repository)
    image.build(aws, settings, SHA, console())
    monkeypatch.setenv("FAKE_DOCKER_PUSH_FAILS", "1")
    with pytest.raises(OperationFailed, match=r"pushing .* failed: docker exited with 1"):
        image.push(aws, settings, SHA, console())
    assert image.find_tag(aws, settings, SHA) is None


class _StubbedAws:
    """The gateway's one method image.py uses, handing out a Stubber-controlled client."""

    def __init__(self, client):
        self._client = client

    def client(self, service):
        assert service == "ecr"
        return self._client


def test_login_keeps_colons_in_the_password_botocore_stubber():
    # A password may itself contain ':'; only the first one separates user and password.
    client = boto3.client("ecr", region_name="eu-west-1", aws_access_key_id="x",
                          aws_secret_access_key="x")  # fmt: skip
    token = base64.b64encode(b"AWS:pass:with:colons").decode()
    with Stubber(client) as stub:
        stub.add_response(
            "get_authorization_token",
            {"authorizationData": [{
                "authorizationToken": token,
                "proxyEndpoint": "https://111122223333.dkr.ecr.eu-west-1.amazonaws.com",
            }]},
        )  # fmt: skip
        login = image.login(_StubbedAws(client))
    assert (login.username, login.password) == ("AWS", "pass:with:colons")
    assert login.registry == "111122223333.dkr.ecr.eu-west-1.amazonaws.com"


# --- deploy checks the tag first -----------------------------------------------------------


def test_deploy_refuses_a_missing_tag_before_any_stack_moto_server(settings, ecr, moto):
    from infra.orchestration import deploy
    from infra.orchestration.frame import Seams

    ecr.create_repository(repositoryName=settings.app.image_repository)
    ecr.put_image(
        repositoryName=settings.app.image_repository, imageTag=SHA, imageManifest=MANIFEST
    )
    missing = "f" * 40
    with pytest.raises(BadInput, match=f"image tag '{missing}' is not in ECR"):
        deploy.run(
            "prod",
            image_tag=missing,
            yes=True,
            console=console(),
            seams=Seams(
                aws_factory=lambda loaded: aws_gateway.Aws(
                    loaded.model_copy(update={"aws_endpoint_url": moto.url})
                )
            ),
        )
    cfn = moto.client("cloudformation")
    assert cfn.list_stacks()["StackSummaries"] == []
