"""infra/kube/eks.py: the EKS token (presigned STS GetCallerIdentity), its expiry and in-memory
refresh, the kubeconfig and its exec plugin. The presigned request is replayed against moto's
STS server over HTTP, the way the EKS API server replays it against STS."""

from __future__ import annotations

import base64
import datetime
import json
import os
import stat
import subprocess
import sys
import urllib.parse
from pathlib import Path

import boto3
import pytest
import requests
import yaml
from moto import mock_aws

from infra.core.errors import BadInput
from infra.kube import eks
from infra.kube.client import KubeApi
from tests.support.kmock_cluster import running_cluster

ROOT = Path(__file__).resolve().parents[3]
FAKE_CA = base64.b64encode(b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
START = datetime.datetime(2026, 11, 27, 8, 0, tzinfo=datetime.UTC)


class Clock:
    def __init__(self, now: datetime.datetime = START):
        self.now = now

    def __call__(self) -> datetime.datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += datetime.timedelta(**delta)


@pytest.fixture
def session():
    return boto3.Session(
        aws_access_key_id="AKIAIOSFODNN7EXAMPLE",
        aws_secret_access_key="wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        region_name="eu-west-1",
    )


def decode(token: eks.EksToken) -> urllib.parse.SplitResult:
    assert token.value.startswith("k8s-aws-v1.")
    encoded = token.value.removeprefix("k8s-aws-v1.")
    assert "=" not in encoded  # base64url without padding, as EKS expects
    return urllib.parse.urlsplit(
        base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()
    )


def test_the_token_is_a_presigned_regional_get_caller_identity_with_the_cluster_header(session):
    token = eks.get_token(eks.sts_client(session, "eu-west-1"), "gif-prod")
    url = decode(token)
    query = dict(urllib.parse.parse_qsl(url.query))

    assert (url.scheme, url.netloc, url.path) == ("https", "sts.eu-west-1.amazonaws.com", "/")
    assert query["Action"] == "GetCallerIdentity" and query["Version"] == "2011-06-15"
    assert query["X-Amz-Algorithm"] == "AWS4-HMAC-SHA256"
    assert query["X-Amz-Expires"] == "60"
    assert query["X-Amz-SignedHeaders"] == "host;x-k8s-aws-id"
    assert query["X-Amz-Credential"].split("/")[2:4] == ["eu-west-1", "sts"]
    assert len(query["X-Amz-Signature"]) == 64
    assert "wJalrXUtnFEMI" not in token.value  # signed, never the secret key itself


def test_the_token_expires_fourteen_minutes_after_signing(session):
    token = eks.get_token(eks.sts_client(session, "eu-west-1"), "gif-prod", now=Clock())
    assert token.expires_at == START + datetime.timedelta(minutes=14)
    assert token.value not in repr(token)


def test_the_presigned_request_is_answered_by_sts_like_eks_replays_it(session):
    # moto in-process: it serves the real regional STS URL (its server mode routes a
    # presigned GET without an Authorization header to S3, so it can't be used here).
    with mock_aws():
        token = eks.get_token(eks.sts_client(session, "eu-west-1"), "gif-prod")
        url = decode(token).geturl()
        response = requests.get(url, headers={"x-k8s-aws-id": "gif-prod"}, timeout=10)
    assert response.status_code == 200
    assert "<GetCallerIdentityResult>" in response.text
    assert "<UserId>AKIAIOSFODNN7EXAMPLE</UserId>" in response.text


def test_a_second_token_does_not_sign_the_header_twice(session):
    sts = eks.sts_client(session, "eu-west-1")
    eks.get_token(sts, "gif-prod")
    query = dict(urllib.parse.parse_qsl(decode(eks.get_token(sts, "gif-prod")).query))
    assert query["X-Amz-SignedHeaders"] == "host;x-k8s-aws-id"


def test_an_empty_cluster_name_is_bad_input(session):
    with pytest.raises(BadInput, match="cluster name is empty"):
        eks.get_token(eks.sts_client(session, "eu-west-1"), "")


def test_the_token_source_re_signs_one_minute_before_expiry(session):
    clock = Clock()
    tokens = eks.TokenSource(eks.sts_client(session, "eu-west-1"), "gif-prod", now=clock)
    first = tokens.current()
    clock.advance(minutes=12, seconds=59)
    assert tokens.current() is first
    clock.advance(seconds=2)  # 13:01 after signing: within the refresh margin
    second = tokens.current()
    assert second is not first
    assert second.expires_at == clock.now + datetime.timedelta(minutes=14)


def test_the_api_client_sends_the_token_and_refreshes_it_in_memory(session):
    clock = Clock(datetime.datetime.now(tz=datetime.UTC))
    tokens = eks.TokenSource(eks.sts_client(session, "eu-west-1"), "gif-prod", now=clock)
    with running_cluster() as cluster:
        api = KubeApi(eks.api_client(cluster.url, FAKE_CA.decode(), tokens))
        api.get("v1", "Namespace", "gif")
        first_token = tokens.current()
        first = cluster.emulator.log[-1].headers["Authorization"]
        clock.advance(minutes=14)
        api.get("v1", "Namespace", "gif")
        second_token = tokens.current()
        second = cluster.emulator.log[-1].headers["Authorization"]
    assert first == f"Bearer {first_token.value}"
    # Re-signed before the request (the URL itself may be byte-identical within one second).
    assert second_token.expires_at == first_token.expires_at + datetime.timedelta(minutes=14)
    assert second == f"Bearer {second_token.value}"


def test_a_certificate_authority_that_is_not_base64_is_bad_input(session):
    tokens = eks.TokenSource(eks.sts_client(session, "eu-west-1"), "gif-prod")
    with pytest.raises(BadInput, match="ClusterCertificateAuthority"):
        eks.api_client("https://example.eks.amazonaws.com", "not base64!", tokens)


def entries(context: str = "gif-prod") -> dict:
    return eks.kubeconfig_entries(
        context=context,
        cluster_name="gif-prod",
        endpoint="https://ABC.gr7.eu-west-1.eks.amazonaws.com",
        certificate_authority=FAKE_CA.decode(),
        region="eu-west-1",
    )


def test_kubeconfig_is_merged_private_idempotent_and_current(tmp_path):
    path = tmp_path / "kube" / "config"
    path.parent.mkdir()
    other = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "kind", "cluster": {"server": "https://127.0.0.1:6443"}}],
        "users": [{"name": "kind", "user": {"token": "keep-me"}}],
        "contexts": [{"name": "kind", "context": {"cluster": "kind", "user": "kind"}}],
        "current-context": "kind",
    }
    path.write_text(yaml.safe_dump(other))

    eks.write_kubeconfig(path, entries())
    eks.write_kubeconfig(path, entries())
    config = yaml.safe_load(path.read_text())

    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [c["name"] for c in config["clusters"]] == ["kind", "gif-prod"]
    assert [u["name"] for u in config["users"]] == ["kind", "gif-prod"]
    assert config["users"][0]["user"]["token"] == "keep-me"
    assert config["current-context"] == "gif-prod"
    user = config["users"][1]["user"]["exec"]
    assert user["command"] == sys.executable
    assert user["args"] == [
        "-m", "infra.eks", "token", "--cluster", "gif-prod", "--region", "eu-west-1"
    ]  # fmt: skip
    assert {"name": "PYTHONPATH", "value": str(ROOT)} in user["env"]
    assert "token" not in config["users"][1]["user"]  # no static token on disk


