"""Load and validate `params/<env>.yaml` into typed settings.

Defaults live here, in the models; an environment file holds only what differs.
Every problem becomes one `BadInput` naming the file, the key and what is allowed.
"""

from __future__ import annotations

import difflib
import ipaddress
import re
from functools import cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from infra.core import naming
from infra.core.errors import BadInput
from infra.core.paths import ROOT
from infra.settings import catalog, params_file

PARAMS_DIR = ROOT / "params"

# The stacks a deploy.stack_timeout_minutes key may name (infra/stacks/specs.py has one row
# each; settings sit below stacks, so the keys come from infra/core/naming.py).
STACK_KEYS = (
    naming.NETWORK,
    naming.DATABASE,
    naming.CLUSTER,
    naming.WORKLOAD,
    naming.REGISTRY,
    naming.CI,
)

# The values CloudWatch Logs accepts for a log group's retention.
LOG_RETENTION_DAYS = (
    1,
    3,
    5,
    7,
    14,
    30,
    60,
    90,
    120,
    150,
    180,
    365,
    400,
    545,
    731,
    1096,
    1827,
    2192,
    2557,
    2922,
    3288,
    3653,
)


def _retention(value: int) -> int:
    if value not in LOG_RETENTION_DAYS:
        allowed = ", ".join(map(str, LOG_RETENTION_DAYS))
        raise ValueError(f"{value} is not a CloudWatch Logs retention; use one of {allowed}")
    return value


class _Section(BaseModel):
    # strict: YAML gives typed values, so `replicas: true` is a mistake, not 1; validate_default:
    # the defaults go through the same checks as a file's values.
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, validate_default=True)


class NetworkSettings(_Section):
    cidr: str = Field("10.0.0.0/16", description="VPC CIDR block (a /16 to /24 IPv4 network).")
    az_count: int = Field(2, ge=2, le=3, description="Availability zones to spread subnets over.")
    nat_mode: Literal["single", "per_az"] = Field(
        "single", description="One NAT gateway (cheap) or one per AZ (no cross-AZ dependency)."
    )
    flow_log_retention_days: int = Field(30, description="CloudWatch retention of VPC flow logs.")

    @field_validator("cidr")
    @classmethod
    def _cidr(cls, value: str) -> str:
        try:
            network = ipaddress.IPv4Network(value, strict=True)
        except ValueError as exc:
            raise ValueError(f"{value!r} is not an IPv4 network in CIDR form ({exc})") from None
        if not 16 <= network.prefixlen <= 24:
            raise ValueError(f"{value!r} must be between a /16 and a /24")
        return value

    _flow_log_retention = field_validator("flow_log_retention_days")(_retention)


class DatabaseSettings(_Section):
    engine_version: str = Field("17.6", description="RDS for PostgreSQL engine version.")
    instance_class: str = Field("db.t4g.micro", description="RDS DB instance class.")
    allocated_storage_gib: int = Field(20, ge=20, le=65536)
    max_allocated_storage_gib: int = Field(100, ge=20, le=65536)
    backup_retention_days: int = Field(7, ge=1, le=35)
    multi_az: bool = False
    deletion_protection: bool = False
    name: str = Field("gif", pattern=r"^[a-z][a-z0-9_]{0,62}$", description="Database name.")
    master_username: str = Field("gifadmin", pattern=r"^[a-z][a-z0-9_]{0,15}$")
    app_username: str = Field(
        "gif_app",
        pattern=r"^[a-z][a-z0-9_]{0,62}$",
        description="The app's own database user (IAM authentication).",
    )
    port: int = Field(5432, ge=1150, le=65535)
    log_retention_days: int = Field(30, description="CloudWatch retention of exported DB logs.")

    _log_retention = field_validator("log_retention_days")(_retention)

    @field_validator("engine_version")
    @classmethod
    def _engine_version(cls, value: str) -> str:
        offered = catalog.postgres_versions()
        if value not in offered:
            raise ValueError(
                f"{value!r} is not a current RDS for PostgreSQL 16.x/17.x version "
                f"(deprecated or unknown); use one of {', '.join(offered)}"
            )
        return value

    @model_validator(mode="after")
    def _storage(self) -> DatabaseSettings:
        if self.max_allocated_storage_gib < self.allocated_storage_gib:
            raise ValueError(
                f"max_allocated_storage_gib ({self.max_allocated_storage_gib}) must be at least "
                f"allocated_storage_gib ({self.allocated_storage_gib}); raise it or lower the "
                "storage"
            )
        return self


