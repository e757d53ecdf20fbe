"""infra/settings/params.py: what comes out for what goes in. Every default pinned, every
field read back as given (a validator that drops its value fails here), the defaults run
through the validators, and environment names that are names, not paths."""

from __future__ import annotations

from pathlib import Path

import pydantic
import pytest
import yaml

from infra.core.errors import BadInput
from infra.settings import catalog, params

ARN = "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"

# What an environment gets when its file says nothing. Changing a default changes this table.
DEFAULTS = {
    "project": "gif",
    "region": "eu-west-1",
    "account_id": None,
    "aws_endpoint_url": None,
    "network": {
        "cidr": "10.0.0.0/16",
        "az_count": 2,
        "nat_mode": "single",
        "flow_log_retention_days": 30,
        "interface_endpoints": False,
    },
    "database": {
        "engine_version": "17.6",
        "instance_class": "db.t4g.micro",
        "allocated_storage_gib": 20,
        "max_allocated_storage_gib": 100,
        "backup_retention_days": 7,
        "multi_az": False,
        "deletion_protection": False,
        "name": "gif",
        "master_username": "gifadmin",
        "app_username": "gif_app",
        "port": 5432,
        "log_retention_days": 30,
        "restore_snapshot": "",  # a new, empty database
        "blue_green_ready": False,
        "upgrade_target_version": None,
    },
    "cluster": {
        "kubernetes_version": "1.35",
        "node_kubernetes_version": None,
        "addon_versions": {},
        "support_type": "STANDARD",
        "public_access_cidrs": [],
        "node_instance_types": ["t3.medium"],
        "node_architecture": "x86_64",
        "node_min_size": 2,
        "node_desired_size": 2,
        "node_max_size": 4,
        "node_disk_gib": 20,
        "log_retention_days": 30,
    },
    "app": {
        "replicas": 2,
        "port": 8080,
        "cpu_request": "100m",
        "cpu_limit": "500m",
        "memory_request": "128Mi",
        "memory_limit": "256Mi",
        "image_repository": "gif-service",
        "image_tag": None,
        "log_level": "info",
        "db_sslmode": "verify-full",
        "autoscaling": False,
        "max_replicas": 6,
        "metrics_port": 9090,
        "metrics_scraper_namespace": None,
        "metrics_scraper_pod_labels": {},
        "tls_certificate_arn": "",
        "allow_plain_http": False,
    },
    "deploy": {
        "stack_timeout_minutes": {},
        "termination_protection": False,
        "rollout_timeout_seconds": 600,
    },
    "ci": {
        "github_repository": "",
        "default_branch": "master",
        "environment": "production",
        "existing_oidc_provider_arn": "",
        "runner": False,
        "github_connection_arn": "",
    },
    "registry_keep_images": 30,
}

# One valid value for every field, each different from its default (and at a bound where
# the field has one): given in a file, it must come back unchanged.
VALID = {
    "project": "pix-2",
    "region": "us-gov-west-1",
    "account_id": "210987654321",
    "aws_endpoint_url": "http://127.0.0.1:4566",
    "network.cidr": "10.1.0.0/24",
    "network.az_count": 3,
    "network.nat_mode": "per_az",
    "network.flow_log_retention_days": 3653,
    "network.interface_endpoints": True,
    "database.engine_version": "16.9",
    "database.instance_class": "db.m7g.large",
    "database.allocated_storage_gib": 100,
    "database.max_allocated_storage_gib": 65536,
    "database.backup_retention_days": 35,
    "database.multi_az": True,
    "database.deletion_protection": True,
    "database.name": "c" + "a" * 62,
    "database.master_username": "a" + "b" * 15,
    "database.app_username": "reader_2",
    "database.port": 1150,
    "database.log_retention_days": 1,
    "database.restore_snapshot": "gif-dev-database-database-1abcdefgh2ijk",
    "database.blue_green_ready": True,
    "database.upgrade_target_version": "17.7",
    "cluster.kubernetes_version": "1.36",
    "cluster.node_kubernetes_version": "1.32",  # three behind the default 1.35: the bound
    "cluster.addon_versions": {"vpc-cni": "v1.20.4-eksbuild.1", "metrics-server": "v0.8.0"},
    "cluster.support_type": "EXTENDED",
    "cluster.public_access_cidrs": ["203.0.114.0/24", "198.51.101.7/32"],
    "cluster.node_instance_types": ["m7i.large", "m7i.xlarge"],
    "cluster.node_architecture": "arm64",
    "cluster.node_min_size": 1,
    "cluster.node_desired_size": 4,
    "cluster.node_max_size": 100,
    "cluster.node_disk_gib": 1000,
    "cluster.log_retention_days": 90,
    "app.replicas": 1,
    "app.port": 65535,
    "app.cpu_request": "250m",
    "app.cpu_limit": "1",
    "app.memory_request": "256Mi",
    "app.memory_limit": "1Gi",
    "app.image_repository": "gif-web",
    "app.image_tag": "v1.2.3",
    "app.log_level": "debug",
    "app.db_sslmode": "require",
    "app.autoscaling": True,
    "app.max_replicas": 100,
    "app.metrics_port": 9100,
    "app.metrics_scraper_namespace": "monitoring",
    "app.metrics_scraper_pod_labels": {"app.kubernetes.io/name": "prometheus"},
    "app.tls_certificate_arn": (
        "arn:aws:acm:eu-west-1:210987654321:certificate/0123abcd-4567-89ef-0123-456789abcdef"
    ),
    "app.allow_plain_http": True,
    "deploy.stack_timeout_minutes": {"database": 90, "ci": 1},
    "deploy.termination_protection": True,
    "deploy.rollout_timeout_seconds": 30,
    "ci.github_repository": "acme.inc/gif_stack-2",
    "ci.default_branch": "main",
    "ci.environment": "prod-deploy",
    "ci.existing_oidc_provider_arn": ARN,
    "ci.runner": True,
    "ci.github_connection_arn": (
        "arn:aws:codeconnections:eu-west-1:210987654321:connection/0123abcd-4567-89ef-0123-456789abcdef"
    ),
    "registry_keep_images": 1000,
}

