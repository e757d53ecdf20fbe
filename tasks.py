"""gifstack's command line. Thin invoke tasks: each calls into infra/ and holds no logic.

`invoke --list` shows them all; `invoke --help TASK` shows a task's flags.
Every task body is wrapped in `reported`, so a domain error leaves with one clear message
and its exit code (2 bad input, 1 failed operation), never a traceback; a mistake on the
command line itself (an unknown flag, a missing --env) too (infra/commands/program.py).
"""

import sys

from invoke import Collection

from infra.commands.cli import exclusive, package_names, reported
from infra.commands.program import adopt, task
from infra.stacks.specs import ALL_STACKS

# --- tests -------------------------------------------------------------------------------


@task(help={"args": "Extra arguments for pytest, e.g. '-k outage -x'."})
def test(c, args=""):
    """Run the whole test suite (pytest)."""
    c.run(f"{sys.executable} -m pytest {args}", pty=False)


@task(
    help={
        "upgrade": "Comma-separated packages to move to their newest versions, or 'all'; "
        "by default every pin the inputs still allow is kept.",
    }
)
@reported
def lock(c, upgrade=""):
    """Regenerate every lock file, with hashes.

    requirements.lock holds the project (pyproject.toml, extra dev); app/requirements.lock
    the image's runtime only, pinned to the same versions; infra/linters/<tool>.lock each
    linter that runs from its own environment (from <tool>.in, see infra/core/tool_env.py).
    """
    from pathlib import Path

    compile_ = f"{sys.executable} -m uv pip compile --python-version 3.11 -q --generate-hashes"
    names = package_names(upgrade)
    if names == ["all"]:
        compile_ += " --upgrade"
    else:
        compile_ += "".join(f" --upgrade-package {name}" for name in names)
    root = Path(__file__).resolve().parent
    with c.cd(str(root)):
        c.run(f"{compile_} pyproject.toml --extra dev -o requirements.lock")
        c.run(f"{compile_} pyproject.toml -c requirements.lock -o app/requirements.lock")
        for source in sorted((root / "infra" / "linters").glob("*.in")):
            source = source.relative_to(root)
            c.run(f"{compile_} {source} -o {source.with_suffix('.lock')}")


# --- the GIF service: run --------------------------------------------------------------


@task(
    help={
        "host": "Address to listen on (default 127.0.0.1: this machine only).",
        "port": "Port to listen on (default 8080).",
        "metrics-port": "Port of /metrics, on the same host (default 9090; the local pod of "
        "`invoke local.up` uses 9090 too).",
    }
)
@reported
def run(c, host="127.0.0.1", port=8080, metrics_port=9090):
    """Run the GIF service alone on the embedded PostgreSQL (migrate, seed, serve; Ctrl-C)."""
    from infra.local import service

    code = service.run(host, int(port), int(metrics_port))
    if code != 0:
        from infra.core.errors import OperationFailed

        raise OperationFailed(f"the GIF service exited with code {code}")


# --- templates: synth, lint ------------------------------------------------------------


@task(
    help={
        "env": "Write templates/<env>/*.yaml (and templates/shared/) for this environment.",
        "all": "Write the templates of every environment in params/.",
        "check": "Write nothing; fail naming every committed template that is out of date "
        "(every environment: not with --env or --all).",
    }
)
@reported
def synth(c, env=None, all=False, check=False):
    """Render the CloudFormation templates from infra/stacks/ and params/ into templates/."""
    from infra.core.errors import OperationFailed
    from infra.stacks import synth as synthesis

    exclusive(env=env, all=all, check=check)
    if check:
        stale = synthesis.stale()
        if stale:
            raise OperationFailed(
                "templates/ is out of date with the code; run `invoke synth --all` and commit: "
                + "; ".join(stale)
            )
        print("templates/ is up to date")
        return
    changed = synthesis.write(synthesis.resolve_envs(env, all))
    for path in changed:
        print(f"wrote {path.relative_to(synthesis.ROOT)}")
    if not changed:
        print("templates/ already up to date")


