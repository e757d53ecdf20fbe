"""infra/orchestration/upgrade_plan.py: the order of an upgrade's steps, which are done, the
add-on version choice from a recorded DescribeAddonVersions answer (validated against
botocore's eks model), the PostgreSQL step, the refusals (one line, exit 2)."""

from __future__ import annotations

import botocore.session
import pytest
from botocore.validate import validate_parameters

from infra.core.errors import BadInput
from infra.orchestration import upgrade_plan as plan
from infra.orchestration.upgrade_plan import Kind, Observed, Offer
from infra.settings import catalog

EKS = botocore.session.get_session().get_service_model("eks")

# A DescribeAddonVersions answer for vpc-cni, recorded shape (botocore eks 2017-11-01):
# versions newest first as EKS lists them, each with the cluster versions it supports.
VPC_CNI = {
    "addons": [
        {
            "addonName": "vpc-cni",
            "type": "networking",
            "owner": "aws",
            "publisher": "eks",
            "addonVersions": [
                {
                    "addonVersion": "v1.21.1-eksbuild.1",
                    "architecture": ["amd64", "arm64"],
                    "compatibilities": [
                        {
                            "clusterVersion": "1.36",
                            "platformVersions": ["*"],
                            "defaultVersion": False,
                        }
                    ],
                    "requiresConfiguration": False,
                },
                {
                    "addonVersion": "v1.20.10-eksbuild.2",
                    "architecture": ["amd64", "arm64"],
                    "compatibilities": [
                        {
                            "clusterVersion": "1.36",
                            "platformVersions": ["*"],
                            "defaultVersion": True,
                        },
                        {
                            "clusterVersion": "1.35",
                            "platformVersions": ["*"],
                            "defaultVersion": False,
                        },
                    ],
                    "requiresConfiguration": False,
                },
                {
                    "addonVersion": "v1.20.9-eksbuild.1",
                    "architecture": ["amd64", "arm64"],
                    "compatibilities": [
                        {
                            "clusterVersion": "1.35",
                            "platformVersions": ["*"],
                            "defaultVersion": True,
                        },
                        {
                            "clusterVersion": "1.34",
                            "platformVersions": ["*"],
                            "defaultVersion": True,
                        },
                    ],
                    "requiresConfiguration": False,
                },
            ],
        }
    ]
}

OLD = {name: f"v1.0.0-eksbuild.{i}" for i, name in enumerate(catalog.EKS_ADDONS)}


def chosen(version: str) -> dict[str, str]:
    """The add-on versions an offer names for one Kubernetes version (distinct per version)."""
    minor = version.split(".")[1]
    return {name: f"v1.{minor}.0-eksbuild.1" for name in catalog.EKS_ADDONS}


OFFER = Offer(
    kubernetes=("1.33", "1.34", "1.35", "1.36"),
    addons={v: chosen(v) for v in ("1.34", "1.35", "1.36")},
)


def observed(control="1.34", nodes="1.34", addons=None) -> Observed:
    return Observed(control, nodes, dict(OLD if addons is None else addons))


def kinds(steps) -> list[tuple[str, str]]:
    return [(str(step.kind), step.version) for step in steps]


def test_the_recorded_answer_is_a_valid_describe_addon_versions_output():
    shape = EKS.operation_model("DescribeAddonVersions").output_shape
    validate_parameters(VPC_CNI, shape)  # raises ParamValidationError on a wrong field


@pytest.mark.parametrize(
    ("kubernetes", "expected"),
    [
        ("1.36", "v1.21.1-eksbuild.1"),
        ("1.35", "v1.20.10-eksbuild.2"),
        ("1.34", "v1.20.9-eksbuild.1"),
    ],
)
def test_the_newest_version_compatible_with_the_new_kubernetes_is_chosen(kubernetes, expected):
    assert plan.newest_addon_version(VPC_CNI, kubernetes) == expected


