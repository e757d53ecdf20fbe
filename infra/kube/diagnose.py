"""Why pods are failing, for a human: container states, warning events, last log lines."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.markup import escape

from infra.kube.client import KubeApi

LOG_LINES = 20
EVENTS = 10
MAX_PODS = 3


def unhealthy(pods: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Pods that failed or have a container that is not ready."""
    found = []
    for pod in pods:
        status = pod.get("status") or {}
        statuses = status.get("containerStatuses") or []
        if (
            status.get("phase") == "Failed"
            or not statuses
            or not all(item.get("ready") for item in statuses)
        ):
            found.append(pod)
    return found


def print_pods(api: KubeApi, pods: list[dict[str, Any]], console: Console) -> None:
    """Container states, the pod's warning events and each container's last log lines."""
    for pod in pods[:MAX_PODS]:
        name = pod["metadata"]["name"]
        namespace = pod["metadata"]["namespace"]
        status = pod.get("status") or {}
        console.print(f"[bold]pod {escape(name)}[/bold] (phase {status.get('phase', 'unknown')})")
        statuses = (status.get("initContainerStatuses") or []) + (
            status.get("containerStatuses") or []
        )
        for item in statuses:
            console.print(f"  container {escape(item['name'])}: {escape(_state(item))}")
        events = api.list("v1", "Event", namespace, field_selector=f"involvedObject.name={name}")
        warnings = [event for event in events if event.get("type") == "Warning"] or events
        for event in warnings[-EVENTS:]:
            console.print(
                f"  event {escape(str(event.get('reason')))}: {escape(str(event.get('message')))}"
            )
        spec = pod.get("spec") or {}
        for container in (spec.get("initContainers") or []) + (spec.get("containers") or []):
            text = api.logs(name, namespace, container["name"], LOG_LINES).rstrip()
            console.print(f"  last log lines of {escape(container['name'])}:")
            for line in (text or "(empty)").splitlines()[-LOG_LINES:]:
                console.print(f"    {escape(line)}", highlight=False)
    if len(pods) > MAX_PODS:
        console.print(f"({len(pods) - MAX_PODS} more pods like these not shown)")


def _state(status: dict[str, Any]) -> str:
    state = status.get("state") or {}
    restarts = status.get("restartCount", 0)
    if "waiting" in state:
        waiting = state["waiting"] or {}
        text = f"waiting ({waiting.get('reason', '')}: {waiting.get('message', '')})"
    elif "terminated" in state:
        done = state["terminated"] or {}
        text = f"terminated ({done.get('reason', '')}, exit code {done.get('exitCode')})"
    elif "running" in state:
        text = "running" + ("" if status.get("ready") else ", not ready")
    else:
        text = "unknown"
    last = (status.get("lastState") or {}).get("terminated")
    if last:
        text += f"; last exit: {last.get('reason', '')} (exit code {last.get('exitCode')})"
    return f"{text}; {restarts} restarts"
