"""One stack's CloudFormation calls, shared by the engine's steps: describe, call with the
error translated, stream events while waiting on explicit success/failure sets, delete, and
the failure report (root cause first)."""

from __future__ import annotations

from botocore.exceptions import ClientError
from rich.console import Console
from rich.markup import escape

from infra.aws.errors import AWS_ERRORS, is_throttling, translate
from infra.cfn.events import EventStream, StackEvent, output_lock, root_cause_first
from infra.cfn.statuses import DELETE_BAD, DELETE_OK
from infra.cfn.types import DeployOptions, StackRequest, role_argument
from infra.cfn.waiting import Clock, wait_for
from infra.core import naming
from infra.core.errors import OperationFailed


class StackCalls:
    """The CloudFormation client with the console, the clock and the poll interval."""

    def __init__(
        self,
        cfn_client,
        console: Console,
        options: DeployOptions,
        clock: Clock,
        interval: float,
        stack_interval: float,
    ):
        self.cfn = cfn_client
        self.console = console
        self._options = options
        self.clock = clock
        self.interval = interval  # change sets: created in seconds, so polled faster
        self.stack_interval = stack_interval  # stack operations: minutes

    def stream(self, stack_id: str, name: str, started: float) -> EventStream:
        """Events of the stack from now on (mark taken before the action starts)."""
        stream = EventStream(self.cfn, stack_id, name, self.console, started, self.clock.now)
        try:
            stream.mark()
        except AWS_ERRORS as exc:
            raise translate(exc, "reading the events of", f"stack {name}") from None
        return stream

    def wait(
        self,
        stream: EventStream,
        stack_id: str,
        name: str,
        success,
        failure,
        timeout_minutes: int,
        what: str,
    ) -> dict:
        """Poll the stack until a status in `success`/`failure`, printing new events.

        One DescribeStacks and at most one DescribeStackEvents per `stack_interval`. AWS
        still throttling once botocore's retries are spent is no answer about the stack:
        CloudFormation carries on, so the wait does too (the deadline still holds)."""
        latest: dict = {"StackStatus": "UNKNOWN (throttled)"}
        throttled = [False]

        def fetch() -> str:
            throttled[0] = False
            try:
                found = self.cfn.describe_stacks(StackName=stack_id)["Stacks"][0]
            except AWS_ERRORS as exc:
                if not is_throttling(exc):
                    raise translate(exc, "waiting for", f"stack {name}") from None
                throttled[0] = True
                self.say(name, "[yellow]AWS is throttling the status reads: still waiting[/]")
                return latest["StackStatus"]
            latest.update(found)
            return latest["StackStatus"]

        def print_events(status: str) -> None:
            if self._options.on_status is not None:
                self._options.on_status(name, status)
            if throttled[0]:
                return
            try:
                if not stream.poll():
                    stream.heartbeat(status)
            except AWS_ERRORS as exc:
                if is_throttling(exc):
                    return  # the events come with the next poll
                raise translate(exc, "reading the events of", f"stack {name}") from None

        wait_for(
            fetch,
            success=success,
            failure=failure,
            timeout_s=timeout_minutes * 60,
            interval_s=self.stack_interval,
            what=what,
            clock=self.clock,
            on_poll=print_events,
        )
        return dict(latest)

    def delete(
        self,
        stack: dict,
        timeout_minutes: int,
        started: float,
        stream: EventStream | None = None,
        role_arn: str | None = None,
    ) -> None:
        name = stack["StackName"]
        stream = stream or self.stream(stack["StackId"], name, started)
        self.api(
            "deleting", name, "delete_stack", StackName=stack["StackId"], **role_argument(role_arn)
        )
        final = self.wait(
            stream,
            stack["StackId"],
            name,
            DELETE_OK,
            DELETE_BAD,
            timeout_minutes,
            f"stack {name} to be deleted",
        )
        if final["StackStatus"] not in DELETE_OK:
            raise self.failure(name, final, stream.seen)

    def failure(self, name: str, stack: dict, events: list[StackEvent]) -> OperationFailed:
        """Print the failed events, root cause first; the error names the root cause."""
        failed = root_cause_first(events)
        status = stack["StackStatus"]
        if failed:
            with output_lock:
                self.console.print(
                    f"[bold red]{escape(name)} failed ({status}); root cause first:[/]"
                )
                for event in failed:
                    self.console.print(
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

    def describe(self, name: str) -> dict | None:
        try:
            return self.cfn.describe_stacks(StackName=name)["Stacks"][0]
        except ClientError as exc:
            error = exc.response.get("Error", {})
            if error.get("Code") == "ValidationError" and "does not exist" in error.get(
                "Message", ""
            ):
                return None
            raise translate(exc, "describing", f"stack {name}") from None
        except AWS_ERRORS as exc:
            raise translate(exc, "describing", f"stack {name}") from None

    def api(self, action: str, name: str, operation: str, **kwargs):
        """Call CloudFormation; a failure becomes `{action} stack {name}: ...`."""
        try:
            return getattr(self.cfn, operation)(**kwargs)
        except AWS_ERRORS as exc:
            raise translate(exc, action, f"stack {name}") from None

    def say(self, name: str, message: str) -> None:
        with output_lock:
            self.console.print(f"[bold]{escape(name)}[/bold] {message}", highlight=False)

    def since(self, started: float) -> float:
        return round(self.clock.now() - started, 3)

    def stuck_resources(self, name: str) -> list[tuple[str, str, str]]:
        """(logical ID, status, reason) of the stack's resources in a *_FAILED status."""
        stuck = []
        try:
            for page in self.cfn.get_paginator("list_stack_resources").paginate(StackName=name):
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

    def rollback_failures(self, name: str, stack_id: str) -> list[tuple[str, str, str]]:
        """(logical ID, status, reason) of the resources whose rollback failed: the minimum
        `--skip` set. ContinueUpdateRollback's ResourcesToSkip takes "only resources that are
        in the UPDATE_FAILED state because a rollback failed. You can't specify resources
        that are in the UPDATE_FAILED state for other reasons, for example, because an update
        was canceled" and asks for "the minimum number of resources" (botocore's model). So:
        each resource's latest event since the stack's last UPDATE_ROLLBACK_IN_PROGRESS,
        kept when it is UPDATE_FAILED and not a cancellation."""
        latest: dict[str, StackEvent] = {}
        try:
            pages = self.cfn.get_paginator("describe_stack_events").paginate(StackName=stack_id)
            for page in pages:  # newest first
                for event in map(StackEvent.from_api, page["StackEvents"]):
                    if event.is_stack and event.logical_id == name:
                        if event.status == "UPDATE_ROLLBACK_IN_PROGRESS":
                            break
                        continue
                    latest.setdefault(event.logical_id, event)
                else:
                    continue
                break
        except AWS_ERRORS as exc:
            raise translate(exc, "reading the events of", f"stack {name}") from None
        failed = [
            event
            for event in reversed(latest.values())
            if event.status == "UPDATE_FAILED" and not event.is_consequence
        ]
        return [(event.logical_id, event.status, event.reason) for event in failed]

    def stuck_error(self, stack: dict, request: StackRequest) -> OperationFailed:
        """The error for a stack only a human can get out of its state, with the way out."""
        name, status = request.name, stack["StackStatus"]
        env = request.env or request.tags.get(naming.TAG_ENVIRONMENT) or "ENV"
        if status == "UPDATE_ROLLBACK_FAILED":
            stuck = self.rollback_failures(name, stack["StackId"])
            skip = ",".join(resource[0] for resource in stuck) or "LOGICAL_ID"
            return OperationFailed(
                f"stack {name} is UPDATE_ROLLBACK_FAILED: an update failed and its rollback "
                f"got stuck on {describe_stuck(stuck)}. Fix the cause, then run "
                f"`invoke recover --env {env} --stack {request.key}` (add `--skip {skip}` for "
                "resources that cannot roll back; they are left as they are), then deploy again."
            )
        stuck = self.stuck_resources(name)
        region = self.cfn.meta.region_name
        retain = ""
        if status == "DELETE_FAILED" and stuck:
            ids = " ".join(resource[0] for resource in stuck)
            retain = f" (add `--retain-resources {ids}` to keep what cannot be deleted)"
        return OperationFailed(
            f"stack {name} is {status} (stuck on {describe_stuck(stuck)}); a stack in this "
            "state can only be deleted. Fix the cause, delete just this stack with `aws "
            f"cloudformation delete-stack --stack-name {name} --region {region}`{retain}, "
            "then deploy again."
        )


def describe_stuck(stuck: list[tuple[str, str, str]]) -> str:
    if not stuck:
        return "resources CloudFormation did not name (see the stack's events)"
    return "; ".join(f"{logical} ({status}: {reason})" for logical, status, reason in stuck)