def test_no_compatible_version_is_none():
    assert plan.newest_addon_version(VPC_CNI, "1.37") is None
    assert plan.newest_addon_version({"addons": []}, "1.35") is None


def test_versions_compare_by_number_not_text():
    assert plan.addon_key("v1.20.10-eksbuild.2") > plan.addon_key("v1.20.9-eksbuild.7")
    assert plan.addon_key("v1.20.9-eksbuild.10") > plan.addon_key("v1.20.9-eksbuild.9")
    assert plan.addon_key("v0.8.0") == (0, 8, 0, 0)
    assert plan.addon_key("latest") == (-1,)


def test_1_34_to_1_36_is_two_hops_with_addons_and_nodes_between_them():
    steps = plan.kubernetes_steps(observed(), "1.36", OFFER)

    assert kinds(steps) == [
        ("upgrade insights", "1.35"),
        ("control plane", "1.35"),
        ("add-ons", "1.35"),
        ("node group", "1.35"),
        ("app rollout check", "1.35"),
        ("upgrade insights", "1.36"),
        ("control plane", "1.36"),
        ("add-ons", "1.36"),
        ("node group", "1.36"),
        ("app rollout check", "1.36"),
    ]
    assert not any(step.done for step in steps)
    first_plane, first_addons, first_nodes = steps[1], steps[2], steps[3]
    # The control plane moves alone: the nodes stay on their version until their own step.
    assert first_plane.params == {
        "cluster.kubernetes_version": "1.35",
        "cluster.node_kubernetes_version": "1.34",
    }
    assert first_plane.change == "1.34 -> 1.35" and first_plane.stack == "cluster"
    assert first_addons.params == {
        "cluster.kubernetes_version": "1.35",
        "cluster.node_kubernetes_version": "1.34",
        "cluster.addon_versions": chosen("1.35"),
    }
    assert f"coredns: {OLD['coredns']} -> {chosen('1.35')['coredns']}" in first_addons.change
    assert len(first_addons.change.splitlines()) == 5
    assert first_nodes.params == {
        "cluster.kubernetes_version": "1.35",
        "cluster.node_kubernetes_version": "1.35",
    }
    # The second hop's add-ons start from where the first hop left them.
    assert steps[7].change.splitlines()[0] == (
        f"coredns: {chosen('1.35')['coredns']} -> {chosen('1.36')['coredns']}"
    )
    assert steps[6].params["cluster.node_kubernetes_version"] == "1.35"
    assert steps[6].change == "1.35 -> 1.36"
    assert steps[0].stack is None and steps[4].stack is None


def test_interrupted_after_the_control_plane_the_plan_starts_at_the_addons():
    steps = plan.kubernetes_steps(observed(control="1.35"), "1.36", OFFER)

    assert [step.done for step in steps[:5]] == [True, True, False, False, False]
    assert plan.pending(steps)[0].kind == Kind.ADDONS
    assert plan.pending(steps)[0].version == "1.35"
    assert not any(step.done for step in steps[5:])


def test_addons_already_at_the_chosen_versions_are_done():
    steps = plan.kubernetes_steps(observed(control="1.35", addons=chosen("1.35")), "1.36", OFFER)
    assert plan.pending(steps)[0].kind == Kind.NODES
    one_missing = {**chosen("1.35"), "metrics-server": None}
    steps = plan.kubernetes_steps(observed(control="1.35", addons=one_missing), "1.36", OFFER)
    assert plan.pending(steps)[0].kind == Kind.ADDONS
    assert plan.pending(steps)[0].change == (
        f"metrics-server: not installed -> {chosen('1.35')['metrics-server']}"
    )  # only what changes


def test_nodes_done_means_the_hop_is_done():
    steps = plan.kubernetes_steps(observed(control="1.35", nodes="1.35"), "1.36", OFFER)
    assert kinds(steps)[0] == ("upgrade insights", "1.36")
    assert not any(step.done for step in steps)
    assert plan.kubernetes_steps(observed("1.36", "1.36"), "1.36", OFFER) == []


