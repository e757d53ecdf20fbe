"""infra/settings/params.py: every bad params file gets one clear message (file, key, what is
allowed);
through `invoke` that is exit code 2 and no traceback."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from infra.core.errors import BadInput
from infra.settings import catalog, params, placeholders, sections
from infra.stacks import specs

ROOT = Path(__file__).resolve().parents[3]


def load_text(tmp_path: Path, text: str):
    path = tmp_path / "staging.yaml"
    path.write_text(text)
    return params.load_file(path)


def message(tmp_path: Path, text: str) -> str:
    with pytest.raises(BadInput) as caught:
        load_text(tmp_path, text)
    assert caught.value.exit_code == 2
    assert "staging.yaml" in caught.value.message  # names the file
    return caught.value.message


@pytest.mark.parametrize("env", params.environments())
def test_committed_params_files_are_valid(env):
    assert params.load(env).env == env


def test_defaults_are_what_an_environment_file_leaves_out(tmp_path):
    settings = load_text(tmp_path, "")
    assert settings.network.az_count == 2 and settings.network.nat_mode == "single"
    assert settings.database.engine_version in catalog.postgres_versions()
    assert settings.cluster.kubernetes_version in catalog.EKS_KUBERNETES_VERSIONS


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("netwrk: {}\n", ["unknown key 'netwrk'", "Did you mean 'network'?"]),
        (
            "database:\n  instance_clas: db.t4g.micro\n",
            ["unknown key 'database.instance_clas'", "Did you mean 'instance_class'?"],
        ),
        ("network:\n  az_count: two\n", ["network.az_count", "valid integer", "'two'"]),
        ("network:\n  az_count: 5\n", ["network.az_count", "less than or equal to 3"]),
        ("network:\n  az_count: 1\n", ["network.az_count", "greater than or equal to 2"]),
        ("network:\n  cidr: 10.0.0.300/16\n", ["network.cidr", "not an IPv4 network"]),
        ("network:\n  cidr: 10.0.0.0/8\n", ["network.cidr", "between a /16 and a /24"]),
        (
            "cluster:\n  public_access_cidrs: ['1.2.3.4/33']\n",
            ["cluster.public_access_cidrs", "not an IPv4 network"],
        ),
        (
            "cluster:\n  public_access_cidrs: ['0.0.0.0/0']\n",
            ["whole internet", "office/VPN ranges"],
        ),
        (
            "database:\n  instance_class: db.t4g.micr\n",
            ["database.instance_class", "'db.t4g.micr'", "Did you mean 'db.t4g.micro'"],
        ),
        (
            "database:\n  instance_class: db.x9.mega\n",
            ["database.instance_class", "not an RDS for PostgreSQL", "in eu-west-1"],
        ),
        (
            "cluster:\n  kubernetes_version: '1.20'\n",
            ["cluster.kubernetes_version", "EKS offers", "1.35"],
        ),
        (
            "database:\n  engine_version: '16.6'\n",
            ["database.engine_version", "deprecated", "17.6"],
        ),
        ("database:\n  engine_version: '15.10'\n", ["database.engine_version", "16.x/17.x"]),
        (
            "cluster:\n  node_min_size: 5\n",
            ["node_min_size <= node_desired_size <= node_max_size", "5 <= 2 <= 4"],
        ),
        (
            "database:\n  allocated_storage_gib: 200\n",
            ["max_allocated_storage_gib (100) must be at least allocated_storage_gib (200)"],
        ),
        (
            "network:\n  flow_log_retention_days: 31\n",
            ["network.flow_log_retention_days", "not a CloudWatch Logs retention", "365"],
        ),
        (
            "app:\n  autoscaling: true\n  replicas: 8\n  max_replicas: 4\n",
            ["max_replicas (4) must be at least replicas (8)"],
        ),
        (
            "app:\n  metrics_port: 8080\n",
            ["metrics_port (8080) must differ from port", "never exposes"],
        ),
        (
            "app:\n  metrics_scraper_pod_labels: {app: prometheus}\n",
            ["metrics_scraper_pod_labels needs metrics_scraper_namespace"],
        ),
        (
            "app:\n  metrics_scraper_namespace: Monitoring\n",
            ["app.metrics_scraper_namespace", "should match pattern"],
        ),
        ("region: Ireland\n", ["region", "should match pattern"]),
        ("env: prod\n", ["'env' is not a setting"]),
        ("- a\n- b\n", ["expected a mapping"]),
        ("network: [\n", ["not valid YAML"]),
    ],
)
def test_bad_input_gets_one_clear_message(tmp_path, text, expected):
    text_of_error = message(tmp_path, text)
    for part in expected:
        assert part in text_of_error
    assert "Traceback" not in text_of_error and "\n" not in text_of_error.strip()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "app:\n  replicas: 3\nnetwork:\n  az_count: 3\napp:\n  port: 9000\n",
            "staging.yaml: key 'app' is given twice (lines 1 and 5); YAML would keep only the "
            "second. Merge them into one.",
        ),
        (
            "database:\n  multi_az: true\n  backup_retention_days: 9\n  multi_az: false\n",
            "staging.yaml: key 'database.multi_az' is given twice (lines 2 and 4); YAML would "
            "keep only the second. Merge them into one.",
        ),
        (
            "cluster:\n  public_access_cidrs:\n    - {a: 1, a: 2}\n",
            "staging.yaml: key 'cluster.public_access_cidrs.0.a' is given twice (lines 3 and 3)",
        ),
    ],
)
def test_a_key_given_twice_is_refused_naming_both_lines(tmp_path, text, expected):
    shown = message(tmp_path, text).removeprefix(f"{tmp_path}/")
    assert shown.startswith(expected)


def test_a_merge_key_may_be_overridden_by_a_key_of_its_own(tmp_path):
    text = "app:\n  <<: {port: 9000, replicas: 3}\n  port: 9100\n"
    assert load_text(tmp_path, text).app.port == 9100


def test_a_file_that_is_not_utf8_is_one_line_naming_the_byte(tmp_path):
    path = tmp_path / "staging.yaml"
    path.write_bytes(b"app:\n  replicas: 2\n  log_level: d\xe9bug\n")

    with pytest.raises(BadInput) as caught:
        params.load_file(path)

    assert caught.value.message == (
        f"{path}: not UTF-8 text: byte 0xe9 at line 3, column 15; save the file as UTF-8"
    )


def test_an_empty_file_or_document_is_all_defaults(tmp_path):
    assert load_text(tmp_path, "") == load_text(tmp_path, "# nothing\n")
    assert load_text(tmp_path, "---\n...\n").app.replicas == 2


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("app:\n  replicas: true\n", "app.replicas: Input should be a valid integer (got True)."),
        (
            "network:\n  az_count: 2.0\n",
            "network.az_count: Input should be a valid integer (got 2.0).",
        ),
        (
            "network:\n  az_count: '2'\n",
            "network.az_count: Input should be a valid integer (got '2').",
        ),
        (
            "database:\n  multi_az: 'true'\n",
            "database.multi_az: Input should be a valid boolean (got 'true').",
        ),
        (
            "deploy:\n  stack_timeout_minutes: {network: -1}\n",
            "deploy.stack_timeout_minutes.network: Input should be greater than 0 (got -1).",
        ),
        (
            "deploy:\n  stack_timeout_minutes: {database: 0}\n",
            "deploy.stack_timeout_minutes.database: Input should be greater than 0 (got 0).",
        ),
        (
            "deploy:\n  stack_timeout_minutes: {cluster: true}\n",
            "deploy.stack_timeout_minutes.cluster: Input should be a valid integer (got True).",
        ),
        (
            "deploy:\n  stack_timeout_minutes: {netwrok: 30}\n",
            "deploy.stack_timeout_minutes: unknown stack 'netwrok'. Did you mean 'network'? "
            "Stacks: network, database, cluster, workload, runner, registry, ci.",
        ),
        (
            "deploy:\n  stack_timeout_minutes: {vpc: 30}\n",
            "deploy.stack_timeout_minutes: unknown stack 'vpc'. "
            "Stacks: network, database, cluster, workload, runner, registry, ci.",
        ),
    ],
)
def test_types_are_strict_and_timeouts_positive_for_existing_stacks(tmp_path, text, expected):
    assert message(tmp_path, text) == f"{tmp_path / 'staging.yaml'}: {expected}"


def test_timeouts_may_name_every_stack_there_is():
    assert set(sections.STACK_KEYS) == set(specs.ALL_STACKS)
    minutes = {key: index + 1 for index, key in enumerate(sections.STACK_KEYS)}
    deploy = params.DeploySettings(stack_timeout_minutes=minutes)
    assert deploy.stack_timeout_minutes == minutes


def test_unknown_environment_lists_the_ones_that_exist():
    with pytest.raises(BadInput) as caught:
        params.load("staging")
    assert "unknown environment 'staging'" in caught.value.message
    assert "dev, local, prod" in caught.value.message


@pytest.fixture(scope="module")
def project_copy(tmp_path_factory) -> Path:
    """tasks.py, infra/ and params/ in a scratch folder, so a bad params file can be
    tried through `invoke` without touching the repository's params/."""
    root = tmp_path_factory.mktemp("project")
    shutil.copy(ROOT / "tasks.py", root / "tasks.py")
    ignore = shutil.ignore_patterns("__pycache__")
    shutil.copytree(ROOT / "infra", root / "infra", ignore=ignore)
    shutil.copytree(ROOT / "params", root / "params")
    (root / "params" / "broken.yaml").write_text(
        "database:\n  instance_class: db.t4g.micr\nnetwrk: {}\n"
    )
    (root / "params" / "latin1.yaml").write_bytes(b"# caf\xe9\napp:\n  replicas: 2\n")
    return root


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ("staging", "unknown environment 'staging'"),
        ("broken", "params/broken.yaml: unknown key 'netwrk'. Did you mean 'network'?"),
        ("latin1", "params/latin1.yaml: not UTF-8 text: byte 0xe9 at line 1, column 6"),
    ],
)
def test_invoke_exits_2_with_the_message_and_no_traceback(project_copy, env, expected):
    invoke = Path(sys.executable).parent / "invoke"
    result = subprocess.run(
        [str(invoke), "synth", "--env", env],
        cwd=project_copy,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2, result.stderr
    assert expected in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


# --- TLS at the load balancer (issue 13 item 4) ---------------------------------------------

CERTIFICATE = "arn:aws:acm:eu-west-1:111122223333:certificate/0123abcd-4567-89ef-0123-456789abcdef"


def _prod_without(tmp_path: Path, line: str, extra: str = "") -> Path:
    text = (ROOT / "params" / "prod.yaml").read_text()
    assert line in text
    path = tmp_path / "prod.yaml"
    path.write_text(text.replace(line, extra))
    return path


def test_prod_without_a_certificate_is_refused_unless_plain_http_is_accepted(tmp_path):
    assert params.load("prod").app.allow_plain_http  # the shipped file says so, for now
    path = _prod_without(tmp_path, "  allow_plain_http: true\n")
    with pytest.raises(BadInput) as caught:
        params.load_file(path, "prod")
    assert caught.value.exit_code == 2
    text = caught.value.message
    assert text.startswith(f"{path}: app.tls_certificate_arn is not set")
    assert "app.allow_plain_http: true" in text and "README" in text and "\n" not in text


def test_prod_with_a_certificate_needs_no_plain_http_allowance(tmp_path):
    path = _prod_without(
        tmp_path, "  allow_plain_http: true\n", f"  tls_certificate_arn: {CERTIFICATE}\n"
    )
    assert params.load_file(path, "prod").app.tls_certificate_arn == CERTIFICATE


def test_other_environments_may_serve_plain_http():
    assert not params.load("dev").app.tls_certificate_arn
    assert not params.load("dev").app.allow_plain_http


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("arn:aws:iam::111122223333:server-certificate/x", "app.tls_certificate_arn"),
        (CERTIFICATE.replace("eu-west-1", "us-east-1"), "the certificate is in us-east-1"),
    ],
)
def test_a_certificate_that_is_not_an_acm_one_of_the_region_is_refused(tmp_path, value, expected):
    assert expected in message(tmp_path, f"app:\n  tls_certificate_arn: {value}\n")


