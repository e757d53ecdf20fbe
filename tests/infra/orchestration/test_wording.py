"""What destroy and diff say, against the AWS emulator: nothing that isn't so, nothing twice."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from infra.orchestration import deploy, destroy, diff
from tests.support import emulator as support


@pytest.fixture(scope="module")
def emulator():
    yield from support.serve()


@pytest.fixture
def aws(emulator, monkeypatch):
    support.reached_through_env(emulator, monkeypatch)
    return support.bootstrapped(emulator)


def _console() -> Console:
    return Console(file=io.StringIO(), width=160)


def test_destroying_an_environment_already_destroyed_announces_no_final_snapshot(aws):
    deploy.run("dev", only="network,database", yes=True, console=_console())
    first = _console()
    destroy.run("dev", yes=True, console=first)
    assert "leaves a final snapshot" in first.file.getvalue()

    again = _console()
    destroy.run("dev", yes=True, console=again)

    assert "snapshot" not in again.file.getvalue()


def test_diff_names_each_stack_once(aws):
    deploy.run("dev", only="network", yes=True, console=_console())
    console = _console()

    counts = diff.run("dev", only="network,database", console=console)

    assert counts["network"] == 0 and counts["database"] > 0
    lines = console.file.getvalue().splitlines()
    for name in ("gif-dev-network", "gif-dev-database"):
        assert len([line for line in lines if line.startswith(name)]) == 1, lines
