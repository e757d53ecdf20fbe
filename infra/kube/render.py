"""Render the plain manifests in k8s/ for one environment: load YAML, set fields, dump YAML.

Values come from the environment's settings (params) and the stacks' outputs (naming.Outputs
keys). Only the output keys listed in REQUIRED_OUTPUTS are read, all of them names, addresses
or ARNs: no secret value can reach a rendered manifest. Rendering is structural (never text
substitution) and deterministic, so two renders that differ only in the image tag differ only
in the Deployment's and the Job's image and the Job's name.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import yaml

from infra.core import naming, revision
from infra.core.errors import BadInput
from infra.core.paths import ROOT
from infra.kube import timing
from infra.kube.kinds import APPLY_ORDER, BY_NAME
from infra.settings import image_tag as image_tag_rule
from infra.settings.params import Settings
from infra.stacks import outputs as stack_outputs

MANIFEST_DIR = ROOT / "k8s"

APP_NAME = "gif-service"
APP = "gif-app"  # Deployment, Service, PDB, HPA and the app's NetworkPolicy
CONFIG = "gif-config"
MIGRATE = "gif-migrate"  # the Job's name prefix and the migration NetworkPolicy
SOURCE_DATABASE_PORT = 5432  # k8s/80-networkpolicy.yaml's placeholder for the database port
HTTPS_PORT = 443
ANYWHERE = "0.0.0.0/0"
AWS_LB = "service.beta.kubernetes.io/aws-load-balancer"
TLS_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06"  # TLS 1.3 and 1.2 only
ROLE_ANNOTATION = "gifstack.dev/pod-identity-role-arn"
CONFIG_HASH_ANNOTATION = "gifstack.dev/config-hash"
# The commit that deployed it: on the Deployment itself (not its pod template, so a commit
# that changes nothing else restarts no pod); never a stack tag (infra/core/revision.py).
GIT_COMMIT_ANNOTATION = "gifstack.dev/git-commit"
MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"


# The stack outputs the manifests are rendered with (which stack makes each: the stack
# table, infra/stacks/specs.py).
REQUIRED_OUTPUTS = (
    naming.Outputs.DATABASE_SUBNET_CIDRS,
    naming.Outputs.DATABASE_ENDPOINT,
    naming.Outputs.DATABASE_PORT,
    naming.Outputs.DATABASE_NAME,
    naming.Outputs.DATABASE_MASTER_SECRET_ARN,
    naming.Outputs.APP_ROLE_ARN,
    naming.Outputs.MIGRATE_ROLE_ARN,
    naming.Outputs.REPOSITORY_URI,
)

OFFLINE_TAG = "offline-placeholder"
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when present: ~10x faster


def offline_outputs(settings: Settings) -> dict[str, str]:
    """Clearly fake stack outputs, so every environment renders without an AWS account."""
    from infra.stacks.network import database_subnet_cidrs  # troposphere: only when offline

    account = "000000000000"
    arn = f"arn:aws:iam::{account}:role"
    return {
        # Computed as the network stack makes them: addresses, not secrets.
        naming.Outputs.DATABASE_SUBNET_CIDRS: ",".join(database_subnet_cidrs(settings)),
        naming.Outputs.DATABASE_ENDPOINT: f"{settings.project}-{settings.env}-db.offline.invalid",
        naming.Outputs.DATABASE_PORT: str(settings.database.port),
        naming.Outputs.DATABASE_NAME: settings.database.name,
        naming.Outputs.DATABASE_MASTER_SECRET_ARN: (
            f"arn:aws:secretsmanager:{settings.region}:{account}:secret:offline-placeholder"
        ),
        naming.Outputs.APP_ROLE_ARN: f"{arn}/offline-placeholder-app",
        naming.Outputs.MIGRATE_ROLE_ARN: f"{arn}/offline-placeholder-migrate",
        naming.Outputs.REPOSITORY_URI: (
            f"{account}.dkr.ecr.{settings.region}.amazonaws.com/{settings.app.image_repository}"
        ),
    }


def render(settings: Settings, outputs: dict[str, str], image_tag: str) -> list[dict[str, Any]]:
    """The environment's manifests, ready to apply, in APPLY_ORDER."""
    outputs = stack_outputs.collect(
        settings,
        outputs,
        REQUIRED_OUTPUTS,
        alternative="render with --offline to use placeholders",
    )
    tag = image_tag_rule.resolve(settings, image_tag)
    sources = load_sources()
    config = _config(settings, outputs, sources.pop(("ConfigMap", CONFIG)))
    image = _image(outputs[naming.Outputs.REPOSITORY_URI], tag)
    docs = [
        _namespace(settings, sources.pop(("Namespace", naming.K8S_NAMESPACE))),
        _service_account(
            sources.pop(("ServiceAccount", naming.APP_SERVICE_ACCOUNT)),
            outputs[naming.Outputs.APP_ROLE_ARN],
        ),
        _service_account(
            sources.pop(("ServiceAccount", naming.MIGRATE_SERVICE_ACCOUNT)),
            outputs[naming.Outputs.MIGRATE_ROLE_ARN],
        ),
        config,
        _job(outputs, image, sources.pop(("Job", MIGRATE))),
        _deployment(settings, image, _hash(config["data"]), sources.pop(("Deployment", APP))),
        _service(settings, sources.pop(("Service", APP))),
        sources.pop(("PodDisruptionBudget", APP)),
    ]
    hpa = sources.pop(("HorizontalPodAutoscaler", APP))
    if settings.app.autoscaling:
        docs.append(_autoscaler(settings, hpa))
    # Every other object of a known kind goes as written (labelled, in our namespace); every
    # NetworkPolicy gets the app's and the database's ports and addresses.
    for doc in sources.values():
        docs.append(
            _network_policy(settings, outputs, doc) if doc["kind"] == "NetworkPolicy" else doc
        )
    for doc in docs:
        _label(settings, doc)
        if doc["kind"] == "Job":
            _name_job(doc)
    return sorted(docs, key=lambda doc: APPLY_ORDER.index(doc["kind"]))


