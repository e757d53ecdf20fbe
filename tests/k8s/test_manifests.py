"""k8s/: every rendered pod spec of every environment meets the Pod Security Standards
`restricted` profile (kubernetes.io/docs/concepts/security/pod-security-standards/, the
baseline and restricted controls as of v1.35), and the Namespace enforces that profile.

`restricted_violations` is written from the published control list so it can fail: the
last tests feed it pod specs that break each control.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from infra.kube import render as kube_render
from infra.settings import params

ALLOWED_VOLUMES = {
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "persistentVolumeClaim",
    "projected",
    "secret",
}
SAFE_SYSCTLS = {
    "kernel.shm_rmid_forced",
    "net.ipv4.ip_local_port_range",
    "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range",
    "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.tcp_keepalive_time",
    "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
}
SELINUX_TYPES = {None, "container_t", "container_init_t", "container_kvm_t", "container_engine_t"}


def restricted_violations(pod: dict[str, Any]) -> list[str]:
    """The restricted-profile controls this pod spec breaks (empty = compliant)."""
    found = []
    pod_context = pod.get("securityContext") or {}
    containers = (
        (pod.get("initContainers") or [])
        + (pod.get("containers") or [])
        + (pod.get("ephemeralContainers") or [])
    )
    # baseline
    for field in ("hostNetwork", "hostPID", "hostIPC"):
        if pod.get(field):
            found.append(f"host namespaces: {field}")
    for volume in pod.get("volumes") or []:
        kinds = set(volume) - {"name"}
        if not kinds <= ALLOWED_VOLUMES:
            found.append(f"volume types: {volume['name']} uses {sorted(kinds)}")
    for sysctl in pod_context.get("sysctls") or []:
        if sysctl["name"] not in SAFE_SYSCTLS:
            found.append(f"sysctls: {sysctl['name']}")
    if (pod_context.get("seLinuxOptions") or {}).get("type") not in SELINUX_TYPES:
        found.append("SELinux: pod type")
    if pod_context.get("runAsUser") == 0:
        found.append("running as non-root user: pod runAsUser 0")
    pod_non_root = pod_context.get("runAsNonRoot") is True
    pod_seccomp = (pod_context.get("seccompProfile") or {}).get("type")
    if pod_seccomp not in (None, "RuntimeDefault", "Localhost"):
        found.append(f"seccomp: pod {pod_seccomp}")
    for container in containers:
        name = container["name"]
        context = container.get("securityContext") or {}
        if context.get("privileged"):
            found.append(f"privileged: {name}")
        capabilities = context.get("capabilities") or {}
        if set(capabilities.get("add") or []) - {"NET_BIND_SERVICE"}:
            found.append(f"capabilities add: {name}")
        if "ALL" not in (capabilities.get("drop") or []):
            found.append(f"capabilities must drop ALL: {name}")
        for port in container.get("ports") or []:
            if port.get("hostPort"):
                found.append(f"host ports: {name}")
        if context.get("procMount") not in (None, "Default"):
            found.append(f"/proc mount: {name}")
        if (context.get("seLinuxOptions") or {}).get("type") not in SELINUX_TYPES:
            found.append(f"SELinux: {name}")
        apparmor = (context.get("appArmorProfile") or {}).get("type")
        if apparmor not in (None, "RuntimeDefault", "Localhost"):
            found.append(f"AppArmor: {name}")
        # restricted
        if context.get("allowPrivilegeEscalation") is not False:
            found.append(f"privilege escalation must be false: {name}")
        if context.get("runAsUser") == 0:
            found.append(f"running as non-root user: {name} runAsUser 0")
        if not (
            context.get("runAsNonRoot") is True
            or (pod_non_root and context.get("runAsNonRoot") is None)
        ):
            found.append(f"running as non-root: {name}")
        seccomp = (context.get("seccompProfile") or {}).get("type") or pod_seccomp
        if seccomp not in ("RuntimeDefault", "Localhost"):
            found.append(f"seccomp must be RuntimeDefault or Localhost: {name}")
    return found


def pod_specs(env: str) -> list[tuple[str, dict[str, Any]]]:
    settings = params.load(env)
    docs = kube_render.render(settings, kube_render.offline_outputs(settings), "v1")
    return [
        (f"{doc['kind']}/{doc['metadata']['name']}", doc["spec"]["template"]["spec"])
        for doc in docs
        if "template" in doc.get("spec", {})
    ]


@pytest.mark.parametrize("env", params.environments())
def test_every_rendered_pod_spec_meets_the_restricted_profile(env):
    specs = pod_specs(env)
    assert {name.split("/")[0] for name, _ in specs} == {"Job", "Deployment"}
    for name, pod in specs:
        assert restricted_violations(pod) == [], name


@pytest.mark.parametrize("env", params.environments())
def test_the_namespace_enforces_audits_and_warns_restricted(env):
    settings = params.load(env)
    docs = kube_render.render(settings, kube_render.offline_outputs(settings), "v1")
    labels = next(doc for doc in docs if doc["kind"] == "Namespace")["metadata"]["labels"]
    for mode in ("enforce", "audit", "warn"):
        assert labels[f"pod-security.kubernetes.io/{mode}"] == "restricted"


def test_pods_run_as_the_images_numeric_user_with_a_writable_tmp_only():
    for name, pod in pod_specs("prod"):
        assert pod["securityContext"]["runAsUser"] == 10001, name
        assert pod["automountServiceAccountToken"] is False, name
        for container in pod.get("initContainers", []) + pod["containers"]:
            assert container["securityContext"]["readOnlyRootFilesystem"] is True
            assert container["volumeMounts"] == [{"name": "tmp", "mountPath": "/tmp"}]
        assert pod["volumes"] == [{"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}}]


@pytest.mark.parametrize(
    ("breakage", "control"),
    [
        (lambda pod, c: pod.update(hostNetwork=True), "host namespaces"),
        (lambda pod, c: pod["volumes"].append({"name": "h", "hostPath": {"path": "/"}}), "volume"),
        (lambda pod, c: c["securityContext"].update(privileged=True), "privileged"),
        (lambda pod, c: c["securityContext"].update(allowPrivilegeEscalation=True), "escalation"),
        (lambda pod, c: c["securityContext"]["capabilities"].update(add=["SYS_ADMIN"]), "add"),
        (lambda pod, c: c["securityContext"]["capabilities"].update(drop=[]), "drop ALL"),
        (lambda pod, c: c["securityContext"].update(runAsNonRoot=False), "non-root"),
        (lambda pod, c: c["securityContext"].update(runAsUser=0), "non-root user"),
        (
            lambda pod, c: (
                pod["securityContext"].pop("seccompProfile"),
                c["securityContext"].pop("seccompProfile"),
            ),
            "seccomp",
        ),
        (lambda pod, c: c["ports"][0].update(hostPort=80), "host ports"),
    ],
)
def test_the_checker_catches_each_control(breakage, control):
    _, pod = next(spec for spec in pod_specs("dev") if spec[0].startswith("Deployment"))
    pod = copy.deepcopy(pod)
    breakage(pod, pod["containers"][0])
    assert any(control in violation for violation in restricted_violations(pod))


def test_the_source_manifests_are_valid_kubernetes_objects_on_their_own():
    from infra.kube import checks as kube_checks

    sources = list(kube_render.load_sources().values())
    assert len(sources) == 11
    assert kube_checks.validate_docs(sources, params.load("prod").cluster.kubernetes_version) == []
    templates = [doc["spec"]["template"] for doc in sources if "template" in doc.get("spec", {})]
    assert len(templates) == 2
    for template in templates:
        assert restricted_violations(template["spec"]) == []


def rendered(env: str, kind: str) -> dict[str, Any]:
    settings = params.load(env)
    docs = kube_render.render(settings, kube_render.offline_outputs(settings), "v1")
    return next(doc for doc in docs if doc["kind"] == kind)


@pytest.mark.parametrize("env", params.environments())
def test_a_node_drain_may_evict_app_pods_that_are_not_ready(env):
    # Readiness needs the database: in an outage no pod is ready, and under the default
    # IfHealthyBudget policy no unready pod may be evicted, so every node drain (and a
    # managed node group update, after its drain timeout) would fail. AlwaysAllow lets
    # running-but-unready pods go; healthy ones are still guarded by maxUnavailable.
    spec = rendered(env, "PodDisruptionBudget")["spec"]
    assert spec["unhealthyPodEvictionPolicy"] == "AlwaysAllow"
    assert spec["maxUnavailable"] == 1


@pytest.mark.parametrize("env", params.environments())
def test_disruptions_do_not_spend_the_migration_jobs_retries(env):
    # A drain, preemption or eviction marks the pod with the DisruptionTarget condition; the
    # Job ignores such failures (a new pod, backoffLimit untouched) and counts the rest.
    spec = rendered(env, "Job")["spec"]
    rules = spec["podFailurePolicy"]["rules"]
    assert {
        "action": "Ignore",
        "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}],
    } in rules
    assert spec["template"]["spec"]["restartPolicy"] == "Never"  # required by podFailurePolicy
    assert spec["backoffLimit"] == 2
