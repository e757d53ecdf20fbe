"""The image (Dockerfile, .dockerignore), proved without a Docker engine: hadolint, every
locked runtime dependency as a musllinux wheel for both architectures, and the service
running as an unprivileged uid from a read-only copy of its code."""

from __future__ import annotations

import ast
import importlib.metadata
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

import pytest
import yaml
from packaging.utils import canonicalize_name, parse_wheel_filename

from tests.support.app_service import Service, app_env, prepare

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = ROOT / "Dockerfile"
LOCK = ROOT / "app" / "requirements.lock"
HADOLINT = Path(sys.executable).parent / "hadolint"
PIP_CACHE = Path(tempfile.gettempdir()) / "gifstack-pip-cache"  # reused between runs
APP_UID = 10001


def _instructions() -> list[tuple[str, str]]:
    text = re.sub(r"\\\n\s*", " ", DOCKERFILE.read_text())
    return [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1] if " " in line else "")
        for line in (raw.strip() for raw in text.splitlines())
        if line and not line.startswith("#")
    ]


def test_hadolint_reports_nothing():
    result = subprocess.run(
        [str(HADOLINT), "--format", "json", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert json.loads(result.stdout or "[]") == [], result.stdout + result.stderr
    assert result.returncode == 0


def test_hadolint_would_catch_a_careless_dockerfile(tmp_path):
    careless = tmp_path / "Dockerfile"
    careless.write_text("FROM python:latest\nRUN pip install flask\nCMD python app.py\n")
    result = subprocess.run(
        [str(HADOLINT), "--format", "json", str(careless)], capture_output=True, text=True
    )
    codes = {finding["code"] for finding in json.loads(result.stdout)}
    assert {"DL3007", "DL3013", "DL3025"} <= codes


def test_multi_stage_pinned_non_root_exec_form():
    instructions = _instructions()
    args = dict(
        value.split("=", 1) for keyword, value in instructions if keyword == "ARG" and "=" in value
    )
    froms = [value for keyword, value in instructions if keyword == "FROM"]
    assert len(froms) >= 2, "multi-stage"
    base = args["PYTHON_IMAGE"]
    assert re.fullmatch(r"python:3\.\d+-alpine@sha256:[0-9a-f]{64}", base)
    assert froms[-1] == "${PYTHON_IMAGE}"
    final = instructions[
        max(i for i, (keyword, _) in enumerate(instructions) if keyword == "FROM") :
    ]
    keywords = dict(final)
    assert keywords["USER"] == f"{APP_UID}:{APP_UID}"
    assert keywords["EXPOSE"] == "8080"
    assert "ENTRYPOINT" not in keywords
    assert json.loads(keywords["CMD"]) == ["python", "-m", "app", "serve"]  # exec form
    env = " ".join(value for keyword, value in final if keyword == "ENV")
    assert "PYTHONDONTWRITEBYTECODE=1" in env and "PORT=8080" in env and "HOST=0.0.0.0" in env
    assert "RUN" not in keywords, "the final stage installs nothing (no compiler, no apk)"
    install = next(
        value
        for keyword, value in instructions
        if "requirements.lock" in value and keyword == "RUN"
    )
    assert "--only-binary=:all:" in install and "--require-hashes" in install


def test_every_container_of_the_image_in_k8s_runs_an_app_command():
    """What Kubernetes runs is the image's CMD replaced by `args` (or `command` + `args`)."""
    final = dict(
        _instructions()[max(i for i, (k, _) in enumerate(_instructions()) if k == "FROM") :]
    )
    entrypoint = json.loads(final.get("ENTRYPOINT", "[]"))
    cmd = json.loads(final["CMD"])
    seen = []
    for path in sorted((ROOT / "k8s").glob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text()):
            for container in _containers(document or {}):
                if "gif-service" not in container.get("image", ""):
                    continue
                if "command" in container:
                    argv = container["command"] + container.get("args", [])
                else:
                    argv = entrypoint + container.get("args", cmd)
                seen.append(argv)
                assert argv[:3] == ["python", "-m", "app"], (path.name, argv)
                assert argv[3] in ("serve", "migrate", "seed"), (path.name, argv)
    assert seen, "k8s/ runs the image somewhere"


def _containers(node):
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("containers", "initContainers") and isinstance(value, list):
                yield from value
            else:
                yield from _containers(value)
    elif isinstance(node, list):
        for item in node:
            yield from _containers(item)


def _docker_ignored(path: str, rules: list[str]) -> bool:
    """.dockerignore semantics for the rule shapes we use: the last matching rule wins; a
    rule matches a path or any directory above it; `*` stays within one path segment."""
    ignored = False
    parts = path.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    for rule in rules:
        negate = rule.startswith("!")
        pattern = rule.lstrip("!").rstrip("/")
        regex = re.escape(pattern).replace(r"\*\*/", "(.*/)?").replace(r"\*", "[^/]*")
        if any(re.fullmatch(regex, prefix) for prefix in prefixes):
            ignored = not negate
    return ignored


def test_dockerignore_lets_only_the_service_in():
    rules = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    sent = {path for path in tracked if not _docker_ignored(path, rules)}
    assert all(path.startswith("app/") for path in sent), sorted(sent)
    assert "app/requirements.lock" in sent and "app/certs/rds-global-bundle.pem" in sent
    assert any(path.startswith("app/migrations/") for path in sent)
    assert len([path for path in sent if path.endswith(".gif")]) >= 12
    assert "app/gifs/generate.py" not in sent  # development tool (needs Pillow)
    for junk in (".git/config", "app/__pycache__/web.cpython-311.pyc", ".venv/bin/python"):
        assert _docker_ignored(junk, rules), junk


def _locked_names() -> set[str]:
    return {
        canonicalize_name(match[1])
        for match in re.finditer(r"^([A-Za-z0-9_.-]+)==", LOCK.read_text(), re.M)
    }


ARCHES = ("x86_64", "aarch64")


@pytest.fixture(scope="module")
def downloads(tmp_path_factory) -> dict[str, tuple[subprocess.CompletedProcess, Path]]:
    """`pip download` of the lock for each architecture, both at once (network-bound)."""
    runs = {}
    for arch in ARCHES:
        target = tmp_path_factory.mktemp(f"wheels-{arch}")
        command = [
            sys.executable, "-m", "pip", "download", "--quiet",
            "--only-binary=:all:", "--no-deps", "--require-hashes",
            "--platform", f"musllinux_1_2_{arch}",
            "--python-version", "3.11", "--implementation", "cp",
            "--cache-dir", str(PIP_CACHE), "-d", str(target), "-r", str(LOCK),
        ]  # fmt: skip
        runs[arch] = (
            subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True),
            target,
        )
    results = {}
    for arch, (process, target) in runs.items():
        stdout, stderr = process.communicate(timeout=600)
        results[arch] = (
            subprocess.CompletedProcess([], process.returncode, stdout, stderr),
            target,
        )
    return results


@pytest.mark.parametrize("arch", ARCHES)
def test_every_locked_dependency_is_a_musllinux_wheel(arch, downloads):
    result, target = downloads[arch]
    assert result.returncode == 0, result.stderr[-3000:]
    wheels = {}
    for path in target.glob("*.whl"):
        name, _, _, tags = parse_wheel_filename(path.name)
        wheels[name] = {tag.platform for tag in tags}
    assert set(wheels) == _locked_names()
    for name, platforms in wheels.items():
        assert platforms == {"any"} or all(
            re.fullmatch(rf"musllinux_1_[0-2]_{arch}", p) for p in platforms
        ), (name, platforms)
    assert any(p != {"any"} for p in wheels.values()), "compiled ones are among them"


def test_the_service_imports_only_the_stdlib_and_its_runtime_dependencies():
    """The image holds app/ and the runtime lock: no infra/, no dev tools."""
    runtime = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    runtime_names = {canonicalize_name(re.split(r"[<>=!~\[ ;]", dep)[0]) for dep in runtime}
    provided_by = importlib.metadata.packages_distributions()
    imported = set()
    for path in (ROOT / "app").rglob("*.py"):
        if path.name == "generate.py":  # draws the GIFs at development time (Pillow)
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                imported |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                imported.add(node.module.split(".")[0])
    third_party = imported - set(sys.stdlib_module_names) - {"app", "__future__"}
    assert third_party, "the service uses its dependencies"
    for module in third_party:
        distributions = {canonicalize_name(d) for d in provided_by.get(module, [])}
        # botocore comes with boto3 (and is in the runtime lock through it).
        allowed = runtime_names | ({"botocore"} if "boto3" in runtime_names else set())
        assert distributions & allowed, f"app imports {module}, not a runtime dependency"


def _read_only_copy_of_the_app() -> Path:
    root = Path(tempfile.mkdtemp(prefix="gifstack-ro-"))
    shutil.copytree(
        ROOT / "app",
        root / "app",
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "generate.py"),
    )
    for path in [root, *root.rglob("*")]:
        mode = 0o555 if path.is_dir() else 0o444
        path.chmod(mode)
    return root