@task(help={"env": "Lint this environment's templates (plus the shared ones); default all."})
@reported
def lint(c, env=None):
    """cfn-lint, checkov, cfripper on the rendered templates; hadolint on the Dockerfile."""
    from infra.commands import lint as linting
    from infra.core.errors import OperationFailed
    from infra.orchestration.summary import new_console
    from infra.stacks import synth as synthesis

    console = new_console()

    def show(check, result):
        mark = "[green]ok[/]" if result.ok else f"[red]{len(result.findings)} finding(s)[/]"
        console.print(f"{check.name:<20} {mark}  [dim]{check.what}[/]")
        for finding in result.findings:
            console.print(f"  {finding}", markup=False, highlight=False)

    results = linting.run(synthesis.resolve_envs(env, env is None), on_result=show)
    failed = [r.name for r in results if not r.ok]
    if failed:
        raise OperationFailed(f"lint found problems: {', '.join(failed)}")


@task
@reported
def audit(c):
    """Known vulnerabilities in requirements.lock and app/requirements.lock (pip-audit; needs
    the network for the advisories, so it fails, never passes, on a machine without one)."""
    from infra.commands import audit as auditing

    auditing.run()


# --- deploy engine: deploy, diff, status, destroy, recover; local.up/down/status -------

_ENV_HELP = "Environment: the name of a params/<env>.yaml file (local, dev, prod)."
_PRINCIPAL_HELP = (
    "Your IAM role's full ARN (with its path), for the cluster's access entry, when "
    "iam:GetRole is denied to you; default: read with iam:GetRole."
)


def _principal(arn):
    """--principal-arn, handed to infra/aws/session.py through its environment variable."""
    if arn:
        import os

        from infra.aws.session import PRINCIPAL_ARN_VARIABLE

        os.environ[PRINCIPAL_ARN_VARIABLE] = arn


@task(
    help={
        "env": _ENV_HELP,
        "image_tag": "Image tag to run (must exist in ECR on EKS); default app.image_tag.",
        "only": "Comma-separated stacks to deploy, e.g. 'database,cluster'; default all.",
        "yes": "Don't ask before executing change sets (CI). Stateful replacements still stop.",
        "dry_run": "Show the plan and the change sets, then delete them; change nothing.",
        "allow_replace": "Allow replacing/removing stateful resources (DB, KMS key, VPC...).",
        "drift_check": "Detect drift on existing stacks first (default on; --no-drift-check).",
        "revert_drift": "Put drifted resources back to the template (drift-aware change sets).",
        "principal_arn": _PRINCIPAL_HELP,
        "wait_for_lock": "Seconds to wait for another deploy of this env to finish (default 0).",
        "break_lock": "Take this env's deploy lock when its holder's lock has expired.",
    }
)
@reported
def deploy(
    c,
    env,
    image_tag=None,
    only=None,
    yes=False,
    dry_run=False,
    allow_replace=False,
    drift_check=True,
    revert_drift=False,
    principal_arn=None,
    wait_for_lock=0,
    break_lock=False,
):
    """Deploy an environment: stacks through change sets in graph order, then the app."""
    from infra.orchestration import deploy as command

    _principal(principal_arn)

    command.run(
        env,
        image_tag=image_tag,
        only=only,
        yes=yes,
        dry_run=dry_run,
        allow_replace=allow_replace,
        drift_check=drift_check,
        revert_drift=revert_drift,
        wait_for_lock=float(wait_for_lock),
        break_lock=break_lock,
    )


@task(
    help={
        "env": _ENV_HELP,
        "only": "Comma-separated stacks to diff; default all.",
        "principal_arn": _PRINCIPAL_HELP,
    }
)
@reported
def diff(c, env, only=None, principal_arn=None):
    """Show what a deploy would change: create each change set, print it, delete it."""
    from infra.orchestration import diff as command

    _principal(principal_arn)

    command.run(env, only=only)


@task(help={"env": _ENV_HELP})
@reported
def status(c, env):
    """Each stack's status, last update, drift status and outputs (never a secret)."""
    from infra.orchestration import status as command

    command.run(env)


@task(help={"env": _ENV_HELP})
@reported
def drift(c, env):
    """Detect drift on every stack: each property changed by hand, expected and actual."""
    from infra.orchestration import drift as command

    command.run(env)


@task(
    help={
        "env": _ENV_HELP,
        "kubernetes": "Target Kubernetes minor, e.g. 1.36: one minor at a time, control plane, "
        "add-ons, then nodes.",
        "postgres": "Target PostgreSQL version, e.g. 17.7 (minor: in place; major: Blue/Green).",
        "dry_run": "Show the plan (read from the account) and stop; change nothing.",
        "force": "Upgrade despite ERROR upgrade insights (they are named either way).",
        "yes": "Don't ask (CI): no change-set prompts, no typed confirmation in prod.",
        "principal_arn": _PRINCIPAL_HELP,
    }
)
@reported
def upgrade(
    c,
    env,
    kubernetes=None,
    postgres=None,
    dry_run=False,
    force=False,
    yes=False,
    principal_arn=None,
):
    """Upgrade EKS (control plane, add-ons, nodes) and/or PostgreSQL: plan, then each step as
    a params + templates change deployed with the engine; rerun to resume."""
    from infra.orchestration import upgrade as command

    _principal(principal_arn)
    command.run(
        env, kubernetes=kubernetes, postgres=postgres, dry_run=dry_run, force=force, yes=yes
    )