class ClusterSettings(_Section):
    kubernetes_version: str = Field("1.35", description="EKS Kubernetes version.")
    public_access_cidrs: list[str] = Field(
        default_factory=list,
        description="CIDRs allowed to reach the public API endpoint; empty = private only.",
    )
    node_instance_types: list[str] = Field(default_factory=lambda: ["t3.medium"], min_length=1)
    node_architecture: Literal["x86_64", "arm64"] = "x86_64"
    node_min_size: int = Field(2, ge=1, le=100)
    node_desired_size: int = Field(2, ge=1, le=100)
    node_max_size: int = Field(4, ge=1, le=100)
    node_disk_gib: int = Field(20, ge=20, le=1000)
    log_retention_days: int = 30

    @field_validator("public_access_cidrs")
    @classmethod
    def _cidrs(cls, values: list[str]) -> list[str]:
        for value in values:
            try:
                ipaddress.IPv4Network(value, strict=True)
            except ValueError as exc:
                raise ValueError(f"{value!r} is not an IPv4 network in CIDR form ({exc})") from None
            if ipaddress.IPv4Network(value).prefixlen == 0:
                raise ValueError(
                    f"{value!r} opens the API endpoint to the whole internet; list your "
                    "office/VPN ranges instead (or none for a private-only endpoint)"
                )
        return values

    @field_validator("kubernetes_version")
    @classmethod
    def _kubernetes_version(cls, value: str) -> str:
        if value not in catalog.EKS_KUBERNETES_VERSIONS:
            offered = ", ".join(catalog.EKS_KUBERNETES_VERSIONS)
            raise ValueError(
                f"{value!r} is not a Kubernetes version EKS offers; use one of {offered}"
            )
        return value

    _log_retention = field_validator("log_retention_days")(_retention)

    @model_validator(mode="after")
    def _node_sizes(self) -> ClusterSettings:
        if not self.node_min_size <= self.node_desired_size <= self.node_max_size:
            raise ValueError(
                "node sizes must satisfy node_min_size <= node_desired_size <= node_max_size "
                f"(got {self.node_min_size} <= {self.node_desired_size} <= {self.node_max_size})"
            )
        return self


class AppSettings(_Section):
    replicas: int = Field(2, ge=1, le=100)
    port: int = Field(8080, ge=1024, le=65535)
    cpu_request: str = "100m"
    cpu_limit: str = "500m"
    memory_request: str = "128Mi"
    memory_limit: str = "256Mi"
    image_repository: str = Field("gif-service", description="ECR repository name.")
    image_tag: str | None = Field(None, description="Default image tag; --image-tag overrides.")
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    db_sslmode: Literal["disable", "require", "verify-full"] = "verify-full"
    autoscaling: bool = False
    max_replicas: int = Field(6, ge=1, le=100)

    @model_validator(mode="after")
    def _replicas(self) -> AppSettings:
        if self.autoscaling and self.max_replicas < self.replicas:
            raise ValueError(
                f"max_replicas ({self.max_replicas}) must be at least replicas ({self.replicas}) "
                "when autoscaling is on"
            )
        return self


class DeploySettings(_Section):
    stack_timeout_minutes: dict[str, Annotated[int, Field(gt=0)]] = Field(
        default_factory=dict,
        description="How long to wait for a stack before giving up, where it should differ "
        "from the stack's default (infra/stacks/specs.py).",
    )
    termination_protection: bool = False
    rollout_timeout_seconds: int = Field(600, ge=30)

    @field_validator("stack_timeout_minutes")
    @classmethod
    def _stack_keys(cls, value: dict[str, int]) -> dict[str, int]:
        for key in value:
            if key not in STACK_KEYS:
                close = difflib.get_close_matches(key, STACK_KEYS, n=1)
                hint = f" Did you mean {close[0]!r}?" if close else ""
                raise ValueError(f"unknown stack {key!r}.{hint} Stacks: {', '.join(STACK_KEYS)}")
        return value


class CiSettings(_Section):
    github_repository: str = Field(
        "example-org/gifstack",
        pattern=r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$",
        description="owner/name of the repository whose workflows may deploy.",
    )
    default_branch: str = "master"
    environment: str = "production"
    existing_oidc_provider_arn: str = Field(
        "",
        pattern=r"^(arn:aws[a-z-]*:iam::\d{12}:oidc-provider/token\.actions\.githubusercontent\.com)?$",
        description="The account's GitHub OIDC provider if it has one; empty = gif-ci creates it.",
    )


