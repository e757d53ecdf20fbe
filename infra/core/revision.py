"""The commit being deployed, recorded where it changes no AWS resource: the plan, the deploy
summary and the Deployment's annotation (infra/kube/render.py). Never a stack tag: a tag that
changes with every commit gave every stack a change set that re-tagged all its resources."""

from __future__ import annotations

import functools
import os
import subprocess

from infra.core.paths import ROOT


@functools.cache
def git_commit() -> str:
    """GITHUB_SHA in CI, else the work tree's HEAD; 12 hex digits, or "unknown"."""
    sha = os.environ.get("GITHUB_SHA")
    if not sha:
        try:
            sha = subprocess.run(
                ["git", "rev-parse", "HEAD"],
                cwd=ROOT,
                capture_output=True,
                text=True,
                check=True,
                timeout=10,
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            sha = ""
    return sha[:12] or "unknown"
