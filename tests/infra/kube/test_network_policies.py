"""k8s/80-networkpolicy.yaml and 85-networkpolicy-default-deny.yaml as rendered: exact peers
and ports of every policy (issue 13, item 5)."""

from __future__ import annotations

from infra.kube import render as kube_render
from infra.settings import params
from tests.infra.stacks.helpers import settings as changed_settings

DNS_PEER = {
    "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
    "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
}
DNS_PORTS = [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]
AGENT_RULE = {
    "to": [{"ipBlock": {"cidr": "169.254.170.23/32"}}],
    "ports": [{"port": 80, "protocol": "TCP"}],
}
PROD_DATABASE_SUBNETS = ["10.20.64.0/18", "10.20.128.0/18", "10.20.192.0/18"]


def policies(settings, **outputs: str) -> dict[str, dict]:
    rendered = kube_render.render(
        settings, {**kube_render.offline_outputs(settings), **outputs}, "v1"
    )
    return {d["metadata"]["name"]: d for d in rendered if d["kind"] == "NetworkPolicy"}


def test_the_namespace_denies_everything_by_default_and_the_render_leaves_that_alone():
    for env in params.environments():
        rendered = policies(params.load(env))
        deny = rendered["gif-default-deny"]
        assert deny["spec"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
        assert deny["metadata"]["namespace"] == "gif"
        # Applied after the policies that allow the app's and the migration's traffic.
        assert list(rendered) == ["gif-app", "gif-migrate", "gif-default-deny"]


def test_prod_app_policy_exactly():
    spec = policies(params.load("prod"), DatabasePort="6543")["gif-app"]["spec"]
    assert spec["policyTypes"] == ["Ingress", "Egress"]
    assert spec["ingress"] == [{"ports": [{"port": 8080, "protocol": "TCP"}]}]  # no scraper
    assert spec["egress"] == [
        {"to": [DNS_PEER], "ports": DNS_PORTS},
        {
            "to": [{"ipBlock": {"cidr": cidr}} for cidr in PROD_DATABASE_SUBNETS],
            "ports": [{"port": 6543, "protocol": "TCP"}],
        },
        AGENT_RULE,
    ]


def test_prod_migration_policy_exactly_https_only_inside_the_vpc():
    prod = params.load("prod")
    assert prod.network.interface_endpoints
    spec = policies(prod)["gif-migrate"]["spec"]
    assert "ingress" not in spec and spec["policyTypes"] == ["Ingress", "Egress"]
    assert spec["egress"] == [
        {"to": [DNS_PEER], "ports": DNS_PORTS},
        {
            "to": [{"ipBlock": {"cidr": cidr}} for cidr in PROD_DATABASE_SUBNETS],
            "ports": [{"port": 5432, "protocol": "TCP"}],
        },
        AGENT_RULE,
        {
            "to": [{"ipBlock": {"cidr": "10.20.0.0/16"}}],
            "ports": [{"port": 443, "protocol": "TCP"}],
        },
    ]


def test_without_interface_endpoints_the_migration_reaches_aws_apis_through_nat():
    dev = params.load("dev")
    assert not dev.network.interface_endpoints
    https = policies(dev)["gif-migrate"]["spec"]["egress"][-1]
    assert https == {
        "to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}],
        "ports": [{"port": 443, "protocol": "TCP"}],
    }
    on = changed_settings("dev", network={"interface_endpoints": True})
    assert policies(on)["gif-migrate"]["spec"]["egress"][-1]["to"] == [
        {"ipBlock": {"cidr": dev.network.cidr}}
    ]


def test_postgres_goes_to_the_subnets_the_network_stack_reports():
    rendered = policies(params.load("dev"), DatabaseSubnetCidrs="10.0.64.0/18,10.0.128.0/18")
    for name in ("gif-app", "gif-migrate"):
        (rule,) = [r for r in rendered[name]["spec"]["egress"] if r["ports"][0]["port"] == 5432]
        assert rule["to"] == [
            {"ipBlock": {"cidr": "10.0.64.0/18"}},
            {"ipBlock": {"cidr": "10.0.128.0/18"}},
        ]


def test_no_egress_rule_of_any_environment_is_open_to_every_peer_or_dns_anywhere():
    for env in params.environments():
        for policy in policies(params.load(env)).values():
            for rule in policy["spec"].get("egress", []):
                assert rule.get("to"), f"{env} {policy['metadata']['name']}: a rule without peers"
                if {p["port"] for p in rule["ports"]} == {53}:
                    assert rule["to"] == [DNS_PEER]


def _deployment_container(settings) -> dict:
    rendered = kube_render.render(settings, kube_render.offline_outputs(settings), "v1")
    (deployment,) = [d for d in rendered if d["kind"] == "Deployment"]
    return deployment["spec"]["template"]["spec"]["containers"][0]


def test_the_metrics_port_comes_from_params_and_the_service_never_exposes_it():
    settings = changed_settings("dev", app={"metrics_port": 9464})
    container = _deployment_container(settings)
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"http": 8080, "metrics": 9464}
    env = {item["name"]: item["value"] for item in container["env"]}
    assert (env["PORT"], env["METRICS_PORT"]) == ("8080", "9464")
    rendered = kube_render.render(settings, kube_render.offline_outputs(settings), "v1")
    (service,) = [d for d in rendered if d["kind"] == "Service"]
    assert [p["targetPort"] for p in service["spec"]["ports"]] == ["http"]