@task(
    help={
        "env": _ENV_HELP,
        "confirm": "The environment's full name typed exactly (gif-prod); required for prod.",
        "yes": "Don't ask (non-prod only); prod always needs --confirm.",
    }
)
@reported
def destroy(c, env, confirm=None, yes=False):
    """Delete an environment's stacks in reverse graph order (the DB leaves a final snapshot)."""
    from infra.orchestration import destroy as command

    command.run(env, confirm=confirm, yes=yes)


@task(
    help={
        "env": _ENV_HELP,
        "snapshot": "A destroyed env: the DB snapshot to restore from (default: the newest "
        "manual or final one).",
        "point_in_time": "A live env: restore into a new instance as of this UTC time (ISO "
        "8601, e.g. 2026-12-05T01:30:00Z; default: the latest restorable time).",
        "dry_run": "Show the snapshots and the plan; change nothing.",
        "yes": "Don't ask for the typed confirmation.",
    }
)
@reported
def restore(c, env, snapshot=None, point_in_time=None, dry_run=False, yes=False):
    """Restore the database: a destroyed env from a snapshot (then the env as usual); a live
    one to a point in time into a new instance, never over the running one."""
    from infra.orchestration import restore as command

    command.run(env, snapshot=snapshot, point_in_time=point_in_time, dry_run=dry_run, yes=yes)


@task(
    help={
        "env": _ENV_HELP,
        "stack": f"The stuck stack: one of {', '.join(ALL_STACKS)}.",
        "skip": "Comma-separated logical IDs to skip while rolling back (left as they are).",
    }
)
@reported
def recover(c, env, stack, skip=None):
    """Get a stack out of UPDATE_ROLLBACK_FAILED (ContinueUpdateRollback)."""
    from infra.orchestration import recover as command

    command.run(env, stack, skip=skip)


@task(help={"env": _ENV_HELP, "principal_arn": _PRINCIPAL_HELP})
@reported
def preflight(c, env, principal_arn=None):
    """Read-only checks before a deploy (also its first step): credentials, AZs, EKS version
    and add-ons, RDS class, node types, quotas, permissions, endpoint reach. Exit 2 if any fail."""
    from infra.orchestration import preflight as command

    _principal(principal_arn)
    command.run(env)


@task(
    help={
        "env": "Whose account and region to use (params/<env>.yaml); default prod.",
        "yes": "Don't ask before executing change sets.",
        "dry_run": "Show the change sets, then delete them; change nothing.",
    }
)
@reported
def bootstrap(c, env="prod", yes=False, dry_run=False):
    """Deploy the account-wide stacks once: gif-registry (ECR) and gif-ci (GitHub deploy role)."""
    from infra.orchestration import bootstrap as command

    command.run(env, yes=yes, dry_run=dry_run)


@task
@reported
def local_up(c):
    """Start the local stand-ins: AWS emulator (moto) and embedded PostgreSQL. Idempotent."""
    from infra.local import stand_ins
    from infra.orchestration.summary import new_console
    from infra.settings import params

    stand_ins.up(params.load("local"), new_console())


@task(
    help={
        "wipe": "Also remove the local state (the database, the emulator's and the pod's "
        "pid and log files): the next `invoke local.up deploy --env local` starts afresh.",
    }
)
@reported
def local_down(c, wipe=False):
    """Stop the local pod, the AWS emulator and the embedded PostgreSQL (data kept; --wipe)."""
    from infra.local import stand_ins
    from infra.orchestration.summary import new_console
    from infra.settings import params

    stand_ins.down(params.load("local"), new_console(), wipe=wipe)


@task
@reported
def local_status(c):
    """Show the local processes: running or not, pid, address, log file."""
    from infra.local import stand_ins
    from infra.orchestration.summary import new_console
    from infra.settings import params

    stand_ins.status(params.load("local"), new_console())


# --- kubernetes: k8s.render, kubeconfig -------------------------------------------------

