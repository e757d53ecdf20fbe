"""infra/local/stand_ins.py: what local.up/down/status say when nothing runs (the running
case is the end-to-end test, tests/test_local_deploy_e2e.py)."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from infra.core.errors import BadInput
from infra.local import stand_ins
from infra.orchestration import summary
from infra.settings import params
from tests.support.local_sandbox import free_port


@pytest.fixture
def settings():
    local = params.load("local")
    return local.model_copy(update={"aws_endpoint_url": f"http://127.0.0.1:{free_port()}"})


@pytest.fixture
def console():
    return Console(file=io.StringIO(), width=200, emoji=False)


def test_deploy_needs_the_stand_ins_and_says_how_to_start_them(settings, tmp_path):
    with pytest.raises(BadInput) as bad:
        stand_ins.require_up(settings, local_dir=tmp_path)

    assert bad.value.message.startswith(
        f"the AWS emulator ({settings.aws_endpoint_url}) and the embedded PostgreSQL are not "
        "running. Start the local stand-ins first: `invoke local.up`"
    )


def test_status_shows_each_process_stopped(settings, tmp_path, console):
    stand_ins.status(settings, console, local_dir=tmp_path)

    text = console.file.getvalue()
    for process in ("AWS emulator (moto)", "embedded PostgreSQL", "GIF service (local pod)"):
        assert process in text
    assert text.count("stopped") == 3


def test_down_when_nothing_runs_is_harmless(settings, tmp_path, console):
    stand_ins.down(settings, console, local_dir=tmp_path)

    assert console.file.getvalue().count("was not running") == 3


def test_connection_urls_are_shown_without_their_password():
    shown = stand_ins.redact("postgresql://postgres:s3cr%2Ft@127.0.0.1:5432/gif")

    assert shown == "postgresql://postgres:***@127.0.0.1:5432/gif"
    assert stand_ins.redact("postgresql://127.0.0.1/gif") == "postgresql://127.0.0.1/gif"


def test_status_keeps_whole_paths_without_a_terminal_and_wraps_them_on_a_narrow_one(
    settings, tmp_path, monkeypatch, capsys
):
    local_dir = tmp_path / ("a-rather-long-folder-name-" * 4) / ".local"
    monkeypatch.delenv("COLUMNS", raising=False)

    stand_ins.status(settings, summary.new_console(), local_dir=local_dir)

    out = capsys.readouterr().out
    assert str(local_dir / "pod" / "app.log") in out
    assert str(local_dir / "moto" / "moto.log") in out
    narrow = Console(file=io.StringIO(), width=80, emoji=False)
    stand_ins.status(settings, narrow, local_dir=local_dir)
    assert "…" not in narrow.file.getvalue()
