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
from infra.settings import params
from infra.settings.params import Settings
from infra.stacks import specs

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
        outputs = deployed_outputs(settings, console)
    docs = kube_render.render(settings, outputs, image_tag)
    return kube_render.write(docs, build_dir(env))


def deployed_outputs(settings: Settings, console: Console) -> dict[str, str]:
    """The merged outputs of the stacks the manifests and the cluster access need."""
    from infra.aws.session import Aws
    from infra.cfn.engine import DeployOptions, StackEngine

    aws = Aws(settings)
    engine = StackEngine(aws.client("cloudformation"), console, DeployOptions())
    merged: dict[str, str] = {}
    for key in OUTPUT_STACKS:
        merged.update(engine.outputs(specs.stack_name(settings.project, settings.env, key)))
    return merged


def write_kubeconfig(env: str, *, path: str | None, console: Console) -> Path:
    """Add (or refresh) a context for the environment's EKS cluster and make it current."""
    settings = params.load(env)
    _require_eks(settings, "kubeconfig")
    outputs = deployed_outputs(settings, console)
    missing = [key for key in kube.CLUSTER_OUTPUTS if not outputs.get(key)]
    if missing:
        raise BadInput(
            f"the cluster stack has no {', '.join(missing)} output: deploy it first "
            f"(invoke deploy --env {env})."
        )
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
    settings = params.load(env)
    _require_eks(settings, "k8s.apply")
    outputs = deployed_outputs(settings, console)
    return kube.deploy_workload(
        settings,
        outputs,
        image_tag,
        prune=prune,
        rollback=rollback,
        dry_run=dry_run,
        console=console,
    )


def _require_eks(settings: Settings, what: str) -> None:
    if settings.aws_endpoint_url:
        raise BadInput(
            f"environment {settings.env!r} has no EKS cluster (it runs against the local AWS "
            f"emulator), so {what} has nothing to talk to. Render its manifests with "
            f"`invoke k8s.render --env {settings.env} --offline`; run the app locally with "
            f"`invoke deploy --env {settings.env}`."
        )
