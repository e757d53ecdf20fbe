"""Benchmark: the stack graph's parallel runner with stand-in stacks that take real-AWS
durations scaled down (1 minute = 0.1 s). Prints wall time versus the critical path and
versus running the stacks one after another. Target: within 5% of the critical path.

Durations (issue 4): VPC with NAT ~3.5 min, RDS Multi-AZ ~12.5 min, EKS control plane
~10.5 min plus node group ~4 min, workload (IAM roles) ~1 min.

    .venv/bin/python bench/deploy_plan.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from infra.core import naming
from infra.stacks import graph

SCALE_S_PER_MINUTE = 0.1
MINUTES = {
    naming.NETWORK: 3.5,
    naming.DATABASE: 12.5,
    naming.CLUSTER: 10.5 + 4.0,
    naming.WORKLOAD: 1.0,
}


def critical_path(minutes: dict[str, float]) -> float:
    """Longest chain of durations through the graph (what a perfect runner takes)."""
    finish: dict[str, float] = {}
    for key in graph.run_order(minutes):
        start = max((finish[dep] for dep in graph.DEPENDS_ON[key] if dep in finish), default=0)
        finish[key] = start + minutes[key]
    return max(finish.values())


def main() -> None:
    seconds = {key: minutes * SCALE_S_PER_MINUTE for key, minutes in MINUTES.items()}

    def stand_in_stack(key: str) -> None:
        time.sleep(seconds[key])

    runs = [graph.run(seconds, stand_in_stack).wall_s for _ in range(3)]
    wall = min(runs)
    best = critical_path(seconds)
    sequential = sum(seconds.values())
    overhead = (wall - best) / best * 100

    print("deploy plan benchmark (1 min of real AWS = 0.1 s)")
    for key in graph.run_order(seconds):
        print(f"  {key:<9} {MINUTES[key]:5.1f} min -> {seconds[key]:.2f} s")
    print(f"parallel run (best of {len(runs)}): {wall:.3f} s")
    print(f"critical path:            {best:.3f} s  (overhead {overhead:+.1f}%, target < 5%)")
    print(
        f"sequential:               {sequential:.3f} s  (parallel saves {sequential - wall:.2f} s)"
    )
    real = critical_path(MINUTES)
    print(f"on real AWS: about {real:.0f} min in parallel versus {sum(MINUTES.values()):.0f} min")


if __name__ == "__main__":
    main()
