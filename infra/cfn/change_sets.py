"""A stack's change set: create it and wait, read CloudFormation's pre-deployment validation of
it, show both as tables, refuse what must not happen, confirm, execute and wait, or discard it
(with the empty stack a CREATE change set made)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from rich.markup import escape
from rich.prompt import Confirm

from infra.aws.errors import AWS_ERRORS, translate
from infra.aws.template_bucket import TemplateBucket
from infra.cfn.calls import StackCalls
from infra.cfn.changes import Change, endangered, from_change_set, table
from infra.cfn.events import output_lock
from infra.cfn.statuses import (
    CHANGE_SET_BAD,
    CHANGE_SET_OK,
    CREATE_BAD,
    CREATE_OK,
    UPDATE_BAD,
    UPDATE_OK,
)
from infra.cfn.types import DeployOptions, StackRequest, role_argument
from infra.cfn.validation import Finding, ValidationReader, failure
from infra.cfn.waiting import wait_for
from infra.core.cfn_limits import TEMPLATE_BODY_LIMIT
from infra.core.errors import BadInput, OperationFailed

# How CloudFormation says a change set is empty (the second one is the UpdateStack wording).
_NO_CHANGES = ("didn't contain changes", "No updates are to be performed")


@dataclass
class _ChangeSet:
    id: str
    stack_id: str
    kind: str  # CREATE | UPDATE
    changes: list[Change]
    role_arn: str | None = None  # the role CloudFormation acts as (also to delete the stack)
    findings: list[Finding] = field(default_factory=list)  # AWS's validation: WARN only

    @property
    def warnings(self) -> int:
        return len(self.findings)


class ChangeSets:
    """The change set steps of one engine."""

    def __init__(
        self,
        calls: StackCalls,
        options: DeployOptions,
        template_bucket: TemplateBucket | None,
        confirm: Callable[[str], bool] | None,
    ):
        self._calls = calls
        self._options = options
        self._bucket = template_bucket
        self._confirm = confirm or self._ask
        self._validation = ValidationReader(calls.cfn, calls.console, calls.say)

    def create(self, request: StackRequest, kind: str) -> _ChangeSet | None:
        """Create and wait for a change set; None when CloudFormation sees no changes."""
        name = request.name
        stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
        created = self._calls.api(
            "creating change set for",
            name,
            "create_change_set",
            StackName=name,
            ChangeSetName=f"gifstack-{stamp}-{uuid.uuid4().hex[:8]}",
            ChangeSetType=kind,
            Parameters=[
                {"ParameterKey": key, "ParameterValue": value}
                for key, value in sorted(request.parameters.items())
            ],
            Tags=[{"Key": key, "Value": value} for key, value in sorted(request.tags.items())],
            Capabilities=list(request.capabilities),
            Description=f"gifstack deploy of {request.key}",
            **self._template_argument(request),
            **role_argument(request.role_arn),
            **self._drift_argument(kind),
        )
        change_set = _ChangeSet(created["Id"], created["StackId"], kind, [], request.role_arn)
        latest: dict = {}

        def fetch() -> str:
            latest.update(
                self._calls.api(
                    "waiting for the change set of",
                    name,
                    "describe_change_set",
                    ChangeSetName=change_set.id,
                    StackName=change_set.stack_id,
                )
            )
            return latest["Status"]

        status = wait_for(
            fetch,
            success=CHANGE_SET_OK,
            failure=CHANGE_SET_BAD,
            timeout_s=request.timeout_minutes * 60,
            interval_s=self._calls.interval,
            what=f"the change set of stack {name}",
            clock=self._calls.clock,
        )
        if status not in CHANGE_SET_OK:
            reason = latest.get("StatusReason", "") or status
            if any(marker in reason for marker in _NO_CHANGES):
                self.discard(name, change_set)
                return None
            # A FAIL-mode validation finding ends the change set FAILED (User Guide,
            # "Validate stack deployments"); read them while the change set still exists.
            findings = self._validation.read(name, change_set.id) or []
            raise self._stop(
                name, change_set, findings, f"creating change set for stack {name}: {reason}"
            )
        raw = list(latest.get("Changes", []))
        token = latest.get("NextToken")
        while token:
            page = self._calls.api(
                "reading the change set of",
                name,
                "describe_change_set",
                ChangeSetName=change_set.id,
                StackName=change_set.stack_id,
                NextToken=token,
            )
            raw.extend(page.get("Changes", []))
            token = page.get("NextToken")
        change_set.changes = from_change_set(raw)
        # WARN-mode findings leave the change set executable ("WARN mode allows change set
        # creation to succeed despite validation failures", User Guide); a FAIL one never runs.
        findings = self._validation.read(name, change_set.id) or []
        if any(finding.blocks for finding in findings):
            raise self._stop(name, change_set, findings, "")
        change_set.findings = findings
        return change_set

    def _stop(
        self, name: str, change_set: _ChangeSet, findings: list[Finding], otherwise: str
    ) -> OperationFailed:
        """Discard a change set that must not run and show AWS's findings; the error names
        the first FAIL finding (`otherwise` when there is none)."""
        self.discard(name, change_set, quietly=True)
        self._validation.show(name, findings)
        if any(finding.blocks for finding in findings):
            return OperationFailed(failure(name, findings))
        return OperationFailed(otherwise)

    def _template_argument(self, request: StackRequest) -> dict[str, str]:
        size = len(request.template_body.encode())
        if size <= TEMPLATE_BODY_LIMIT:
            return {"TemplateBody": request.template_body}
        if self._bucket is None:
            raise OperationFailed(
                f"the template of stack {request.name} is {size:,} bytes, over "
                f"CloudFormation's {TEMPLATE_BODY_LIMIT:,}-byte TemplateBody limit, and the "
                "engine was given no template bucket (StackEngine(template_bucket=...))."
            )
        return {"TemplateURL": self._bucket.upload(request.name, request.template_body)}

    def _drift_argument(self, kind: str) -> dict[str, str]:
        """A drift-aware change set (botocore's model: CreateChangeSet DeploymentMode
        REVERT_DRIFT) when the deploy reverts drift; a new stack has none to revert."""
        if self._options.revert_drift and kind == "UPDATE":
            return {"DeploymentMode": "REVERT_DRIFT"}
        return {}

    def remove_stale(self, name: str, stack: dict) -> None:
        """A stack in REVIEW_IN_PROGRESS is the husk of a first deploy interrupted between
        CreateChangeSet and ExecuteChangeSet (one deploy at a time per environment, so no
        one else is reviewing it): delete its change sets; the next CREATE change set
        creates the stack afresh ("If you create a change set for a new stack, CloudFormation
        creates a stack ... The stack will be in the REVIEW_IN_PROGRESS state until you
        execute the change set", CreateChangeSet's ChangeSetType in botocore's model)."""
        stack_id = stack["StackId"]
        stale: list[str] = []
        try:
            for page in self._calls.cfn.get_paginator("list_change_sets").paginate(
                StackName=stack_id
            ):
                stale += [summary["ChangeSetId"] for summary in page.get("Summaries", [])]
        except AWS_ERRORS as exc:
            raise translate(exc, "listing the change sets of", f"stack {name}") from None
        for change_set_id in stale:
            self._calls.api(
                "deleting a stale change set of",
                name,
                "delete_change_set",
                ChangeSetName=change_set_id,
                StackName=stack_id,
            )
        self._calls.say(
            name,
            f"is REVIEW_IN_PROGRESS (an earlier first deploy stopped before executing its "
            f"change set): removed {len(stale)} stale change set(s); creating it afresh",
        )

    def discard(self, name: str, change_set: _ChangeSet, quietly: bool = False) -> None:
        """Delete an unexecuted change set; a stack it created (REVIEW_IN_PROGRESS, no
        resources) goes too, so a dry run leaves nothing behind. `quietly` while another
        error is on its way: a failure here must not hide that one."""
        try:
            self._calls.api(
                "deleting change set of",
                name,
                "delete_change_set",
                ChangeSetName=change_set.id,
                StackName=change_set.stack_id,
            )
            if change_set.kind == "CREATE":
                self._calls.api(
                    "deleting the empty stack",
                    name,
                    "delete_stack",
                    StackName=change_set.stack_id,
                    **role_argument(change_set.role_arn),
                )
        except OperationFailed as exc:
            if not quietly:
                raise
            self._calls.say(name, f"[yellow]could not clean up: {escape(exc.message)}[/]")

    def review(self, request: StackRequest, change_set: _ChangeSet) -> bool:
        """Show the change set, refuse what must not happen, confirm: True to execute."""
        name, changes = request.name, change_set.changes
        with output_lock:
            self.show(name, change_set)
            if self._options.dry_run:
                self.warn_endangered(name, changes)
                return False
            risky = endangered(changes) if self._options.protect_stateful else []
            if risky and not self._options.allow_replace:
                listed = ", ".join(f"{_verb(c)} {c.logical_id} ({c.resource_type})" for c in risky)
                raise BadInput(
                    f"stack {name}: refusing to {listed}: it holds data, and this environment "
                    "protects stateful resources. Nothing was changed. If this is intended, "
                    "take a snapshot first and run again with --allow-replace."
                )
            if self._options.yes:
                if change_set.warnings:
                    self._calls.say(
                        name,
                        f"[yellow]executing despite {change_set.warnings} validation "
                        "warning(s) (--yes; AWS allows it)[/]",
                    )
                return True
            if not self._options.interactive:
                raise BadInput(
                    f"stack {name} has {len(changes)} change(s) to apply and there is no "
                    "terminal to confirm them. Review them (`invoke diff`) and run again "
                    "with --yes."
                )
            despite = ""
            if change_set.warnings:
                despite = f" despite {change_set.warnings} validation warning(s)"
            if self._confirm(f"Apply these {len(changes)} change(s) to {name}{despite}?"):
                return True
            self._calls.say(name, "not confirmed: change set deleted, nothing changed")
            return False

    def execute(self, request: StackRequest, change_set: _ChangeSet, started: float) -> dict:
        """Execute the change set and wait; the final stack, or OperationFailed."""
        name = request.name
        stream = self._calls.stream(change_set.stack_id, name, started)
        self._require_available(name, change_set)
        try:
            self._calls.api(
                "executing change set for",
                name,
                "execute_change_set",
                ChangeSetName=change_set.id,
                StackName=change_set.stack_id,
            )
        except OperationFailed:
            # Nothing ran: remove the change set (and the empty stack of a first create).
            self.discard(name, change_set, quietly=True)
            raise
        creating = change_set.kind == "CREATE"
        final = self._calls.wait(
            stream,
            change_set.stack_id,
            name,
            CREATE_OK if creating else UPDATE_OK,
            CREATE_BAD if creating else UPDATE_BAD,
            request.timeout_minutes,
            f"stack {name} to finish {'creating' if creating else 'updating'}",
        )
        if final["StackStatus"] not in (CREATE_OK | UPDATE_OK):
            raise self._calls.failure(name, final, stream.seen)
        return final

    def _require_available(self, name: str, change_set: _ChangeSet) -> None:
        """Re-read the change set just before executing it: "If the change set execution status
        is AVAILABLE, you can execute the change set. If you can't ..., the status indicates
        why", e.g. OBSOLETE "because the stack was already updated" (DescribeChangeSet's
        ExecutionStatus, botocore's model). Anything else: discard it and say why."""
        latest = self._calls.api(
            "reading the change set of",
            name,
            "describe_change_set",
            ChangeSetName=change_set.id,
            StackName=change_set.stack_id,
        )
        status = latest.get("ExecutionStatus", "")
        if status == "AVAILABLE":
            return
        self.discard(name, change_set, quietly=True)
        why = latest.get("StatusReason") or "the stack changed while it was being reviewed"
        raise OperationFailed(
            f"the change set of stack {name} can no longer be executed (ExecutionStatus "
            f"{status}: {why}); it was deleted and nothing was changed. Run the deploy again "
            "to make a new one."
        )

    def show(self, name: str, change_set: _ChangeSet) -> None:
        """The change table, then AWS's validation findings (warnings) if any."""
        with output_lock:
            self._calls.console.print(table(name, change_set.changes))
            self._validation.show(name, change_set.findings)

    def warn_endangered(self, name: str, changes: list[Change]) -> None:
        if self._options.protect_stateful and (risky := endangered(changes)):
            ids = ", ".join(change.logical_id for change in risky)
            self._calls.say(
                name,
                f"[bold red]would replace or remove {ids} (holds data): a deploy "
                "refuses this without --allow-replace[/]",
            )

    def _ask(self, question: str) -> bool:
        return Confirm.ask(question, console=self._calls.console, default=False)


def _verb(change: Change) -> str:
    return "remove" if change.action == "Remove" else f"replace (Replacement={change.replacement})"
