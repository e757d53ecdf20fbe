"""Run the GIF service the way production does: `python -m app ...` as a subprocess.

`Service` starts `python -m app serve --port 0 --metrics-port 0`, learns the real ports
from its "listening" log line, keeps every log line for assertions, and stops it with SIGTERM.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import asyncpg
import httpx

from app.migrate import migrate
from app.seed import seed

ROOT = Path(__file__).resolve().parents[2]


def app_env(**extra: str) -> dict[str, str]:
    """A clean environment: nothing from the caller's AWS or PG settings leaks in."""
    env = {key: os.environ[key] for key in ("PATH", "LANG", "TZ") if key in os.environ}
    env["HOME"] = "/tmp"
    env.update(extra)
    return env


def run_app(*args: str, env: dict[str, str], cwd: Path = ROOT, timeout: float = 60):
    return subprocess.run(
        [sys.executable, "-m", "app", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def json_lines(text: str) -> list[dict]:
    """Every line of `text` parsed as JSON (fails the test on a line that isn't)."""
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def prepare(url: str, *, seeded: bool = True) -> None:
    """Migrate (and seed) the database at `url` in-process: quicker than two subprocesses."""

    async def run() -> None:
        connection = await asyncpg.connect(url)
        try:
            await migrate(connection)
            if seeded:
                await seed(connection)
        finally:
            await connection.close()

    asyncio.run(run())


class Service:
    def __init__(
        self,
        env: dict[str, str],
        *,
        argv: list[str] | None = None,
        cwd: Path = ROOT,
        user: tuple[int, int] | None = None,
    ):
        serve = ["serve", "--port", "0", "--metrics-port", "0"]
        command = argv or [sys.executable, "-m", "app", *serve]
        if user is not None:
            uid, gid = user
            command = ["setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups", *command]
        self.lines: list[str] = []
        self.process = subprocess.Popen(
            command,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self._listening = threading.Event()
        self.url = ""
        self.metrics_url = ""  # http://HOST:PORT/metrics
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        if not self._listening.wait(20):
            self.stop()
            raise AssertionError("the service did not start:\n" + self.output())
        self.client = httpx.Client(base_url=self.url, timeout=10)

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)
            if not self.url and '"msg":"listening"' in line:
                listening = json.loads(line)
                self.url, self.metrics_url = listening["url"], listening.get("metrics_url", "")
                self._listening.set()

    def get(self, path: str, **kwargs) -> httpx.Response:
        return self.client.get(path, **kwargs)

    def metrics(self) -> str:
        """GET /metrics from the metrics port."""
        response = httpx.get(self.metrics_url, timeout=10)
        response.raise_for_status()
        return response.text

    def wait_until(self, check, timeout_s: float = 10) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if check():
                return
            time.sleep(0.05)
        raise AssertionError(f"condition not met within {timeout_s} s\n{self.output()}")

    def output(self) -> str:
        return "".join(self.lines)

    def logs(self) -> list[dict]:
        return json_lines(self.output())

    def stop(self, timeout_s: float = 25) -> int:
        """SIGTERM, wait, and return the exit code."""
        if getattr(self, "client", None) is not None:
            self.client.close()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            code = self.process.wait()
        self._reader.join(5)
        return code

    def __enter__(self) -> Service:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
