"""CloudFormation's own pre-deployment validation of a change set, as plan rows.

What AWS does (CloudFormation User Guide, "Validate stack deployments",
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/validate-stack-deployments.html):
CreateChangeSet validates the change set before anything is provisioned, by default.
Property syntax (against the resource schemas) and resource name conflicts run in FAIL
mode: the change set ends FAILED and cannot be executed. S3 bucket emptiness, service
quotas, Config recorder conflicts and ECR repository delete readiness run in WARN mode:
the change set is created and may be executed; the findings are warnings to review first.
The findings are read with DescribeEvents and the change set's ARN (API Reference,
https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_DescribeEvents.html:
"Validation errors - Failures from CloudFormation Early Validations").

What the locked botocore's model says (cloudformation DescribeEvents): input ChangeSetName,
StackName, OperationId, Filters.FailedEvents, NextToken; a paginator over
`OperationEvents`; each event has EventType (VALIDATION_ERROR among others),
LogicalResourceId, ResourceType, ValidationName, ValidationStatus (FAILED | SKIPPED),
ValidationStatusReason, ValidationPath and ValidationFailureMode (FAIL | WARN).
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass

from rich.markup import escape
from rich.table import Table
from rich.text import Text

from infra.aws.errors import AWS_ERRORS, translate, unsupported_operation
from infra.cfn.events import output_lock

# Names CloudFormation gives its checks (ValidationName: a free string in the model).
# PROPERTY_VALIDATION: the User Guide's sample DescribeEvents output; NAME_CONFLICT_VALIDATION:
# the AWS CDK CLI's early-validation reporter (aws-cdk-cli, early-validation.ts). Other
# names get the hint of their mode.
_HINTS = {
    "PROPERTY_VALIDATION": (
        "the value at the template path does not match the resource type's schema: fix its "
        "builder in infra/stacks/, then `invoke synth` and `invoke lint` (cfn-lint reads the "
        "same schemas)"
    ),
    "NAME_CONFLICT_VALIDATION": (
        "a resource with this name already exists outside the stack: delete or rename it, "
        "or let CloudFormation name the resource (drop the fixed name from the template)"
    ),
}
_FAIL_HINT = "fix what AWS's message names at the template path"
_WARN_HINT = (
    "act on AWS's message first (e.g. empty an S3 bucket or ECR repository the change "
    "deletes, or raise a service quota), or the execution may fail there"
)
# User Guide, "Disable pre-deployment validation" ("when a known false positive is blocking
# your deployment"); Hooks User Guide, "Override controls for an operation"
# (https://docs.aws.amazon.com/cloudformation-cli/latest/hooks-userguide/aws-managed-proactive-controls-proceed.html):
# DisableValidation, a CreateChangeSet parameter in botocore's model ("Set to true to disable
# pre-deployment validations in changeset or stack operations"), skips the checks for that
# one operation; AWS advises keeping that decision with a person, not an automatic retry.
_OVERRIDE = (
    "Only if a finding is a false positive: AWS lets a person skip the checks for one "
    "change set with CreateChangeSet's DisableValidation (`aws cloudformation "
    "create-change-set --disable-validation ...`); gifstack never does that by itself."
)

# Clients whose endpoint lacks DescribeEvents: said once, never asked again.
_unsupported: weakref.WeakSet = weakref.WeakSet()
_unsupported_lock = threading.Lock()


@dataclass(frozen=True)
class Finding:
    """One check CloudFormation's pre-deployment validation failed for a change set."""

    mode: str  # FAIL (the change set cannot run) | WARN (it can; review first)
    logical_id: str
    resource_type: str
    path: str  # where in the template, e.g. /Resources/Database/Properties/AllocatedStorage
    check: str  # ValidationName, e.g. PROPERTY_VALIDATION
    message: str  # AWS's own words (ValidationStatusReason)

    @property
    def blocks(self) -> bool:
        """A FAIL-mode finding (an unknown mode counts as one: never run on a guess)."""
        return self.mode != "WARN"

    @property
    def hint(self) -> str:
        return _HINTS.get(self.check) or (_FAIL_HINT if self.blocks else _WARN_HINT)

    def describe(self) -> str:
        return (
            f"{self.logical_id or '-'} ({self.resource_type or 'template'}) at "
            f"{self.path or '-'}: {self.message}"
        )


