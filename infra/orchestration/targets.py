"""Where an environment's workload runs: on its EKS cluster, or (`--env local`) as a local
process next to the AWS emulator. The commands ask the target instead of forking on "local"
themselves; everything that differs between the two is here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, Protocol

from rich.console import Console

from infra.core import naming
from infra.core.errors import BadInput
from infra.settings import image_tag as image_tag_rule
from infra.settings import placeholders
from infra.settings.params import Settings
from infra.stacks import specs

LOCAL_ENV = "local"
RUNNER_OFF = "ci.runner is off in the params (no in-VPC CI runner for this environment)"


class WorkloadTarget(Protocol):
    step: str  # what the app step is called in messages
    checks_image_in_ecr: bool
    needs_bootstrap: bool
    asks_before_change_sets: bool
    checks_drift: bool

    def prepare_deploy(self, keys: Iterable[str], image_tag: str | None) -> dict[str, str]:
        """Before a deploy, before any stack: check what must run and the flags that depend
        on the target; the stacks to skip (key -> why)."""

    def connect(self, keys: Iterable[str]) -> dict[str, str]:
        """Before a read-only or teardown command: the stacks to skip (key -> why)."""

    def plan_line(self, tag: str | None) -> str: ...

    def deploy(
        self,
        outputs: Callable[[], dict[str, str] | None],
        tag: str | None,
        *,
        dry_run: bool,
        session: Any,
    ) -> str | None:
        """Put the app in place; its URL."""

    def status_line(self) -> str | None: ...

    def before_destroy(self) -> None: ...


def runner_stack(settings: Settings, keys: Iterable[str]) -> dict[str, str]:
    """What `deploy` and `diff` do with the runner stack: skip it when ci.runner is off; with
    it on, its repository and GitHub connection must be set (BadInput before any stack is
    touched: the template has no value for them otherwise)."""
    if naming.RUNNER not in keys:
        return {}
    if not settings.ci.runner:
        return {naming.RUNNER: RUNNER_OFF}
    placeholders.require_runner_source(settings)
    return {}


def runs_locally(settings: Settings) -> bool:
    """`--env local`: the stacks go to the AWS emulator and the app runs as a local process."""
    return settings.env == LOCAL_ENV


def target_for(settings: Settings, console: Console, local_dir: Path | None) -> WorkloadTarget:
    if runs_locally(settings):
        return LocalTarget(settings, console, local_dir)
    return EksTarget(settings, console)


class EksTarget:
    step = "Kubernetes step"
    checks_image_in_ecr = True
    needs_bootstrap = True
    asks_before_change_sets = True
    checks_drift = True

    def __init__(self, settings: Settings, console: Console):
        self.settings = settings
        self.console = console

    def prepare_deploy(self, keys: Iterable[str], image_tag: str | None) -> dict[str, str]:
        return runner_stack(self.settings, keys)

    def connect(self, keys: Iterable[str]) -> dict[str, str]:
        return {}

    def plan_line(self, tag: str | None) -> str:
        return f"Kubernetes apply with image tag {tag}"

    def deploy(
        self,
        outputs: Callable[[], dict[str, str] | None],
        tag: str | None,
        *,
        dry_run: bool,
        session: Any,
    ) -> str | None:
        """Kubernetes apply with every stack's outputs (and the shared registry's)."""
        from infra.kube import step as kube

        merged = outputs()
        if merged is None:
            self.console.print(
                "[bold]kubernetes[/] would apply the manifests once every stack exists"
            )
            return None
        return kube.deploy_workload(
            self.settings, merged, tag, dry_run=dry_run, console=self.console, session=session
        )

    def status_line(self) -> str | None:
        return None

    def before_destroy(self) -> None:
        return None


class LocalTarget:
    step = "local pod"
    checks_image_in_ecr = False
    needs_bootstrap = False
    asks_before_change_sets = False  # local change sets go to the emulator: shown, not asked
    checks_drift = False  # moto has no drift detection

    def __init__(self, settings: Settings, console: Console, local_dir: Path | None):
        self.settings = settings
        self.console = console
        self._dir = {} if local_dir is None else {"local_dir": local_dir}
        self._database_url: str | None = None

    def prepare_deploy(self, keys: Iterable[str], image_tag: str | None) -> dict[str, str]:
        from infra.local import stack_gaps, stand_ins

        image_tag_rule.unused(
            self.settings, image_tag, "the local pod runs the app from this checkout, not an image"
        )
        stack_gaps.use_emulator_credentials()
        self._database_url = stand_ins.require_up(self.settings, **self._dir)
        keys = list(keys)
        if naming.WORKLOAD in keys:
            self._pod().require_port()  # before any stack, not after them all
        return specs.not_emulated(keys)

    def connect(self, keys: Iterable[str]) -> dict[str, str]:
        from infra.local import stack_gaps
        from infra.local.moto import Emulator

        stack_gaps.use_emulator_credentials()
        emulator = Emulator.for_settings(self.settings)
        if not emulator.answers():
            raise BadInput(
                f"the AWS emulator ({emulator.url}) is not running. Start the local "
                "stand-ins first: `invoke local.up`."
            )
        return specs.not_emulated(keys)

    def plan_line(self, tag: str | None) -> str:
        return "the app as a local process (migrate, seed, serve)"

    def deploy(
        self,
        outputs: Callable[[], dict[str, str] | None],
        tag: str | None,
        *,
        dry_run: bool,
        session: Any,
    ) -> str | None:
        from infra.local import pod

        return pod.deploy(
            self.settings, self._database_url, self.console, dry_run=dry_run, **self._dir
        ).url

    def status_line(self) -> str | None:
        pod = self._pod()
        pid = pod.pid()
        state = f"running (pid {pid}) at {pod.url}" if pid else "not running"
        return f"local pod: {state}"

    def before_destroy(self) -> None:
        # The local "pod" is the workload: it goes first, as the pods go with the cluster.
        pod = self._pod()
        pid = pod.pid()
        if pod.stop():
            self.console.print(f"local pod: stopped (pid {pid}); its data stays in PostgreSQL")

    def _pod(self):
        from infra.local.pod import Pod

        return Pod.for_settings(self.settings, **self._dir)


def workload_outputs(
    settings: Settings,
    deployed: Mapping[str, Mapping[str, str]],
    existing: Callable[[str], dict[str, str] | None],
    *,
    dry_run: bool,
) -> dict[str, str] | None:
    """Every env stack's outputs and the shared registry's: from this run where it made them,
    else as deployed. None in a dry run while an env stack doesn't exist yet (its first
    deploy); otherwise a missing stack's outputs are missing (the render names them)."""
    merged: dict[str, str] = {}
    for key in (*specs.ENV_STACKS, naming.REGISTRY):
        found = deployed.get(key)
        if found is None:
            found = existing(key)
        if found is None:
            if key == naming.REGISTRY:
                raise BadInput(
                    f"the shared stack {specs.stack_name(settings.project, settings.env, key)} "
                    "does not exist, so there is no image repository. Run `invoke bootstrap` "
                    "once (with admin rights) first."
                )
            if dry_run:
                return None
        merged.update(found or {})
    return merged
