"""How long an app pod keeps serving once it starts terminating, derived from the NLB's
health check, in one place. Rendering sets these numbers into the Deployment (preStop sleep,
terminationGracePeriodSeconds) and the Service (health check annotations); k8s/ shows the
same numbers.

The Service is `externalTrafficPolicy: Local` behind an NLB with instance targets (EKS's
built-in service controller). The NLB health-checks every node on the Service's
healthCheckNodePort, where kube-proxy answers 200 only while the node has a ready,
non-terminating app pod; a node whose app pods are all terminating still forwards traffic to
them while they serve (https://github.com/kubernetes/enhancements/tree/master/keps/sig-network/1669-proxy-terminating-endpoints).
The in-tree controller gives such a Service an HTTP health check with these settings
(kubernetes/cloud-provider-aws, pkg/providers/v1/aws.go, buildNLBHealthCheckConfiguration;
the annotations below pin them). When the NLB marks a node unhealthy it stops sending it new
connections and resets the ones it has
(https://docs.aws.amazon.com/elasticloadbalancing/latest/network/target-group-health-checks.html).

So a terminating pod must keep accepting connections until the NLB has marked its node
unhealthy. Worst case, from the pod turning Terminating:

    ENDPOINT_PROPAGATION_SECONDS                       5 s  EndpointSlice update and
                                                            kube-proxy sync: the node's health
                                                            check fails
  + NLB_UNHEALTHY_THRESHOLD x INTERVAL  = 2 x 10 s  = 20 s  failed checks one interval apart
  + NLB_HEALTH_CHECK_INTERVAL_SECONDS                10 s  the phase: up to one interval
                                                            before the NLB's next check
  = PRE_STOP_SLEEP_SECONDS                           35 s  (the preStop sleep; was 15)

(Counting the phase on top of the threshold x interval is one interval more than strictly
needed; it is margin for the NLB's nodes, one per zone, checking on their own schedules.)
Then SIGTERM: the app stops accepting and finishes in-flight requests for up to
APP_DRAIN_SECONDS (app/server.py GRACE_S), and the kubelet waits KILL_MARGIN_SECONDS more
before SIGKILL:

    TERMINATION_GRACE_SECONDS = 35 + 20 + 5 = 60 s  (terminationGracePeriodSeconds; was 45)

A node drain evicts one app pod at a time (the PDB), each taking up to 60 s.
"""

from __future__ import annotations

NLB_HEALTH_CHECK_INTERVAL_SECONDS = 10
NLB_UNHEALTHY_THRESHOLD = 2
NLB_HEALTHY_THRESHOLD = 2
ENDPOINT_PROPAGATION_SECONDS = 5
APP_DRAIN_SECONDS = 20  # app/server.py GRACE_S (a test keeps them equal)
KILL_MARGIN_SECONDS = 5

PRE_STOP_SLEEP_SECONDS = (
    ENDPOINT_PROPAGATION_SECONDS
    + NLB_UNHEALTHY_THRESHOLD * NLB_HEALTH_CHECK_INTERVAL_SECONDS
    + NLB_HEALTH_CHECK_INTERVAL_SECONDS
)
TERMINATION_GRACE_SECONDS = PRE_STOP_SLEEP_SECONDS + APP_DRAIN_SECONDS + KILL_MARGIN_SECONDS

_ANNOTATION = "service.beta.kubernetes.io/aws-load-balancer-healthcheck-"


def service_annotations() -> dict[str, str]:
    """The NLB health check settings the arithmetic above assumes, as Service annotations."""
    return {
        _ANNOTATION + "interval": str(NLB_HEALTH_CHECK_INTERVAL_SECONDS),
        _ANNOTATION + "healthy-threshold": str(NLB_HEALTHY_THRESHOLD),
        _ANNOTATION + "unhealthy-threshold": str(NLB_UNHEALTHY_THRESHOLD),
    }
