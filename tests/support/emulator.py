"""The local AWS emulator (infra/local/moto.py: moto's server in its own process, with the
gap workarounds of infra/local/stack_gaps.py) on a free loopback port, for tests.

Tests reach it over real HTTP with boto3, exactly as `invoke deploy --env local` does.
"""

from __future__ import annotations

import os
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


def reached_through_env(emulator: Emulator, monkeypatch) -> None:
    """Reset the emulator and point boto3 at it the way any AWS-compatible endpoint is
    reached: AWS_ENDPOINT_URL and dummy credentials, nothing else from the environment."""
    reset(emulator)
    for name in list(os.environ):
        if name.startswith("AWS_") or name == "GITHUB_STEP_SUMMARY":
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_ENDPOINT_URL", emulator.url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")


# Only the part of gif-ci that the env stacks depend on (the permissions boundary, and the
# execution role CloudFormation deploys them as); the full stack is tested by bootstrap.
BOUNDARY_AND_EXECUTION_ROLE = """
Resources:
  Boundary:
    Type: AWS::IAM::ManagedPolicy
    Properties:
      ManagedPolicyName: gif-workload-boundary
      PolicyDocument:
        Version: "2012-10-17"
        Statement: [{Effect: Allow, Action: "ec2:Describe*", Resource: "*"}]
  ExecutionRole:
    Type: AWS::IAM::Role
    Properties:
      RoleName: gif-ci-cloudformation
      AssumeRolePolicyDocument:
        Version: "2012-10-17"
        Statement:
          - Effect: Allow
            Principal: {Service: cloudformation.amazonaws.com}
            Action: "sts:AssumeRole"
Outputs:
  ExecutionRoleArn:
    Value: !GetAtt ExecutionRole.Arn
"""


def bootstrapped(emulator: Emulator) -> Emulator:
    """The account after `invoke bootstrap`, as far as env stacks care: a gif-ci stack."""
    client(emulator, "cloudformation").create_stack(
        StackName="gif-ci", TemplateBody=BOUNDARY_AND_EXECUTION_ROLE
    )
    return emulator
