"""Wall time of synthesizing every stack of every environment (what `invoke synth --all`
renders), in-process after imports, and of a cold `invoke synth --check` process.

Target: under 1 s for the synthesis. For comparison, on this machine `cdk synth` of an
equivalent VPC + RDS + EKS took about 5.0 s and a bare troposphere script about 0.06 s.
Prints figures; asserts nothing.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

RUNS = 5


def main() -> None:
    started = time.perf_counter()
    from infra.settings import params
    from infra.stacks import synth

    envs = params.environments()
    for env in envs:
        params.load(env)
    imported = time.perf_counter() - started

    timings = []
    for _ in range(RUNS):
        params.load.cache_clear()  # validate the params files again each run, as a CLI run does
        start = time.perf_counter()
        files = synth.expected(envs)
        timings.append(time.perf_counter() - start)
    size = sum(len(text.encode()) for text in files.values())

    start = time.perf_counter()
    subprocess.run(
        [str(Path(sys.executable).parent / "invoke"), "synth", "--check"],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    cold = time.perf_counter() - start

    print(f"environments: {', '.join(envs)}; templates: {len(files)} ({size / 1024:.0f} KiB)")
    print(f"imports + params load (once): {imported:.2f} s")
    print(
        f"synth, all envs and stacks: median {statistics.median(timings):.3f} s, "
        f"best {min(timings):.3f} s over {RUNS} runs (target < 1 s)"
    )
    print(f"`invoke synth --check`, cold process: {cold:.2f} s")


if __name__ == "__main__":
    main()