def test_nodes_behind_a_control_plane_at_the_target_still_get_their_hops():
    steps = plan.kubernetes_steps(observed(control="1.36", nodes="1.35"), "1.36", OFFER)
    # The deploys name the control plane the account runs, never an older one.
    assert steps[2].params["cluster.kubernetes_version"] == "1.36"
    assert steps[3].params == {
        "cluster.kubernetes_version": "1.36",
        "cluster.node_kubernetes_version": "1.36",
    }
    assert [(str(s.kind), s.done) for s in steps] == [
        ("upgrade insights", True),
        ("control plane", True),
        ("add-ons", False),
        ("node group", False),
        ("app rollout check", False),
    ]


@pytest.mark.parametrize(
    ("target", "words"),
    [
        ("1.33", "older than the cluster's 1.34: EKS can't downgrade"),
        ("1.37", "not a version EKS offers here; offered: 1.33, 1.34, 1.35, 1.36."),
        ("banana", "--kubernetes 'banana' is not a version like 1.36"),
        ("1.x", "--kubernetes '1.x' is not a version like 1.36"),
        ("1.36.1", "is not a version like 1.36 (MAJOR.MINOR)"),
    ],
)
def test_bad_targets_are_refused_in_one_line(target, words):
    with pytest.raises(BadInput) as refused:
        plan.kubernetes_steps(observed(), target, OFFER)
    assert words in refused.value.message
    assert "\n" not in refused.value.message and refused.value.exit_code == 2


def test_a_gap_in_the_offered_minors_is_refused():
    gap = Offer(kubernetes=("1.34", "1.36"), addons=OFFER.addons)
    with pytest.raises(BadInput) as refused:
        plan.kubernetes_steps(observed(), "1.36", gap)
    assert "one minor at a time" in refused.value.message


def test_nodes_newer_than_the_control_plane_are_refused():
    with pytest.raises(BadInput) as refused:
        plan.kubernetes_steps(observed(control="1.34", nodes="1.35"), "1.36", OFFER)
    assert "newer than the control plane's 1.34" in refused.value.message


def test_an_addon_without_a_compatible_version_refuses_the_hop():
    thin = Offer(
        kubernetes=OFFER.kubernetes,
        addons={**OFFER.addons, "1.36": {"vpc-cni": "v1.21.1-eksbuild.1"}},
        source="gifstack's table",
    )
    with pytest.raises(BadInput) as refused:
        plan.kubernetes_steps(observed(), "1.36", thin)
    message = refused.value.message
    assert "coredns, eks-pod-identity-agent, kube-proxy, metrics-server" in message
    assert "Kubernetes 1.36 (gifstack's table)" in message
    # The hop already done needs no add-on versions.
    plan.kubernetes_steps(observed(control="1.36", nodes="1.36"), "1.36", thin)


def test_every_step_says_what_it_means_for_the_app():
    steps = plan.kubernetes_steps(observed(), "1.35", OFFER)
    safety = {str(step.kind): step.safety for step in steps}
    assert safety["control plane"] == "no app downtime; the Kubernetes API is briefly unavailable"
    assert "PDB respected" in safety["node group"]
    assert not any(step.interrupts for step in steps)
    assert not plan.asks_typed_confirmation(steps, prod=True)


def test_postgres_minor_is_in_place_and_interrupts():
    step = plan.postgres_step("17.6", "17.7", ["17.7", "18.1"])
    assert step.kind == Kind.POSTGRES_MINOR and step.stack == "database"
    assert step.params == {"database.engine_version": "17.7"} and not step.done
    assert step.safety == "database restarts: a few minutes of errors" and step.interrupts
    assert plan.asks_typed_confirmation([step], prod=True)
    assert not plan.asks_typed_confirmation([step], prod=False)
    running = plan.postgres_step("17.6", "17.6", [])
    assert running.done and not plan.asks_typed_confirmation([running], prod=True)
    assert plan.postgres_step("17.6", "17.6", [], "17.6").done


