"""What the Kubernetes tasks do: `k8s.render`, `kubeconfig`, `k8s.apply`.

Stack outputs are read from CloudFormation (the database, cluster, workload and shared
registry stacks); `k8s.render --offline` uses placeholders instead and needs no account.
"""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from infra.core import naming
from infra.core.errors import BadInput
from infra.core.paths import ROOT
from infra.kube import eks
from infra.kube import render as kube_render
from infra.kube import step as kube
from infra.orchestration.frame import REAL_PARTS, Frame
from infra.settings import params
from infra.settings.params import Settings
from infra.stacks import specs
from infra.stacks.outputs import collect

# The stacks whose outputs the manifests and the cluster access read.
OUTPUT_STACKS = specs.producers((*kube_render.REQUIRED_OUTPUTS, *kube.CLUSTER_OUTPUTS))


def build_dir(env: str) -> Path:
    return ROOT / "build" / env / "k8s"


def render_to_build(
    env: str, *, image_tag: str | None, offline: bool, console: Console
) -> list[Path]:
    """Render the environment's manifests into build/<env>/k8s/ (one file per object)."""
    settings = params.load(env)
    if offline:
        outputs = kube_render.offline_outputs(settings)
        image_tag = image_tag or settings.app.image_tag or kube_render.OFFLINE_TAG
        console.print("offline: using placeholder stack outputs (nothing read from AWS)")
    else:
        _require_eks(settings, "k8s.render (without --offline)")
        outputs = deployed_outputs(Frame.open(env, console, REAL_PARTS))
    docs = kube_render.render(settings, outputs, image_tag)
    return kube_render.write(docs, build_dir(env))


def deployed_outputs(frame: Frame) -> dict[str, str]:
    """The merged outputs of the stacks the manifests and the cluster access need."""
    merged: dict[str, str] = {}
    for key in OUTPUT_STACKS:
        found = frame.existing_outputs(key)
        if found is None:
            raise BadInput(f"stack {frame.stack_name(key)} does not exist: deploy it first.")
        merged.update(found)
    return merged


def write_kubeconfig(env: str, *, path: str | None, console: Console) -> Path:
    """Add (or refresh) a context for the environment's EKS cluster and make it current."""
    frame = Frame.open(env, console, REAL_PARTS)
    settings = frame.settings
    _require_eks(settings, "kubeconfig")
    outputs = collect(settings, deployed_outputs(frame), kube.CLUSTER_OUTPUTS)
    target = Path(path).expanduser() if path else eks.default_kubeconfig_path()
    context = f"{settings.project}-{settings.env}"
    eks.write_kubeconfig(
        target,
        eks.kubeconfig_entries(
            context=context,
            cluster_name=outputs[naming.Outputs.CLUSTER_NAME],
            endpoint=outputs[naming.Outputs.CLUSTER_ENDPOINT],
            certificate_authority=outputs[naming.Outputs.CLUSTER_CERTIFICATE_AUTHORITY],
            region=settings.region,
        ),
    )
    console.print(f"wrote context {context} to {target} (current context; namespace gif)")
    return target


def apply(
    env: str,
    *,
    image_tag: str | None,
    prune: bool,
    rollback: bool,
    dry_run: bool,
    console: Console,
) -> str | None:
    """The Kubernetes step of `invoke deploy` on its own, with the stacks as they are."""
    frame = Frame.open(env, console, REAL_PARTS)
    _require_eks(frame.settings, "k8s.apply")
    return kube.deploy_workload(
        frame.settings,
        deployed_outputs(frame),
        image_tag,
        prune=prune,
        rollback=rollback,
        dry_run=dry_run,
        console=console,
        session=frame.aws.session,
    )


def _require_eks(settings: Settings, what: str) -> None:
    if settings.aws_endpoint_url:
        raise BadInput(
            f"environment {settings.env!r} has no EKS cluster (it runs against the local AWS "
            f"emulator), so {what} has nothing to talk to. Render its manifests with "
            f"`invoke k8s.render --env {settings.env} --offline`; run the app locally with "
            f"`invoke deploy --env {settings.env}`."
        )
