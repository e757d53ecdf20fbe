"""Linters whose pins clash with the project's lock run from an environment of their own.

checkov pins boto3 exactly (3.3.30 wants boto3==1.35.49); in the shared lock that pin held
the whole project, the GIF service's image included, at a 2024 SDK. So it is locked apart:
`infra/linters/<tool>.in` lists it, `infra/linters/<tool>.lock` pins it with hashes
(`invoke lock` writes both locks), and `command(tool)` installs that lock into
`.local/tools/<tool>/` on first use and returns the tool's executable there.

The environment is recreated when the lock changes (its hash, and the Python it was made
for, are stored in it). Building is safe from several processes at once (pytest in one,
`invoke lint` in another): one builds under a file lock, in a staging folder next to the
target, then swaps it in with a rename; the others wait and reuse it. The build uses uv
(from requirements.lock) with --require-hashes; a failure is one OperationFailed naming
the lock and uv's last words.
"""

from __future__ import annotations

import fcntl
import hashlib
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from infra.core.errors import OperationFailed
from infra.core.paths import LOCAL_DIR, ROOT

LOCKS_DIR = ROOT / "infra" / "linters"
TOOLS_DIR = LOCAL_DIR / "tools"
STAMP = "gifstack-lock.sha256"  # inside the environment: what it was built from
BUILD_TIMEOUT_S = 900


def command(name: str, *, locks_dir: Path = LOCKS_DIR, tools_dir: Path = TOOLS_DIR) -> Path:
    """The executable `name` from its own locked environment, created or refreshed first."""
    lock = locks_dir / f"{name}.lock"
    if not lock.is_file():
        raise OperationFailed(
            f"{name} has no lock file ({_shown(lock)}); run `invoke lock` to write it from "
            f"{_shown(lock.with_suffix('.in'))}."
        )
    target = tools_dir / name
    wanted = fingerprint(lock)
    if not _built_from(target, wanted):
        try:
            tools_dir.mkdir(parents=True, exist_ok=True)
            with _exclusive(tools_dir / f".{name}.lock"):
                if not _built_from(target, wanted):  # another process may have built it
                    _build(name, lock, target, wanted)
        except OSError as exc:
            raise OperationFailed(
                f"could not set up {name}'s environment in {_shown(target)}: {exc}"
            ) from None
    executable = target / "bin" / name
    if not executable.is_file():
        raise OperationFailed(
            f"{_shown(lock)} installs no `{name}` command (bin/{name} is missing in "
            f"{_shown(target)}); is {name} listed in {_shown(lock.with_suffix('.in'))}?"
        )
    return executable


def fingerprint(lock: Path) -> str:
    """What an environment built from `lock` by this Python records in its stamp."""
    digest = hashlib.sha256(lock.read_bytes()).hexdigest()
    return f"{digest} {sys.implementation.cache_tag}\n"


def _built_from(target: Path, wanted: str) -> bool:
    try:
        return (target / STAMP).read_text() == wanted
    except OSError:
        return False


@contextmanager
def _exclusive(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on `path` (blocks while another process holds it)."""
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _build(name: str, lock: Path, target: Path, wanted: str) -> None:
    """Install `lock` into a fresh environment and swap it in for `target` (under the lock)."""
    for leftover in target.parent.glob(f".{name}-build-*"):  # from a build that was killed
        shutil.rmtree(leftover, ignore_errors=True)
    print(
        f"setting up {name} in {_shown(target)} from {_shown(lock)} (first use, or the lock "
        "changed)...",
        file=sys.stderr,
        flush=True,
    )
    staging = Path(tempfile.mkdtemp(prefix=f".{name}-build-", dir=target.parent))
    try:
        fresh = staging / name
        uv = [sys.executable, "-m", "uv"]
        # Relocatable: the entry-point scripts find their Python relative to themselves, so
        # the environment still works once renamed from the staging folder to `target`.
        _run(name, lock, [*uv, "venv", "--quiet", "--relocatable", "--python", sys.executable,
                          str(fresh)])  # fmt: skip
        _run(name, lock, [*uv, "pip", "install", "--quiet", "--require-hashes", "--python",
                          str(fresh / "bin" / "python"), "-r", str(lock)])  # fmt: skip
        (fresh / STAMP).write_text(wanted)
        if target.exists():
            target.rename(staging / "previous")  # removed with the staging folder
        fresh.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _run(name: str, lock: Path, args: list[str]) -> None:
    try:
        result = subprocess.run(
            args, capture_output=True, text=True, timeout=BUILD_TIMEOUT_S, check=False
        )
    except subprocess.TimeoutExpired:
        raise OperationFailed(
            f"could not install {name} from {_shown(lock)}: uv took over {BUILD_TIMEOUT_S} s"
        ) from None
    if result.returncode != 0:
        said = " ".join((result.stderr or result.stdout).split()).removeprefix("error: ")
        said = said[-600:] or "no output"
        raise OperationFailed(
            f"could not install {name} from {_shown(lock)} (uv exit {result.returncode}): {said}"
        )


def _shown(path: Path) -> str:
    """A path relative to the repository when it is inside it."""
    try:
        return str(path.relative_to(ROOT))
    except ValueError:
        return str(path)