# Values at the other end of a bound, and the other choices of a Literal.
ALSO_VALID = [
    ("network.cidr", "172.16.0.0/16"),
    ("network.az_count", 2),
    ("database.allocated_storage_gib", 65536),
    ("database.backup_retention_days", 1),
    ("database.port", 65535),
    ("database.restore_snapshot", f"arn:aws:rds:eu-west-1:{'1' * 12}:snapshot:gif-prod-kept"),
    ("cluster.node_min_size", 2),
    ("cluster.node_kubernetes_version", "1.35"),
    ("cluster.node_max_size", 2),
    ("app.port", 1024),
    ("app.replicas", 100),
    ("app.log_level", "warning"),
    ("app.log_level", "error"),
    ("app.db_sslmode", "disable"),
    ("registry_keep_images", 1),
    ("region", "ap-southeast-2"),
]


def _fields(model: type[pydantic.BaseModel], prefix: str = "") -> list[str]:
    names = []
    for name, field in model.model_fields.items():
        if name == "env":
            continue
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, pydantic.BaseModel):
            names += _fields(annotation, f"{prefix}{name}.")
        else:
            names.append(f"{prefix}{name}")
    return names


def _load(tmp_path: Path, data: dict, env: str = "staging") -> params.Settings:
    path = tmp_path / f"{env}.yaml"
    path.write_text(yaml.safe_dump(data))
    return params.load_file(path)


def _nested(dotted: str, value: object) -> dict:
    *sections, name = dotted.split(".")
    data: dict = {name: value}
    for section in reversed(sections):
        data = {section: data}
    return data


def _get(settings: params.Settings, dotted: str) -> object:
    value: object = settings
    for part in dotted.split("."):
        value = getattr(value, part)
    return value


def test_every_default_is_pinned(tmp_path):
    settings = _load(tmp_path, {})

    assert settings.model_dump() == {"env": "staging", **DEFAULTS}
    assert settings.is_prod is False


def test_the_tables_name_every_field():
    assert sorted(VALID) == sorted(_fields(params.Settings))


@pytest.mark.parametrize(("dotted", "value"), [*VALID.items(), *ALSO_VALID])
def test_a_valid_value_comes_back_as_given(tmp_path, dotted, value):
    data = _nested(dotted, value)
    if dotted == "app.max_replicas":
        data["app"]["replicas"] = 1  # max_replicas may not be below replicas
    if dotted == "database.allocated_storage_gib":
        data["database"]["max_allocated_storage_gib"] = value
    if dotted in ("cluster.node_max_size", "cluster.node_desired_size"):
        data["cluster"] = {"node_min_size": 1, "node_desired_size": 2, dotted[8:]: value}
    if dotted == "cluster.node_min_size" and value == 1:
        data["cluster"]["node_desired_size"] = 1
    if dotted == "app.metrics_scraper_pod_labels":
        data["app"]["metrics_scraper_namespace"] = "monitoring"  # labels narrow a namespace
    if dotted == "database.upgrade_target_version":  # a newer major, blue/green-ready source
        data["database"] |= {"engine_version": "16.9", "blue_green_ready": True}

    settings = _load(tmp_path, data)

    assert _get(settings, dotted) == value
    assert type(_get(settings, dotted)) is type(value)


@pytest.mark.parametrize(("env", "prod"), [("prod", True), ("dev", False), ("production", False)])
def test_only_the_env_called_prod_is_prod(tmp_path, env, prod):
    accept_http = {"app": {"allow_plain_http": True}}  # prod refuses plain HTTP otherwise
    assert _load(tmp_path, accept_http, env=env).is_prod is prod


def test_defaults_go_through_the_validators(monkeypatch):
    assert params.DatabaseSettings().engine_version == "17.6"
    monkeypatch.setattr(catalog, "postgres_versions", lambda: ("16.9",))
    with pytest.raises(pydantic.ValidationError, match=r"'17\.6' is not a current RDS"):
        params.DatabaseSettings()
    monkeypatch.setattr(catalog, "eks_versions", lambda: ("1.34",))
    with pytest.raises(pydantic.ValidationError, match=r"'1\.35' is not a Kubernetes version"):
        params.ClusterSettings()


@pytest.mark.parametrize("env", ["../params/local", "params/local", "local.yaml", "", " local"])
def test_an_environment_is_a_params_file_name_not_a_path(env):
    with pytest.raises(BadInput) as caught:
        params.load(env)

    assert caught.value.message == (
        f"unknown environment {env!r}: an environment is the name of a file in params/ "
        "without .yaml. Environments that exist: dev, local, prod."
    )


@pytest.mark.parametrize("env", ["staging", "Local", "dev_2"])
def test_an_environment_that_does_not_exist_says_which_do(env):
    with pytest.raises(BadInput) as caught:
        params.load(env)

    assert caught.value.message == (
        f"unknown environment {env!r}: there is no params/{env}.yaml. "
        "Environments that exist: dev, local, prod."
    )
