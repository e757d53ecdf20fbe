"""infra/orchestration/drift_gate.py: drift before a deploy, with a fake engine (the emulator
has no drift detection) behind the real command frame and the emulator's gif-ci."""

from __future__ import annotations

import io
from typing import ClassVar

import pytest
from rich.console import Console

from infra.cfn.types import PropertyDrift, ResourceDrift, StackDrift, StackResult, StackStatus
from infra.core import naming
from infra.core.errors import BadInput
from infra.orchestration import deploy
from infra.orchestration.frame import Seams
from infra.stacks import graph

ROLE = "arn:aws:iam::123456789012:role/gif-ci-cloudformation"


class DriftingEngine:
    """The database's instance was changed by hand; the network's tags too."""

    seen: ClassVar[list] = []

    def __init__(self, cfn_client, console, options, **_):
        DriftingEngine.seen.append(("options", options))

    def drift(self, name, timeout_minutes=15):
        DriftingEngine.seen.append(("drift", name))
        size = PropertyDrift("/AllocatedStorage", "20", "50", "NOT_EQUAL")
        tag = PropertyDrift("/Tags/0/Value", "gif", "other", "NOT_EQUAL")
        resource = {
            "gif-prod-database": ResourceDrift(
                "Database", "AWS::RDS::DBInstance", "MODIFIED", (size,)
            ),
            "gif-dev-database": ResourceDrift(
                "Database", "AWS::RDS::DBInstance", "MODIFIED", (size,)
            ),
            "gif-prod-network": ResourceDrift("FlowLogs", "AWS::EC2::FlowLog", "MODIFIED", (tag,)),
        }.get(name)
        return StackDrift(name, "DRIFTED", [resource] if resource else [])

    def deploy(self, request):
        DriftingEngine.seen.append(("deploy", request.name))
        outputs = {key: f"{key}-value" for key in graph.PRODUCES[request.key]}
        return StackResult(request.key, request.name, "unchanged", outputs, 0.0)

    def status(self, name):
        if name == "gif-ci":
            outputs = {naming.Outputs.EXECUTION_ROLE_ARN: ROLE}
            return StackStatus(name, "CREATE_COMPLETE", "", "", "NOT_CHECKED", False, outputs)
        return None


@pytest.fixture
def console():
    return Console(file=io.StringIO(), width=200)


def _run(env, console, **flags):
    DriftingEngine.seen = []
    return deploy.run(
        env,
        only="network,database",
        yes=True,
        console=console,
        seams=Seams(engine_factory=DriftingEngine),
        **flags,
    )


def test_prod_stops_on_drift_of_a_resource_that_holds_data_before_any_change_set(aws, console):
    with pytest.raises(BadInput) as refused:
        _run("prod", console)

    message = refused.value.message
    assert "gif-prod-database Database (AWS::RDS::DBInstance)" in message
    assert "params/prod.yaml" in message and "--revert-drift" in message
    assert not any(item[0] == "deploy" for item in DriftingEngine.seen)
    text = console.file.getvalue()
    assert "/AllocatedStorage" in text and "FlowLogs" in text


def test_revert_drift_lets_prod_go_on_with_drift_aware_change_sets(aws, console):
    _run("prod", console, revert_drift=True)

    options = [item[1] for item in DriftingEngine.seen if item[0] == "options"]
    assert options[-1].revert_drift
    assert ("deploy", "gif-prod-database") in DriftingEngine.seen


def test_elsewhere_drift_is_a_warning_and_the_deploy_goes_on(aws, console):
    _run("dev", console)

    assert ("deploy", "gif-dev-database") in DriftingEngine.seen
    assert "warning: the deploy will not keep the drift above" in console.file.getvalue()


def test_no_drift_check_asks_nothing(aws, console):
    _run("prod", console, drift_check=False)

    assert not any(item[0] == "drift" for item in DriftingEngine.seen)
    assert ("deploy", "gif-prod-database") in DriftingEngine.seen
