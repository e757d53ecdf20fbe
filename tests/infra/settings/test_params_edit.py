"""infra/settings/params_edit.py: one key set, every other line kept (comments, order)."""

from __future__ import annotations

import pytest

from infra.core.errors import BadInput
from infra.settings import params, params_edit

SNAPSHOT = "gif-dev-database-database-1abcdefgh2ijk"


@pytest.fixture
def folder(tmp_path, monkeypatch):
    monkeypatch.setattr(params, "PARAMS_DIR", tmp_path)
    params.load.cache_clear()
    yield tmp_path
    params.load.cache_clear()


def _edit(folder, text: str) -> str:
    (folder / "dev.yaml").write_text(text)
    params_edit.set_value("dev", "database", "restore_snapshot", SNAPSHOT)
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
        "  multi_az: false\n", f'  multi_az: false\n  restore_snapshot: "{SNAPSHOT}"\n'
    )
    assert params.load("dev").database.restore_snapshot == SNAPSHOT


def test_an_existing_value_is_replaced_in_place(folder):
    text = 'database:\n    restore_snapshot: "gif-old"  # was\n    multi_az: false\napp: {}\n'
    assert _edit(folder, text) == text.replace('"gif-old"  # was', f'"{SNAPSHOT}"')


def test_a_missing_section_is_added_at_the_end(folder):
    text = "app:\n  replicas: 2"
    assert (
        _edit(folder, text) == f'app:\n  replicas: 2\ndatabase:\n  restore_snapshot: "{SNAPSHOT}"\n'
    )


def test_a_one_line_section_is_refused_and_the_file_left_as_it_was(folder):
    text = "database: {multi_az: false}\n"
    with pytest.raises(BadInput, match="written on one line"):
        _edit(folder, text)
    assert (folder / "dev.yaml").read_text() == text


def test_a_value_the_params_refuse_is_never_written(folder):
    (folder / "dev.yaml").write_text("database:\n  multi_az: false\n")
    with pytest.raises(BadInput, match="restore_snapshot"):
        params_edit.set_value("dev", "database", "restore_snapshot", "rds:gif-dev-2026")
    assert (folder / "dev.yaml").read_text() == "database:\n  multi_az: false\n"
    assert sorted(p.name for p in folder.iterdir()) == ["dev.yaml"]  # no leftover copy


def test_an_empty_section_with_a_comment_gets_the_key_right_under_it(folder):
    text = "app:\n  replicas: 2\ndatabase:  # the database\nnetwork:\n  az_count: 2\n"
    (folder / "dev.yaml").write_text(text)
    path = params_edit.set_value("dev", "database", "restore_snapshot", SNAPSHOT)
    assert path == folder / "dev.yaml"
    assert path.read_text() == (
        f'app:\n  replicas: 2\ndatabase:  # the database\n  restore_snapshot: "{SNAPSHOT}"\n'
        "network:\n  az_count: 2\n"
    )


def test_the_one_line_refusal_names_the_line(folder):
    (folder / "dev.yaml").write_text("# dev\napp:\n  replicas: 2\ndatabase: {}  # none\n")
    with pytest.raises(BadInput) as caught:
        params_edit.set_value("dev", "database", "restore_snapshot", SNAPSHOT)
    assert caught.value.message == (
        "params/dev.yaml line 4: database is written on one line; write it as a block "
        "(database:, then one key per line) and run again."
    )
