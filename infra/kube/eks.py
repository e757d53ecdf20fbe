"""EKS cluster authentication without the AWS CLI, aws-iam-authenticator or kubectl.

A bearer token for EKS is an STS GetCallerIdentity request, presigned by boto3 with the
`x-k8s-aws-id: <cluster name>` header signed into it, base64url-encoded behind the prefix
`k8s-aws-v1.`. The API server replays the request to STS to learn who we are; EKS accepts it
for 15 minutes after signing, so we treat it as expired after 14 (as `aws eks get-token`).

- `TokenSource`: a token kept in memory and re-signed shortly before it expires; `api_client`
  hooks it into the kubernetes client so a long rollout never sends a stale token.
- `write_kubeconfig`: a kubeconfig context whose user runs `python -m infra.eks token ...`
  (an ExecCredential plugin), merged into an existing kubeconfig file.
"""

from __future__ import annotations

import argparse
import atexit
import base64
import contextlib
import datetime
import json
import os
import sys
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client as k8s_client

from infra.core.errors import BadInput
from infra.core.paths import ROOT

TOKEN_PREFIX = "k8s-aws-v1."
CLUSTER_ID_HEADER = "x-k8s-aws-id"
URL_EXPIRES_SECONDS = 60  # how long the presigned URL itself is valid (as the AWS CLI)
TOKEN_LIFETIME = datetime.timedelta(minutes=14)  # EKS accepts it for 15 minutes
REFRESH_MARGIN = datetime.timedelta(minutes=1)  # re-sign this long before it expires

Clock = Callable[[], datetime.datetime]


def _utcnow() -> datetime.datetime:
    return datetime.datetime.now(tz=datetime.UTC)


@dataclass(frozen=True)
class EksToken:
    value: str
    expires_at: datetime.datetime

    def __repr__(self) -> str:  # never print the bearer token
        return f"EksToken(expires_at={self.expires_at.isoformat()})"


def sts_client(session: Any, region: str, endpoint_url: str | None = None) -> Any:
    """An STS client on the region's own endpoint (botocore's default since 1.36; explicit,
    so AWS_STS_REGIONAL_ENDPOINTS=legacy can't send the token's request to the global one)."""
    if endpoint_url is None:
        suffix = "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"
        endpoint_url = f"https://sts.{region}.{suffix}"
    return session.client("sts", region_name=region, endpoint_url=endpoint_url)


_BEFORE_SIGN = "before-sign.sts.GetCallerIdentity"
_HOOK_ID = "gifstack-eks-id"
_SIGNING = threading.Lock()  # one signature at a time: the hook is per client, not per call


def get_token(sts: Any, cluster_name: str, *, now: Clock = _utcnow) -> EksToken:
    """Presign GetCallerIdentity with the cluster's name in a signed header; no AWS call."""
    if not cluster_name:
        raise BadInput("cannot make an EKS token: the cluster name is empty.")

    def add_cluster_header(request: Any, **_: Any) -> None:
        request.headers[CLUSTER_ID_HEADER] = cluster_name

    # Registered on this client for this one signature only: a hook left in place would sign
    # every later token of the client (another cluster's too) with this cluster's name.
    with _SIGNING:
        sts.meta.events.register(_BEFORE_SIGN, add_cluster_header, unique_id=_HOOK_ID)
        try:
            signed_at = now()
            url = sts.generate_presigned_url(
                "get_caller_identity", Params={}, ExpiresIn=URL_EXPIRES_SECONDS, HttpMethod="GET"
            )
        finally:
            sts.meta.events.unregister(_BEFORE_SIGN, unique_id=_HOOK_ID)
    encoded = base64.urlsafe_b64encode(url.encode()).decode().rstrip("=")
    return EksToken(TOKEN_PREFIX + encoded, signed_at + TOKEN_LIFETIME)


class TokenSource:
    """The current token for one cluster, re-signed when it is about to expire."""

    def __init__(self, sts: Any, cluster_name: str, *, now: Clock = _utcnow):
        self._sts = sts
        self._cluster = cluster_name
        self._now = now
        self._token: EksToken | None = None
        self._lock = threading.Lock()

    def current(self) -> EksToken:
        with self._lock:
            if self._token is None or self._now() >= self._token.expires_at - REFRESH_MARGIN:
                self._token = get_token(self._sts, self._cluster, now=self._now)
            return self._token


def api_client(endpoint: str, certificate_authority: str, tokens: TokenSource) -> Any:
    """A kubernetes ApiClient for the cluster whose bearer token is refreshed in memory."""
    configuration = k8s_client.Configuration()
    configuration.host = endpoint
    configuration.ssl_ca_cert = _ca_file(certificate_authority)
    configuration.api_key_prefix = {"BearerToken": "Bearer"}
    configuration.api_key = {"BearerToken": tokens.current().value}
    configuration.retries = 2  # an unreachable endpoint fails in seconds, not minutes

    def refresh(config: Any) -> None:  # called by the client before every request
        config.api_key["BearerToken"] = tokens.current().value

    configuration.refresh_api_key_hook = refresh
    return k8s_client.ApiClient(configuration)


