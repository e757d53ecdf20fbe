"""infra/core/tool_env.py: a linter's own locked environment, created on first use, recreated when
its lock changes, built once when two processes ask at once, and a failed build is one clear
message. Proved offline with a tiny wheel made on the spot (tests/support/tiny_wheel.py);
test_lint.py and test_kube_checks.py run the real checkov through it."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from infra.core import tool_env
from infra.core.errors import OperationFailed
from infra.core.paths import ROOT
from tests.support import tiny_wheel

NAME = tiny_wheel.NAME


@pytest.fixture
def place(tmp_path):
    """(locks_dir, tools_dir, wheels_dir) of a throwaway project."""
    folders = tuple(tmp_path / name for name in ("locks", "tools", "wheels"))
    for folder in folders:
        folder.mkdir()
    return folders


def lock(place, version: str, *, digest: str | None = None) -> Path:
    locks, _, wheels = place
    text = tiny_wheel.lock_for(tiny_wheel.make(wheels, version), version)
    if digest is not None:
        text = text.split("--hash=sha256:")[0] + f"--hash=sha256:{digest}\n"
    path = locks / f"{NAME}.lock"
    path.write_text(text)
    return path


def command(place) -> Path:
    locks, tools, _ = place
    return tool_env.command(NAME, locks_dir=locks, tools_dir=tools)


def output(executable: Path) -> str:
    return subprocess.run([str(executable)], capture_output=True, text=True).stdout.strip()


def test_first_use_builds_the_environment_and_later_uses_reuse_it(place, capsys):
    lock_file = lock(place, "1.0")

    executable = command(place)

    _, tools, _ = place
    assert executable == tools / NAME / "bin" / NAME
    assert output(executable) == "probe 1.0"  # works after the move from the staging folder
    assert (tools / NAME / tool_env.STAMP).read_text() == tool_env.fingerprint(lock_file)
    assert command(place) == executable
    assert capsys.readouterr().err.count("setting up") == 1
    assert sorted(p.name for p in tools.iterdir()) == [f".{NAME}.lock", NAME]


def test_a_changed_lock_recreates_the_environment(place):
    lock(place, "1.0")
    assert output(command(place)) == "probe 1.0"

    lock(place, "2.0")

    assert output(command(place)) == "probe 2.0"


HOLD_AND_CALL = """
from pathlib import Path
from infra.core import tool_env
print("calling", flush=True)
tool_env.command({name!r}, locks_dir=Path({locks!r}), tools_dir=Path({tools!r}))
"""


def test_two_processes_at_once_build_it_once(place):
    """Both find no environment and wait for the build lock, held here; when it is freed,
    one builds and the other finds the finished environment."""
    locks, tools, _ = place
    lock(place, "1.0")
    script = HOLD_AND_CALL.format(name=NAME, locks=str(locks), tools=str(tools))
    with tool_env._exclusive(tools / f".{NAME}.lock"):
        processes = [
            subprocess.Popen(
                [sys.executable, "-c", textwrap.dedent(script)],
                cwd=ROOT,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(2)
        ]
        for process in processes:
            assert process.stdout.readline().strip() == "calling"
        time.sleep(0.5)  # both are now blocked on the lock
    results = [process.communicate(timeout=120) for process in processes]

    assert [process.returncode for process in processes] == [0, 0], results
    assert sum(stderr.count("setting up") for _, stderr in results) == 1, results
    assert output(tools / NAME / "bin" / NAME) == "probe 1.0"


def test_a_failed_build_is_one_clear_message_and_keeps_the_previous_environment(place):
    lock(place, "1.0")
    previous = command(place)
    lock(place, "2.0", digest="0" * 64)

    with pytest.raises(OperationFailed) as failed:
        command(place)

    message = failed.value.message
    assert message.startswith(f"could not install {NAME} from ")
    assert "uv exit" in message and "\n" not in message and "Traceback" not in message
    _, tools, _ = place
    assert output(previous) == "probe 1.0"
    assert sorted(p.name for p in tools.iterdir()) == [f".{NAME}.lock", NAME]  # no staging


def test_a_missing_lock_says_how_to_write_it(place):
    with pytest.raises(OperationFailed, match=r"has no lock file .*run `invoke lock`"):
        command(place)


def test_a_lock_without_the_command_says_so(place):
    locks, _, _ = place
    lock(place, "1.0")
    (locks / f"{NAME}.lock").rename(locks / "other.lock")

    with pytest.raises(OperationFailed, match=r"installs no `other` command"):
        tool_env.command("other", locks_dir=locks, tools_dir=place[1])


def test_checkov_is_locked_apart_and_the_linters_use_that_environment():
    """checkov pins boto3 exactly: it must not be in the project's lock, only in its own."""
    project = (ROOT / "requirements.lock").read_text()
    assert "\ncheckov==" not in project
    own = (tool_env.LOCKS_DIR / "checkov.lock").read_text()
    assert "\ncheckov==" in own and "--hash=sha256:" in own
    for module in ("commands/lint.py", "kube/checks.py"):
        assert 'tool_env.command("checkov")' in (ROOT / "infra" / module).read_text(), module