def _snapshot(root: Path) -> set[str]:
    return {str(path.relative_to(root)) for path in root.rglob("*")}


def test_serves_as_an_unprivileged_user_from_a_read_only_code_directory(database_url):
    """As root: uid 10001 like the image (setpriv). As anyone else: ourselves, already
    unprivileged. Either way the code directory is read-only and nothing is written."""
    prepare(database_url)
    code = _read_only_copy_of_the_app()
    before = _snapshot(code)
    as_root = os.geteuid() == 0
    uid = APP_UID if as_root else os.geteuid()
    drop = ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups"] if as_root else []
    try:
        env = app_env(DATABASE_URL=database_url, PYTHONDONTWRITEBYTECODE="1", HOME="/tmp")
        with Service(env, cwd=code, user=(uid, uid) if as_root else None) as service:
            status = Path(f"/proc/{service.process.pid}/status").read_text()
            assert re.search(rf"^Uid:\s+{uid}\s", status, re.M) and uid != 0
            assert (code / "app").stat().st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH) == 0
            gif = service.get("/gif")
            assert gif.status_code == 200
            assert service.get(gif.json()["url"]).content[:6] == b"GIF89a"
            assert service.get("/").status_code == 200
        which = subprocess.run(
            [*drop, sys.executable, "-c", "import app; print(app.__file__)"],
            cwd=code, env=env, capture_output=True, text=True, check=True,
        )  # fmt: skip
        assert which.stdout.strip() == str(code / "app" / "__init__.py"), "the copy runs"
        assert service.stop() == 0
        assert _snapshot(code) == before, "nothing was written next to the code"
    finally:
        for path in [code, *code.rglob("*")]:
            if path.is_dir():
                path.chmod(0o755)
        shutil.rmtree(code, ignore_errors=True)
