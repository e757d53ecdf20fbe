"""The local AWS emulator (infra/local/moto.py: moto's server in its own process, with the
gap workarounds of infra/local/stack_gaps.py) on a free loopback port, for tests.

Tests reach it over real HTTP with boto3, exactly as `invoke deploy --env local` does.
"""

from __future__ import annotations

import shutil
import tempfile
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import boto3

from infra.local.moto import Emulator
from tests.support.local_sandbox import free_port

REGION = "eu-west-1"


def serve() -> Iterator[Emulator]:
    """Body of a fixture: start the emulator process, hand it out, stop it by its pid."""
    state = Path(tempfile.mkdtemp(prefix="gifstack-emulator-"))
    emulator = Emulator("127.0.0.1", free_port(), state)
    emulator.start()
    try:
        yield emulator
    finally:
        emulator.stop()
        shutil.rmtree(state, ignore_errors=True)


def reset(emulator: Emulator) -> None:
    """Forget every resource (moto's reset API), so each test starts from nothing."""
    request = urllib.request.Request(f"{emulator.url}/moto-api/reset", method="POST")
    with urllib.request.urlopen(request, timeout=30):
        pass


def client(emulator: Emulator, service: str):
    session = boto3.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION
    )
    return session.client(service, endpoint_url=emulator.url)
