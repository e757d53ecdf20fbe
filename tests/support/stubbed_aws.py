"""An `infra.aws.session.Aws` stand-in whose clients are botocore Stubbers (each response
checked against the service's model), for the states the emulator can't make."""

from __future__ import annotations

import boto3
from botocore.stub import Stubber


class StubbedAws:
    """What snapshots.py asks of infra.aws.session.Aws: clients (here, stubbed ones)."""

    def __init__(self, *services: str):
        self.clients = {
            name: boto3.client(
                name,
                region_name="eu-west-1",
                aws_access_key_id="testing",
                aws_secret_access_key="testing",
            )
            for name in services
        }
        self.stubs = {name: Stubber(client) for name, client in self.clients.items()}

    def client(self, service: str):
        return self.clients[service]

    def __enter__(self):
        for stub in self.stubs.values():
            stub.activate()
        return self

    def __exit__(self, *exc):
        for stub in self.stubs.values():
            stub.assert_no_pending_responses()
            stub.deactivate()
