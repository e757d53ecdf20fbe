"""Drift detection of one stack: what someone changed by hand since CloudFormation last set it.

DetectStackDrift starts a detection; DescribeStackDriftDetectionStatus is polled until
DETECTION_COMPLETE or DETECTION_FAILED; DescribeStackResourceDrifts then lists the resources
that are MODIFIED or DELETED with their property differences (operations, parameters and
enums from botocore's CloudFormation model). DETECTION_FAILED still has results for the
resources CloudFormation could check (DescribeStackDriftDetectionStatus documentation:
"results will be available for resources on which CloudFormation successfully completed
drift detection"), so they are read and the reason is kept.
"""

from __future__ import annotations

from infra.cfn.calls import StackCalls
from infra.cfn.types import PropertyDrift, ResourceDrift, StackDrift
from infra.cfn.waiting import wait_for

DETECTED = frozenset({"DETECTION_COMPLETE"})
DETECTION_FAILED = frozenset({"DETECTION_FAILED"})
# Resource drift statuses worth reporting (StackResourceDriftStatusFilters' enum).
DRIFTED = ["MODIFIED", "DELETED"]
PAGE = 100  # DescribeStackResourceDrifts' MaxResults maximum


def detect(calls: StackCalls, name: str, timeout_s: float) -> StackDrift:
    """Run drift detection on the stack and read what drifted."""
    started = calls.api("starting drift detection on", name, "detect_stack_drift", StackName=name)
    detection = started["StackDriftDetectionId"]
    latest: dict = {}

    def fetch() -> str:
        latest.update(
            calls.api(
                "waiting for the drift detection of",
                name,
                "describe_stack_drift_detection_status",
                StackDriftDetectionId=detection,
            )
        )
        return latest["DetectionStatus"]

    wait_for(
        fetch,
        success=DETECTED,
        failure=DETECTION_FAILED,
        timeout_s=timeout_s,
        interval_s=calls.interval,
        what=f"the drift detection of stack {name}",
        clock=calls.clock,
    )
    return StackDrift(
        name,
        latest.get("StackDriftStatus", "UNKNOWN"),
        _drifted_resources(calls, name),
        latest.get("DetectionStatusReason", "")
        if latest["DetectionStatus"] in DETECTION_FAILED
        else "",
    )


def _drifted_resources(calls: StackCalls, name: str) -> list[ResourceDrift]:
    found: list[ResourceDrift] = []
    token = None
    while True:
        page = calls.api(
            "reading the drift of",
            name,
            "describe_stack_resource_drifts",
            StackName=name,
            StackResourceDriftStatusFilters=DRIFTED,
            MaxResults=PAGE,
            **({"NextToken": token} if token else {}),
        )
        for item in page.get("StackResourceDrifts", []):
            found.append(
                ResourceDrift(
                    item["LogicalResourceId"],
                    item["ResourceType"],
                    item["StackResourceDriftStatus"],
                    tuple(
                        PropertyDrift(
                            difference["PropertyPath"],
                            difference.get("ExpectedValue", ""),
                            difference.get("ActualValue", ""),
                            difference["DifferenceType"],
                        )
                        for difference in item.get("PropertyDifferences") or []
                    ),
                )
            )
        token = page.get("NextToken")
        if not token:
            return found
