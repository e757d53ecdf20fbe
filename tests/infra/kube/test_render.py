"""infra/kube/render.py: rendering k8s/ per environment with params and stack outputs."""

from __future__ import annotations

import copy

import pytest
import yaml

from infra.core import naming
from infra.core.errors import BadInput
from infra.kube import render as kube_render
from infra.kube.kinds import APPLY_ORDER
from infra.settings import params

ENVS = params.environments()
SENTINEL = "s3cr3t-Sentinel-Value-0f9e"  # stands in for a secret that must never be rendered


def render(env: str, tag: str = "v1", **overrides: str) -> list[dict]:
    settings = params.load(env)
    outputs = {**kube_render.offline_outputs(settings), **overrides}
    return kube_render.render(settings, outputs, tag)


def by_kind(docs: list[dict], kind: str) -> list[dict]:
    return [doc for doc in docs if doc["kind"] == kind]


def one(docs: list[dict], kind: str) -> dict:
    (found,) = by_kind(docs, kind)
    return found


def test_every_environment_renders_every_object_in_apply_order():
    for env in ENVS:
        docs = render(env)
        kinds = [doc["kind"] for doc in docs]
        assert kinds == sorted(kinds, key=APPLY_ORDER.index)
        assert kinds.count("ServiceAccount") == 2 and kinds.count("NetworkPolicy") == 3
        assert ("HorizontalPodAutoscaler" in kinds) == params.load(env).app.autoscaling
        assert "Secret" not in kinds


def test_every_object_has_the_recommended_labels_and_our_namespace():
    for env in ENVS:
        for doc in render(env):
            labels = doc["metadata"]["labels"]
            assert labels["app.kubernetes.io/managed-by"] == "gifstack"
            assert labels["app.kubernetes.io/name"] == "gif-service"
            assert labels["app.kubernetes.io/instance"] == f"gif-{env}"
            assert labels["app.kubernetes.io/part-of"] == "gifstack"
            if doc["kind"] != "Namespace":
                assert doc["metadata"]["namespace"] == naming.K8S_NAMESPACE
            template = doc.get("spec", {}).get("template")
            if template:
                selector = doc["spec"].get("selector", {}).get("matchLabels", {})
                assert selector.items() <= template["metadata"]["labels"].items()