_K8S_ENV_HELP = "Environment: the name of a params/<env>.yaml file (dev, prod)."
_K8S_TAG_HELP = "Image tag or sha256 digest to run; default app.image_tag from params."


@task(
    help={
        "env": _K8S_ENV_HELP,
        "image_tag": _K8S_TAG_HELP,
        "offline": "Use clearly fake placeholder stack outputs instead of reading the "
        "stacks (no AWS account needed; CI and reviewers).",
    }
)
@reported
def k8s_render(c, env, image_tag=None, offline=False):
    """Render k8s/ with the environment's params and stack outputs into build/<env>/k8s/."""
    from infra.orchestration import kube_tasks as kube_commands
    from infra.orchestration.summary import new_console

    paths = kube_commands.render_to_build(
        env, image_tag=image_tag, offline=offline, console=new_console(stderr=True)
    )
    for path in paths:
        print(f"wrote {path.relative_to(kube_commands.ROOT)}")


@task(
    help={
        "env": _K8S_ENV_HELP,
        "path": "kubeconfig file to update; default $KUBECONFIG or ~/.kube/config.",
    }
)
@reported
def kubeconfig(c, env, path=None):
    """Write a kubeconfig context for the environment's EKS cluster (token made by boto3)."""
    from infra.orchestration import kube_tasks as kube_commands
    from infra.orchestration.summary import new_console

    kube_commands.write_kubeconfig(env, path=path, console=new_console())


@task(
    help={
        "env": _K8S_ENV_HELP,
        "image_tag": _K8S_TAG_HELP,
        "prune": "Delete objects labelled managed-by gifstack that are no longer rendered "
        "(default on; --no-prune keeps them).",
        "rollback": "Roll back a failed rollout to the previous version (default on; "
        "--no-rollback keeps the failed pods for debugging).",
        "dry_run": "Show the plan only; apply nothing.",
    }
)
@reported
def k8s_apply(c, env, image_tag=None, prune=True, rollback=True, dry_run=False):
    """Apply the manifests to the cluster (the last step of `invoke deploy`), stacks as is."""
    from infra.orchestration import kube_tasks as kube_commands
    from infra.orchestration.summary import new_console

    kube_commands.apply(
        env,
        image_tag=image_tag,
        prune=prune,
        rollback=rollback,
        dry_run=dry_run,
        console=new_console(),
    )


# --- image: image.build, image.push -----------------------------------------------------

_IMAGE_HELP = {
    "tag": "Image tag, e.g. the full commit SHA (`git rev-parse HEAD`), as CI tags it.",
    "env": "Environment whose settings to use (region, node architecture); default prod.",
}


@task(help=_IMAGE_HELP)
@reported
def image_build(c, tag, env="prod"):
    """Build the GIF service image with Docker Buildx for the nodes' CPU (linux/amd64|arm64)."""
    from infra.aws import session as aws
    from infra.orchestration import image
    from infra.orchestration.summary import new_console
    from infra.settings import params

    settings = params.load(env)
    image.build(aws.Aws(settings), settings, tag, new_console())


@task(help=_IMAGE_HELP)
@reported
def image_push(c, tag, env="prod"):
    """Push an image built by image.build to ECR (login token from boto3); prints its digest."""
    from infra.aws import session as aws
    from infra.orchestration import image
    from infra.orchestration.summary import new_console
    from infra.settings import params

    settings = params.load(env)
    image.push(aws.Aws(settings), settings, tag, new_console())


# --- collections -------------------------------------------------------------------------

local_ns = Collection("local")
local_ns.add_task(local_up, name="up")
local_ns.add_task(local_down, name="down")
local_ns.add_task(local_status, name="status")
k8s_ns = Collection("k8s")
k8s_ns.add_task(k8s_render, name="render")
k8s_ns.add_task(k8s_apply, name="apply")
image_ns = Collection("image")
image_ns.add_task(image_build, name="build")
image_ns.add_task(image_push, name="push")

ns = Collection(
    test,
    lock,
    run,
    synth,
    lint,
    audit,
    preflight,
    deploy,
    diff,
    status,
    drift,
    upgrade,
    destroy,
    restore,
    recover,
    bootstrap,
    kubeconfig,
)
for sub in (local_ns, k8s_ns, image_ns):
    ns.add_collection(sub)
adopt()  # the command line's own mistakes: one line, exit 2 (infra/commands/program.py)

__all__ = ["ns", "reported"]
