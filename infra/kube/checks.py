"""Checks of the rendered manifests: kubernetes-validate --strict against the cluster's
Kubernetes version (in-process, fast) and checkov's Kubernetes checks (one run over every
environment). A checkov skip counts only with a reason (`checkov.io/skipN: ID=reason`)."""

from __future__ import annotations

import json
import subprocess
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import kubernetes_validate.utils as kv
import yaml

from infra.core import tool_env
from infra.core.errors import BadInput
from infra.kube import render as kube_render
from infra.settings import params


def validate_docs(docs: list[dict[str, Any]], kubernetes_version: str) -> list[str]:
    """Problems of each object against the version's strict schema (unknown fields fail)."""
    problems = []
    for doc in docs:
        where = f"{doc.get('kind')}/{doc.get('metadata', {}).get('name')}"
        try:
            kv.validate(doc, kubernetes_version, strict=True)
        except kv.ValidationError as exc:
            path = ".".join(str(part) for part in exc.path)
            problems.append(f"{where}: {path}: {exc.message}")
        except kv.SchemaNotFoundError:
            problems.append(f"{where}: {doc.get('apiVersion')} is not a known API version")
        except kv.VersionNotSupportedError:
            raise BadInput(
                f"kubernetes-validate has no schemas for Kubernetes {kubernetes_version}; "
                "upgrade it (pip install -U kubernetes-validate) or pick a supported "
                "cluster.kubernetes_version."
            ) from None
    return problems


def validate_files(paths: list[Path], kubernetes_version: str) -> list[str]:
    problems = []
    for path in paths:
        for doc in yaml.safe_load_all(path.read_text()):
            if doc:
                problems += [f"{path.name}: {p}" for p in validate_docs([doc], kubernetes_version)]
    return problems


def render_offline(out_root: Path, envs: Iterable[str] = ()) -> dict[str, list[Path]]:
    """Environments (default all) rendered with placeholder outputs into out_root/<env>/k8s/."""
    rendered = {}
    for env in envs or params.environments():
        settings = params.load(env)
        docs = kube_render.render(
            settings,
            kube_render.offline_outputs(settings),
            settings.app.image_tag or kube_render.OFFLINE_TAG,
        )
        rendered[env] = kube_render.write(docs, out_root / env / "k8s")
    return rendered


def checkov(directory: Path) -> tuple[list[str], int]:
    """(problems, checks passed) from checkov --framework kubernetes over a directory
    (checkov from its own locked environment, infra/core/tool_env.py)."""
    command = [
        str(tool_env.command("checkov")),
        "--directory",
        str(directory),
        "--framework",
        "kubernetes",
        "--output",
        "json",
        "--compact",
        "--skip-download",  # offline: no guideline download from the vendor's API
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
    try:
        report = json.loads(result.stdout)
    except ValueError:
        raise BadInput(f"checkov produced no report: {result.stderr.strip()[-500:]}") from None
    reports = report if isinstance(report, list) else [report]
    problems: list[str] = []
    passed = 0
    for part in reports:
        if not isinstance(part, dict) or "results" not in part:
            continue  # "no resources found" summary
        passed += part.get("summary", {}).get("passed", 0)
        for check in part["results"].get("failed_checks", []):
            problems.append(
                f"{check['file_path']}: {check['check_id']} {check['check_name']} "
                f"({check['resource']})"
            )
        for check in part["results"].get("skipped_checks", []):
            reason = (check.get("check_result") or {}).get("suppress_comment", "")
            if not reason or reason == "No comment provided":
                problems.append(
                    f"{check['file_path']}: {check['check_id']} skipped without a reason"
                )
    if passed == 0 and not problems:
        problems.append(f"checkov found no Kubernetes objects in {directory}")
    return problems, passed


# `invoke lint` checks (registered in infra/commands/lint.py's CHECKS). Each renders the selected
# environments offline into its own folder: no AWS account needed.


def lint_validate(targets: Any) -> list[str]:
    """kubernetes-validate --strict of every rendered manifest, per environment's version."""
    with tempfile.TemporaryDirectory(prefix="gifstack-k8s-") as folder:
        rendered = render_offline(Path(folder), getattr(targets, "envs", ()))
        problems = []
        for env, paths in rendered.items():
            version = params.load(env).cluster.kubernetes_version
            problems += [f"{env}: {p}" for p in validate_files(paths, version)]
        return problems


def lint_checkov(targets: Any) -> list[str]:
    """checkov --framework kubernetes over every rendered environment, in one run."""
    with tempfile.TemporaryDirectory(prefix="gifstack-k8s-") as folder:
        render_offline(Path(folder), getattr(targets, "envs", ()))
        problems, _ = checkov(Path(folder))
        return [problem.replace(f"{folder}/", "") for problem in problems]
