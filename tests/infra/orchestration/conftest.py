"""The AWS emulator process for the command tests (one per test module), reached the way any
AWS-compatible endpoint is (tests/support/emulator.py)."""

from __future__ import annotations

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