class Settings(_Section):
    env: str = Field(description="Environment name (the params file's name).")
    project: str = Field("gif", pattern=r"^[a-z][a-z0-9-]{1,20}$")
    region: str = Field("eu-west-1", pattern=r"^[a-z]{2}(-gov)?-[a-z]+-\d$")
    account_id: str | None = Field(
        None, pattern=r"^\d{12}$", description="Refuse to deploy to any other account."
    )
    aws_endpoint_url: str | None = Field(
        None, description="An AWS-compatible endpoint (the local emulator); None = real AWS."
    )
    network: NetworkSettings = Field(default_factory=NetworkSettings)
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    cluster: ClusterSettings = Field(default_factory=ClusterSettings)
    app: AppSettings = Field(default_factory=AppSettings)
    deploy: DeploySettings = Field(default_factory=DeploySettings)
    ci: CiSettings = Field(default_factory=CiSettings)
    registry_keep_images: int = Field(30, ge=1, le=1000)

    @model_validator(mode="after")
    def _instance_class(self) -> Settings:
        # Needs region and engine version, so it lives here rather than on DatabaseSettings.
        database = self.database
        classes = catalog.postgres_instance_classes(self.region, database.engine_version)
        if classes and database.instance_class not in classes:
            close = difflib.get_close_matches(database.instance_class, classes, n=3)
            hint = f" Did you mean {' or '.join(map(repr, close))}?" if close else ""
            raise ValueError(
                f"database.instance_class: {database.instance_class!r} is not an RDS for "
                f"PostgreSQL {database.engine_version} instance class in {self.region}.{hint} "
                "See https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/Concepts.DBInstanceClass.html"
            )
        return self

    @property
    def is_prod(self) -> bool:
        return self.env == "prod"


def environments() -> list[str]:
    """The environments that exist: one params file each."""
    return sorted(path.stem for path in PARAMS_DIR.glob("*.yaml"))


@cache
def load(env: str) -> Settings:
    """The validated settings of one environment; raises BadInput with one clear message."""
    known = environments()
    if env not in known:
        problem = (
            f"there is no params/{env}.yaml"
            if re.fullmatch(r"[\w-]+", env)
            else "an environment is the name of a file in params/ without .yaml"
        )
        raise BadInput(
            f"unknown environment {env!r}: {problem}. "
            f"Environments that exist: {', '.join(known) or 'none'}."
        )
    return load_file(PARAMS_DIR / f"{env}.yaml", env)


def load_file(path: Path, env: str | None = None) -> Settings:
    """Validate one params file (the environment name defaults to the file's stem)."""
    where = _display(path)
    data = params_file.read(path, where) or {}
    if not isinstance(data, dict):
        raise BadInput(f"{where}: expected a mapping of settings at the top level.")
    if "env" in data:
        raise BadInput(f"{where}: 'env' is not a setting; the file's name is the environment.")
    try:
        return Settings(env=env or path.stem, **data)
    except ValidationError as exc:
        raise BadInput(f"{where}: {_explain(exc)}") from None


def _display(path: Path) -> str:
    try:
        return str(path.relative_to(PARAMS_DIR.parent))
    except ValueError:
        return str(path)


def _explain(exc: ValidationError) -> str:
    """The first validation error as one sentence: key, problem, what is allowed."""
    error = exc.errors()[0]
    location = [str(part) for part in error["loc"]]
    key = ".".join(location)
    if error["type"] == "extra_forbidden":
        model = _model_at(Settings, location[:-1])
        valid = sorted(name for name in model.model_fields if name != "env")
        close = difflib.get_close_matches(location[-1], valid, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        return f"unknown key {key!r}.{hint} Valid keys here: {', '.join(valid)}."
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "value_error" and isinstance(error.get("input"), dict):
        # A check across fields: the message names the keys itself.
        return f"{key + ': ' if key else ''}{message}."
    given = error.get("input")
    return f"{key}: {message} (got {given!r})."


def _model_at(model: type[BaseModel], path: list[str]) -> type[BaseModel]:
    for part in path:
        annotation = model.model_fields[part].annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            model = annotation
    return model
