"""infra/kube/checks.py: kubernetes-validate --strict and checkov on every environment's
offline render (the same checks `invoke lint` runs)."""

from __future__ import annotations

import copy

import pytest
import yaml

from infra.core.errors import BadInput
from infra.kube import checks as kube_checks
from infra.kube import render as kube_render
from infra.settings import params


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    root = tmp_path_factory.mktemp("k8s-render")
    return root, kube_checks.render_offline(root)


def test_offline_render_covers_every_environment(rendered):
    root, paths = rendered
    assert sorted(paths) == params.environments()
    for env, files in paths.items():
        assert files and all(path.parent == root / env / "k8s" for path in files)


def test_every_manifest_of_every_environment_passes_strict_validation(rendered):
    _, paths = rendered
    for env, files in paths.items():
        version = params.load(env).cluster.kubernetes_version
        assert kube_checks.validate_files(files, version) == [], env


def test_strict_validation_catches_unknown_fields_and_wrong_types():
    settings = params.load("dev")
    docs = kube_render.render(settings, kube_render.offline_outputs(settings), "v1")
    deployment = copy.deepcopy(next(doc for doc in docs if doc["kind"] == "Deployment"))
    deployment["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpGet"][
        "pathh"
    ] = "/gif"
    service = copy.deepcopy(next(doc for doc in docs if doc["kind"] == "Service"))
    service["spec"]["ports"][0]["port"] = "eighty"
    problems = kube_checks.validate_docs([deployment, service], "1.35")
    assert len(problems) == 2
    assert problems[0].startswith("Deployment/gif-app: spec.template.spec.containers.0")
    assert "pathh" in problems[0]
    assert problems[1].startswith("Service/gif-app: spec.ports.0.port")


def test_an_unsupported_kubernetes_version_is_bad_input():
    with pytest.raises(BadInput, match=r"no schemas for Kubernetes 9\.99"):
        kube_checks.validate_docs([{"apiVersion": "v1", "kind": "ConfigMap"}], "9.99")


def test_checkov_finds_no_failed_checks_and_only_reasoned_skips(rendered, tmp_path_factory):
    root, paths = rendered
    # A canary next to the real renders, in the same (slow) checkov run: a skip without a
    # reason and a privileged pod must both be reported, so the check can fail.
    canary = root / "canary"
    canary.mkdir()
    deployment = yaml.safe_load(next(p for p in paths["dev"] if "deployment" in p.name).read_text())
    deployment["metadata"]["annotations"] = {"checkov.io/skip1": "CKV_K8S_43"}
    deployment["spec"]["template"]["spec"]["containers"][0]["securityContext"]["privileged"] = True
    (canary / "deployment.yaml").write_text(yaml.safe_dump(deployment))

    problems, passed = kube_checks.checkov(root)

    real = [p for p in problems if "canary" not in p and "/deployment.yaml" not in p]
    assert real == []
    assert passed > 100
    canary_problems = [p for p in problems if p not in real]
    assert any("CKV_K8S_43 skipped without a reason" in p for p in canary_problems)
    assert any("CKV_K8S_16" in p for p in canary_problems)  # privileged container


def test_checkov_reports_when_it_finds_nothing(tmp_path):
    problems, passed = kube_checks.checkov(tmp_path)
    assert passed == 0
    assert problems == [f"checkov found no Kubernetes objects in {tmp_path}"]


def test_invoke_lint_runs_the_kubernetes_checks_over_the_selected_environments():
    from infra.commands import lint

    checks = {check.name: check for check in lint.CHECKS}
    assert checks["k8s-validate"].run is kube_checks.lint_validate
    assert checks["k8s-checkov"].run is kube_checks.lint_checkov
    targets = lint.LintTargets(root=lint.ROOT, template_dir=lint.ROOT, regions=(), envs=("prod",))
    assert kube_checks.lint_validate(targets) == []
