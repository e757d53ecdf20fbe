"""Load and validate `params/<env>.yaml` into typed settings.

Defaults live here, in the models; an environment file holds only what differs.
Every problem becomes one `BadInput` naming the file, the key and what is allowed.
"""

from __future__ import annotations

import difflib
import re
from functools import cache
from pathlib import Path

from pydantic import (
    BaseModel,
    Field,
    ValidationError,
    model_validator,
)

from infra.core.errors import BadInput
from infra.core.paths import ROOT
from infra.settings import catalog, params_file
from infra.settings.cluster_section import ClusterSettings
from infra.settings.sections import (
    AppSettings,
    CiSettings,
    DatabaseSettings,
    DeploySettings,
    NetworkSettings,
    _Section,
)

PARAMS_DIR = ROOT / "params"


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

    @model_validator(mode="after")
    def _tls(self) -> Settings:
        app, where = self.app, (self.app.tls_certificate_arn.split(":") + [""] * 4)[3]
        if app.tls_certificate_arn and where != self.region:
            raise ValueError(
                f"app.tls_certificate_arn: the certificate is in {where}, the load balancer in "
                f"{self.region}; request (or import) the certificate in ACM in {self.region}"
            )
        if self.is_prod and not app.tls_certificate_arn and not app.allow_plain_http:
            raise ValueError(
                "app.tls_certificate_arn is not set, so prod's public endpoint would be plain "
                "HTTP. Set app.tls_certificate_arn to an ACM certificate's ARN in "
                f"{self.region} (README: Security, TLS), or set app.allow_plain_http: true to "
                "accept plain HTTP"
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


# What `load` has read is forgotten: a command that edits a params file (`invoke upgrade`)
# reads it again. Bound here, so it is the cache's own whatever later wraps `load`.
forget = load.cache_clear


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
