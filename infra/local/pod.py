"""The local "pod": the GIF service as a background process against the embedded PostgreSQL.

What the Kubernetes step does on EKS, done with processes: run `python -m app migrate` and
`python -m app seed` first (the local "Job"), then `python -m app serve` detached, and wait
until `GET /gif` answers 200 exactly as the readiness probe asks. A deploy that changes
nothing (same app code, same settings) leaves the running pod alone.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console

from infra.core.errors import BadInput, OperationFailed
from infra.core.paths import LOCAL_DIR, ROOT
from infra.local.process import Background, port_open
from infra.settings.params import Settings

MARKER = "-m app serve"
JOB_TIMEOUT_S = 120
PROBE_TIMEOUT_S = 3  # per request: the readiness probe's timeoutSeconds (k8s/40-deployment.yaml)


@dataclass(frozen=True)
class PodResult:
    url: str
    status: str  # "started" | "restarted" | "unchanged" | "planned"
    pid: int | None


@dataclass(frozen=True)
class Pod:
    port: int
    host: str = "127.0.0.1"
    metrics_port: int = 9090  # /metrics (its own port, as in the Deployment)
    state_dir: Path = LOCAL_DIR / "pod"

    @classmethod
    def for_settings(cls, settings: Settings, local_dir: Path = LOCAL_DIR) -> Pod:
        return cls(
            port=settings.app.port,
            metrics_port=settings.app.metrics_port,
            state_dir=local_dir / "pod",
        )

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def process(self) -> Background:
        return Background(
            name="GIF service (local pod)",
            pid_file=self.state_dir / "app.pid",
            log_file=self.state_dir / "app.log",
            marker=MARKER,
            port=self.port,
            workdir=ROOT,
        )

    @property
    def fingerprint_file(self) -> Path:
        return self.state_dir / "fingerprint"

    def pid(self) -> int | None:
        return self.process.pid()

    def ready(self) -> bool:
        """The readiness probe: GET /gif answers 200 (which proves the database path)."""
        return self.not_ready() is None

    def not_ready(self) -> str | None:
        """Why the readiness probe fails (the app's own reason for a 503), None when it passes."""
        try:
            with urllib.request.urlopen(f"{self.url}/gif", timeout=PROBE_TIMEOUT_S) as reply:
                return None if reply.status == 200 else f"GET /gif answered {reply.status}"
        except urllib.error.HTTPError as error:
            try:
                return str(json.loads(error.read())["error"])
            except (ValueError, KeyError, TypeError):
                return f"GET /gif answered {error.code}"
        except (urllib.error.URLError, OSError):
            return "not answering"

    def require_port(self) -> None:
        """BadInput when another program listens on the pod's ports (our own pod may)."""
        if self.pid() is not None:
            return
        for port, key in ((self.port, "app.port"), (self.metrics_port, "app.metrics_port")):
            if port_open(self.host, port):
                raise BadInput(
                    f"port {port} on {self.host} is taken by another program, so the local "
                    f"pod can't serve there. Stop that program, or set {key} in "
                    "params/local.yaml."
                )

    def stop(self) -> bool:
        stopped = self.process.stop()
        self.fingerprint_file.unlink(missing_ok=True)
        return stopped


def deploy(
    settings: Settings,
    database_url: str,
    console: Console,
    *,
    local_dir: Path = LOCAL_DIR,
    dry_run: bool = False,
    timeout_s: float | None = None,
) -> PodResult:
    """Run the local Job (migrate, seed) and (re)start the pod unless nothing changed."""
    pod = Pod.for_settings(settings, local_dir)
    env = _pod_env(settings, pod, database_url)
    fingerprint = _fingerprint(env)
    running = pod.pid()
    if running:
        pod.process.adopt(running)  # its pid file may have been garbage
    if running and _recorded(pod) == fingerprint and pod.ready():
        console.print(f"[bold]local pod[/] unchanged, still serving at {pod.url} (pid {running})")
        return PodResult(pod.url, "unchanged", running)
    if dry_run:
        action = "restart" if running else "start"
        console.print(f"[bold]local pod[/] would run migrate and seed, then {action} at {pod.url}")
        return PodResult(pod.url, "planned", running)

    if running:
        console.print(f"[bold]local pod[/] app or settings changed: stopping pid {running}")
        pod.stop()
    else:
        pod.require_port()
    for step in ("migrate", "seed"):
        _run_job_step(step, env, pod, console)

    started = time.monotonic()
    serving = pod.process.start([sys.executable, "-m", "app", "serve"], env=env, cwd=ROOT)
    pid = serving.pid
    pod.process.wait_until(pod.ready, timeout_s or settings.deploy.rollout_timeout_seconds, serving)
    pod.fingerprint_file.write_text(fingerprint + "\n")
    console.print(
        f"[bold]local pod[/] ready in {time.monotonic() - started:.1f} s "
        f"(GET /gif answered 200): [bold green]{pod.url}[/] (pid {pid}, log {pod.process.log_file})"
    )
    return PodResult(pod.url, "restarted" if running else "started", pid)


def _pod_env(settings: Settings, pod: Pod, database_url: str) -> dict[str, str]:
    """The pod's environment, as the Kubernetes Deployment sets it (CONTRACTS.md)."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("AWS_", "PG", "DB_", "DATABASE_"))  # nothing leaks in
    }
    env.update(
        HOST=pod.host,
        PORT=str(pod.port),
        METRICS_PORT=str(pod.metrics_port),
        DATABASE_URL=database_url,
        DB_SSLMODE=settings.app.db_sslmode,
        LOG_LEVEL=settings.app.log_level,
        PYTHONUNBUFFERED="1",
    )
    return env


def _fingerprint(env: dict[str, str]) -> str:
    """What the running pod was made from: the app's files and its settings."""
    digest = hashlib.sha256()
    for path in sorted((ROOT / "app").rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            digest.update(str(path.relative_to(ROOT)).encode())
            digest.update(path.read_bytes())
    for key in ("HOST", "PORT", "METRICS_PORT", "DATABASE_URL", "DB_SSLMODE", "LOG_LEVEL"):
        digest.update(f"{key}={env[key]}\n".encode())
    return digest.hexdigest()


def _recorded(pod: Pod) -> str | None:
    try:
        return pod.fingerprint_file.read_text().strip()
    except FileNotFoundError:
        return None


def _run_job_step(step: str, env: dict[str, str], pod: Pod, console: Console) -> None:
    started = time.monotonic()
    pod.state_dir.mkdir(parents=True, exist_ok=True)
    log_file = pod.state_dir / f"{step}.log"
    with log_file.open("wb") as log:
        try:
            done = subprocess.run(
                [sys.executable, "-m", "app", step],
                cwd=ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                timeout=JOB_TIMEOUT_S,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise OperationFailed(
                f"local job step `python -m app {step}` did not finish within {JOB_TIMEOUT_S} s; "
                f"see {log_file}"
            ) from None
    if done.returncode != 0:
        tail = "\n".join(log_file.read_text(errors="replace").splitlines()[-15:])
        raise OperationFailed(
            f"local job step `python -m app {step}` failed (exit {done.returncode}); the pod "
            f"was not started. Last lines of {log_file}:\n{tail}"
        )
    console.print(f"[bold]local job[/] {step} done in {time.monotonic() - started:.1f} s")
