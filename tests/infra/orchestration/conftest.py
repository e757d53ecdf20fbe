"""The AWS emulator process for the command tests (one per test module), reached the way any
AWS-compatible endpoint is (tests/support/emulator.py)."""

from __future__ import annotations

import shutil

import pytest

from tests.support import emulator as support


@pytest.fixture(scope="module")
def emulator():
    yield from support.serve()


@pytest.fixture
def emulated(emulator, monkeypatch):
    """A clean emulator that boto3 reaches through AWS_ENDPOINT_URL, dummy credentials."""
    support.reached_through_env(emulator, monkeypatch)
    return emulator


@pytest.fixture
def aws(emulated):
    """An account after `invoke bootstrap` (gif-ci's boundary and execution role)."""
    return support.bootstrapped(emulated)


@pytest.fixture
def params_copy(tmp_path, monkeypatch):
    """params/ copied, templates/ redirected, both under tmp_path: for the commands that write
    them (restore, upgrade). Yields the params folder."""
    from infra.settings import params
    from infra.stacks import synth

    copy = tmp_path / "params"
    shutil.copytree(params.PARAMS_DIR, copy)
    monkeypatch.setattr(params, "PARAMS_DIR", copy)
    monkeypatch.setattr(synth, "TEMPLATES_DIR", tmp_path / "templates")
    params.forget()
    yield copy
    params.forget()


# The runner's repository and GitHub connection as a team sets them before its first deploy
# (the shipped params leave them unset, which a deploy with ci.runner on refuses:
# tests/infra/orchestration/test_targets.py).
RUNNER_SOURCE = {
    "github_repository": "acme/gifstack",
    "github_connection_arn": (
        "arn:aws:codeconnections:eu-west-1:210987654321:connection/"
        "0123abcd-4567-89ef-0123-456789abcdef"
    ),
}


@pytest.fixture(autouse=True)
def runner_source_set(monkeypatch):
    """Every command test deploys params whose runner has its repository and connection;
    yields the real loader, for a test of the shipped (unset) values."""
    from infra.settings import params

    real = params.load

    def load(env: str):
        settings = real(env)
        if not settings.ci.runner:
            return settings
        return settings.model_copy(update={"ci": settings.ci.model_copy(update=RUNNER_SOURCE)})

    monkeypatch.setattr(params, "load", load)
    return real
