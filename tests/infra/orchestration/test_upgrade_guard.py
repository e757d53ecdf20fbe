"""infra/orchestration/upgrade_guard.py: `invoke deploy` never runs a PostgreSQL major upgrade
(the template always allows one: infra/stacks/database.py), against the AWS emulator over
real HTTP with the real templates."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from infra.core.errors import BadInput
from infra.orchestration import deploy
from infra.settings import params
from infra.settings.params_edit import edit
from tests.support import emulator as support


@pytest.fixture
def console():
    return Console(file=io.StringIO(), width=200)


@pytest.fixture
def workspace(params_copy):
    edit(params_copy / "dev.yaml", {"database.engine_version": "16.9"})
    params.forget()
    return params_copy


def _version(workspace, version: str) -> None:
    edit(workspace / "dev.yaml", {"database.engine_version": version})
    params.forget()


def _deployed(aws) -> str:
    cfn = support.client(aws, "cloudformation")
    body = cfn.get_template(StackName="gif-dev-database")["TemplateBody"]
    return body if isinstance(body, str) else str(body)


def test_deploy_refuses_a_major_made_by_hand_and_names_invoke_upgrade(aws, console, workspace):
    deploy.run("dev", only="network,database", yes=True, console=console)
    before = _deployed(aws)
    _version(workspace, "17.6")

    with pytest.raises(BadInput) as caught:
        deploy.run("dev", only="network,database", yes=True, console=console)

    assert caught.value.message == (
        "params/dev.yaml names PostgreSQL 17.6, a newer major than the 16.9 gif-dev-database "
        "runs: `invoke deploy` doesn't run a major upgrade (the database is unavailable while "
        "RDS upgrades it). Run `invoke upgrade --env dev --postgres 17.6`, which shows the "
        "plan and asks first, or put back `database.engine_version: '16.9'`."
    )
    assert caught.value.exit_code == 2 and _deployed(aws) == before


def test_a_minor_change_deploys_as_before(aws, console, workspace):
    deploy.run("dev", only="network,database", yes=True, console=console)
    _version(workspace, "16.10")

    report = deploy.run("dev", only="network,database", yes=True, console=console)

    assert {r.key: r.status for r in report.results}["database"] == "updated"
    assert "EngineVersion: '16.10'" in _deployed(aws)


def test_an_older_major_is_refused_rds_cannot_downgrade(aws, console, workspace):
    _version(workspace, "17.6")
    deploy.run("dev", only="network,database", yes=True, console=console)
    _version(workspace, "16.9")

    with pytest.raises(BadInput) as caught:
        deploy.run("dev", only="network,database", yes=True, console=console)

    assert "older than the 17.6 gif-dev-database runs: RDS can't downgrade" in (
        caught.value.message
    )
