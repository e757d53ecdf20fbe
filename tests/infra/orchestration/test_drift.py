"""infra/orchestration/drift.py: `invoke drift` against the AWS emulator process (moto has no
drift detection: said, never faked) and, for what moto can't produce, a fake engine."""

from __future__ import annotations

import io

from rich.console import Console

from infra.cfn.types import PropertyDrift, ResourceDrift, StackDrift
from infra.orchestration import deploy, drift
from infra.orchestration.frame import Seams


def _console() -> Console:
    return Console(file=io.StringIO(), width=200)


def test_an_endpoint_without_drift_detection_says_so_and_checks_nothing(aws):
    deploy.run("dev", only="network", yes=True, console=_console())
    console = _console()

    found = drift.run("dev", console=console)

    text = console.file.getvalue()
    assert found == {}
    assert "drift detection is not available from this endpoint" in text
    assert text.count("not available") == 1


class DriftedEngine:
    def __init__(self, *args, **kwargs):
        pass

    def drift(self, name, timeout_minutes=15):
        if name != "gif-dev-database":
            return StackDrift(name, "IN_SYNC") if name == "gif-dev-network" else None
        password = PropertyDrift("/MasterUserPassword", "hunter2", "hunter3", "NOT_EQUAL")
        storage = PropertyDrift("/AllocatedStorage", "20", "50", "NOT_EQUAL")
        return StackDrift(
            name,
            "DRIFTED",
            [ResourceDrift("Database", "AWS::RDS::DBInstance", "MODIFIED", (password, storage))],
        )


def test_drifted_properties_are_listed_stateful_marked_and_secrets_hidden(aws):
    console = _console()

    found = drift.run("dev", console=console, seams=Seams(engine_factory=DriftedEngine))

    text = console.file.getvalue()
    assert set(found) == {"gif-dev-network", "gif-dev-database"}
    assert "gif-dev-network: in sync" in text
    assert "gif-dev-database: 1 resource(s) drifted, 1 holding data" in text
    assert "Database (holds data)" in text and "/AllocatedStorage" in text
    assert "20" in text and "50" in text
    assert "hunter" not in text and "(hidden)" in text