def load_sources(directory: Path = MANIFEST_DIR) -> dict[tuple[str, str], dict[str, Any]]:
    """Every object of k8s/*.yaml by (kind, name)."""
    objects: dict[tuple[str, str], dict[str, Any]] = {}
    for path in sorted(directory.glob("*.yaml")):
        try:
            documents = [doc for doc in yaml.load_all(path.read_text(), Loader=_LOADER) if doc]
        except yaml.YAMLError as exc:
            raise BadInput(f"k8s/{path.name}: not valid YAML: {exc}") from None
        for doc in documents:
            if doc.get("kind") not in BY_NAME:
                raise BadInput(
                    f"k8s/{path.name}: kind {doc.get('kind')!r} is not one gifstack manages "
                    f"({', '.join(APPLY_ORDER)}); add it to infra/kube/kinds.py."
                )
            objects[(doc["kind"], doc["metadata"]["name"])] = doc
    return objects


def write(docs: list[dict[str, Any]], out_dir: Path) -> list[Path]:
    """One file per object, named `NN-kind-name.yaml` in apply order; stale files removed."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for stale in out_dir.glob("*.yaml"):
        stale.unlink()
    paths = []
    for index, doc in enumerate(docs):
        path = out_dir / f"{index:02d}-{doc['kind'].lower()}-{doc['metadata']['name']}.yaml"
        path.write_text(dump(doc))
        paths.append(path)
    return paths


def dump(doc: dict[str, Any]) -> str:
    return yaml.safe_dump(doc, sort_keys=False, default_flow_style=False)


def _image(repository_uri: str, tag: str) -> str:
    return f"{repository_uri}@{tag}" if image_tag_rule.is_digest(tag) else f"{repository_uri}:{tag}"


def _hash(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()[:10]


def _label(settings: Settings, doc: dict[str, Any]) -> None:
    """Recommended labels on the object and on its pod template; namespaced objects in ours."""
    common = {
        "app.kubernetes.io/name": APP_NAME,
        "app.kubernetes.io/instance": f"{settings.project}-{settings.env}",
        "app.kubernetes.io/part-of": naming.MANAGED_BY,
        MANAGED_BY_LABEL: naming.MANAGED_BY,
    }
    metadata = doc["metadata"]
    metadata["labels"] = {**common, **metadata.get("labels", {})}
    if doc["kind"] != "Namespace":
        metadata["namespace"] = naming.K8S_NAMESPACE
    template = doc.get("spec", {}).get("template")
    if template:
        component = metadata["labels"].get("app.kubernetes.io/component")
        extra = {"app.kubernetes.io/component": component} if component else {}
        template["metadata"]["labels"] = {**common, **template["metadata"]["labels"], **extra}


def _namespace(settings: Settings, doc: dict[str, Any]) -> dict[str, Any]:
    labels = doc["metadata"]["labels"]
    version = f"v{settings.cluster.kubernetes_version}"
    for mode in ("enforce", "audit", "warn"):
        labels[f"pod-security.kubernetes.io/{mode}"] = "restricted"
        labels[f"pod-security.kubernetes.io/{mode}-version"] = version
    return doc


def _service_account(doc: dict[str, Any], role_arn: str) -> dict[str, Any]:
    # Informational only: the binding is the PodIdentityAssociation in the workload stack.
    doc["metadata"].setdefault("annotations", {})[ROLE_ANNOTATION] = role_arn
    return doc


def _config(settings: Settings, outputs: dict[str, str], doc: dict[str, Any]) -> dict[str, Any]:
    doc["data"] = {
        "PGHOST": outputs[naming.Outputs.DATABASE_ENDPOINT],
        "PGPORT": str(outputs[naming.Outputs.DATABASE_PORT]),
        "PGDATABASE": outputs[naming.Outputs.DATABASE_NAME],
        "PGUSER": settings.database.app_username,
        "DB_APP_USER": settings.database.app_username,
        "DB_SSLMODE": settings.app.db_sslmode,
        "LOG_LEVEL": settings.app.log_level,
        "AWS_REGION": settings.region,
    }
    return doc


def _set_env(container: dict[str, Any], name: str, value: str) -> None:
    env = container.setdefault("env", [])
    for item in env:
        if item["name"] == name:
            item["value"] = value
            return
    env.append({"name": name, "value": value})


def _job(outputs: dict[str, str], image: str, doc: dict[str, Any]) -> dict[str, Any]:
    pod = doc["spec"]["template"]["spec"]
    for container in pod["initContainers"] + pod["containers"]:
        container["image"] = image
        _set_env(
            container, "DB_MASTER_SECRET_ARN", outputs[naming.Outputs.DATABASE_MASTER_SECRET_ARN]
        )
    pod["serviceAccountName"] = naming.MIGRATE_SERVICE_ACCOUNT
    return doc


def _name_job(doc: dict[str, Any]) -> None:
    # A Job's pod template is immutable: a new image (or any change) needs a new Job.
    doc["metadata"]["name"] = f"{MIGRATE}-{_hash(doc['spec'])}"


def _deployment(
    settings: Settings, image: str, config_hash: str, doc: dict[str, Any]
) -> dict[str, Any]:
    spec = doc["spec"]
    app = settings.app
    if app.autoscaling:
        spec.pop("replicas", None)  # the HPA owns the replica count
    else:
        spec["replicas"] = app.replicas
    spec["progressDeadlineSeconds"] = settings.deploy.rollout_timeout_seconds
    doc["metadata"].setdefault("annotations", {})[GIT_COMMIT_ANNOTATION] = revision.git_commit()
    template = spec["template"]
    # envFrom doesn't restart pods on a config change; a changed annotation does.
    template["metadata"]["annotations"][CONFIG_HASH_ANNOTATION] = config_hash
    pod = template["spec"]
    pod["serviceAccountName"] = naming.APP_SERVICE_ACCOUNT
    pod["terminationGracePeriodSeconds"] = timing.TERMINATION_GRACE_SECONDS
    container = pod["containers"][0]
    container["lifecycle"]["preStop"] = {"sleep": {"seconds": timing.PRE_STOP_SLEEP_SECONDS}}
    container["image"] = image
    ports = {port["name"]: port for port in container["ports"]}
    ports["http"]["containerPort"] = app.port
    ports["metrics"]["containerPort"] = app.metrics_port
    _set_env(container, "PORT", str(app.port))
    _set_env(container, "METRICS_PORT", str(app.metrics_port))
    container["resources"] = {
        "requests": {"cpu": app.cpu_request, "memory": app.memory_request},
        "limits": {"cpu": app.cpu_limit, "memory": app.memory_limit},
    }
    return doc


def _service(settings: Settings, doc: dict[str, Any]) -> dict[str, Any]:
    """TLS on 443 at the NLB where params give a certificate, else plain HTTP on 80 as written.
    The in-tree AWS cloud provider makes a TLS listener for the ports ssl-ports names when
    ssl-cert is set, with the ssl-negotiation-policy, and plain TCP to the pods unless the
    backend protocol is "ssl" (cloud-provider-aws, pkg/providers/v1/aws.go,
    EnsureLoadBalancer's NLB port mappings). /metrics is never a Service port. The NLB health
    check is the one the pods' termination timings are derived from (timing.py)."""
    doc["metadata"].setdefault("annotations", {}).update(timing.service_annotations())
    certificate = settings.app.tls_certificate_arn
    if certificate:
        doc["metadata"]["annotations"].update(
            {
                f"{AWS_LB}-ssl-cert": certificate,
                f"{AWS_LB}-ssl-ports": str(HTTPS_PORT),
                f"{AWS_LB}-ssl-negotiation-policy": TLS_POLICY,
                f"{AWS_LB}-backend-protocol": "tcp",
            }
        )
        doc["spec"]["ports"] = [
            {"name": "https", "port": HTTPS_PORT, "targetPort": "http", "protocol": "TCP"}
        ]
    return doc


def _autoscaler(settings: Settings, doc: dict[str, Any]) -> dict[str, Any]:
    app = settings.app
    if app.max_replicas < app.replicas:
        raise BadInput(
            f"params/{settings.env}.yaml: app.max_replicas ({app.max_replicas}) is below "
            f"app.replicas ({app.replicas}); the autoscaler needs max >= min."
        )
    doc["spec"]["minReplicas"] = app.replicas
    doc["spec"]["maxReplicas"] = app.max_replicas
    return doc


def _network_policy(
    settings: Settings, outputs: dict[str, str], doc: dict[str, Any]
) -> dict[str, Any]:
    """Ports and addresses by what each rule is written for in k8s/80-networkpolicy.yaml: ingress
    to 8080 is the app's port; egress to 5432 the database's subnets and port; egress to 443
    (AWS APIs) the VPC when the interface endpoints serve them, else anywhere. DNS (to the
    cluster DNS pods) and the Pod Identity agent go as written; so does a policy with no rules
    (the namespace's default deny). /metrics is reachable only from the scraper params name."""
    spec = doc["spec"]
    for rule in spec.get("ingress", []):
        for port in rule.get("ports", []):
            port["port"] = settings.app.port
    if doc["metadata"]["name"] == APP and settings.app.metrics_scraper_namespace:
        spec["ingress"].append(_scraper_rule(settings))
    database_port = int(outputs[naming.Outputs.DATABASE_PORT])
    database_cidrs = outputs[naming.Outputs.DATABASE_SUBNET_CIDRS].split(",")
    for rule in spec.get("egress", []):
        ports = {port["port"] for port in rule.get("ports", [])}
        if ports == {SOURCE_DATABASE_PORT}:
            rule["to"] = [{"ipBlock": {"cidr": cidr}} for cidr in database_cidrs]
            for port in rule["ports"]:
                port["port"] = database_port
        elif ports == {HTTPS_PORT}:
            # Without endpoints, Secrets Manager is reached through NAT at public addresses.
            inside = settings.network.interface_endpoints
            rule["to"] = [{"ipBlock": {"cidr": settings.network.cidr if inside else ANYWHERE}}]
    return doc


def _scraper_rule(settings: Settings) -> dict[str, Any]:
    """/metrics from the scraper's pods only: both selectors in one peer means pods with those
    labels in that namespace (a namespace selector alone: any pod there)."""
    app = settings.app
    namespace = {"matchLabels": {"kubernetes.io/metadata.name": app.metrics_scraper_namespace}}
    peer: dict[str, Any] = {"namespaceSelector": namespace}
    if app.metrics_scraper_pod_labels:
        peer["podSelector"] = {"matchLabels": dict(app.metrics_scraper_pod_labels)}
    return {"from": [peer], "ports": [{"port": app.metrics_port, "protocol": "TCP"}]}
