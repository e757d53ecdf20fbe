"""The Kubernetes step of `invoke deploy`: render, validate, show the plan, apply, migrate,
roll out (rolling back on failure), prune, and report the app's URL.

Order: Namespace, ServiceAccounts, ConfigMap; the migration Job (wait for it; on failure
stop with its logs, the running version untouched); prune the kinds pruned first (an HPA no
longer rendered); then Deployment, Service, PDB, HPA, NetworkPolicy; wait for the rollout;
prune the rest of what we applied and no longer render.
"""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from infra.core import naming
from infra.core.errors import OperationFailed
from infra.kube import apply as kube_apply
from infra.kube import checks as kube_checks
from infra.kube import kinds
from infra.kube import render as kube_render
from infra.kube import rollout as kube_rollout
from infra.kube.client import KubeApi, Pacing, check_namespace
from infra.settings.params import Settings
from infra.stacks import outputs as stack_outputs

CLUSTER_OUTPUTS = (
    naming.Outputs.CLUSTER_NAME,
    naming.Outputs.CLUSTER_ENDPOINT,
    naming.Outputs.CLUSTER_CERTIFICATE_AUTHORITY,
)


def deploy_workload(
    settings: Settings,
    outputs: dict[str, str],
    image_tag: str | None,
    *,
    prune: bool = True,
    rollback: bool = True,
    dry_run: bool = False,
    console: Console,
    api_client: Any = None,
    pacing: Pacing | None = None,
    session: Any = None,
) -> str | None:
    """Put the rendered manifests on the environment's cluster; the app's URL when the
    Service has a load balancer hostname. `api_client` defaults to one for the EKS cluster
    named in `outputs`, its token signed with the command's boto3 `session` (so its STS
    calls are counted with the others) and refreshed in memory."""
    pacing = pacing or Pacing()
    docs = kube_render.render(settings, outputs, image_tag)
    problems = kube_checks.validate_docs(docs, settings.cluster.kubernetes_version)
    if problems:
        raise OperationFailed(
            "the rendered manifests are not valid for Kubernetes "
            f"{settings.cluster.kubernetes_version}: " + "; ".join(problems)
        )
    print_plan(console, docs, prune=prune, rollback=rollback)
    if dry_run:
        console.print("dry run: nothing applied to the cluster")
        return None

    if api_client is None:
        api_client = _eks_api_client(settings, outputs, session)
    api = KubeApi(api_client, describe=_describe(outputs))
    namespace = naming.K8S_NAMESPACE
    check_namespace(api, namespace)
    first = [doc for doc in docs if kinds.phase(doc) == kinds.Phase.BASE]
    jobs = [doc for doc in docs if kinds.phase(doc) == kinds.Phase.MIGRATION]
    rest = [doc for doc in docs if kinds.phase(doc) == kinds.Phase.APP]
    deployment = next(doc for doc in docs if doc["kind"] == "Deployment")

    early: list[tuple[str, str, str]] = []
    late: list[tuple[str, str, str]] = []
    if prune:
        for doomed in kube_apply.prune_candidates(api, docs, namespace):
            (early if doomed[1] in kinds.PRUNED_FIRST else late).append(doomed)
        if early:
            console.print(f"prune before the app is applied: {_listed(early)}")
        console.print(f"prune after a healthy rollout: {_listed(late)}")
    console.print("[bold]kubernetes[/] applying (server-side apply, field manager gifstack)")
    kube_apply.apply_all(api, first, console)
    for job in jobs:
        kube_apply.run_migration(api, job, console, pacing)
    if early:  # e.g. an HPA no longer rendered: gone before it can scale the new Deployment
        kube_apply.prune(api, docs, namespace, console, early)
    kube_apply.apply_all(api, rest, console, autoscaler_minimum=settings.app.replicas)
    _roll_out(api, deployment, console, pacing, rollback=rollback)
    if prune:
        kube_apply.prune(api, docs, namespace, console, late)
    scheme = "https" if settings.app.tls_certificate_arn else "http"  # TLS ends at the NLB
    return _url(api, namespace, console, scheme)


def check_rollout(
    settings: Settings,
    outputs: dict[str, str],
    *,
    console: Console,
    session: Any = None,
    api_client: Any = None,
    pacing: Pacing | None = None,
) -> None:
    """The app's Deployment is rolled out and every replica available (after new nodes:
    its pods rescheduled and ready again); RolloutFailed after the rollout's deadline."""
    if api_client is None:
        api_client = _eks_api_client(settings, outputs, session)
    api = KubeApi(api_client, describe=_describe(outputs))
    console.print(f"[bold]kubernetes[/] checking the rollout of Deployment/{kube_render.APP}")
    kube_rollout.wait(api, kube_render.APP, naming.K8S_NAMESPACE, console, pacing or Pacing())


