"""Deploy one CloudFormation stack through a change set: the engine's per-stack half.

One `StackEngine` per run; orchestration (infra/orchestration/deploy.py) calls `deploy()` for each
stack in graph order, possibly from several threads at once.

deploy(): settle a stack left in progress -> recreate a ROLLBACK_COMPLETE one -> stop on
UPDATE_ROLLBACK_FAILED -> skip when template, parameters and tags are already deployed ->
change set -> table -> stateful check / confirmation -> execute -> events -> outputs.
"""

from __future__ import annotations

import json
import sys
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from botocore.exceptions import ClientError
from rich.console import Console
from rich.markup import escape
from rich.prompt import Confirm

from infra.aws.session import AWS_ERRORS, translate
from infra.aws.template_bucket import TEMPLATE_BODY_LIMIT, TemplateBucket
from infra.cfn import deployed
from infra.cfn.changes import Change, endangered, from_change_set, table
from infra.cfn.events import EventStream, StackEvent, output_lock, root_cause_first
from infra.cfn.statuses import (
    CHANGE_SET_BAD,
    CHANGE_SET_OK,
    CREATE_BAD,
    CREATE_OK,
    DELETE_BAD,
    DELETE_OK,
    RECOVER_BAD,
    RECOVER_OK,
    SETTLED,
    STUCK,
    UPDATE_BAD,
    UPDATE_OK,
)
from infra.cfn.waiting import Clock, wait_for
from infra.core import naming
from infra.core.errors import BadInput, OperationFailed

# How CloudFormation says a change set is empty (the second one is the UpdateStack wording).
_NO_CHANGES = ("didn't contain changes", "No updates are to be performed")
# During an --allow-replace update only (ExecuteChangeSet has no
# StackPolicyDuringUpdateBody, so the stored policy is swapped and restored afterwards;
# an interrupted run is healed by the next deploy, which puts the policy back).
_ALLOW_ALL_UPDATES = {
    "Statement": [{"Effect": "Allow", "Action": "Update:*", "Principal": "*", "Resource": "*"}]
}
_DEFAULT_TIMEOUT_MINUTES = 60


@dataclass(frozen=True)
class StackRequest:
    """Everything the engine needs to deploy one stack; built by orchestration."""

    key: str  # naming.NETWORK ...
    name: str  # gif-prod-network
    template_body: str
    parameters: dict[str, str]
    tags: dict[str, str]
    capabilities: tuple[str, ...] = ("CAPABILITY_NAMED_IAM",)
    termination_protection: bool = False
    stack_policy: dict | None = None  # database stack: deny Replace/Delete of the DB
    timeout_minutes: int = 30
    env: str = ""  # only for messages (`invoke recover --env ENV`); else the env tag


def _stdin_is_terminal() -> bool:
    return sys.stdin is not None and sys.stdin.isatty()


@dataclass(frozen=True)
class DeployOptions:
    yes: bool = False
    dry_run: bool = False
    allow_replace: bool = False
    protect_stateful: bool = False  # True in prod: refuse stateful replace/remove
    interactive: bool = field(default_factory=_stdin_is_terminal)
    # Told (stack name, stack status) at every poll while a stack operation runs; the
    # live progress board (infra/orchestration/progress.py) listens here.
    on_status: Callable[[str, str], None] | None = field(default=None, compare=False)


@dataclass
class StackResult:
    key: str
    name: str
    # "created" | "updated" | "unchanged" | "planned" | "failed" | "skipped"
    # (destroy: "deleted"; recover: "recovered")
    status: str
    outputs: dict[str, str]
    duration_s: float
    changes: int = 0  # resources in the change set
    message: str = ""


@dataclass(frozen=True)
class StackStatus:
    name: str
    status: str
    reason: str
    last_updated: str  # ISO 8601, UTC
    drift_status: str  # NOT_CHECKED | IN_SYNC | DRIFTED | UNKNOWN
    termination_protection: bool
    outputs: dict[str, str]


