"""infra/commands/program.py: every task in `invoke --list`, given a missing required flag, an
unknown flag and a bad value, answers with one line `error: ...` and exit code 2, never
invoke's parser words, exit 1 or a traceback.

The table runs the program in-process (tasks.py's collection, the same Program class the
`invoke` command is made into); one test runs the real `invoke` command to show it is.
"""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import pytest

import tasks
from infra.commands.program import Program

ROOT = Path(__file__).resolve().parents[3]

# task -> (a required flag left out, else a flag given without its value; an unknown flag;
# a bad value). None where the task has no such thing, with the reason beside it.
CASES: dict[str, tuple[list[str] | None, list[str], list[str] | None]] = {
    "test": (["--args"], ["--arg", "-x"], None),  # --args is handed to pytest as is
    "lock": (["--upgrade"], ["--upgarde", "boto3"], ["--upgrade", "boto3,bad name!"]),
    "run": (["--port"], ["--prot", "9000"], ["--port", "abc"]),
    "synth": (["--env"], ["--evn", "dev"], ["--env", "../params/local"]),
    "lint": (["--env"], ["--envv", "dev"], ["--env", "staging"]),
    "audit": (None, ["--lock", "x"], ["now"]),
    "preflight": ([], ["--evn", "dev"], ["--env", "staging"]),
    "drift": ([], ["--evn", "dev"], ["--env", "staging"]),
    "upgrade": ([], ["--env", "dev", "--kubernets", "1.36"], ["--env", "dev", "--kubernetes", "x"]),
    "deploy": ([], ["--evn", "local"], ["--env", "staging"]),
    "diff": ([], ["--env", "dev", "--onyl", "network"], ["--env", "staging"]),
    "status": ([], ["--nev", "dev"], ["--env", "staging"]),
    "destroy": ([], ["--env", "dev", "--yse"], ["--env", "staging"]),
    "restore": ([], ["--env", "dev", "--snapshto", "x"], ["--env", "staging"]),
    "recover": (
        ["--env", "dev"],
        ["--env", "dev", "--stak", "x"],
        ["--env", "dev", "--stack", "vpc"],
    ),
    "bootstrap": (["--env"], ["--ys"], ["--env", "staging"]),
    "kubeconfig": ([], ["--env", "dev", "--pth", "x"], ["--env", "staging"]),
    "image.build": ([], ["--tga", "v1"], ["--tag", "bad tag!"]),
    "image.push": ([], ["--tag", "v1", "--evn", "dev"], ["--tag", "latest"]),
    "k8s.render": ([], ["--env", "dev", "--ofline"], ["--env", "staging"]),
    "k8s.apply": ([], ["--env", "dev", "--dryrun"], ["--env", "staging"]),
    # No flags at all, or only an on/off one: nothing required; a value where none is taken.
    "local.up": (None, ["--wipe"], ["now"]),
    "local.down": (None, ["--wip"], ["--wipe=yes"]),
    "local.status": (None, ["--all"], ["all"]),
}


def run_invoke(capsys, *argv: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as leaving:
        # tasks.py afresh: invoke pops each task's help texts as it builds a parser, so a
        # collection already parsed once (here or by another test) has none left
        Program(namespace=importlib.reload(tasks).ns).run(["invoke", *argv])
    out, err = capsys.readouterr()
    return leaving.value.code or 0, out, err


def listed_tasks(capsys) -> list[str]:
    code, out, _ = run_invoke(capsys, "--list")
    assert code == 0
    return [
        line.split()[0] for line in out.splitlines() if line.startswith("  ") and line[2] != " "
    ]


def test_the_table_has_every_task_invoke_lists(capsys):
    assert sorted(CASES) == sorted(listed_tasks(capsys))


KINDS = ("missing", "unknown flag", "bad value")
MISTAKES = [
    (name, kind, flags)
    for name in sorted(CASES)
    for kind, flags in zip(KINDS, CASES[name], strict=True)
    if flags is not None  # the reason is beside the task's row
]


@pytest.mark.parametrize(("name", "kind", "flags"), MISTAKES)
def test_each_mistake_is_one_line_and_exit_2(capsys, monkeypatch, name, kind, flags):
    monkeypatch.delenv("AWS_PROFILE", raising=False)

    code, out, err = run_invoke(capsys, name, *flags)

    assert code == 2, out + err
    assert err.startswith("error: ") and err.count("\n") == 1, err
    assert "Traceback" not in out + err and "No idea" not in err and "<Argument" not in err


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (
            ["deploy", "--evn", "local"],
            "error: deploy: unknown flag --evn. Did you mean --env? Its flags: "
            "--allow-replace, --break-lock, --drift-check, --dry-run, --env, --image-tag, "
            "--no-drift-check, --only, --principal-arn, --revert-drift, --wait-for-lock, "
            "--yes.",
        ),
        (
            ["deploy"],
            "error: deploy: missing --env ENV (Environment: the name of a params/<env>.yaml "
            "file (local, dev, prod).)",
        ),
        (
            ["deploy", "--env"],
            "error: deploy: --env needs a value: Environment: the name of a params/<env>.yaml "
            "file (local, dev, prod).",
        ),
        (["run", "--port", "abc"], "error: run: --port must be a whole number (got 'abc')."),
        (["deplyo"], "error: no task 'deplyo'. Did you mean 'deploy'? `invoke --list` lists them."),
        (
            ["--help", "deplyo"],
            "error: no task 'deplyo'. Did you mean 'deploy'? `invoke --list` lists them.",
        ),
        (
            ["--evn", "local"],
            "error: unknown option --evn: a task's flags go after its name (`invoke deploy "
            "--env local`); `invoke --help` lists invoke's own options.",
        ),
        (
            ["status", "--env", "dev", "extra"],
            "error: status: unexpected 'extra': not a task, nor a flag of status; a value goes "
            "after its flag (`invoke --help status`).",
        ),
        (
            ["recover", "--env", "dev"],
            "error: recover: missing --stack STACK (The stuck stack: one of network, database, "
            "cluster, workload, runner, registry, ci.)",
        ),
        (
            ["synth", "--all", "--env", "dev"],
            "error: --env and --all exclude each other: give one of them.",
        ),
        (
            ["synth", "--check", "--all"],
            "error: --all and --check exclude each other: give one of them.",
        ),
        (
            ["lock", "--upgrade", "boto3;rm"],
            "error: --upgrade: 'boto3;rm' is not a package name; give names separated by commas "
            "(e.g. boto3,botocore), or 'all'.",
        ),
    ],
)
def test_what_each_mistake_says(capsys, argv, expected):
    code, _, err = run_invoke(capsys, *argv)

    assert (code, err) == (2, expected + "\n")


def test_the_invoke_command_itself_says_it_the_same_way():
    invoke = Path(sys.executable).parent / "invoke"
    for argv, expected in [
        (["deploy", "--evn", "local"], "error: deploy: unknown flag --evn. Did you mean --env?"),
        (["run", "--port", "abc"], "error: run: --port must be a whole number (got 'abc')."),
    ]:
        done = subprocess.run(
            [str(invoke), *argv], cwd=ROOT, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 2, done.stderr
        assert done.stderr.startswith(expected) and done.stderr.count("\n") == 1
        assert done.stdout == ""


def test_a_flag_given_properly_still_works(capsys):
    code, out, _ = run_invoke(capsys, "--help", "deploy")

    assert code == 0
    assert "--env=STRING" in out and "--image-tag=STRING" in out
