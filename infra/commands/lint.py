"""`invoke lint`: the static checks, as a list anyone can extend.

Each `Check` gets the same `LintTargets` (freshly rendered templates in one folder, the
Dockerfile, the repository root) and returns its findings; no findings = clean. To add a check
(e.g. Kubernetes manifests), write `def _my_check(targets) -> list[str]` and append
`Check("name", "what it checks", _my_check)` to CHECKS. Slow tools run once over a folder.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from infra.core import tool_env
from infra.core.errors import OperationFailed
from infra.core.paths import ROOT
from infra.kube.checks import lint_checkov as k8s_checkov
from infra.kube.checks import lint_validate as k8s_validate
from infra.settings import params
from infra.stacks import synth

CFRIPPER_FILTERS = ROOT / "infra" / "cfripper_filters"


@dataclass(frozen=True)
class LintTargets:
    """What the checks look at."""

    root: Path
    template_dir: Path  # <env>/<stack>.yaml and shared/<stack>.yaml
    regions: tuple[str, ...]
    envs: tuple[str, ...] = ()

    @property
    def templates(self) -> list[Path]:
        return sorted(self.template_dir.glob("*/*.yaml"))

    @property
    def dockerfile(self) -> Path:
        return self.root / "Dockerfile"


@dataclass(frozen=True)
class Check:
    name: str
    what: str
    run: Callable[[LintTargets], list[str]]


@dataclass
class CheckResult:
    name: str
    findings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.findings


def tool(name: str) -> str:
    """A linter's executable: next to this Python (the venv) or on PATH; else a clear error."""
    local = Path(sys.executable).parent / name
    found = str(local) if local.is_file() else shutil.which(name)
    if not found:
        raise OperationFailed(
            f"{name} is not installed; install the dev dependencies "
            "(`.venv/bin/pip install -r requirements.lock`)."
        )
    return found


def _run(args: list[str], **kwargs) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, check=False, **kwargs)


def _cfn_lint(targets: LintTargets) -> list[str]:
    """AWS's resource schemas: errors, warnings and informational findings, all of them."""
    files = [str(p) for p in targets.templates]
    args = [tool("cfn-lint"), "--include-checks", "I", "--format", "parseable"]
    args += ["--regions", *targets.regions, "--", *files]
    result = _run(args)
    findings = [line for line in result.stdout.splitlines() if line.strip()]
    if result.returncode and not findings:
        findings = [f"cfn-lint failed (exit {result.returncode}): {result.stderr.strip()}"]
    return [_relative(line, targets) for line in findings]


def _checkov(targets: LintTargets) -> list[str]:
    """Security checks, offline; skips only through a resource's Metadata, with a reason.
    checkov runs from its own locked environment (infra/core/tool_env.py)."""
    args = [str(tool_env.command("checkov")), "--framework", "cloudformation"]
    args += ["--skip-download", "--output", "json", "--directory", str(targets.template_dir)]
    env = {**os.environ, "BC_SKIP_MAPPING": "TRUE", "CHECKOV_RUN_SCA_PACKAGE_SCAN_V2": "false"}
    result = _run(args, env=env)
    start = min(
        (i for i in (result.stdout.find("{"), result.stdout.find("[")) if i >= 0), default=-1
    )
    try:
        report = json.loads(result.stdout[start:]) if start >= 0 else None
    except json.JSONDecodeError:
        report = None
    if report is None:
        return [
            f"checkov gave no report (exit {result.returncode}): {result.stderr.strip()[-500:]}"
        ]
    reports = report if isinstance(report, list) else [report]
    findings = []
    for each in reports:
        for failed in each.get("results", {}).get("failed_checks", []):
            findings.append(
                f"{failed['file_path'].lstrip('/')}: {failed['check_id']} {failed['check_name']} "
                f"({failed['resource']})"
            )
    return findings