@dataclass
class _ChangeSet:
    id: str
    stack_id: str
    kind: str  # CREATE | UPDATE
    changes: list[Change]


class StackEngine:
    """Deploys, diffs, inspects, recovers and destroys single stacks.

    `template_bucket` receives templates over the TemplateBody limit (see
    `Aws.template_bucket()`); `poll_interval`, `clock` and `confirm` are injectable so
    tests run without sleeping or a terminal.
    """

    def __init__(
        self,
        cfn_client,
        console: Console,
        options: DeployOptions,
        *,
        template_bucket: TemplateBucket | None = None,
        poll_interval: float = 5.0,
        clock: Clock | None = None,
        confirm: Callable[[str], bool] | None = None,
    ):
        self._cfn = cfn_client
        self._console = console
        self._options = options
        self._bucket = template_bucket
        self._interval = poll_interval
        self._clock = clock or Clock()
        self._confirm = confirm or self._ask

    # ----------------------------------------------------------------- public API

    def deploy(self, request: StackRequest) -> StackResult:
        """Steps 1-8 of a stack deploy; raises OperationFailed/BadInput on failure."""
        started = self._clock.now()
        name = request.name
        stack = self._settle(name, request.timeout_minutes, started)

        if stack is not None and stack["StackStatus"] == "ROLLBACK_COMPLETE":
            if self._options.dry_run:
                return self._result(
                    request, "planned", started, message="ROLLBACK_COMPLETE: would be recreated"
                )
            self._delete_failed_create(stack, request, started)
            stack = None
        if stack is not None and stack["StackStatus"] in STUCK:
            raise self._stuck(stack, request)

        is_new = stack is None or stack["StackStatus"] == "REVIEW_IN_PROGRESS"
        if not is_new and self._already_deployed(stack, request):
            self._apply_stack_settings(stack, request)
            self._say(name, "[green]unchanged[/] (template, parameters and tags as deployed)")
            return self._result(request, "unchanged", started, outputs=_outputs(stack))

        change_set = self._create_change_set(request, "CREATE" if is_new else "UPDATE")
        if change_set is None:
            self._apply_stack_settings(stack, request)
            self._say(name, "[green]unchanged[/] (CloudFormation found no changes)")
            return self._result(request, "unchanged", started, outputs=_outputs(stack))

        # The stack policy governs an update, so it is in place before executing; with
        # --allow-replace a permissive one stands in during this update only.
        governed = change_set.kind == "UPDATE" and request.stack_policy is not None
        lifting = governed and self._options.allow_replace
        try:
            go = self._review(request, change_set)
            if go and lifting:
                self._put_policy(name, stack["StackId"], _ALLOW_ALL_UPDATES)
                self._say(name, "--allow-replace: stack policy lifted for this update only")
            elif go and governed:
                self._set_policy(stack, request)
        except BaseException:
            self._discard(name, change_set, quietly=True)
            raise
        if not go:
            self._discard(name, change_set)
            status = "planned" if self._options.dry_run else "skipped"
            message = "dry run" if self._options.dry_run else "not confirmed"
            outputs = _outputs(stack) if not is_new else {}
            return self._result(request, status, started, outputs, len(change_set.changes), message)
        try:
            final = self._execute(request, change_set, started)
        except BaseException:
            if lifting:
                self._restore_policy(request, stack["StackId"], quietly=True)
            raise
        if lifting:
            self._restore_policy(request, stack["StackId"])
        self._apply_stack_settings(final, request, policy=not governed)
        status = "created" if change_set.kind == "CREATE" else "updated"
        return self._result(request, status, started, _outputs(final), len(change_set.changes))

    def diff(self, request: StackRequest) -> list[Change]:
        """Create the change set, print it, delete it. Never executes anything."""
        started = self._clock.now()
        stack = self._settle(request.name, request.timeout_minutes, started)
        if stack is not None and stack["StackStatus"] == "ROLLBACK_COMPLETE":
            self._say(request.name, "is ROLLBACK_COMPLETE: deploy will delete and recreate it")
            return []
        if stack is not None and stack["StackStatus"] in STUCK:
            raise self._stuck(stack, request)
        is_new = stack is None or stack["StackStatus"] == "REVIEW_IN_PROGRESS"
        if not is_new and self._already_deployed(stack, request):
            self._say(request.name, "[green]unchanged[/]")
            return []
        change_set = self._create_change_set(request, "CREATE" if is_new else "UPDATE")
        if change_set is None:
            self._say(request.name, "[green]unchanged[/]")
            return []
        try:
            self._show(request.name, change_set.changes)
            self._warn_endangered(request.name, change_set.changes)
        finally:
            self._discard(request.name, change_set)
        return change_set.changes

    def status(self, name: str) -> StackStatus | None:
        """What CloudFormation knows about the stack, or None when it doesn't exist."""
        stack = self._describe(name)
        if stack is None:
            return None
        changed = stack.get("LastUpdatedTime") or stack["CreationTime"]
        return StackStatus(
            name=name,
            status=stack["StackStatus"],
            reason=stack.get("StackStatusReason", ""),
            last_updated=changed.astimezone(UTC).isoformat(timespec="seconds"),
            drift_status=stack.get("DriftInformation", {}).get("StackDriftStatus", "NOT_CHECKED"),
            termination_protection=bool(stack.get("EnableTerminationProtection")),
            outputs=_outputs(stack),
        )

    def destroy(self, name: str, timeout_minutes: int = _DEFAULT_TIMEOUT_MINUTES) -> StackResult:
        """Delete the stack and wait; termination protection stops it with a clear message."""
        started = self._clock.now()
        key = name.rsplit("-", 1)[-1]
        stack = self._settle(name, timeout_minutes, started)
        if stack is None:
            return StackResult(key, name, "skipped", {}, self._since(started), 0, "does not exist")
        if stack.get("EnableTerminationProtection"):
            region = self._cfn.meta.region_name
            raise BadInput(
                f"stack {name} has termination protection, so it cannot be deleted. If you "
                "really mean to delete it, turn the protection off first: `aws cloudformation "
                f"update-termination-protection --no-enable-termination-protection "
                f"--stack-name {name} --region {region}`, then run destroy again."
            )
        if self._options.dry_run:
            return StackResult(
                key, name, "planned", _outputs(stack), self._since(started), 0, "would delete"
            )
        self._say(name, "deleting")
        self._delete(stack, timeout_minutes, started)
        return StackResult(key, name, "deleted", {}, self._since(started))

    def recover(
        self, name: str, skip: list[str], timeout_minutes: int = _DEFAULT_TIMEOUT_MINUTES
    ) -> StackResult:
        """ContinueUpdateRollback for a stack in UPDATE_ROLLBACK_FAILED, skipping `skip`."""
        started = self._clock.now()
        key = name.rsplit("-", 1)[-1]
        stack = self._describe(name)
        if stack is None:
            raise BadInput(f"stack {name} does not exist, so there is nothing to recover.")
        if stack["StackStatus"] != "UPDATE_ROLLBACK_FAILED":
            raise BadInput(
                f"stack {name} is {stack['StackStatus']}, not UPDATE_ROLLBACK_FAILED: there is "
                "nothing to recover (recover only continues a rollback that got stuck)."
            )
        stream = self._stream(stack["StackId"], name, started)
        kwargs = {"StackName": stack["StackId"]}
        if skip:
            kwargs["ResourcesToSkip"] = list(skip)
        skipping = f" skipping {', '.join(skip)}" if skip else ""
        self._say(name, f"continuing the rollback{skipping}")
        self._api("continuing the rollback of", name, "continue_update_rollback", **kwargs)
        final = self._wait(
            stream,
            stack["StackId"],
            name,
            RECOVER_OK,
            RECOVER_BAD,
            timeout_minutes,
            f"stack {name} to roll back",
        )
        if final["StackStatus"] not in RECOVER_OK:
            stuck = self._stuck_resources(name)
            raise OperationFailed(
                f"the rollback of stack {name} failed again on {_describe_stuck(stuck)}. "
                "Fix the cause, or run recover again adding "
                f"`--skip {','.join(r[0] for r in stuck) or 'LOGICAL_ID'}` (skipped resources "
                "are left as they are)."
            )
        return StackResult(
            key,
            name,
            "recovered",
            _outputs(final),
            self._since(started),
            0,
            "rolled back to the last working state; deploy again to apply your changes",
        )

    def outputs(self, name: str) -> dict[str, str]:
        """The stack's outputs (OutputKey -> OutputValue)."""
        stack = self._describe(name)
        if stack is None:
            raise BadInput(f"stack {name} does not exist: deploy it first.")
        return _outputs(stack)

    # ------------------------------------------------------------ stack states

    def _settle(self, name: str, timeout_minutes: int, started: float) -> dict | None:
        """The stack (None if absent), after any operation in progress has finished."""
        stack = self._describe(name)
        if stack is None or stack["StackStatus"] in SETTLED:
            return stack
        self._say(
            name,
            f"is {stack['StackStatus']} (an earlier deploy still running or interrupted): "
            "waiting for it to settle",
        )
        stream = self._stream(stack["StackId"], name, started)
        final = self._wait(
            stream, stack["StackId"], name, SETTLED, (), timeout_minutes, f"stack {name} to settle"
        )
        return None if final["StackStatus"] == "DELETE_COMPLETE" else final

    def _delete_failed_create(self, stack: dict, request: StackRequest, started: float) -> None:
        """ROLLBACK_COMPLETE: say why the first create failed, then delete the husk."""
        name = request.name
        stream = self._stream(stack["StackId"], name, started)
        cause = next((e for e in root_cause_first(stream.before) if not e.is_stack), None)
        why = f": {cause.logical_id} {cause.status}: {escape(cause.reason)}" if cause else ""
        self._say(
            name,
            f"is ROLLBACK_COMPLETE (its first create failed{why}). Such a stack can only "
            "be deleted: deleting it and creating it again",
        )
        self._delete(stack, request.timeout_minutes, started, stream)

    def _stuck(self, stack: dict, request: StackRequest) -> OperationFailed:
        name, status = request.name, stack["StackStatus"]
        stuck = self._stuck_resources(name)
        env = request.env or request.tags.get(naming.TAG_ENVIRONMENT) or "ENV"
        if status == "UPDATE_ROLLBACK_FAILED":
            skip = ",".join(resource[0] for resource in stuck) or "LOGICAL_ID"
            return OperationFailed(
                f"stack {name} is UPDATE_ROLLBACK_FAILED: an update failed and its rollback "
                f"got stuck on {_describe_stuck(stuck)}. Fix the cause, then run "
                f"`invoke recover --env {env} --stack {request.key}` (add `--skip {skip}` for "
                "resources that cannot roll back; they are left as they are), then deploy again."
            )
        region = self._cfn.meta.region_name
        retain = ""
        if status == "DELETE_FAILED" and stuck:
            ids = " ".join(resource[0] for resource in stuck)
            retain = f" (add `--retain-resources {ids}` to keep what cannot be deleted)"
        return OperationFailed(
            f"stack {name} is {status} (stuck on {_describe_stuck(stuck)}); a stack in this "
            "state can only be deleted. Fix the cause, delete just this stack with `aws "
            f"cloudformation delete-stack --stack-name {name} --region {region}`{retain}, "
            "then deploy again."
        )

    def _stuck_resources(self, name: str) -> list[tuple[str, str, str]]:
        """(logical ID, status, reason) of the stack's resources in a *_FAILED status."""
        stuck = []
        try:
            for page in self._cfn.get_paginator("list_stack_resources").paginate(StackName=name):
                for resource in page["StackResourceSummaries"]:
                    if resource["ResourceStatus"].endswith("_FAILED"):
                        stuck.append(
                            (
                                resource["LogicalResourceId"],
                                resource["ResourceStatus"],
                                resource.get("ResourceStatusReason", ""),
                            )
                        )
        except AWS_ERRORS as exc:
            raise translate(exc, "listing the resources of", f"stack {name}") from None
        return stuck

    def _already_deployed(self, stack: dict, request: StackRequest) -> bool:
        """True when the deployed template body, parameters and tags equal the new ones
        (the template is fetched only when the checks that cost no call pass)."""
        if not deployed.same_tags(stack, request.tags):
            return False
        if not deployed.same_parameters(stack, request.template_body, request.parameters):
            return False
        body = self._api(
            "reading the template of",
            request.name,
            "get_template",
            StackName=stack["StackId"],
            TemplateStage="Original",
        )["TemplateBody"]
        return deployed.same_template(body, request.template_body)

    def _apply_stack_settings(
        self, stack: dict, request: StackRequest, policy: bool = True
    ) -> None:
        """Termination protection (only ever turned on here) and the stack policy."""
        if self._options.dry_run:
            return
        if request.termination_protection and not stack.get("EnableTerminationProtection"):
            self._api(
                "turning on termination protection of",
                request.name,
                "update_termination_protection",
                StackName=stack["StackId"],
                EnableTerminationProtection=True,
            )
            self._say(request.name, "termination protection on")
        if policy and request.stack_policy is not None:
            self._set_policy(stack, request)

    def _set_policy(self, stack: dict, request: StackRequest) -> None:
        current = self._api(
            "reading the stack policy of",
            request.name,
            "get_stack_policy",
            StackName=stack["StackId"],
        ).get("StackPolicyBody")
        if current and json.loads(current) == request.stack_policy:
            return
        self._put_policy(request.name, stack["StackId"], request.stack_policy)
        self._say(request.name, "stack policy set")

    def _restore_policy(self, request: StackRequest, stack_id: str, quietly: bool = False) -> None:
        """Put the stored stack policy back after an --allow-replace update."""
        try:
            self._put_policy(request.name, stack_id, request.stack_policy)
        except OperationFailed as exc:
            if not quietly:
                raise
            self._say(
                request.name,
                f"[bold red]could not restore the stack policy ({escape(exc.message)}); "
                "the next deploy puts it back[/]",
            )
            return
        self._say(request.name, "stack policy restored")

    def _put_policy(self, name: str, stack_id: str, policy: dict) -> None:
        self._api(
            "setting the stack policy of",
            name,
            "set_stack_policy",
            StackName=stack_id,
            StackPolicyBody=json.dumps(policy),
        )

    # ------------------------------------------------------------- change sets

    def _create_change_set(self, request: StackRequest, kind: str) -> _ChangeSet | None:
        """Create and wait for a change set; None when CloudFormation sees no changes."""
        name = request.name
        stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
        created = self._api(
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
        )
        change_set = _ChangeSet(created["Id"], created["StackId"], kind, [])
        latest: dict = {}

        def fetch() -> str:
            latest.update(
                self._api(
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
            interval_s=self._interval,
            what=f"the change set of stack {name}",
            clock=self._clock,
        )
        if status not in CHANGE_SET_OK:
            reason = latest.get("StatusReason", "") or status
            self._discard(name, change_set)
            if any(marker in reason for marker in _NO_CHANGES):
                return None
            raise OperationFailed(f"creating change set for stack {name}: {reason}")
        raw = list(latest.get("Changes", []))
        token = latest.get("NextToken")
        while token:
            page = self._api(
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
        return change_set

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

    def _discard(self, name: str, change_set: _ChangeSet, quietly: bool = False) -> None:
        """Delete an unexecuted change set; a stack it created (REVIEW_IN_PROGRESS, no
        resources) goes too, so a dry run leaves nothing behind. `quietly` while another
        error is on its way: a failure here must not hide that one."""
        try:
            self._api(
                "deleting change set of",
                name,
                "delete_change_set",
                ChangeSetName=change_set.id,
                StackName=change_set.stack_id,
            )
            if change_set.kind == "CREATE":
                self._api(
                    "deleting the empty stack",
                    name,
                    "delete_stack",
                    StackName=change_set.stack_id,
                )
        except OperationFailed as exc:
            if not quietly:
                raise
            self._say(name, f"[yellow]could not clean up: {escape(exc.message)}[/]")

    def _review(self, request: StackRequest, change_set: _ChangeSet) -> bool:
        """Show the change set, refuse what must not happen, confirm: True to execute."""
        name, changes = request.name, change_set.changes
        with output_lock:
            self._show(name, changes)
            if self._options.dry_run:
                self._warn_endangered(name, changes)
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
                return True
            if not self._options.interactive:
                raise BadInput(
                    f"stack {name} has {len(changes)} change(s) to apply and there is no "
                    "terminal to confirm them. Review them (`invoke diff`) and run again "
                    "with --yes."
                )
            if self._confirm(f"Apply these {len(changes)} change(s) to {name}?"):
                return True
            self._say(name, "not confirmed: change set deleted, nothing changed")
            return False

    def _execute(self, request: StackRequest, change_set: _ChangeSet, started: float) -> dict:
        """Execute the change set and wait; the final stack, or OperationFailed."""
        name = request.name
        stream = self._stream(change_set.stack_id, name, started)
        self._api(
            "executing change set for",
            name,
            "execute_change_set",
            ChangeSetName=change_set.id,
            StackName=change_set.stack_id,
        )
        creating = change_set.kind == "CREATE"
        final = self._wait(
            stream,
            change_set.stack_id,
            name,
            CREATE_OK if creating else UPDATE_OK,
            CREATE_BAD if creating else UPDATE_BAD,
            request.timeout_minutes,
            f"stack {name} to finish {'creating' if creating else 'updating'}",
        )
        if final["StackStatus"] not in (CREATE_OK | UPDATE_OK):
            raise self._failure(name, final, stream.seen)
        return final

    # ------------------------------------------------------------------ waiting

    def _stream(self, stack_id: str, name: str, started: float) -> EventStream:
        """Events of the stack from now on (mark taken before the action starts)."""
        stream = EventStream(self._cfn, stack_id, name, self._console, started, self._clock.now)
        try:
            stream.mark()
        except AWS_ERRORS as exc:
            raise translate(exc, "reading the events of", f"stack {name}") from None
        return stream

    def _wait(
        self,
        stream: EventStream,
        stack_id: str,
        name: str,
        success,
        failure,
        timeout_minutes: int,
        what: str,
    ) -> dict:
        """Poll the stack until a status in `success`/`failure`, printing new events."""
        latest: dict = {}

        def fetch() -> str:
            latest.update(
                self._api("waiting for", name, "describe_stacks", StackName=stack_id)["Stacks"][0]
            )
            return latest["StackStatus"]

        def print_events(status: str) -> None:
            if self._options.on_status is not None:
                self._options.on_status(name, status)
            try:
                if not stream.poll():
                    stream.heartbeat(status)
            except AWS_ERRORS as exc:
                raise translate(exc, "reading the events of", f"stack {name}") from None

        wait_for(
            fetch,
            success=success,
            failure=failure,
            timeout_s=timeout_minutes * 60,
            interval_s=self._interval,
            what=what,
            clock=self._clock,
            on_poll=print_events,
        )
        return dict(latest)

    def _delete(
        self, stack: dict, timeout_minutes: int, started: float, stream: EventStream | None = None
    ) -> None:
        name = stack["StackName"]
        stream = stream or self._stream(stack["StackId"], name, started)
        self._api("deleting", name, "delete_stack", StackName=stack["StackId"])
        final = self._wait(
            stream,
            stack["StackId"],
            name,
            DELETE_OK,
            DELETE_BAD,
            timeout_minutes,
            f"stack {name} to be deleted",
        )
        if final["StackStatus"] not in DELETE_OK:
            raise self._failure(name, final, stream.seen)

    def _failure(self, name: str, stack: dict, events: list[StackEvent]) -> OperationFailed:
        """Print the failed events, root cause first; the error names the root cause."""
        failed = root_cause_first(events)
        status = stack["StackStatus"]
        if failed:
            with output_lock:
                self._console.print(
                    f"[bold red]{escape(name)} failed ({status}); root cause first:[/]"
                )
                for event in failed:
                    self._console.print(
                        f"  [red]{escape(event.logical_id)}[/] {escape(event.resource_type)} "
                        f"{event.status}: {escape(event.reason)}",
                        highlight=False,
                        soft_wrap=True,
                    )
        cause = next((e for e in failed if not e.is_stack), failed[0] if failed else None)
        if cause is not None:
            why = f"{cause.logical_id} ({cause.resource_type}) {cause.status}: {cause.reason}"
        else:
            why = stack.get("StackStatusReason") or "no failed events were reported"
        return OperationFailed(f"stack {name} ended {status}. Root cause: {why}")

    # ---------------------------------------------------------------- plumbing

    def _describe(self, name: str) -> dict | None:
        try:
            return self._cfn.describe_stacks(StackName=name)["Stacks"][0]
        except ClientError as exc:
            error = exc.response.get("Error", {})
            if error.get("Code") == "ValidationError" and "does not exist" in error.get(
                "Message", ""
            ):
                return None
            raise translate(exc, "describing", f"stack {name}") from None
        except AWS_ERRORS as exc:
            raise translate(exc, "describing", f"stack {name}") from None

    def _api(self, action: str, name: str, operation: str, **kwargs):
        """Call CloudFormation; a failure becomes `{action} stack {name}: ...`."""
        try:
            return getattr(self._cfn, operation)(**kwargs)
        except AWS_ERRORS as exc:
            raise translate(exc, action, f"stack {name}") from None

    def _show(self, name: str, changes: list[Change]) -> None:
        self._console.print(table(name, changes))

    def _warn_endangered(self, name: str, changes: list[Change]) -> None:
        if self._options.protect_stateful and (risky := endangered(changes)):
            ids = ", ".join(change.logical_id for change in risky)
            self._say(
                name,
                f"[bold red]would replace or remove {ids} (holds data): a deploy "
                "refuses this without --allow-replace[/]",
            )

    def _ask(self, question: str) -> bool:
        return Confirm.ask(question, console=self._console, default=False)

    def _say(self, name: str, message: str) -> None:
        with output_lock:
            self._console.print(f"[bold]{escape(name)}[/bold] {message}", highlight=False)

    def _since(self, started: float) -> float:
        return round(self._clock.now() - started, 3)

    def _result(
        self,
        request: StackRequest,
        status: str,
        started: float,
        outputs: dict[str, str] | None = None,
        changes: int = 0,
        message: str = "",
    ) -> StackResult:
        return StackResult(
            request.key,
            request.name,
            status,
            outputs or {},
            self._since(started),
            changes,
            message,
        )


# ------------------------------------------------------------------ helpers


def _outputs(stack: dict) -> dict[str, str]:
    return {item["OutputKey"]: item["OutputValue"] for item in stack.get("Outputs") or []}


def _describe_stuck(stuck: list[tuple[str, str, str]]) -> str:
    if not stuck:
        return "resources CloudFormation did not name (see the stack's events)"
    return "; ".join(f"{logical} ({status}: {reason})" for logical, status, reason in stuck)


def _verb(change: Change) -> str:
    return "remove" if change.action == "Remove" else f"replace (Replacement={change.replacement})"
