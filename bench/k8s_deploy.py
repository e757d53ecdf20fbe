"""Benchmark of the Kubernetes step: rendering, strict validation, and a whole deploy
(apply, migration Job, rollout, prune) against kmock's KubernetesEmulator over HTTP, with the
test controllers playing the cluster. Prints figures; asserts nothing.

    .venv/bin/python bench/k8s_deploy.py [--repeat 20]

What the figures mean: render/validate are the local cost `invoke deploy` adds before it
talks to the cluster; the deploy figures count API requests (the cost on a real cluster is
requests x round trip, plus the time the pods take to become ready).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rich.console import Console  # noqa: E402

from infra.core import naming  # noqa: E402
from infra.core.clock import Clock  # noqa: E402
from infra.kube import checks as kube_checks  # noqa: E402
from infra.kube import render as kube_render  # noqa: E402
from infra.kube import step as kube  # noqa: E402
from infra.kube.client import Pacing  # noqa: E402
from infra.settings import params  # noqa: E402
from tests.support.fake_controllers import CONTROLLERS_USER_AGENT, Controllers  # noqa: E402
from tests.support.kmock_cluster import running_cluster  # noqa: E402


def _ms(samples: list[float]) -> str:
    return f"median {statistics.median(samples) * 1000:7.1f} ms, max {max(samples) * 1000:7.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20, help="Renders/validations per env.")
    args = parser.parse_args()

    for env in params.environments():
        settings = params.load(env)
        outputs = kube_render.offline_outputs(settings)
        renders, validations = [], []
        for _ in range(args.repeat):
            started = time.perf_counter()
            docs = kube_render.render(settings, outputs, "bench")
            renders.append(time.perf_counter() - started)
            started = time.perf_counter()
            problems = kube_checks.validate_docs(docs, settings.cluster.kubernetes_version)
            validations.append(time.perf_counter() - started)
        print(f"{env:5} render   {len(docs):2d} objects: {_ms(renders)}")
        print(f"{env:5} validate --strict ({len(problems)} problems): {_ms(validations)}")

    settings = params.load("prod")
    outputs = kube_render.offline_outputs(settings)
    outputs[naming.Outputs.REPOSITORY_URI] = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/gif"
    with running_cluster() as cluster:
        controllers = Controllers(cluster)
        pacing = Pacing(0, Clock(sleep=controllers.step))
        quiet = Console(file=open("/dev/null", "w"))  # noqa: SIM115
        for label, tag in (("first deploy", "v1"), ("same tag again", "v1"), ("new tag", "v2")):
            before = len(cluster.emulator.log)
            started = time.perf_counter()
            kube.deploy_workload(
                settings,
                outputs,
                tag,
                console=quiet,
                api_client=cluster.api_client(),
                pacing=pacing,
            )
            took = time.perf_counter() - started
            requests = [
                r
                for r in cluster.emulator.log[before:]
                if r.headers.get("User-Agent") != CONTROLLERS_USER_AGENT
            ]
            print(
                f"prod  {label:15} against kmock: {took * 1000:7.0f} ms, "
                f"{len(requests)} API requests by gifstack"
            )


if __name__ == "__main__":
    main()
