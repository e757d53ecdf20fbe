"""The GIF service's container image: build it with Docker Buildx, push it to ECR, check a tag.

CI builds and pushes with docker/build-push-action (.github/workflows/deploy.yml); these
functions do the same from a workstation (`invoke image.build` / `invoke image.push`) and let
`invoke deploy` refuse a tag that is not in the registry before any stack is touched.

The ECR password comes from boto3 (GetAuthorizationToken) and reaches `docker login` on stdin
only: never on a command line, in a log line or in an error message.
"""

from __future__ import annotations

import base64
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from rich.console import Console

from infra.aws.session import Aws, translate
from infra.core.errors import BadInput, OperationFailed
from infra.core.paths import ROOT
from infra.settings import image_tag
from infra.settings.params import Settings

# The node group's CPU architecture (params: cluster.node_architecture) as an OCI platform.
PLATFORMS = {"x86_64": "linux/amd64", "arm64": "linux/arm64"}


_INSTALL_HINT = (
    "Install Docker Engine or Docker Desktop with the Buildx plugin "
    "(https://docs.docker.com/build/install-buildx/), then check with `docker buildx version`."
)


@dataclass(frozen=True)
class RegistryLogin:
    """Credentials for one ECR registry; the password stays out of repr() and logs."""

    registry: str  # 123456789012.dkr.ecr.eu-west-1.amazonaws.com
    username: str
    password: str = field(repr=False)


def platform(settings: Settings) -> str:
    """`linux/amd64` or `linux/arm64`: what the environment's nodes run."""
    return PLATFORMS[settings.cluster.node_architecture]


def require_docker(*, buildx: bool) -> str:
    """The docker executable's path; BadInput when it, its Buildx plugin or its daemon is
    missing (checked before anything else happens)."""
    docker = shutil.which("docker")
    if docker is None:
        raise BadInput(f"docker is not installed (no `docker` on PATH). {_INSTALL_HINT}")
    if buildx and not _succeeds([docker, "buildx", "version"]):
        raise BadInput(f"docker is installed but its Buildx plugin is not. {_INSTALL_HINT}")
    if not _succeeds([docker, "version", "--format", "{{.Server.Version}}"]):
        raise BadInput(
            "docker cannot reach its daemon: start Docker (Docker Desktop, or "
            "`sudo systemctl start docker`), then check with `docker version`."
        )
    return docker


def login(aws: Aws) -> RegistryLogin:
    """An ECR login from boto3's GetAuthorizationToken (the token is base64 `user:password`)."""
    try:
        data = aws.client("ecr").get_authorization_token()["authorizationData"][0]
    except (ClientError, BotoCoreError) as exc:
        raise translate(exc, "getting an ECR login token", "the account's registry") from None
    username, _, password = base64.b64decode(data["authorizationToken"]).decode().partition(":")
    registry = data["proxyEndpoint"].removeprefix("https://").removeprefix("http://")
    return RegistryLogin(registry=registry.rstrip("/"), username=username, password=password)


def repository(aws: Aws, settings: Settings) -> dict[str, Any]:
    """The ECR repository the registry stack made (uri, tag mutability); BadInput if absent."""
    name = settings.app.image_repository
    try:
        found = aws.client("ecr").describe_repositories(repositoryNames=[name])
    except (ClientError, BotoCoreError) as exc:
        if _code(exc) == "RepositoryNotFoundException":
            raise BadInput(
                f"ECR repository {name!r} does not exist in {settings.region}: create it once "
                "with `invoke bootstrap` (it deploys the registry and ci stacks)."
            ) from None
        raise translate(exc, "describing ECR repository", name) from None
    return found["repositories"][0]


