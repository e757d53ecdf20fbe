"""infra/kube/diagnose.py: which pods count as failing and how their state reads (the full
output with events and logs is checked in test_kube.py's failure tests)."""

from __future__ import annotations

from infra.kube import diagnose as kube_diagnose


def pod(name: str, phase: str = "Running", **container) -> dict:
    statuses = [{"name": "app", **container}] if container else []
    return {"metadata": {"name": name}, "status": {"phase": phase, "containerStatuses": statuses}}


def test_unhealthy_keeps_failed_not_ready_and_not_started_pods():
    pods = [
        pod("ready", ready=True),
        pod("crashing", ready=False),
        pod("pending", phase="Pending"),
        pod("failed", phase="Failed", ready=True),
    ]
    names = [p["metadata"]["name"] for p in kube_diagnose.unhealthy(pods)]
    assert names == ["crashing", "pending", "failed"]


def test_state_reads_waiting_terminated_and_last_exit():
    crash = {
        "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 40s"}},
        "lastState": {"terminated": {"reason": "Error", "exitCode": 1}},
        "restartCount": 4,
    }
    assert kube_diagnose._state(crash) == (
        "waiting (CrashLoopBackOff: back-off 40s); last exit: Error (exit code 1); 4 restarts"
    )
    done = {"state": {"terminated": {"reason": "OOMKilled", "exitCode": 137}}}
    assert kube_diagnose._state(done) == "terminated (OOMKilled, exit code 137); 0 restarts"
    assert kube_diagnose._state({"state": {"running": {}}, "ready": False}).startswith(
        "running, not ready"
    )