def test_a_broken_kubeconfig_is_bad_input_and_left_alone(tmp_path):
    path = tmp_path / "config"
    path.write_text("clusters: [unclosed\n")
    with pytest.raises(BadInput, match="not valid YAML"):
        eks.write_kubeconfig(path, entries())
    assert path.read_text() == "clusters: [unclosed\n"


def _plugin_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        HOME=str(tmp_path),
        AWS_CONFIG_FILE=str(tmp_path / "none"),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"),
        AWS_EC2_METADATA_DISABLED="true",
        PYTHONPATH=str(ROOT),
        **extra,
    )
    return env


def test_the_exec_plugin_prints_an_exec_credential(tmp_path):
    env = _plugin_env(
        tmp_path, AWS_ACCESS_KEY_ID="AKIAIOSFODNN7EXAMPLE", AWS_SECRET_ACCESS_KEY="secret"
    )
    command = [sys.executable, "-m", "infra.eks", "token", "--cluster", "gif-dev"]
    result = subprocess.run(
        [*command, "--region", "eu-west-1"], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    credential = json.loads(result.stdout)
    assert credential["kind"] == "ExecCredential"
    assert credential["apiVersion"] == "client.authentication.k8s.io/v1beta1"
    assert credential["status"]["token"].startswith("k8s-aws-v1.")
    assert credential["status"]["expirationTimestamp"].endswith("Z")


def test_the_exec_plugin_without_credentials_says_so(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "infra.eks", "token", "--cluster", "c", "--region", "eu-west-1"],
        env=_plugin_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "no AWS credentials found" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_exec_plugin_with_an_unknown_profile_says_so(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "infra.eks", "token", "--cluster", "c", "--region", "eu-west-1"],
        env=_plugin_env(tmp_path, AWS_PROFILE="nope"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "error: cannot sign an EKS token" in result.stderr and "nope" in result.stderr
    assert "Traceback" not in result.stderr


def test_each_cluster_s_token_is_signed_with_its_own_name_on_a_shared_sts_client(session):
    """Issue 15 item 18: the hook was registered once with a fixed unique_id, so a second
    cluster's token on the same client carried the first cluster's name."""
    sts = eks.sts_client(session, "eu-west-1")
    signed: list[str] = []
    sts.meta.events.register_last(
        "before-sign.sts.GetCallerIdentity",
        lambda request, **_: signed.append(request.headers["x-k8s-aws-id"]),
    )

    eks.get_token(sts, "gif-prod")
    eks.get_token(sts, "gif-dev")

    assert signed == ["gif-prod", "gif-dev"]