def test_params_and_outputs_land_in_the_right_fields():
    prod = params.load("prod")
    docs = render(
        "prod",
        "abc123",
        DatabaseEndpoint="gif-prod.cluster-x.eu-west-1.rds.amazonaws.com",
        DatabasePort="6543",
        RepositoryUri="111122223333.dkr.ecr.eu-west-1.amazonaws.com/gif-service",
    )
    config = one(docs, "ConfigMap")["data"]
    assert config["PGHOST"] == "gif-prod.cluster-x.eu-west-1.rds.amazonaws.com"
    assert config["PGPORT"] == "6543"
    assert config["PGUSER"] == config["DB_APP_USER"] == prod.database.app_username
    assert config["DB_SSLMODE"] == "verify-full"
    assert config["AWS_REGION"] == prod.region

    deployment = one(docs, "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    app = pod["containers"][0]
    assert app["image"] == "111122223333.dkr.ecr.eu-west-1.amazonaws.com/gif-service:abc123"
    assert {"name": "DB_IAM_AUTH", "value": "true"} in app["env"]
    assert app["readinessProbe"]["httpGet"]["path"] == "/gif"
    assert app["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert app["resources"]["limits"] == {"cpu": prod.app.cpu_limit, "memory": "256Mi"}
    assert pod["serviceAccountName"] == naming.APP_SERVICE_ACCOUNT
    assert pod["terminationGracePeriodSeconds"] > app["lifecycle"]["preStop"]["sleep"]["seconds"]
    assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    assert "replicas" not in deployment["spec"]  # prod autoscales: the HPA owns replicas
    hpa = one(docs, "HorizontalPodAutoscaler")["spec"]
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (prod.app.replicas, prod.app.max_replicas)

    job = one(docs, "Job")
    job_pod = job["spec"]["template"]["spec"]
    assert job_pod["serviceAccountName"] == naming.MIGRATE_SERVICE_ACCOUNT
    assert [c["command"][-1] for c in job_pod["initContainers"] + job_pod["containers"]] == [
        "migrate",
        "seed",
    ]
    for container in job_pod["initContainers"] + job_pod["containers"]:
        assert container["image"] == app["image"]
        env = {item["name"]: item["value"] for item in container["env"]}
        assert env["DB_MASTER_SECRET_ARN"].startswith("arn:aws:secretsmanager:")
    assert job["spec"]["backoffLimit"] >= 1
    assert job["spec"]["activeDeadlineSeconds"] > 0 and job["spec"]["ttlSecondsAfterFinished"] > 0

    namespace = one(docs, "Namespace")["metadata"]["labels"]
    assert namespace["pod-security.kubernetes.io/enforce"] == "restricted"
    assert namespace["pod-security.kubernetes.io/enforce-version"] == (
        f"v{prod.cluster.kubernetes_version}"
    )

    app_policy = next(
        p for p in by_kind(docs, "NetworkPolicy") if p["metadata"]["name"] == "gif-app"
    )
    assert app_policy["spec"]["ingress"] == [{"ports": [{"port": 8080, "protocol": "TCP"}]}]
    database_rule = app_policy["spec"]["egress"][1]
    assert database_rule["to"] == [
        {"ipBlock": {"cidr": f"10.20.{third}.0/18"}} for third in (64, 128, 192)
    ]
    assert database_rule["ports"] == [{"port": 6543, "protocol": "TCP"}]

    service = one(docs, "Service")
    assert service["spec"]["type"] == "LoadBalancer"
    annotations = service["metadata"]["annotations"]
    assert annotations["service.beta.kubernetes.io/aws-load-balancer-type"] == "nlb"
    assert "service.beta.kubernetes.io/aws-load-balancer-internal" not in annotations
    assert service["spec"]["externalTrafficPolicy"] == "Local"


def test_dev_sets_replicas_and_has_no_autoscaler():
    docs = render("dev")
    assert one(docs, "Deployment")["spec"]["replicas"] == params.load("dev").app.replicas
    assert not by_kind(docs, "HorizontalPodAutoscaler")


def test_two_image_tags_differ_only_in_the_images_and_the_job_name():
    first, second = render("prod", "1111aaa"), render("prod", "2222bbb")
    differences = sorted(_diff(first, second))
    job = next(i for i, doc in enumerate(first) if doc["kind"] == "Job")
    deployment = next(i for i, doc in enumerate(first) if doc["kind"] == "Deployment")
    assert differences == sorted(
        [
            (job, "metadata.name"),
            (job, "spec.template.spec.initContainers.0.image"),
            (job, "spec.template.spec.containers.0.image"),
            (deployment, "spec.template.spec.containers.0.image"),
        ]
    )


def _diff(left, right, path=""):
    if isinstance(left, dict) and isinstance(right, dict):
        assert left.keys() == right.keys(), path
        for key in left:
            yield from _diff(left[key], right[key], f"{path}.{key}" if path else key)
    elif isinstance(left, list) and isinstance(right, list) and path:
        assert len(left) == len(right), path
        for index, (a, b) in enumerate(zip(left, right, strict=True)):
            yield from _diff(a, b, f"{path}.{index}")
    elif isinstance(left, list):  # the top level: one entry per object
        for index, (a, b) in enumerate(zip(left, right, strict=True)):
            yield from ((index, sub) for sub in _diff(a, b))
    elif left != right:
        yield path


def test_rendering_is_deterministic_and_leaves_the_sources_alone():
    before = kube_render.load_sources()
    assert render("dev") == render("dev")
    assert kube_render.load_sources() == before


def test_a_config_change_rolls_the_pods_through_the_template_annotation():
    first = one(render("dev", DatabaseEndpoint="a.example.com"), "Deployment")
    second = one(render("dev", DatabaseEndpoint="b.example.com"), "Deployment")
    key = kube_render.CONFIG_HASH_ANNOTATION
    assert (
        first["spec"]["template"]["metadata"]["annotations"][key]
        != second["spec"]["template"]["metadata"]["annotations"][key]
    )


def test_a_digest_is_used_with_an_at_sign():
    digest = "sha256:" + "ab" * 32
    docs = render("dev", digest)
    image = one(docs, "Deployment")["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image.endswith(f"/gif-service@{digest}")


@pytest.mark.parametrize(
    ("tag", "message"),
    [
        ("latest", "mutable"),
        ("bad tag!", "invalid image tag"),
        (".hidden", "invalid image tag"),
        ("x" * 129, "invalid image tag"),
    ],
)
def test_bad_image_tags_are_bad_input(tag, message):
    with pytest.raises(BadInput, match=message):
        render("dev", tag)


def test_no_tag_anywhere_is_bad_input_saying_how_to_pass_one():
    settings = params.load("dev")
    assert settings.app.image_tag is None
    with pytest.raises(BadInput, match="--image-tag"):
        kube_render.render(settings, kube_render.offline_outputs(settings), None)


def test_missing_outputs_are_bad_input_naming_the_stacks():
    settings = params.load("dev")
    outputs = kube_render.offline_outputs(settings)
    del outputs[naming.Outputs.APP_ROLE_ARN]
    del outputs[naming.Outputs.REPOSITORY_URI]
    with pytest.raises(BadInput) as failure:
        kube_render.render(settings, outputs, "v1")
    assert "AppRoleArn" in failure.value.message and "RepositoryUri" in failure.value.message
    assert "gif-dev-workload" in failure.value.message and "gif-registry" in failure.value.message
    assert "--offline" in failure.value.message


def test_offline_placeholders_are_clearly_fake():
    for env in ENVS:
        outputs = kube_render.offline_outputs(params.load(env))
        assert set(outputs) == set(kube_render.REQUIRED_OUTPUTS)
        assert ".invalid" in outputs[naming.Outputs.DATABASE_ENDPOINT]
        assert "000000000000" in outputs[naming.Outputs.REPOSITORY_URI]
        assert "offline-placeholder" in outputs[naming.Outputs.DATABASE_MASTER_SECRET_ARN]


def test_no_secret_reaches_the_rendered_files(tmp_path):
    for env in ENVS:
        settings = params.load(env)
        # Outputs the renderer must never use: only the listed keys are read.
        outputs = {
            **kube_render.offline_outputs(settings),
            "DatabaseMasterPassword": SENTINEL,
            "SomeOtherStackOutput": SENTINEL,
        }
        docs = kube_render.render(settings, outputs, "v1")
        paths = kube_render.write(docs, tmp_path / env)
        text = "".join(path.read_text() for path in paths)
        assert SENTINEL not in text
        assert "password" not in text.lower()
        for doc in docs:
            assert doc["kind"] != "Secret"
            for container in _containers(doc):
                for item in container.get("env", []):
                    assert "PASSWORD" not in item["name"]
                    assert "valueFrom" not in item or "secretKeyRef" not in item["valueFrom"]


def _containers(doc: dict) -> list[dict]:
    pod = doc.get("spec", {}).get("template", {}).get("spec", {})
    return pod.get("initContainers", []) + pod.get("containers", [])


def test_write_makes_one_file_per_object_and_removes_stale_ones(tmp_path):
    (tmp_path / "99-configmap-stale.yaml").write_text("stale: true\n")
    docs = render("prod")
    paths = kube_render.write(docs, tmp_path)
    assert sorted(tmp_path.glob("*.yaml")) == sorted(paths)
    assert paths[0].name == "00-namespace-gif.yaml"
    assert [yaml.safe_load(path.read_text()) for path in paths] == docs


def test_the_sources_are_valid_yaml_with_obvious_placeholders():
    sources = kube_render.load_sources()
    text = "".join(path.read_text() for path in sorted(kube_render.MANIFEST_DIR.glob("*.yaml")))
    assert "replaced-at-render" in text
    assert ("Deployment", "gif-app") in sources and ("Job", "gif-migrate") in sources
    docs = render("dev")
    rendered = yaml.safe_dump(docs)
    assert "replaced-at-render" not in rendered


def _with_extra_manifest(tmp_path, monkeypatch, extra: dict) -> None:
    for path in kube_render.MANIFEST_DIR.glob("*.yaml"):
        (tmp_path / path.name).write_text(path.read_text())
    (tmp_path / "99-extra.yaml").write_text(yaml.safe_dump(copy.deepcopy(extra)))
    original = kube_render.load_sources
    monkeypatch.setattr(kube_render, "load_sources", lambda directory=tmp_path: original(directory))


def test_a_new_manifest_of_a_known_kind_needs_only_its_yaml_file(tmp_path, monkeypatch):
    extra = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "surprise"},
        "data": {"a": "b"},
    }
    _with_extra_manifest(tmp_path, monkeypatch, extra)
    docs = render("dev")
    (found,) = [doc for doc in docs if doc["metadata"]["name"] == "surprise"]
    assert found["metadata"]["namespace"] == "gif"
    assert found["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "gifstack"
    assert found["data"] == {"a": "b"}
    kinds = [doc["kind"] for doc in docs]
    assert kinds.index("ConfigMap") < kinds.index("Job")  # applied before the migration


def test_a_manifest_of_an_unknown_kind_is_reported(tmp_path, monkeypatch):
    extra = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "surprise"}}
    _with_extra_manifest(tmp_path, monkeypatch, extra)
    with pytest.raises(BadInput, match=r"kind 'Secret' is not one gifstack manages"):
        render("dev")


def test_the_deployment_records_the_commit_outside_its_pod_template(monkeypatch):
    from infra.core import revision
    from infra.kube.render import GIT_COMMIT_ANNOTATION

    monkeypatch.setenv("GITHUB_SHA", "c" * 40)
    revision.git_commit.cache_clear()
    try:
        deployment = one(render("dev"), "Deployment")
    finally:
        revision.git_commit.cache_clear()
    assert deployment["metadata"]["annotations"][GIT_COMMIT_ANNOTATION] == "c" * 12
    assert GIT_COMMIT_ANNOTATION not in deployment["spec"]["template"]["metadata"]["annotations"]