def test_invoke_refuses_prod_without_tls_with_exit_2(tmp_path):
    root = tmp_path / "project"
    shutil.copytree(ROOT / "infra", root / "infra", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "params", root / "params")
    shutil.copy(ROOT / "tasks.py", root / "tasks.py")
    prod = root / "params" / "prod.yaml"
    prod.write_text(prod.read_text().replace("  allow_plain_http: true\n", ""))
    result = subprocess.run(
        [str(Path(sys.executable).parent / "invoke"), "synth", "--env", "prod"],
        cwd=root, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert "params/prod.yaml: app.tls_certificate_arn is not set" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


@pytest.mark.parametrize(
    "cidr", ["192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "203.0.113.128/25"]
)
def test_documentation_cidrs_are_refused(tmp_path, cidr):
    text = message(tmp_path, f"cluster:\n  public_access_cidrs: ['10.1.0.0/16', '{cidr}']\n")
    assert "cluster.public_access_cidrs" in text and "documentation range" in text
    assert cidr in text


def test_a_real_range_is_kept(tmp_path):
    settings = load_text(tmp_path, "cluster:\n  public_access_cidrs: ['198.51.0.0/24']\n")
    assert settings.cluster.public_access_cidrs == ["198.51.0.0/24"]


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_shipped_params_have_a_private_only_endpoint(env):
    assert params.load(env).cluster.public_access_cidrs == []


def test_example_github_repository_is_refused(tmp_path):
    text = message(tmp_path, "ci:\n  github_repository: example-org/gifstack\n")
    assert "ci.github_repository" in text and "placeholder" in text


def test_unset_github_repository_loads_but_bootstrap_refuses_it(tmp_path):
    settings = load_text(tmp_path, "")  # an environment deploy doesn't need it
    assert settings.ci.github_repository == ""
    with pytest.raises(BadInput) as caught:
        placeholders.require_github_repository(settings)
    assert "ci.github_repository is not set" in caught.value.message
    assert "params/staging.yaml" in caught.value.message
    mine = load_text(tmp_path, "ci:\n  github_repository: acme/gifstack\n")
    assert placeholders.require_github_repository(mine) == "acme/gifstack"


CONNECTION = "arn:aws:codeconnections:eu-west-1:{account}:connection/{id}"
REAL_ID = "0123abcd-4567-89ef-0123-456789abcdef"


@pytest.mark.parametrize(
    "arn",
    [
        CONNECTION.format(account="111122223333", id=REAL_ID),
        CONNECTION.format(account="123456789012", id=REAL_ID),
        CONNECTION.format(account="210987654321", id="00000000-0000-0000-0000-000000000000"),
    ],
)
def test_an_example_connection_arn_is_refused(tmp_path, arn):
    text = message(tmp_path, f"ci:\n  github_connection_arn: {arn}\n")
    assert "ci.github_connection_arn" in text and "example connection ARN" in text


def test_a_connection_arn_that_is_no_arn_is_refused(tmp_path):
    text = message(tmp_path, "ci:\n  github_connection_arn: my-github-connection\n")
    assert "ci.github_connection_arn" in text


@pytest.mark.parametrize(
    ("ci", "missing"),
    [
        ("  runner: true\n", "ci.github_repository and ci.github_connection_arn not set"),
        ("  runner: true\n  github_repository: acme/gifstack\n", "ci.github_connection_arn not"),
    ],
)
def test_the_runner_needs_the_repository_and_the_connection(tmp_path, ci, missing):
    settings = load_text(tmp_path, "ci:\n" + ci)  # loads: only a deploy with the runner needs it
    with pytest.raises(BadInput) as caught:
        placeholders.require_runner_source(settings)
    assert missing in caught.value.message
    assert (
        "params/staging.yaml" in caught.value.message and "ci.runner: false" in caught.value.message
    )


def test_a_real_connection_is_kept_and_the_runner_source_is_complete(tmp_path):
    arn = CONNECTION.format(account="210987654321", id=REAL_ID)
    text = (
        f"ci:\n  runner: true\n  github_repository: acme/gifstack\n  github_connection_arn: {arn}\n"
    )
    settings = load_text(tmp_path, text)
    assert settings.ci.github_connection_arn == arn
    placeholders.require_runner_source(settings)  # no error


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_shipped_params_deploy_with_the_runner(env):
    assert params.load(env).ci.runner is True


def test_a_version_past_standard_support_is_refused_unless_extended_is_chosen(tmp_path):
    text = message(tmp_path, "cluster:\n  kubernetes_version: '1.32'\n")
    assert "past EKS standard support" in text and "support_type: EXTENDED" in text
    assert "1.35" in text  # what to use instead
    extended = "cluster:\n  kubernetes_version: '1.32'\n  support_type: EXTENDED\n"
    assert load_text(tmp_path, extended).cluster.support_type == "EXTENDED"
    assert load_text(tmp_path, "").cluster.support_type == "STANDARD"


@pytest.mark.parametrize(
    ("nodes", "words"),
    [
        ("1.36", "must not be newer than kubernetes_version '1.35'"),
        ("1.31", "not a Kubernetes version EKS offers"),
        ("banana", "not a Kubernetes version EKS offers"),
    ],
)
def test_the_nodes_are_never_ahead_of_the_control_plane(tmp_path, nodes, words):
    text = message(tmp_path, f"cluster:\n  node_kubernetes_version: '{nodes}'\n")
    assert "cluster.node_kubernetes_version" in text and words in text


def test_the_nodes_may_trail_the_control_plane_by_three_minors_not_four(tmp_path):
    four = "cluster:\n  kubernetes_version: '1.36'\n  node_kubernetes_version: '1.32'\n"
    assert "more than 3 minor versions older" in message(tmp_path, four)
    three = "cluster:\n  kubernetes_version: '1.36'\n  node_kubernetes_version: '1.33'\n"
    assert load_text(tmp_path, three).cluster.node_version == "1.33"
    assert load_text(tmp_path, "").cluster.node_version == "1.35"  # unset: the control plane's


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("cluster:\n  addon_versions:\n    vpc-cnii: v1.2.3-eksbuild.1\n", "'vpc-cnii' is not one"),
        ("cluster:\n  addon_versions:\n    coredns: latest\n", "cluster.addon_versions.coredns"),
    ],
)
def test_a_pinned_addon_is_a_managed_addon_at_an_eks_version(tmp_path, text, words):
    assert words in message(tmp_path, text)
