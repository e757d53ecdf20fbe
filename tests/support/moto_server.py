"""moto's server mode on 127.0.0.1 (a free port), reached over real HTTP by boto3.

One server per test session; `reset()` wipes its state between tests.

moto's gaps are closed by the same workarounds the local emulator process applies
(infra/local/stack_gaps.py `patch_moto`, one commented workaround per gap): one harness
for every test that talks to moto, in this process or in the emulator's.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import boto3
import requests
from moto.server import ThreadedMotoServer

from infra.local import stack_gaps

REGION = "eu-west-1"
ACCOUNT_ID = "123456789012"  # moto's default account


stack_gaps.patch_moto()


class MotoServer:
    def __init__(self) -> None:
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.url = f"http://{host}:{port}"
        # moto 5.2 reads a TemplateURL path-style (bucket/key in the path) only when the
        # host is "localhost" or *.amazonaws.com; any other host is taken for a virtual-
        # hosted bucket. Tests that send templates through S3 use this address.
        self.localhost_url = f"http://localhost:{port}"

    def session(self, region: str = REGION) -> boto3.Session:
        """A session with dummy credentials (moto accepts any), independent of the env."""
        return boto3.Session(
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            region_name=region,
        )

    def client(self, service: str, region: str = REGION):
        return self.session(region).client(service, endpoint_url=self.url)

    def reset(self) -> None:
        requests.post(f"{self.url}/moto-api/reset", timeout=10).raise_for_status()

    def stop(self) -> None:
        self._server.stop()


def serve() -> Iterator[MotoServer]:
    """Body of a session fixture: start, hand out, stop."""
    server = MotoServer()
    try:
        yield server
    finally:
        server.stop()
