"""infra/settings/params.py: each refusal word for word, and every bound of every number at
both ends (the last value allowed passes, the next one is refused saying the bound)."""

from __future__ import annotations

from pathlib import Path

import pydantic
import pytest
import yaml

from infra.core.errors import BadInput
from infra.settings import catalog, params, sections

KEYS = (
    "account_id, app, aws_endpoint_url, ci, cluster, database, deploy, network, project, "
    "region, registry_keep_images"
)
DATABASE_KEYS = (
    "allocated_storage_gib, app_username, backup_retention_days, blue_green_ready, "
    "deletion_protection, engine_version, instance_class, log_retention_days, master_username, "
    "max_allocated_storage_gib, multi_az, name, port, restore_snapshot, upgrade_target_version"
)
RETENTIONS = "1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192"
RETENTIONS += ", 2557, 2922, 3288, 3653"
DOCS = "See https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/Concepts.DBInstanceClass.html."

EXACT = [
    (
        "netwrk: {}\n",
        f"unknown key 'netwrk'. Did you mean 'network'? Valid keys here: {KEYS}.",
    ),
    ("zzz: 1\n", f"unknown key 'zzz'. Valid keys here: {KEYS}."),
    (
        "database:\n  qqq: 1\n",
        f"unknown key 'database.qqq'. Valid keys here: {DATABASE_KEYS}.",
    ),
    (
        "network:\n  az_count: 5\n",
        "network.az_count: Input should be less than or equal to 3 (got 5).",
    ),
    (
        "network:\n  cidr: 10.0.0.300/16\n",
        "network.cidr: '10.0.0.300/16' is not an IPv4 network in CIDR form (Octet 300 (> 255) "
        "not permitted in '10.0.0.300') (got '10.0.0.300/16').",
    ),
    (
        "network:\n  cidr: 10.0.0.0/15\n",
        "network.cidr: '10.0.0.0/15' must be between a /16 and a /24 (got '10.0.0.0/15').",
    ),
    (
        "network:\n  cidr: 10.0.0.0/25\n",
        "network.cidr: '10.0.0.0/25' must be between a /16 and a /24 (got '10.0.0.0/25').",
    ),
    (
        "cluster:\n  public_access_cidrs: ['10.0.0.0/8', '1.2.3.4/33']\n",
        "cluster.public_access_cidrs: '1.2.3.4/33' is not an IPv4 network in CIDR form ('33' is "
        "not a valid netmask) (got ['10.0.0.0/8', '1.2.3.4/33']).",
    ),
    (
        "cluster:\n  public_access_cidrs: ['0.0.0.0/0']\n",
        "cluster.public_access_cidrs: '0.0.0.0/0' opens the API endpoint to the whole internet; "
        "list your office/VPN ranges instead (or none for a private-only endpoint) "
        "(got ['0.0.0.0/0']).",
    ),
    (
        "database:\n  instance_class: db.x9.mega\n",
        "database.instance_class: 'db.x9.mega' is not an RDS for PostgreSQL 17.6 instance class "
        f"in eu-west-1. {DOCS}",
    ),
    (
        "cluster:\n  kubernetes_version: '1.20'\n",
        "cluster.kubernetes_version: '1.20' is not a Kubernetes version EKS offers; use one of "
        f"{', '.join(catalog.EKS_KUBERNETES_VERSIONS)} (got '1.20').",
    ),
    (
        "database:\n  engine_version: '15.10'\n",
        "database.engine_version: '15.10' is not a current RDS for PostgreSQL 16.x/17.x version "
        f"(deprecated or unknown); use one of {', '.join(catalog.postgres_versions())} "
        "(got '15.10').",
    ),
    (
        "cluster:\n  node_min_size: 5\n",
        "cluster: node sizes must satisfy node_min_size <= node_desired_size <= node_max_size "
        "(got 5 <= 2 <= 4).",
    ),
    (
        "cluster:\n  node_desired_size: 5\n",
        "cluster: node sizes must satisfy node_min_size <= node_desired_size <= node_max_size "
        "(got 2 <= 5 <= 4).",
    ),
    (
        "database:\n  allocated_storage_gib: 101\n",
        "database: max_allocated_storage_gib (100) must be at least allocated_storage_gib (101); "
        "raise it or lower the storage.",
    ),
    (
        "database:\n  blue_green_ready: true\n  upgrade_target_version: '15.10'\n",
        "database: upgrade_target_version '15.10' is not a current version.",
    ),
    (
        "database:\n  blue_green_ready: true\n  upgrade_target_version: '17.7'\n",
        "database: upgrade_target_version 17.7 is not a newer major than engine_version 17.6 "
        "(minor upgrades change engine_version in place).",
    ),
    (
        "database:\n  engine_version: '16.9'\n  upgrade_target_version: '17.6'\n",
        "database: upgrade_target_version needs blue_green_ready: true.",
    ),
    (
        "network:\n  flow_log_retention_days: 31\n",
        f"network.flow_log_retention_days: 31 is not a CloudWatch Logs retention; use one of "
        f"{RETENTIONS} (got 31).",
    ),
    (
        "cluster:\n  log_retention_days: 2\n",
        f"cluster.log_retention_days: 2 is not a CloudWatch Logs retention; use one of "
        f"{RETENTIONS} (got 2).",
    ),
    (
        "database:\n  log_retention_days: 4\n",
        f"database.log_retention_days: 4 is not a CloudWatch Logs retention; use one of "
        f"{RETENTIONS} (got 4).",
    ),
    (
        "app:\n  autoscaling: true\n  replicas: 5\n  max_replicas: 4\n",
        "app: max_replicas (4) must be at least replicas (5) when autoscaling is on.",
    ),
    ("app:\n  replicas: 5\n  max_replicas: 4\n", None),  # without autoscaling: fine
    ("app:\n  autoscaling: true\n  replicas: 4\n  max_replicas: 4\n", None),
    (
        "network:\n  cidr: 10.0.0.1/16\n",
        "network.cidr: '10.0.0.1/16' is not an IPv4 network in CIDR form (10.0.0.1/16 has host "
        "bits set) (got '10.0.0.1/16').",
    ),
    (
        "cluster:\n  public_access_cidrs: ['203.0.113.9/24']\n",
        "cluster.public_access_cidrs: '203.0.113.9/24' is not an IPv4 network in CIDR form "
        "(203.0.113.9/24 has host bits set) (got ['203.0.113.9/24']).",
    ),
    (  # two mistakes: the first one is said
        "network:\n  az_count: 9\napp:\n  port: 80\n",
        "network.az_count: Input should be less than or equal to 3 (got 9).",
    ),
    (
        "region: Ireland\n",
        "region: String should match pattern '^[a-z]{2}(-gov)?-[a-z]+-\\d$' (got 'Ireland').",
    ),
    ("env: prod\n", "'env' is not a setting; the file's name is the environment."),
    ("- a\n- b\n", "expected a mapping of settings at the top level."),
    ("just words\n", "expected a mapping of settings at the top level."),
    (
        "network: [\n",
        "not valid YAML: expected the node content, but found '<stream end>' at line 2, "
        "column 1; fix the YAML syntax there",
    ),
    (
        "network:\n  az_count: 2\n a: [\n",
        "not valid YAML: expected <block end>, but found '<block mapping start>' at line 3, "
        "column 2; fix the YAML syntax there",
    ),
    (
        "cluster:\n  node_instance_types: []\n",
        "cluster.node_instance_types: List should have at least 1 item after validation, not 0 "
        "(got []).",
    ),
    (
        "app:\n  log_level: loud\n",
        "app.log_level: Input should be 'debug', 'info', 'warning' or 'error' (got 'loud').",
    ),
    (
        "network: 3\n",
        "network: Input should be a valid dictionary or instance of NetworkSettings (got 3).",
    ),
    (
        "database:\n  restore_snapshot: rds:gif-dev-2026-12-05-02-10\n",
        "database.restore_snapshot: 'rds:gif-dev-2026-12-05-02-10' is not a manual DB "
        "snapshot's identifier or ARN (a letter, then letters, digits and single hyphens); an "
        "automated one (rds:...) goes with its retention: copy it first (aws rds "
        "copy-db-snapshot) and name the copy (got 'rds:gif-dev-2026-12-05-02-10').",
    ),
    ("account_id: '12345'\n", "account_id: String should match pattern '^\\d{12}$' (got '12345')."),
]


