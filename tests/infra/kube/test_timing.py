"""infra/kube/timing.py: the app pods' termination timings follow from the NLB's health check,
and every environment renders them so."""

from __future__ import annotations

import pytest

from infra.kube import render as kube_render
from infra.settings import params

HEALTH_CHECK = "service.beta.kubernetes.io/aws-load-balancer-healthcheck-"


def rendered(env: str) -> dict[str, dict]:
    settings = params.load(env)
    docs = kube_render.render(settings, kube_render.offline_outputs(settings), "v1")
    return {doc["kind"]: doc for doc in docs}


@pytest.mark.parametrize("env", params.environments())
def test_a_terminating_pod_serves_until_the_nlb_stops_sending_it_connections(env):
    docs = rendered(env)
    annotations = docs["Service"]["metadata"]["annotations"]
    interval = int(annotations[HEALTH_CHECK + "interval"])
    unhealthy = int(annotations[HEALTH_CHECK + "unhealthy-threshold"])
    pod = docs["Deployment"]["spec"]["template"]["spec"]
    pre_stop = pod["containers"][0]["lifecycle"]["preStop"]["sleep"]["seconds"]
    # externalTrafficPolicy Local: the node's health check fails a few seconds after its last
    # app pod starts terminating (5 s allowed), then the NLB needs `unhealthy` failed checks
    # an interval apart, plus the phase (up to one interval before its first check).
    assert pre_stop >= 5 + unhealthy * interval + interval
    # SIGTERM comes after the sleep; the app then drains in-flight requests (app/server.py).
    from app.server import GRACE_S

    assert pod["terminationGracePeriodSeconds"] >= pre_stop + GRACE_S


def test_the_timings_are_derived_in_one_place_and_the_sources_show_them():
    from app.server import GRACE_S
    from infra.kube import timing

    assert timing.APP_DRAIN_SECONDS == GRACE_S
    assert timing.PRE_STOP_SLEEP_SECONDS == (
        timing.ENDPOINT_PROPAGATION_SECONDS
        + timing.NLB_UNHEALTHY_THRESHOLD * timing.NLB_HEALTH_CHECK_INTERVAL_SECONDS
        + timing.NLB_HEALTH_CHECK_INTERVAL_SECONDS
    )
    assert timing.TERMINATION_GRACE_SECONDS == (
        timing.PRE_STOP_SLEEP_SECONDS + timing.APP_DRAIN_SECONDS + timing.KILL_MARGIN_SECONDS
    )
    # The source manifests carry the same numbers, so reading k8s/ alone is not misleading.
    sources = kube_render.load_sources()
    pod = sources[("Deployment", kube_render.APP)]["spec"]["template"]["spec"]
    assert pod["terminationGracePeriodSeconds"] == timing.TERMINATION_GRACE_SECONDS
    sleep = pod["containers"][0]["lifecycle"]["preStop"]["sleep"]["seconds"]
    assert sleep == timing.PRE_STOP_SLEEP_SECONDS
    annotations = sources[("Service", kube_render.APP)]["metadata"]["annotations"]
    assert annotations == {**annotations, **timing.service_annotations()}
