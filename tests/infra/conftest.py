"""Fixtures for the deploy engine's tests (owned by the stack engine area)."""

from __future__ import annotations

import pytest

from tests.support.moto_server import MotoServer, serve


@pytest.fixture(scope="session")
def moto_server():
    """moto's server mode on 127.0.0.1 (free port), shared by the session."""
    yield from serve()


@pytest.fixture
def moto(moto_server: MotoServer) -> MotoServer:
    """The moto server with fresh state for this test."""
    moto_server.reset()
    return moto_server