def _load(tmp_path: Path, text: str) -> params.Settings:
    path = tmp_path / "staging.yaml"
    path.write_text(text)
    return params.load_file(path)


@pytest.mark.parametrize(("text", "expected"), EXACT)
def test_each_refusal_word_for_word(tmp_path, text, expected):
    if expected is None:
        assert _load(tmp_path, text)
        return
    with pytest.raises(BadInput) as caught:
        _load(tmp_path, text)

    assert caught.value.message == f"{tmp_path / 'staging.yaml'}: {expected}"


def test_a_near_miss_instance_class_names_the_closest_ones(tmp_path):
    classes = catalog.postgres_instance_classes("eu-west-1", "17.6")
    assert {"db.t4g.micro", "db.t3.micro", "db.t4g.medium"} <= set(classes)

    with pytest.raises(BadInput) as caught:
        _load(tmp_path, "database:\n  instance_class: db.t4g.micr\n")

    assert caught.value.message.endswith(
        "database.instance_class: 'db.t4g.micr' is not an RDS for PostgreSQL 17.6 instance "
        "class in eu-west-1. Did you mean 'db.t4g.micro' or 'db.t3.micro' or 'db.t4g.medium'? "
        f"{DOCS}"
    )


def test_the_retentions_are_cloudwatch_logs_own_list():
    assert ", ".join(map(str, sections.LOG_RETENTION_DAYS)) == RETENTIONS