def from_events(events: list[dict]) -> list[Finding]:
    """The validation findings among a change set's DescribeEvents events, FAIL first.
    SKIPPED validations (ValidationStatus) did not run, so they found nothing."""
    found = [
        Finding(
            mode=event.get("ValidationFailureMode", ""),
            logical_id=event.get("LogicalResourceId", ""),
            resource_type=event.get("ResourceType", ""),
            path=event.get("ValidationPath", ""),
            check=event.get("ValidationName", ""),
            message=event.get("ValidationStatusReason", ""),
        )
        for event in events
        if event.get("EventType") == "VALIDATION_ERROR"
        and event.get("ValidationStatus") != "SKIPPED"
    ]
    return sorted(found, key=lambda finding: not finding.blocks)


def table(stack_name: str, findings: list[Finding]) -> Table:
    """The findings as a table like the change table."""
    grid = Table(
        title=f"{stack_name}: {len(findings)} pre-deployment validation finding(s) from AWS",
        title_justify="left",
    )
    for column in ("Mode", "Logical ID", "Type", "Template path", "Check", "AWS's message"):
        grid.add_column(column)
    for finding in findings:
        grid.add_row(
            Text(finding.mode or "?", style="bold red" if finding.blocks else "bold yellow"),
            finding.logical_id or "-",
            finding.resource_type or "-",
            finding.path or "-",
            finding.check or "-",
            finding.message or "-",
        )
    return grid


def failure(stack_name: str, findings: list[Finding]) -> str:
    """The error for a change set the validation stopped: the first FAIL finding."""
    first = next(finding for finding in findings if finding.blocks)
    more = len(findings) - 1
    others = f" ({more} more finding(s) listed above)" if more else ""
    return (
        f"stack {stack_name}: CloudFormation's pre-deployment validation failed the change "
        f"set, so nothing was changed. {first.describe()}{others}. To fix: {first.hint}, "
        "then deploy again."
    )


class ValidationReader:
    """Reads and shows a change set's validation findings for one engine."""

    def __init__(self, cfn_client, console, say: Callable[[str, str], None]):
        self._cfn = cfn_client
        self._console = console
        self._say = say

    def read(self, name: str, change_set_id: str) -> list[Finding] | None:
        """The change set's findings; None when they can't be read (said in the output)."""
        with _unsupported_lock:
            if self._cfn in _unsupported:
                return None
        events: list[dict] = []
        try:
            # All the change set's events (few), not Filters.FailedEvents: the model
            # documents that filter as "only failed events", not whether a WARN finding
            # counts as one. The ARN alone identifies the change set (User Guide example).
            pages = self._cfn.get_paginator("describe_events").paginate(ChangeSetName=change_set_id)
            for page in pages:
                events.extend(page.get("OperationEvents", []))
        except AWS_ERRORS as exc:
            if unsupported_operation(exc):
                self._unsupported_once()
            else:
                error = translate(exc, "reading the pre-deployment validation of", f"stack {name}")
                self._say(
                    name,
                    f"[yellow]{escape(error.message)} (carrying on: AWS itself refuses to "
                    "execute a change set its validation failed)[/]",
                )
            return None
        return from_events(events)

    def show(self, name: str, findings: list[Finding]) -> None:
        """The findings table, how to fix each kind, and how to proceed where AWS allows."""
        if not findings:
            return
        with output_lock:
            self._console.print(table(name, findings))
            hints = dict.fromkeys((f.check or f.mode, f.hint) for f in findings)
            for check, hint in hints:
                self._console.print(f"  {escape(check)}: {escape(hint)}", highlight=False)
            if any(finding.blocks for finding in findings):
                self._console.print(
                    f"  [red]FAIL: CloudFormation will not execute this change set.[/] "
                    f"{escape(_OVERRIDE)}",
                    highlight=False,
                )
            else:
                self._console.print(
                    "  [yellow]WARN only: AWS lets this change set execute despite the "
                    "warnings; a deploy asks first (or runs it with --yes).[/]",
                    highlight=False,
                )

    def _unsupported_once(self) -> None:
        with _unsupported_lock:
            if self._cfn in _unsupported:
                return
            _unsupported.add(self._cfn)
        endpoint = getattr(self._cfn.meta, "endpoint_url", "this endpoint")
        with output_lock:
            self._console.print(
                "[yellow]pre-deployment validation results are not available from this "
                f"endpoint ({escape(endpoint)} does not implement CloudFormation's "
                "DescribeEvents): change sets here are not checked by AWS's validation[/]",
                highlight=False,
            )