def _ca_file(certificate_authority: str) -> str:
    """The cluster CA (base64 PEM, as EKS reports it) in a file, for urllib3."""
    try:
        pem = base64.b64decode(certificate_authority, validate=True)
    except ValueError:
        raise BadInput(
            "the cluster stack's ClusterCertificateAuthority output is not base64; "
            "redeploy the cluster stack."
        ) from None
    handle, path = tempfile.mkstemp(prefix="gifstack-eks-ca-", suffix=".pem")
    with os.fdopen(handle, "wb") as file:  # a public certificate, not a secret
        file.write(pem)
    atexit.register(_remove, path)
    return path


def _remove(path: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)


def exec_credential(token: EksToken) -> dict[str, Any]:
    """What a kubeconfig `exec` plugin prints (client.authentication.k8s.io/v1beta1)."""
    return {
        "kind": "ExecCredential",
        "apiVersion": "client.authentication.k8s.io/v1beta1",
        "spec": {},
        "status": {
            "expirationTimestamp": token.expires_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "token": token.value,
        },
    }


def kubeconfig_entries(
    *,
    context: str,
    cluster_name: str,
    endpoint: str,
    certificate_authority: str,
    region: str,
    profile: str | None = None,
) -> dict[str, dict[str, Any]]:
    """The cluster, user and context entries for one EKS cluster."""
    args = ["-m", "infra.eks", "token", "--cluster", cluster_name, "--region", region]
    env = [{"name": "PYTHONPATH", "value": str(ROOT)}]
    if profile:
        env.append({"name": "AWS_PROFILE", "value": profile})
    return {
        "cluster": {
            "name": context,
            "cluster": {"server": endpoint, "certificate-authority-data": certificate_authority},
        },
        "user": {
            "name": context,
            "user": {
                "exec": {
                    "apiVersion": "client.authentication.k8s.io/v1beta1",
                    "command": sys.executable,
                    "args": args,
                    "env": env,
                    "interactiveMode": "Never",
                    "provideClusterInfo": False,
                }
            },
        },
        "context": {
            "name": context,
            "context": {"cluster": context, "user": context, "namespace": "gif"},
        },
    }


def write_kubeconfig(path: Path, entries: dict[str, dict[str, Any]]) -> None:
    """Add or replace our cluster/user/context in a kubeconfig, keep everything else, and
    make it the current context. The file is written 0600 (it names clusters and users)."""
    config: dict[str, Any] = {}
    if path.exists():
        try:
            config = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as exc:
            raise BadInput(f"{path} is not valid YAML ({exc}); fix or move it first.") from None
        if not isinstance(config, dict):
            raise BadInput(f"{path} is not a kubeconfig (no mapping at the top); move it first.")
    config.setdefault("apiVersion", "v1")
    config.setdefault("kind", "Config")
    config.setdefault("preferences", {})
    for key, section in (("cluster", "clusters"), ("user", "users"), ("context", "contexts")):
        entry = entries[key]
        others = [item for item in config.get(section) or [] if item.get("name") != entry["name"]]
        config[section] = [*others, entry]
    config["current-context"] = entries["context"]["name"]
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(handle, "w") as file:
        file.write(yaml.safe_dump(config, sort_keys=False))
    path.chmod(0o600)


def default_kubeconfig_path() -> Path:
    first = os.environ.get("KUBECONFIG", "").split(os.pathsep)[0]
    return Path(first).expanduser() if first else Path.home() / ".kube" / "config"


def main(argv: list[str] | None = None) -> int:
    """`python -m infra.eks token --cluster NAME --region REGION`: the kubeconfig exec plugin."""
    import boto3  # here, so importing this module stays cheap
    from botocore.exceptions import BotoCoreError

    parser = argparse.ArgumentParser(prog="python -m infra.eks")
    commands = parser.add_subparsers(dest="command", required=True)
    token = commands.add_parser("token", help="Print an ExecCredential for an EKS cluster.")
    token.add_argument("--cluster", required=True, help="EKS cluster name.")
    token.add_argument("--region", required=True, help="The cluster's AWS region.")
    parsed = parser.parse_args(argv)
    try:
        session = boto3.Session(region_name=parsed.region)
        credentials = session.get_credentials()
        if credentials is None:
            print(
                "error: no AWS credentials found; set AWS_PROFILE or AWS_ACCESS_KEY_ID/"
                "AWS_SECRET_ACCESS_KEY (run `aws sso login` for SSO profiles).",
                file=sys.stderr,
            )
            return 2
        value = get_token(sts_client(session, parsed.region), parsed.cluster)
    except BotoCoreError as exc:  # e.g. an unknown AWS_PROFILE, an expired SSO session
        print(f"error: cannot sign an EKS token: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(exec_credential(value)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