# field -> (lowest allowed, highest allowed or None); other fields set so only this one
# decides.
BOUNDS = {
    "network.az_count": (2, 3),
    "database.allocated_storage_gib": (20, 65536),
    "database.max_allocated_storage_gib": (20, 65536),
    "database.backup_retention_days": (1, 35),
    "database.port": (1150, 65535),
    "cluster.node_min_size": (1, 100),
    "cluster.node_desired_size": (1, 100),
    "cluster.node_max_size": (1, 100),
    "cluster.node_disk_gib": (20, 1000),
    "app.replicas": (1, 100),
    "app.port": (1024, 65535),
    "app.max_replicas": (1, 100),
    "deploy.rollout_timeout_seconds": (30, None),
    "registry_keep_images": (1, 1000),
}


def _with(dotted: str, value: int, allowed: bool) -> dict:
    """This field at `value`; the fields checked with it set so that only it decides (a
    value refused must be refused by this field's own bound, not a neighbour's)."""
    *sections, name = dotted.split(".")
    section: dict = {name: value}
    node_sizes = ("node_min_size", "node_desired_size", "node_max_size")
    if allowed and name in node_sizes:
        section = dict.fromkeys(node_sizes, value)
    if dotted == "database.allocated_storage_gib":
        section["max_allocated_storage_gib"] = min(max(value, 20), 65536)
    if dotted == "database.max_allocated_storage_gib":
        section["allocated_storage_gib"] = 20
    return {sections[0]: section} if sections else section


@pytest.mark.parametrize("dotted", sorted(BOUNDS))
def test_every_bound_at_both_ends(tmp_path, dotted):
    low, high = BOUNDS[dotted]
    ends = [(low, None), (low - 1, f"greater than or equal to {low}")]
    if high is not None:
        ends += [(high, None), (high + 1, f"less than or equal to {high}")]
    for value, refusal in ends:
        text = yaml.safe_dump(_with(dotted, value, allowed=refusal is None))
        if refusal is None:
            settings = _load(tmp_path, text)
            found = settings
            for part in dotted.split("."):
                found = getattr(found, part)
            assert found == value, (dotted, value)
        else:
            with pytest.raises(BadInput) as caught:
                _load(tmp_path, text)
            assert f"Input should be {refusal} (got {value})." in caught.value.message


def test_a_stack_timeout_of_one_minute_is_the_least(tmp_path):
    text = "deploy:\n  stack_timeout_minutes: {network: 1}\n"
    assert _load(tmp_path, text).deploy.stack_timeout_minutes == {"network": 1}


def test_load_names_the_file_from_the_project_and_reads_each_environment_once(
    tmp_path, monkeypatch
):
    monkeypatch.setattr(params, "PARAMS_DIR", tmp_path / "params")
    (tmp_path / "params").mkdir()
    params.forget()
    try:
        with pytest.raises(BadInput) as none:
            params.load("dev")
        assert none.value.message.endswith("Environments that exist: none.")
        (tmp_path / "params" / "broken.yaml").write_text("netwrk: {}\n")
        (tmp_path / "params" / "fine.yaml").write_text("app:\n  replicas: 3\n")

        with pytest.raises(BadInput) as caught:
            params.load("broken")

        assert caught.value.message.startswith("params/broken.yaml: unknown key 'netwrk'.")
        assert params.environments() == ["broken", "fine"]
        assert params.load("fine") is params.load("fine")
        assert params.load("fine").env == "fine" and params.load("fine").app.replicas == 3
    finally:
        params.forget()


def test_settings_are_frozen(tmp_path):
    settings = _load(tmp_path, "")
    with pytest.raises(pydantic.ValidationError, match="frozen"):
        settings.app.replicas = 5
    with pytest.raises(pydantic.ValidationError, match="frozen"):
        settings.region = "us-east-1"
