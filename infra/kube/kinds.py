"""The one table of the Kubernetes kinds gifstack manages: in which phase of the apply each
goes, and whether prune may delete an object of that kind that is no longer rendered.

A new manifest of one of these kinds is just a YAML file in k8s/: it is labelled, put in the
namespace, applied in its kind's phase and pruned when it goes. A new kind is one row here.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


class Phase(IntEnum):
    """The apply runs phase by phase; the app's objects change only after its migration."""

    BASE = 1  # what the migration Job needs: namespace, identities, configuration
    MIGRATION = 2  # the Job: run to completion before anything of the app changes
    APP = 3  # the app and what surrounds it; then the rollout wait


@dataclass(frozen=True)
class Kind:
    name: str
    api_version: str
    phase: Phase
    # Prune deletes the objects of this kind that gifstack applied (its field manager in their
    # managedFields) and no longer renders (never the Namespace; Pods and ReplicaSets are the
    # controllers', not ours, and are not listed). Keep a row after its last manifest goes, so
    # the objects left of that kind are still pruned.
    prunable: bool = True
    # Pruned before the app's objects are applied instead of after a healthy rollout: an HPA
    # no longer rendered would otherwise keep scaling the Deployment during the rollout.
    prune_first: bool = False


KINDS: tuple[Kind, ...] = (
    Kind("Namespace", "v1", Phase.BASE, prunable=False),
    Kind("ServiceAccount", "v1", Phase.BASE),
    Kind("ConfigMap", "v1", Phase.BASE),
    Kind("Job", "batch/v1", Phase.MIGRATION),
    Kind("Deployment", "apps/v1", Phase.APP),
    Kind("Service", "v1", Phase.APP),
    Kind("PodDisruptionBudget", "policy/v1", Phase.APP),
    Kind("HorizontalPodAutoscaler", "autoscaling/v2", Phase.APP, prune_first=True),
    Kind("NetworkPolicy", "networking.k8s.io/v1", Phase.APP),
)
BY_NAME = {kind.name: kind for kind in KINDS}
# The order objects are applied in: what others need first, the app after its migration.
APPLY_ORDER = tuple(kind.name for kind in KINDS)
PRUNABLE = tuple((kind.api_version, kind.name) for kind in KINDS if kind.prunable)
PRUNED_FIRST = frozenset(kind.name for kind in KINDS if kind.prunable and kind.prune_first)


def phase(doc: dict) -> Phase:
    return BY_NAME[doc["kind"]].phase
