"""Benchmark: wall time and AWS calls of a no-op `invoke deploy --env local`.

In a throwaway copy of the work tree (free ports, its own .local/): `invoke local.up`,
a first `invoke deploy --env local`, then several no-op deploys run exactly as a user
types them (a new process each: interpreter start-up and imports included). Prints the
wall time of each, the AWS calls they made and how many change sets they executed.
Target: under 3 s wall, zero change sets executed.

    .venv/bin/python bench/noop_deploy.py [--runs N]
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.support.local_sandbox import Sandbox


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="No-op deploys to time.")
    args = parser.parse_args()

    directory = Path(tempfile.mkdtemp(prefix="gifstack-bench-"))
    sandbox = Sandbox(directory)
    try:
        for step in (("local.up",), ("deploy", "--env", "local")):
            done = sandbox.invoke(*step)
            if done.returncode != 0:
                sys.exit(f"`invoke {' '.join(step)}` failed:\n{done.output}")
            print(f"setup: invoke {' '.join(step)} took {done.wall_s:.2f} s")

        walls, cpus = [], []
        for _ in range(args.runs):
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            done = sandbox.invoke("deploy", "--env", "local")
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            if done.returncode != 0:
                sys.exit(f"no-op deploy failed:\n{done.output}")
            walls.append(done.wall_s)
            cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
        calls = re.search(r"(\d+) AWS calls? \(([^)]*)\); change sets executed: (\d+)", done.output)
        if calls is None:
            sys.exit(f"no AWS call count in the output:\n{done.output}")
        print(f"no-op `invoke deploy --env local`, {args.runs} runs (a new process each):")
        print(
            f"  wall: median {statistics.median(walls):.2f} s, best {min(walls):.2f} s, "
            f"worst {max(walls):.2f} s (target < 3 s)"
        )
        print(
            f"  CPU of the deploy process: median {statistics.median(cpus):.2f} s "
            f"(machine load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)"
        )
        print(f"  AWS calls: {calls.group(1)} ({calls.group(2)})")
        print(f"  change sets executed: {calls.group(3)} (target 0)")
    finally:
        sandbox.close()
        shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    main()