def _listed(doomed: list[tuple[str, str, str]]) -> str:
    return escape(", ".join(f"{kind}/{name}" for _, kind, name in doomed) or "nothing")


def print_plan(console: Console, docs: list[dict[str, Any]], *, prune: bool, rollback: bool):
    table = Table(title="Kubernetes plan (namespace gif)", title_justify="left")
    table.add_column("#", justify="right")
    table.add_column("object")
    table.add_column("what")
    for index, doc in enumerate(docs, start=1):
        table.add_row(str(index), escape(kube_apply.ref(doc)), _what(doc))
    console.print(table)
    console.print(
        f"prune: {'on' if prune else 'off'} "
        f"({'delete' if prune else 'keep'} the objects field manager gifstack applied that are "
        f"no longer rendered{'' if prune else '; --prune to delete them'})"
    )
    console.print(f"rollback on a failed rollout: {'on' if rollback else 'off (--no-rollback)'}")


def _what(doc: dict[str, Any]) -> str:
    spec = doc.get("spec") or {}
    if doc["kind"] == "Job":
        image = spec["template"]["spec"]["containers"][0]["image"]
        return f"migrate, then seed; wait for completion ({escape(image)})"
    if doc["kind"] == "Deployment":
        image = spec["template"]["spec"]["containers"][0]["image"]
        replicas = spec.get("replicas", "autoscaled")
        return f"{replicas} replicas of {escape(image)}; wait for the rollout"
    return "apply"


def _roll_out(
    api: KubeApi, deployment: dict[str, Any], console: Console, pacing: Pacing, *, rollback: bool
) -> None:
    name = deployment["metadata"]["name"]
    namespace = deployment["metadata"]["namespace"]
    console.print(f"[bold]kubernetes[/] waiting for the rollout of Deployment/{name}")
    try:
        kube_rollout.wait(api, name, namespace, console, pacing)
    except kube_rollout.RolloutFailed as failure:
        console.print(f"[red]rollout failed: {escape(failure.message)}[/red]")
        kube_rollout.explain(api, name, namespace, console)
        if not rollback:
            raise OperationFailed(
                f"{failure.message}. The failed version was left in place for debugging "
                "(--no-rollback); deploy a fixed image, or roll back with "
                f"`kubectl -n {namespace} rollout undo deployment/{name}`."
            ) from None
        outcome = kube_rollout.rollback(api, deployment, console, pacing)
        if outcome is None:
            raise OperationFailed(
                f"{failure.message}. There is no previous version to roll back to (first "
                "deploy); fix the cause shown above and deploy again."
            ) from None
        raise OperationFailed(
            f"{failure.message}. {outcome[0].upper()}{outcome[1:]}; fix the cause shown "
            "above and deploy again."
        ) from None


def _url(api: KubeApi, namespace: str, console: Console, scheme: str) -> str | None:
    service = api.get("v1", "Service", kube_render.APP, namespace) or {}
    ingress = ((service.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
    hostname = next((item.get("hostname") for item in ingress if item.get("hostname")), None)
    if hostname is None:
        console.print(
            "the load balancer has no address yet (a new NLB takes a few minutes); see "
            f"`kubectl -n {namespace} get service {kube_render.APP}`"
        )
        return None
    url = f"{scheme}://{hostname}/"
    console.print(f"[bold green]the GIF service is at {url}[/bold green]")
    return url


def _describe(outputs: dict[str, str]) -> str:
    cluster = outputs.get(naming.Outputs.CLUSTER_NAME)
    return f"the API server of EKS cluster {cluster}" if cluster else "the Kubernetes API server"


def _eks_api_client(settings: Settings, outputs: dict[str, str], session: Any) -> Any:
    from infra.kube import eks

    outputs = stack_outputs.collect(settings, outputs, CLUSTER_OUTPUTS)
    tokens = eks.TokenSource(
        eks.sts_client(session, settings.region), outputs[naming.Outputs.CLUSTER_NAME]
    )
    return eks.api_client(
        outputs[naming.Outputs.CLUSTER_ENDPOINT],
        outputs[naming.Outputs.CLUSTER_CERTIFICATE_AUTHORITY],
        tokens,
    )