def find_tag(aws: Aws, settings: Settings, tag: str) -> str | None:
    """The digest of `tag` (a tag or a sha256 digest) in the environment's ECR repository, or
    None when it isn't there."""
    name = settings.app.image_repository
    image_tag.check(tag)
    image_id = {"imageDigest": tag} if image_tag.is_digest(tag) else {"imageTag": tag}
    try:
        found = aws.client("ecr").describe_images(repositoryName=name, imageIds=[image_id])
    except (ClientError, BotoCoreError) as exc:
        if _code(exc) == "ImageNotFoundException":
            return None
        if _code(exc) == "RepositoryNotFoundException":
            raise BadInput(
                f"ECR repository {name!r} does not exist in {settings.region}: create it once "
                "with `invoke bootstrap`, then push an image with `invoke image.push`."
            ) from None
        raise translate(exc, "looking up image tag", f"{name}:{tag}") from None
    images = found.get("imageDetails") or []
    return images[0]["imageDigest"] if images else None


def require_tag(aws: Aws, settings: Settings, tag: str) -> str:
    """The digest of `tag`; BadInput when ECR doesn't have it (deploy checks this first)."""
    digest = find_tag(aws, settings, tag)
    if digest is None:
        raise BadInput(
            f"image tag {tag!r} is not in ECR repository {settings.app.image_repository!r} "
            f"({settings.region}), so nothing was deployed. Push it first (a push to master "
            f"does, or `invoke image.build --tag {tag}` then `invoke image.push --tag {tag}`), "
            "or pick an existing tag: `aws ecr list-images --repository-name "
            f"{settings.app.image_repository}`."
        )
    return digest


def build(aws: Aws, settings: Settings, tag: str, console: Console, *, context: Path = ROOT) -> str:
    """Build the image for the nodes' platform into the local Docker store; returns its ref."""
    image_tag.check(tag, digest=False)
    docker = require_docker(buildx=True)
    ref = f"{repository(aws, settings)['repositoryUri']}:{tag}"
    console.print(f"building {ref} for {platform(settings)}")
    # --load puts the result in the local image store, where image.push finds it.
    command = [docker, "buildx", "build", "--platform", platform(settings)]
    command += ["--file", str(context / "Dockerfile"), "--tag", ref, "--load", str(context)]
    _run(command, what=f"building {ref}")
    console.print(f"built {ref}; push it with `invoke image.push --tag {tag}`")
    return ref


def push(aws: Aws, settings: Settings, tag: str, console: Console) -> str:
    """Push the locally built image to ECR; returns the digest ECR recorded for the tag."""
    image_tag.check(tag, digest=False)
    docker = require_docker(buildx=False)
    repo = repository(aws, settings)
    ref = f"{repo['repositoryUri']}:{tag}"
    if subprocess.run([docker, "image", "inspect", ref], capture_output=True).returncode != 0:
        raise BadInput(
            f"there is no local image {ref}: build it with `invoke image.build --tag {tag}`."
        )
    existing = find_tag(aws, settings, tag)
    if existing and repo.get("imageTagMutability") == "IMMUTABLE":
        raise BadInput(
            f"tag {tag!r} is already in ECR ({existing}) and the repository's tags are "
            "immutable: deploy that one, or build under a new tag (e.g. the commit SHA)."
        )
    credentials = login(aws)
    # The password goes to docker on stdin: never on a command line (visible in `ps`).
    command = [docker, "login", "--username", credentials.username, "--password-stdin"]
    _run(
        [*command, credentials.registry],
        what=f"logging in to {credentials.registry}",
        stdin=credentials.password,
    )
    _run([docker, "push", ref], what=f"pushing {ref}")
    digest = find_tag(aws, settings, tag)
    if digest is None:
        raise OperationFailed(f"docker pushed {ref} but ECR does not list tag {tag!r}.")
    console.print(f"pushed {ref} ({digest})")
    return digest


def _run(args: list[str], *, what: str, stdin: str | None = None) -> None:
    # Docker's own progress goes straight to the terminal; only the exit code matters here.
    result = subprocess.run(args, input=stdin, text=True, check=False)
    if result.returncode != 0:
        raise OperationFailed(
            f"{what} failed: docker exited with {result.returncode} (its output is above)."
        )


def _succeeds(args: list[str]) -> bool:
    return subprocess.run(args, capture_output=True, text=True, check=False).returncode == 0


def _code(exc: Exception) -> str:
    if isinstance(exc, ClientError):
        return exc.response.get("Error", {}).get("Code", "")
    return ""
