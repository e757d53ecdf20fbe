"""infra/settings/params_edit.py: a targeted edit keeps every other line, comment and blank
line; what it can't do safely leaves the file alone and says what to write by hand."""

from __future__ import annotations

import pytest
import yaml

from infra.core.errors import OperationFailed
from infra.settings import params
from infra.settings.params_edit import edit, set_value

PARAMS = """\
# Prod: three AZs.
database:
  instance_class: db.m7g.large
  engine_version: '17.6'  # the running minor
cluster:
  # Private-only API endpoint.
  public_access_cidrs: []
  addon_versions:
    coredns: 'v1.11.0-eksbuild.1'
    vpc-cni: 'v1.19.0-eksbuild.1'

  node_max_size: 9
app:
  replicas: 3
"""


def test_a_scalar_is_replaced_in_place_with_its_comment():
    after = set_value(PARAMS, "database.engine_version", "17.7")
    assert after == PARAMS.replace("engine_version: '17.6'", "engine_version: '17.7'")


def test_a_missing_key_goes_after_the_last_one_of_its_section():
    after = set_value(PARAMS, "cluster.kubernetes_version", "1.36")
    assert after == PARAMS.replace(
        "  node_max_size: 9\n", "  node_max_size: 9\n  kubernetes_version: '1.36'\n"
    )
    assert yaml.safe_load(after)["cluster"]["kubernetes_version"] == "1.36"  # a string


def test_a_missing_section_is_added_at_the_end():
    after = set_value("app:\n  replicas: 2\n", "cluster.node_kubernetes_version", "1.35")
    assert after == "app:\n  replicas: 2\n\ncluster:\n  node_kubernetes_version: '1.35'\n"
    assert set_value("", "a.b", "c") == "a:\n  b: 'c'\n"


def test_a_mapping_block_is_replaced_whole_and_the_blank_line_after_it_stays():
    after = set_value(PARAMS, "cluster.addon_versions", {"coredns": "v1.12.0-eksbuild.2"})
    assert after == PARAMS.replace(
        "    coredns: 'v1.11.0-eksbuild.1'\n    vpc-cni: 'v1.19.0-eksbuild.1'\n",
        "    coredns: 'v1.12.0-eksbuild.2'\n",
    )
    flow = set_value(
        "cluster:\n  addon_versions: {}\n  x: 1\n", "cluster.addon_versions", {"a": "b"}
    )
    assert flow == "cluster:\n  addon_versions:\n    a: 'b'\n  x: 1\n"
    assert (
        set_value(flow, "cluster.addon_versions", {}) == "cluster:\n  addon_versions: {}\n  x: 1\n"
    )


def test_a_quote_in_a_value_is_escaped():
    assert yaml.safe_load(set_value("", "a.b", "it's"))["a"]["b"] == "it's"


def test_edit_writes_only_a_change_and_reads_it_back(tmp_path):
    path = tmp_path / "prod.yaml"
    path.write_text(PARAMS)
    assert edit(path, {"database.engine_version": "17.6"}) is False
    assert edit(path, {"cluster.kubernetes_version": "1.36", "database.engine_version": "17.7"})
    data = yaml.safe_load(path.read_text())
    assert data["cluster"]["kubernetes_version"] == "1.36"
    assert data["database"] == {"instance_class": "db.m7g.large", "engine_version": "17.7"}


def test_an_unusual_layout_is_left_alone_with_what_to_write(tmp_path):
    path = tmp_path / "dev.yaml"
    path.write_text("cluster: {node_max_size: 4}\n")
    with pytest.raises(OperationFailed) as failed:
        edit(path, {"cluster.kubernetes_version": "1.36"})
    assert "set cluster.kubernetes_version: '1.36' in it by hand" in failed.value.message
    assert path.read_text() == "cluster: {node_max_size: 4}\n"


@pytest.mark.parametrize("env", params.environments())
def test_the_shipped_params_files_take_every_upgrade_key(tmp_path, env):
    path = tmp_path / f"{env}.yaml"
    original = (params.PARAMS_DIR / f"{env}.yaml").read_text()
    path.write_text(original)
    edit(
        path,
        {
            "cluster.kubernetes_version": "1.36",
            "cluster.node_kubernetes_version": "1.35",
            "cluster.addon_versions": {"coredns": "v1.12.0-eksbuild.2"},
            "database.engine_version": "17.6",
        },
    )
    settings = params.load_file(path, env)
    assert settings.cluster.node_version == "1.35"
    assert settings.cluster.addon_versions == {"coredns": "v1.12.0-eksbuild.2"}
    kept = [line for line in original.splitlines() if line.lstrip().startswith("#")]
    assert all(line in path.read_text().splitlines() for line in kept)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # An empty section followed by another: the key goes in the empty one.
        ("cluster:\napp:\n  x: 1\n", "cluster:\n  k: 'v'\napp:\n  x: 1\n"),
        # A section of comments only: two spaces, after the section line.
        ("cluster:\n  # soon\napp: {}\n", "cluster:\n  k: 'v'\n  # soon\napp: {}\n"),
        # A blank line after the section line is not where the indent comes from.
        ("cluster:\n\n    a: 1\n", "cluster:\n\n    a: 1\n    k: 'v'\n"),
        # A blank line after a one-line value stays where it was.
        ("cluster:\n  k: 'u'\n\n  a: 1\n", "cluster:\n  k: 'v'\n\n  a: 1\n"),
    ],
)
def test_layouts_at_the_edges(text, expected):
    assert set_value(text, "cluster.k", "v") == expected
    assert yaml.safe_load(expected)["cluster"]["k"] == "v"
