"""The sections of an environment's params (network, database, app, deploy, ci; the cluster's
in infra/settings/cluster_section.py): their defaults and the rules each value must meet.
infra/settings/params.py puts them together into one environment's `Settings` and loads the
files."""

from __future__ import annotations

import difflib
import ipaddress
import re
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from infra.core import naming
from infra.settings import catalog, placeholders

# The stacks a deploy.stack_timeout_minutes key may name (infra/stacks/specs.py has one row
# each; settings sit below stacks, so the keys come from infra/core/naming.py).
STACK_KEYS = (
    naming.NETWORK,
    naming.DATABASE,
    naming.CLUSTER,
    naming.WORKLOAD,
    naming.RUNNER,
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


# A manual DB snapshot's identifier (RDS: a letter, then letters, digits, single hyphens; at
# most 255) or its ARN; empty = a new, empty database. Automated snapshots (rds:...) are not
# accepted: RDS deletes them with their retention, while the template must keep naming it.
RESTORE_SNAPSHOT_PATTERN = (
    r"^((arn:aws[a-z-]*:rds:[a-z0-9-]+:\d{12}:snapshot:)?[a-zA-Z](-?[a-zA-Z0-9])*)?$"
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
    interface_endpoints: bool = Field(
        False,
        description="Interface VPC endpoints for Secrets Manager and STS in the private subnets "
        "(the migration's HTTPS egress then stays in the VPC); billed per endpoint per AZ-hour.",
    )

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
    restore_snapshot: str = Field(
        "",
        max_length=1024,
        description="The DB snapshot this environment's database was restored from (written "
        "by `invoke restore`). Keep it for the life of the instance: CloudFormation replaces "
        "the instance (an empty one) when it changes or goes.",
    )
    blue_green_ready: bool = Field(
        False,
        description="rds.logical_replication = 1 in the parameter group, which an RDS "
        "blue/green major upgrade needs (static: applies at the next reboot).",
    )
    upgrade_target_version: str | None = Field(
        None,
        description="During a blue/green major upgrade: the target version; the stack adds "
        "a parameter group for its family for the green instance.",
    )

    _log_retention = field_validator("log_retention_days")(_retention)

    @field_validator("restore_snapshot")
    @classmethod
    def _restore_snapshot(cls, value: str) -> str:
        if not re.fullmatch(RESTORE_SNAPSHOT_PATTERN, value):
            raise ValueError(
                f"{value!r} is not a manual DB snapshot's identifier or ARN (a letter, then "
                "letters, digits and single hyphens); an automated one (rds:...) goes with its "
                "retention: copy it first (aws rds copy-db-snapshot) and name the copy"
            )
        return value

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
    def _upgrade_target(self) -> DatabaseSettings:
        target = self.upgrade_target_version
        if target is None:
            return self
        if target not in catalog.postgres_versions():
            raise ValueError(f"upgrade_target_version {target!r} is not a current version")
        if int(target.split(".")[0]) <= int(self.engine_version.split(".")[0]):
            raise ValueError(
                f"upgrade_target_version {target} is not a newer major than engine_version "
                f"{self.engine_version} (minor upgrades change engine_version in place)"
            )
        if not self.blue_green_ready:
            raise ValueError("upgrade_target_version needs blue_green_ready: true")
        return self

    @model_validator(mode="after")
    def _storage(self) -> DatabaseSettings:
        if self.max_allocated_storage_gib < self.allocated_storage_gib:
            raise ValueError(
                f"max_allocated_storage_gib ({self.max_allocated_storage_gib}) must be at least "
                f"allocated_storage_gib ({self.allocated_storage_gib}); raise it or lower the "
                "storage"
            )
        return self


# An EKS add-on version as DescribeAddonVersions lists it (e.g. v1.19.2-eksbuild.1).
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
    metrics_port: int = Field(9090, ge=1024, le=65535, description="GET /metrics; no Service.")
    # Who may scrape /metrics (NetworkPolicy): pods of this namespace, with these labels if any.
    metrics_scraper_namespace: str | None = Field(
        None, max_length=63, pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
    )
    metrics_scraper_pod_labels: dict[str, str] = Field(default_factory=dict)
    tls_certificate_arn: str = Field(
        "",
        pattern=r"^(arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate/[0-9a-f-]{36})?$",
        description="ACM certificate: TLS on 443 at the load balancer; empty = plain HTTP on 80.",
    )
    allow_plain_http: bool = Field(
        False, description="prod only: accept a public endpoint without TLS (no certificate)."
    )

    @model_validator(mode="after")
    def _metrics(self) -> AppSettings:
        if self.metrics_port == self.port:
            raise ValueError(
                f"metrics_port ({self.metrics_port}) must differ from port: /metrics has a port "
                "of its own, which the load balancer never exposes"
            )
        if self.metrics_scraper_pod_labels and not self.metrics_scraper_namespace:
            raise ValueError(
                "metrics_scraper_pod_labels needs metrics_scraper_namespace (the namespace the "
                "scraper runs in)"
            )
        return self

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
        "",
        pattern=r"^([A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+)?$",
        description="owner/name of the repository whose workflows may deploy; empty = unset "
        "(`invoke bootstrap` refuses it: the deploy role would trust nobody's repository).",
    )
    default_branch: str = "master"
    environment: str = "production"

    @field_validator("github_repository")
    @classmethod
    def _not_a_placeholder(cls, value: str) -> str:
        placeholders.check_repository(value)
        return value

    existing_oidc_provider_arn: str = Field(
        "",
        pattern=r"^(arn:aws[a-z-]*:iam::\d{12}:oidc-provider/token\.actions\.githubusercontent\.com)?$",
        description="The account's GitHub OIDC provider if it has one; empty = gif-ci creates it.",
    )
    runner: bool = Field(
        False,
        description="Deploy this environment's runner stack: a CodeBuild-hosted GitHub Actions "
        "runner in the private subnets, so CI's Kubernetes step reaches a private-only API "
        "endpoint (README: Deploying from GitHub).",
    )
    github_connection_arn: str = Field(
        "",
        pattern=r"^(arn:aws[a-z-]*:(codeconnections|codestar-connections):[a-z0-9-]+:\d{12}:"
        r"connection/[0-9a-f-]{36})?$",
        description="The AWS CodeConnections GitHub connection the runner's CodeBuild project "
        "uses (created once in the console); empty = unset (a deploy with the runner refuses it).",
    )

    @field_validator("github_connection_arn")
    @classmethod
    def _not_an_example_connection(cls, value: str) -> str:
        placeholders.check_connection(value)
        return value