def test_no_one_may_scrape_metrics_unless_params_name_the_scraper():
    for env in params.environments():
        ingress = policies(params.load(env))["gif-app"]["spec"]["ingress"]
        assert ingress == [{"ports": [{"port": 8080, "protocol": "TCP"}]}]


def test_the_named_scraper_alone_may_reach_the_metrics_port():
    namespace_only = changed_settings("prod", app={"metrics_scraper_namespace": "monitoring"})
    monitoring = {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}
    assert policies(namespace_only)["gif-app"]["spec"]["ingress"] == [
        {"ports": [{"port": 8080, "protocol": "TCP"}]},
        {"from": [{"namespaceSelector": monitoring}], "ports": [{"port": 9090, "protocol": "TCP"}]},
    ]
    labelled = changed_settings(
        "prod",
        app={
            "metrics_scraper_namespace": "monitoring",
            "metrics_scraper_pod_labels": {"app.kubernetes.io/name": "prometheus"},
            "metrics_port": 9464,
        },
    )
    assert policies(labelled)["gif-app"]["spec"]["ingress"][1] == {
        "from": [
            {
                "namespaceSelector": monitoring,
                "podSelector": {"matchLabels": {"app.kubernetes.io/name": "prometheus"}},
            }
        ],
        "ports": [{"port": 9464, "protocol": "TCP"}],
    }
    # The migration takes no traffic at all, scraper or not.
    assert "ingress" not in policies(labelled)["gif-migrate"]["spec"]


# --- the Service: TLS at the load balancer (issue 13 item 4) --------------------------------

LB = "service.beta.kubernetes.io/aws-load-balancer"
CERTIFICATE = "arn:aws:acm:eu-west-1:111122223333:certificate/0123abcd-4567-89ef-0123-456789abcdef"


def _service(settings) -> dict:
    rendered = kube_render.render(settings, kube_render.offline_outputs(settings), "v1")
    (service,) = [d for d in rendered if d["kind"] == "Service"]
    return service


def test_with_a_certificate_the_load_balancer_serves_tls_on_443_only():
    service = _service(changed_settings("prod", app={"tls_certificate_arn": CERTIFICATE}))
    annotations = service["metadata"]["annotations"]
    assert annotations[f"{LB}-type"] == "nlb"
    assert annotations[f"{LB}-ssl-cert"] == CERTIFICATE
    assert annotations[f"{LB}-ssl-ports"] == "443"
    assert annotations[f"{LB}-ssl-negotiation-policy"] == "ELBSecurityPolicy-TLS13-1-2-2021-06"
    assert annotations[f"{LB}-backend-protocol"] == "tcp"  # TLS ends at the NLB
    assert service["spec"]["ports"] == [
        {"name": "https", "port": 443, "targetPort": "http", "protocol": "TCP"}
    ]


def test_without_one_it_is_plain_http_on_80_as_before():
    for env in ("dev", "prod"):
        service = _service(params.load(env))
        assert not any("ssl" in key for key in service["metadata"]["annotations"])
        assert service["spec"]["ports"] == [
            {"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}
        ]


def test_with_a_scraper_and_a_certificate_the_objects_are_still_valid_kubernetes():
    from infra.kube import checks as kube_checks

    settings = changed_settings(
        "prod",
        app={
            "tls_certificate_arn": CERTIFICATE,
            "metrics_scraper_namespace": "monitoring",
            "metrics_scraper_pod_labels": {"app.kubernetes.io/name": "prometheus"},
        },
    )
    docs = kube_render.render(settings, kube_render.offline_outputs(settings), "v1")
    assert kube_checks.validate_docs(docs, settings.cluster.kubernetes_version) == []
