"""infra/settings/params_edit.py: a targeted edit keeps every other line, comment and blank
line; what it can't do safely leaves the file alone and says what to write by hand."""

from __future__ import annotations

import pytest
import yaml

from infra.core.errors import BadInput, OperationFailed
from infra.settings import params, params_edit
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
    text = "cluster:\n  node_max_size: 4\ncluster:\n  node_min_size: 2\n"  # the 2nd one counts
    path.write_text(text)
    with pytest.raises(OperationFailed) as failed:
        edit(path, {"cluster.kubernetes_version": "1.36"})
    assert "set cluster.kubernetes_version: '1.36' in it by hand" in failed.value.message
    assert path.read_text() == text
    path.write_text("cluster: {node_max_size: 4}\n")
    with pytest.raises(BadInput, match="cluster is written on one line"):
        edit(path, {"cluster.kubernetes_version": "1.36"})
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


# apply: params/<env>.yaml, validated by the params rules before it is written

SNAPSHOT = "gif-dev-database-database-1abcdefgh2ijk"


@pytest.fixture
def folder(tmp_path, monkeypatch):
    monkeypatch.setattr(params, "PARAMS_DIR", tmp_path)
    params.forget()
    yield tmp_path
    params.forget()


def _edit(folder, text: str) -> str:
    (folder / "dev.yaml").write_text(text)
    params_edit.apply("dev", {"database.restore_snapshot": SNAPSHOT})
    return (folder / "dev.yaml").read_text()


def test_a_key_joins_its_section_and_every_comment_stays(folder):
    text = (
        "# Dev: the cheapest setup.\n"
        "database:\n"
        "  # single-AZ to save cost\n"
        "  multi_az: false\n"
        "\n"
        "# the app\n"
        "app:\n"
        "  replicas: 2  # two pods\n"
    )
    assert _edit(folder, text) == text.replace(
        "  multi_az: false\n", f"  multi_az: false\n  restore_snapshot: '{SNAPSHOT}'\n"
    )
    assert params.load("dev").database.restore_snapshot == SNAPSHOT


def test_an_existing_value_is_replaced_in_place(folder):
    text = 'database:\n    restore_snapshot: "gif-old"  # was\n    multi_az: false\napp: {}\n'
    assert _edit(folder, text) == text.replace('"gif-old"  # was', f"'{SNAPSHOT}'  # was")


def test_a_one_line_section_is_refused_and_the_file_left_as_it_was(folder):
    text = "database: {multi_az: false}\n"
    with pytest.raises(BadInput, match="written on one line"):
        _edit(folder, text)
    assert (folder / "dev.yaml").read_text() == text


def test_a_value_the_params_refuse_is_never_written(folder):
    (folder / "dev.yaml").write_text("database:\n  multi_az: false\n")
    with pytest.raises(BadInput, match="restore_snapshot"):
        params_edit.apply("dev", {"database.restore_snapshot": "rds:gif-dev-2026"})
    assert (folder / "dev.yaml").read_text() == "database:\n  multi_az: false\n"
    assert sorted(p.name for p in folder.iterdir()) == ["dev.yaml"]  # no leftover copy


def test_an_empty_section_with_a_comment_gets_the_key_right_under_it(folder):
    text = "app:\n  replicas: 2\ndatabase:  # the database\nnetwork:\n  az_count: 2\n"
    (folder / "dev.yaml").write_text(text)
    assert params_edit.apply("dev", {"database.restore_snapshot": SNAPSHOT})
    assert (folder / "dev.yaml").read_text() == (
        f"app:\n  replicas: 2\ndatabase:  # the database\n  restore_snapshot: '{SNAPSHOT}'\n"
        "network:\n  az_count: 2\n"
    )


def test_the_one_line_refusal_names_the_line(folder):
    (folder / "dev.yaml").write_text("# dev\napp:\n  replicas: 2\ndatabase: {}  # none\n")
    with pytest.raises(BadInput) as caught:
        params_edit.apply("dev", {"database.restore_snapshot": SNAPSHOT})
    assert caught.value.message == (
        "params/dev.yaml line 4: database is written on one line; write it as a block "
        "(database:, then one key per line) and run again."
    )


def test_applying_the_value_already_there_writes_nothing(folder):
    (folder / "dev.yaml").write_text("database:\n  multi_az: false\n")
    assert params_edit.apply("dev", {"database.restore_snapshot": SNAPSHOT}) is True
    written = (folder / "dev.yaml").stat().st_mtime_ns
    assert params_edit.apply("dev", {"database.restore_snapshot": SNAPSHOT}) is False
    assert (folder / "dev.yaml").stat().st_mtime_ns == written