def _cfripper(targets: LintTargets) -> list[str]:
    """Skyscanner's CloudFormation security rules (exceptions in infra/cfripper_filters/)."""
    templates = targets.templates
    args = [tool("cfripper"), "--format", "txt", "--logging", "ERROR"]
    args += ["--rules-filters-folder", str(CFRIPPER_FILTERS), *map(str, templates)]
    result = _run(args)
    # The text report has one "Valid: ..." block per template, in the order given, unnamed.
    blocks = [block for block in result.stdout.split("Valid: ")[1:]]
    if len(blocks) != len(templates):
        return [f"cfripper failed (exit {result.returncode}): {result.stderr.strip()[-500:]}"]
    findings = []
    for path, block in zip(templates, blocks, strict=True):
        name = _relative(str(path), targets)
        findings += [
            f"{name}: {line.strip()[2:]}" for line in block.splitlines() if line.startswith("\t- ")
        ]
    return findings


def _hadolint(targets: LintTargets) -> list[str]:
    """The image's Dockerfile (best practices, pinned versions, non-root)."""
    if not targets.dockerfile.is_file():
        return ["Dockerfile: missing (the GIF service image is built from it)"]
    result = _run([tool("hadolint"), str(targets.dockerfile)], cwd=targets.root)
    findings = [line for line in result.stdout.splitlines() if line.strip()]
    if result.returncode and not findings:
        findings = [f"hadolint failed (exit {result.returncode}): {result.stderr.strip()}"]
    return [_relative(line, targets) for line in findings]


def _zizmor(targets: LintTargets) -> list[str]:
    """GitHub Actions workflows: template injection, excessive permissions, unpinned actions,
    cache poisoning of what a workflow publishes... (zizmor, offline: no GitHub API calls)."""
    workflows = targets.root / ".github" / "workflows"
    if not workflows.is_dir():
        return []
    args = [tool("zizmor"), "--offline", "--format", "json", str(workflows)]
    result = _run(args, cwd=targets.root)
    try:
        report = json.loads(result.stdout)
    except json.JSONDecodeError:
        return [f"zizmor failed (exit {result.returncode}): {result.stderr.strip()[-500:]}"]
    findings = []
    for finding in report:
        if finding.get("ignored"):
            continue
        places = [loc for loc in finding["locations"] if loc["symbolic"]["kind"] == "Primary"]
        place = (places or finding["locations"])[0]
        path = place["symbolic"]["key"]["Local"]["verbatim_path"]
        row = place["concrete"]["location"]["start_point"]["row"] + 1
        severity = finding["determinations"]["severity"].lower()
        findings.append(f"{path}:{row}: {finding['ident']} ({severity}) {finding['desc']}")
    return [_relative(line, targets) for line in findings]


def _relative(line: str, targets: LintTargets) -> str:
    return line.replace(f"{targets.template_dir}/", "templates/").replace(f"{targets.root}/", "")


CHECKS: list[Check] = [
    Check("cfn-lint", "templates against AWS resource schemas (E, W and I)", _cfn_lint),
    Check("checkov", "template security (cloudformation framework, offline)", _checkov),
    Check("cfripper", "template security (IAM, KMS, security groups)", _cfripper),
    Check("hadolint", "Dockerfile", _hadolint),
    Check("zizmor", "GitHub Actions workflows (.github/workflows, offline)", _zizmor),
    Check("k8s-validate", "manifests (offline render), kubernetes-validate --strict", k8s_validate),
    Check("k8s-checkov", "manifests (offline render), checkov kubernetes framework", k8s_checkov),
]


def render_targets(envs: Iterable[str], folder: Path) -> LintTargets:
    """Render these environments' templates (and the shared ones) into `folder`, laid out
    like templates/, so the checks lint exactly what the code produces."""
    envs = tuple(envs)
    for path, text in synth.expected(envs).items():
        target = folder / path.parent.name / path.name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    regions = {params.load(env).region for env in (*envs, synth.SHARED_SETTINGS_ENV)}
    return LintTargets(root=ROOT, template_dir=folder, regions=tuple(sorted(regions)), envs=envs)


def run(
    envs: Iterable[str],
    checks: Iterable[Check] = CHECKS,
    on_result: Callable[[Check, CheckResult], None] | None = None,
) -> list[CheckResult]:
    """Run each check once over the rendered templates of `envs`."""
    results = []
    with tempfile.TemporaryDirectory(prefix="gifstack-lint-") as folder:
        targets = render_targets(envs, Path(folder))
        for check in checks:
            result = CheckResult(check.name, check.run(targets))
            results.append(result)
            if on_result:
                on_result(check, result)
    return results
