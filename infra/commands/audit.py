"""`invoke audit`: known vulnerabilities in the project's lock files, by pip-audit.

pip-audit runs from its own locked environment (infra/linters/pip-audit.lock, built by
infra/core/tool_env.py) and reads each lock as the exact, hashed list it is: `--disable-pip`
resolves nothing (every pin and hash is already there), `--strict` fails when a package can't
be audited rather than skipping it. The advisories come from PyPI's vulnerability data
(the Python Packaging Advisory Database, via the PyPI JSON API), so the audit needs the
network: on a machine without it pip-audit fails (exit 1), it does not pass. CI's `audit` job
runs it on every change (.github/workflows/ci.yml).
"""

from __future__ import annotations

import subprocess

from infra.core import tool_env
from infra.core.errors import OperationFailed
from infra.core.paths import ROOT

# The project's environment (tasks, tests, linters' own pins aside) and the image's runtime.
AUDITED_LOCKS = ("requirements.lock", "app/requirements.lock")
TIMEOUT_S = 600


def arguments(locks: tuple[str, ...] = AUDITED_LOCKS) -> list[str]:
    """pip-audit's command line after the executable."""
    args = ["--strict", "--disable-pip", "--require-hashes", "--progress-spinner", "off"]
    for lock in locks:
        args += ["--requirement", lock]
    return args


def run(locks: tuple[str, ...] = AUDITED_LOCKS) -> None:
    executable = tool_env.command("pip-audit")
    try:
        done = subprocess.run(
            [str(executable), *arguments(locks)], cwd=ROOT, timeout=TIMEOUT_S, check=False
        )
    except subprocess.TimeoutExpired:
        raise OperationFailed(f"pip-audit did not finish within {TIMEOUT_S} s") from None
    if done.returncode != 0:
        raise OperationFailed(
            f"pip-audit: known vulnerabilities in {', '.join(locks)}, or a package it could not "
            "audit (it needs the network to read the advisories); see its report above"
        )
