"""A throwaway copy of this work tree for running `invoke local.up deploy --env local` as a
user would, without touching the real `.local/` or the fixed ports of params/local.yaml.

Used by the end-to-end test and bench/noop_deploy.py. The copy has every file git would
see (tracked and untracked, not ignored); its params/local.yaml gets free ports for the
AWS emulator and the app, and its `.local/` is its own. Commands run through this venv's
`invoke`, with no AWS credentials in the environment (a fresh machine has none).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Run:
    args: tuple[str, ...]
    returncode: int
    output: str  # stdout and stderr, interleaved as the user sees them
    wall_s: float


class Sandbox:
    def __init__(self, directory: Path):
        # As root, the embedded PostgreSQL runs as user postgres, which must be able to
        # reach its data directory under here (pytest's and mkdtemp's folders are 0700).
        directory.chmod(directory.stat().st_mode | 0o011)
        self.root = directory / "gifstack"
        self.aws_port = free_port()
        self.app_port = free_port()
        self.metrics_port = free_port()
        self._copy_work_tree()
        self._point_params_at_free_ports()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.aws_port}"

    @property
    def app_url(self) -> str:
        return f"http://127.0.0.1:{self.app_port}"

    def invoke(self, *args: str, timeout: float = 120) -> Run:
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("AWS_", "GITHUB_", "PG", "DATABASE_"))
        }
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        env["COLUMNS"] = "120"  # rich: wide enough tables in captured output
        started = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "invoke", *args],
            cwd=self.root,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=timeout,
            check=False,
        )
        return Run(args, done.returncode, done.stdout, time.perf_counter() - started)

    def close(self) -> None:
        """Stop whatever the sandbox started (by pids), then delete it."""
        self.invoke("local.down", timeout=60)
        shutil.rmtree(self.root, ignore_errors=True)

    def _copy_work_tree(self) -> None:
        listed = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=ROOT,
            capture_output=True,
            check=True,
        ).stdout.decode()
        for relative in filter(None, listed.split("\0")):
            source = ROOT / relative
            if not source.is_file():
                continue  # deleted in the work tree but still in the index
            target = self.root / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
        # The tag that `git rev-parse HEAD` gives: a git repository of its own.
        subprocess.run(["git", "init", "-q"], cwd=self.root, check=True)

    def _point_params_at_free_ports(self) -> None:
        path = self.root / "params" / "local.yaml"
        data = yaml.safe_load(path.read_text()) or {}
        data["aws_endpoint_url"] = self.endpoint
        data.setdefault("app", {})["port"] = self.app_port
        data["app"]["metrics_port"] = self.metrics_port
        path.write_text(yaml.safe_dump(data, sort_keys=False))