def test_params_behind_what_rds_runs_catch_up_without_touching_the_database():
    step = plan.postgres_step("17.6", "17.6", [], configured="16.9")
    assert step.kind == Kind.POSTGRES_PARAMS and not step.done and not step.interrupts
    assert step.params == {"database.engine_version": "17.6"} and step.stack == "database"
    assert step.change == "params 16.9 -> 17.6 (RDS runs 17.6)"


def test_postgres_major_goes_blue_green():
    step = plan.postgres_step("16.9", "17.6", ["16.10", "17.6"])
    assert step.kind == Kind.POSTGRES_MAJOR and step.change == "16.9 -> 17.6"
    assert "writes blocked ~1 min" in step.safety and step.interrupts
    assert step.why == () and plan.postgres_step("16.9", "17.6", ["17.6"], None, []) == step


def test_postgres_major_is_in_place_when_blue_green_is_not_possible():
    why = ["gif-prod's master password is managed by RDS in Secrets Manager, ..."]
    step = plan.postgres_step("16.9", "17.6", ["16.10", "17.6"], "16.9", why)
    assert step.kind == Kind.POSTGRES_MAJOR_IN_PLACE and step.why == tuple(why)
    assert step.safety == (
        "database unavailable while RDS upgrades it (minutes, longer with more data); "
        "RDS snapshots it before the upgrade"
    )
    assert step.stack == "database" and step.params == {"database.engine_version": "17.6"}
    assert plan.asks_typed_confirmation([step], prod=True) and not step.done
    # A minor never goes through Blue/Green: whatever check_ready said, it stays a minor.
    minor = plan.postgres_step("17.6", "17.7", ["17.7"], "17.6", why)
    assert minor.kind == Kind.POSTGRES_MINOR and minor.why == ()


@pytest.mark.parametrize(
    ("target", "offered", "words"),
    [
        ("17.5", ["17.7"], "older than the running 17.6: RDS can't downgrade"),
        ("17.9", ["17.7"], "RDS can't upgrade 17.6 to it here; it offers 17.7"),
        ("17.9", [], "it offers no upgrade"),
        ("17.99", ["17.99"], "not a version gifstack's params accept"),
        ("seventeen", ["17.7"], "--postgres 'seventeen' is not a version like 17.6"),
    ],
)
def test_bad_postgres_targets_are_refused(target, offered, words):
    with pytest.raises(BadInput) as refused:
        plan.postgres_step("17.6", target, offered)
    assert words in refused.value.message


def test_error_insights_are_named_with_their_reason_and_recommendation():
    insights = [
        {
            "id": "a",
            "name": "Deprecated APIs removed in Kubernetes v1.36",
            "insightStatus": {"status": "ERROR", "reason": "batch/v1beta1 used"},
        },
        {"id": "b", "name": "Kubelet version skew", "insightStatus": {"status": "WARNING"}},
        {"id": "c", "name": "Cluster health issues", "insightStatus": {"status": "PASSING"}},
        {"id": "d", "name": "Unreadable"},
    ]
    errors = plan.insight_errors(insights)
    assert [item["id"] for item in errors] == ["a"]
    line = plan.refusal("1.36", errors, {"a": {"recommendation": "Move to batch/v1."}})
    assert line == (
        "EKS upgrade insights for 1.36 report 1 error(s): Deprecated APIs removed in "
        "Kubernetes v1.36 (batch/v1beta1 used), recommended: Move to batch/v1.. Fix them "
        "(insights refresh within 24 h), or run again with --force to upgrade anyway."
    )
    bare = plan.refusal("1.36", [{"id": "x", "insightStatus": {"status": "ERROR"}}], {})
    assert "x (no reason given)" in bare and "recommended" not in bare
