"""gifstack's command line. Thin invoke tasks: each calls into infra/ and holds no logic.

`invoke --list` shows them all; `invoke --help TASK` shows a task's flags.
Every task body is wrapped in `reported`, so a domain error leaves with one clear message
and its exit code (2 bad input, 1 failed operation), never a traceback.
"""

import sys

from invoke import Collection, task

from infra.cli import reported

# --- tests -------------------------------------------------------------------------------


@task(help={"args": "Extra arguments for pytest, e.g. '-k outage -x'."})
def test(c, args=""):
    """Run the whole test suite (pytest)."""
    c.run(f"{sys.executable} -m pytest {args}", pty=False)


# --- the GIF service: run --------------------------------------------------------------

# --- templates: synth, lint ------------------------------------------------------------

# --- deploy engine: deploy, diff, status, destroy, recover; local.up/down/status -------

# --- kubernetes: k8s.render, kubeconfig -------------------------------------------------

# --- image: image.build, image.push -----------------------------------------------------

_IMAGE_HELP = {
    "tag": "Image tag, e.g. the full commit SHA (`git rev-parse HEAD`), as CI tags it.",
    "env": "Environment whose settings to use (region, node architecture); default prod.",
}


@task(help=_IMAGE_HELP)
@reported
def image_build(c, tag, env="prod"):
    """Build the GIF service image with Docker Buildx for the nodes' CPU (linux/amd64|arm64)."""
    from rich.console import Console

    from infra import aws, image, params

    settings = params.load(env)
    image.build(aws.Aws(settings), settings, tag, Console())


@task(help=_IMAGE_HELP)
@reported
def image_push(c, tag, env="prod"):
    """Push an image built by image.build to ECR (login token from boto3); prints its digest."""
    from rich.console import Console

    from infra import aws, image, params

    settings = params.load(env)
    image.push(aws.Aws(settings), settings, tag, Console())


# --- collections -------------------------------------------------------------------------

local_ns = Collection("local")
k8s_ns = Collection("k8s")
image_ns = Collection("image")
image_ns.add_task(image_build, name="build")
image_ns.add_task(image_push, name="push")

ns = Collection(test)
for sub in (local_ns, k8s_ns, image_ns):
    if sub.tasks:
        ns.add_collection(sub)

__all__ = ["ns", "reported"]
