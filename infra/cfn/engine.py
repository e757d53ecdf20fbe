"""Deploy one CloudFormation stack through a change set: the engine's per-stack half.

One `StackEngine` per run; orchestration (infra/orchestration/deploy.py) calls `deploy()` for each
stack in graph order, possibly from several threads at once.

deploy(): settle a stack left in progress -> recreate a ROLLBACK_COMPLETE one -> stop on
UPDATE_ROLLBACK_FAILED -> skip when template, parameters and tags are already deployed ->
change set -> table -> stateful check / confirmation -> execute -> events -> outputs.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC

from rich.console import Console
from rich.markup import escape

from infra.aws.template_bucket import TemplateBucket
from infra.cfn import deployed, drift
from infra.cfn.calls import StackCalls, describe_stuck
from infra.cfn.change_sets import ChangeSets
from infra.cfn.changes import Change
from infra.cfn.events import root_cause_first
from infra.cfn.statuses import RECOVER_BAD, RECOVER_OK, SETTLED, STUCK
from infra.cfn.types import (
    DeployOptions,
    Result,
    StackRequest,
    StackResult,
    StackStatus,
    outputs_of,
)
from infra.cfn.waiting import Clock
from infra.core.errors import BadInput, OperationFailed

# During an --allow-replace update only (ExecuteChangeSet has no
# StackPolicyDuringUpdateBody, so the stored policy is swapped and restored afterwards;
# an interrupted run is healed by the next deploy, which puts the policy back).
_ALLOW_ALL_UPDATES = {
    "Statement": [{"Effect": "Allow", "Action": "Update:*", "Principal": "*", "Resource": "*"}]
}
_DEFAULT_TIMEOUT_MINUTES = 60
# Stack operations take minutes: botocore's own CloudFormation waiters poll every 30 s
# (waiters-2 model: StackCreateComplete delay 30); 20 s keeps the output lively at one
# DescribeStacks (+ at most one DescribeStackEvents) per stack per 20 s.
STACK_POLL_S = 20.0


class StackEngine:
    """Deploys, diffs, inspects, recovers and destroys single stacks.

    `template_bucket` receives templates over the TemplateBody limit (see
    `Aws.template_bucket()`); `poll_interval` (change sets), `stack_poll_interval`, `clock`
    and `confirm` are injectable so tests run without sleeping or a terminal.
    """

    def __init__(
        self,
        cfn_client,
        console: Console,
        options: DeployOptions,
        *,
        template_bucket: TemplateBucket | None = None,
        poll_interval: float = 5.0,
        stack_poll_interval: float = STACK_POLL_S,
        clock: Clock | None = None,
        confirm: Callable[[str], bool] | None = None,
    ):
        calls = StackCalls(
            cfn_client, console, options, clock or Clock(), poll_interval, stack_poll_interval
        )
        self._calls = calls
        self._options = options
        self._change_sets = ChangeSets(calls, options, template_bucket, confirm)

    def deploy(self, request: StackRequest) -> StackResult:
        """Steps 1-8 of a stack deploy; raises OperationFailed/BadInput on failure."""
        started = self._calls.clock.now()
        name = request.name
        stack = self._settle(name, request.timeout_minutes, started)

        if stack is not None and stack["StackStatus"] == "ROLLBACK_COMPLETE":
            if self._options.dry_run:
                return self._result(
                    request,
                    Result.PLANNED,
                    started,
                    message="ROLLBACK_COMPLETE: would be recreated",
                )
            self._delete_failed_create(stack, request, started)
            stack = None
        if stack is not None and stack["StackStatus"] in STUCK:
            raise self._calls.stuck_error(stack, request)

        if stack is not None and stack["StackStatus"] == "REVIEW_IN_PROGRESS":
            if self._options.dry_run:
                message = "REVIEW_IN_PROGRESS: stale change sets would go, stack created afresh"
                return self._result(request, Result.PLANNED, started, message=message)
            self._change_sets.remove_stale(name, stack)
        is_new = stack is None or stack["StackStatus"] == "REVIEW_IN_PROGRESS"
        if not is_new and self._already_deployed(stack, request):
            self._apply_stack_settings(stack, request)
            self._calls.say(name, "[green]unchanged[/] (template, parameters and tags as deployed)")
            return self._result(request, Result.UNCHANGED, started, outputs=outputs_of(stack))

        change_set = self._change_sets.create(request, "CREATE" if is_new else "UPDATE")
        if change_set is None:
            self._apply_stack_settings(stack, request)
            self._calls.say(name, "[green]unchanged[/] (CloudFormation found no changes)")
            return self._result(request, Result.UNCHANGED, started, outputs=outputs_of(stack))

        # The stack policy governs an update, so it is in place before executing; with
        # --allow-replace a permissive one stands in during this update only.
        governed = change_set.kind == "UPDATE" and request.stack_policy is not None
        lifting = governed and self._options.allow_replace
        try:
            go = self._change_sets.review(request, change_set)
            if go and lifting:
                self._put_policy(name, stack["StackId"], _ALLOW_ALL_UPDATES)
                self._calls.say(name, "--allow-replace: stack policy lifted for this update only")
            elif go and governed:
                self._set_policy(stack, request)
        except BaseException:
            self._change_sets.discard(name, change_set, quietly=True)
            raise
        if not go:
            self._change_sets.discard(name, change_set)
            status = Result.PLANNED if self._options.dry_run else Result.SKIPPED
            message = "dry run" if self._options.dry_run else "not confirmed"
            outputs = outputs_of(stack) if not is_new else {}
            return self._result(request, status, started, outputs, len(change_set.changes), message)
        try:
            final = self._change_sets.execute(request, change_set, started)
        except BaseException:
            if lifting:
                self._restore_policy(request, stack["StackId"], quietly=True)
            raise
        if lifting:
            self._restore_policy(request, stack["StackId"])
        self._apply_stack_settings(final, request, policy=not governed)
        status = Result.CREATED if change_set.kind == "CREATE" else Result.UPDATED
        return self._result(request, status, started, outputs_of(final), len(change_set.changes))

    def diff(self, request: StackRequest) -> list[Change]:
        """Create the change set, print it, delete it. Never executes anything."""
        started = self._calls.clock.now()
        stack = self._settle(request.name, request.timeout_minutes, started)
        if stack is not None and stack["StackStatus"] == "ROLLBACK_COMPLETE":
            self._calls.say(
                request.name, "is ROLLBACK_COMPLETE: deploy will delete and recreate it"
            )
            return []
        if stack is not None and stack["StackStatus"] in STUCK:
            raise self._calls.stuck_error(stack, request)
        is_new = stack is None or stack["StackStatus"] == "REVIEW_IN_PROGRESS"
        if not is_new and self._already_deployed(stack, request):
            self._calls.say(request.name, "[green]unchanged[/]")
            return []
        change_set = self._change_sets.create(request, "CREATE" if is_new else "UPDATE")
        if change_set is None:
            self._calls.say(request.name, "[green]unchanged[/]")
            return []
        try:
            self._change_sets.show(request.name, change_set)
            self._change_sets.warn_endangered(request.name, change_set.changes)
        finally:
            self._change_sets.discard(request.name, change_set)
        return change_set.changes

    def status(self, name: str) -> StackStatus | None:
        """What CloudFormation knows about the stack, or None when it doesn't exist."""
        stack = self._calls.describe(name)
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
            outputs=outputs_of(stack),
        )

    def drift(self, name: str, timeout_minutes: int = 15) -> drift.StackDrift | None:
        """What was changed by hand in the stack's resources; None when it doesn't exist."""
        if self._calls.describe(name) is None:
            return None
        return drift.detect(self._calls, name, timeout_minutes * 60)

    def destroy(
        self,
        name: str,
        timeout_minutes: int = _DEFAULT_TIMEOUT_MINUTES,
        role_arn: str | None = None,
    ) -> StackResult:
        """Delete the stack (as `role_arn` when given) and wait; termination protection stops
        it with a clear message."""
        started = self._calls.clock.now()
        key = name.rsplit("-", 1)[-1]
        stack = self._settle(name, timeout_minutes, started)
        if stack is None:
            return StackResult(
                key, name, Result.SKIPPED, {}, self._calls.since(started), 0, "does not exist"
            )
        if stack.get("EnableTerminationProtection"):
            region = self._calls.cfn.meta.region_name
            raise BadInput(
                f"stack {name} has termination protection, so it cannot be deleted. If you "
                "really mean to delete it, turn the protection off first: `aws cloudformation "
                f"update-termination-protection --no-enable-termination-protection "
                f"--stack-name {name} --region {region}`, then run destroy again."
            )
        if self._options.dry_run:
            return StackResult(
                key,
                name,
                Result.PLANNED,
                outputs_of(stack),
                self._calls.since(started),
                0,
                "would delete",
            )
        self._calls.say(name, "deleting")
        self._calls.delete(stack, timeout_minutes, started, role_arn=role_arn)
        return StackResult(key, name, Result.DELETED, {}, self._calls.since(started))

    def recover(
        self, name: str, skip: list[str], timeout_minutes: int = _DEFAULT_TIMEOUT_MINUTES
    ) -> StackResult:
        """ContinueUpdateRollback for a stack in UPDATE_ROLLBACK_FAILED, skipping `skip`."""
        started = self._calls.clock.now()
        key = name.rsplit("-", 1)[-1]
        stack = self._calls.describe(name)
        if stack is None:
            raise BadInput(f"stack {name} does not exist, so there is nothing to recover.")
        if stack["StackStatus"] != "UPDATE_ROLLBACK_FAILED":
            raise BadInput(
                f"stack {name} is {stack['StackStatus']}, not UPDATE_ROLLBACK_FAILED: there is "
                "nothing to recover (recover only continues a rollback that got stuck)."
            )
        stream = self._calls.stream(stack["StackId"], name, started)
        kwargs = {"StackName": stack["StackId"]}
        if skip:
            kwargs["ResourcesToSkip"] = list(skip)
        skipping = f" skipping {', '.join(skip)}" if skip else ""
        self._calls.say(name, f"continuing the rollback{skipping}")
        self._calls.api("continuing the rollback of", name, "continue_update_rollback", **kwargs)
        final = self._calls.wait(
            stream,
            stack["StackId"],
            name,
            RECOVER_OK,
            RECOVER_BAD,
            timeout_minutes,
            f"stack {name} to roll back",
        )
        if final["StackStatus"] not in RECOVER_OK:
            stuck = self._calls.rollback_failures(name, stack["StackId"])
            raise OperationFailed(
                f"the rollback of stack {name} failed again on {describe_stuck(stuck)}. "
                "Fix the cause, or run recover again adding "
                f"`--skip {','.join(r[0] for r in stuck) or 'LOGICAL_ID'}` (skipped resources "
                "are left as they are)."
            )
        return StackResult(
            key,
            name,
            Result.RECOVERED,
            outputs_of(final),
            self._calls.since(started),
            0,
            "rolled back to the last working state; deploy again to apply your changes",
        )

    def _settle(self, name: str, timeout_minutes: int, started: float) -> dict | None:
        """The stack (None if absent), after any operation in progress has finished."""
        stack = self._calls.describe(name)
        if stack is None or stack["StackStatus"] in SETTLED:
            return stack
        self._calls.say(
            name,
            f"is {stack['StackStatus']} (an earlier deploy still running or interrupted): "
            "waiting for it to settle",
        )
        stream = self._calls.stream(stack["StackId"], name, started)
        final = self._calls.wait(
            stream, stack["StackId"], name, SETTLED, (), timeout_minutes, f"stack {name} to settle"
        )
        return None if final["StackStatus"] == "DELETE_COMPLETE" else final

    def _delete_failed_create(self, stack: dict, request: StackRequest, started: float) -> None:
        """ROLLBACK_COMPLETE: say why the first create failed, then delete the husk."""
        name = request.name
        stream = self._calls.stream(stack["StackId"], name, started)
        cause = next((e for e in root_cause_first(stream.before) if not e.is_stack), None)
        why = f": {cause.logical_id} {cause.status}: {escape(cause.reason)}" if cause else ""
        self._calls.say(
            name,
            f"is ROLLBACK_COMPLETE (its first create failed{why}). Such a stack can only "
            "be deleted: deleting it and creating it again",
        )
        self._calls.delete(stack, request.timeout_minutes, started, stream, request.role_arn)

    def _already_deployed(self, stack: dict, request: StackRequest) -> bool:
        """True when the deployed template body, parameters and tags equal the new ones
        (the template is fetched only when the checks that cost no call pass)."""
        if not deployed.same_tags(stack, request.tags):
            return False
        if not deployed.same_parameters(stack, request.template_body, request.parameters):
            return False
        body = self._calls.api(
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
            self._calls.api(
                "turning on termination protection of",
                request.name,
                "update_termination_protection",
                StackName=stack["StackId"],
                EnableTerminationProtection=True,
            )
            self._calls.say(request.name, "termination protection on")
        if policy and request.stack_policy is not None:
            self._set_policy(stack, request)

    def _set_policy(self, stack: dict, request: StackRequest) -> None:
        current = self._calls.api(
            "reading the stack policy of",
            request.name,
            "get_stack_policy",
            StackName=stack["StackId"],
        ).get("StackPolicyBody")
        if current and json.loads(current) == request.stack_policy:
            return
        self._put_policy(request.name, stack["StackId"], request.stack_policy)
        self._calls.say(request.name, "stack policy set")

    def _restore_policy(self, request: StackRequest, stack_id: str, quietly: bool = False) -> None:
        """Put the stored stack policy back after an --allow-replace update."""
        try:
            self._put_policy(request.name, stack_id, request.stack_policy)
        except OperationFailed as exc:
            if not quietly:
                raise
            self._calls.say(
                request.name,
                f"[bold red]could not restore the stack policy ({escape(exc.message)}); "
                "the next deploy puts it back[/]",
            )
            return
        self._calls.say(request.name, "stack policy restored")

    def _put_policy(self, name: str, stack_id: str, policy: dict) -> None:
        self._calls.api(
            "setting the stack policy of",
            name,
            "set_stack_policy",
            StackName=stack_id,
            StackPolicyBody=json.dumps(policy),
        )

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
            self._calls.since(started),
            changes,
            message,
        )
