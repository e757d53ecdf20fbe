"""The one frame every command runs in: the settings, one AWS gateway (every call counted),
one stack engine per thread, the console, and the workload target (EKS or local).

Each command module (deploy, diff, status, destroy, recover, bootstrap) opens a frame with
`Frame.open(...)` and does its own part; the tests swap parts through one `Seams` value.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from rich.console import Console
from rich.text import Text

from infra.aws.session import Aws, Identity
from infra.aws.template_bucket import TemplateBucket
from infra.cfn.engine import StackEngine
from infra.cfn.types import DeployOptions, Engine
from infra.core import naming
from infra.core.errors import BadInput
from infra.orchestration import summary
from infra.orchestration.lock import DeployLock
from infra.orchestration.targets import WorkloadTarget, target_for
from infra.settings import params
from infra.settings.params import Settings
from infra.stacks import specs

EngineFactory = Callable[..., Engine]  # (cfn_client, console, options, template_bucket=)


@dataclass(frozen=True)
class Seams:
    """What a test may put in place of the real parts."""

    aws_factory: Callable[[Settings], Aws] = Aws
    engine_factory: EngineFactory = StackEngine
    local_dir: Path | None = None  # the local stand-ins' state (default .local/)


REAL_PARTS = Seams()


def deploy_options(
    settings: Settings, *, yes: bool, dry_run: bool, allow_replace: bool
) -> DeployOptions:
    return DeployOptions(
        yes=yes,
        dry_run=dry_run,
        allow_replace=allow_replace,
        protect_stateful=settings.is_prod,
        interactive=sys.stdin.isatty(),
    )


class Frame:
    """One command's AWS access: one boto3 session (its clients are shared by the stack
    threads; `Aws` creates them under a lock, and boto3 clients are thread-safe), one
    engine per stack thread, and every AWS call counted."""

    def __init__(self, settings: Settings, console: Console, options: DeployOptions, seams: Seams):
        self.settings = settings
        self.console = console
        self.options = options
        self.seams = seams
        self.target: WorkloadTarget = target_for(settings, console, seams.local_dir)
        self._local = threading.local()
        self.aws = seams.aws_factory(settings)
        self.calls = self.aws.counter
        self._bucket: TemplateBucket | None = None
        self._identity_shown = False
        self._bucket_lock = threading.Lock()

    @classmethod
    def open(
        cls,
        env: str,
        console: Console | None,
        seams: Seams,
        *,
        yes: bool = True,
        dry_run: bool = False,
        allow_replace: bool = False,
    ) -> Frame:
        """Load the environment's params and make the frame (nothing called yet)."""
        settings = params.load(env)
        options = deploy_options(settings, yes=yes, dry_run=dry_run, allow_replace=allow_replace)
        return cls(settings, console or summary.new_console(), options, seams)

    @property
    def env(self) -> str:
        return self.settings.env

    @property
    def typed_name(self) -> str:
        """What a typed confirmation asks for (destroy, restore, upgrade alike): the
        environment's stack prefix, `gif-prod`, the name on every stack it would touch."""
        return f"{self.settings.project}-{self.settings.env}"

    def ask_typed(self, prompt: str, expected: str, *, nothing: str = "changed") -> None:
        """Ask on the terminal (the caller has checked there is one); anything but `expected`
        typed is a refusal: BadInput, and nothing done."""
        answer = self.console.input(prompt).strip()
        if answer != expected:
            raise BadInput(f"not confirmed (typed {answer!r}); nothing was {nothing}.")

    def identity(self) -> Identity:
        """Who we are (checked once; the line shows while STS answers, or doesn't)."""
        if not self._identity_shown:
            self.console.print(Text("checking AWS credentials...", style="dim"))
            self._identity_shown = True
        return self.aws.identity()

    def stack_name(self, key: str) -> str:
        return specs.stack_name(self.settings.project, self.settings.env, key)

    def engine(self) -> Engine:
        """This thread's engine."""
        engine = getattr(self._local, "engine", None)
        if engine is None:
            engine = self.seams.engine_factory(
                self.aws.client("cloudformation"),
                self.console,
                self.options,
                template_bucket=self.template_bucket(),
            )
            self._local.engine = engine
        return engine

    def template_bucket(self) -> TemplateBucket:
        """The run's one template bucket, shared by every stack thread (and the deploy lock)."""
        with self._bucket_lock:
            if self._bucket is None:
                self._bucket = self.aws.template_bucket()
            return self._bucket

    def deploy_lock(self, identity: Identity, command: str = "deploy") -> DeployLock:
        """The environment's lock (infra/orchestration/lock.py) in the run's template bucket."""
        return DeployLock(
            self.template_bucket(),
            self.aws.client("s3"),
            project=self.settings.project,
            env=self.env,
            who=identity.arn,
            command=command,
            say=lambda line: self.console.print(Text(line, style="yellow")),
        )

    def watch_status(self, listener: Callable[[str, str], None]) -> None:
        """Engines tell `listener` each stack's status while they wait on it."""
        self.options = replace(self.options, on_status=listener)
        self._local = threading.local()  # engines made before this don't know it

    def existing_outputs(self, key: str) -> dict[str, str] | None:
        """A deployed stack's outputs; None when the stack doesn't exist."""
        found = self.engine().status(self.stack_name(key))
        return None if found is None else dict(found.outputs)

    def execution_role_arn(self, *, dry_run: bool = False) -> str | None:
        """The role CloudFormation provisions the env stacks with: the gif-ci stack's
        ExecutionRoleArn (None where the target needs no bootstrap: the local emulator).
        Missing gif-ci, or a gif-ci from before the role, is BadInput naming the bootstrap;
        in a dry run a warning, and None."""
        if not self.target.needs_bootstrap:
            return None
        settings = self.settings
        ci = self.stack_name(naming.CI)
        found = self.existing_outputs(naming.CI)
        role = (found or {}).get(naming.Outputs.EXECUTION_ROLE_ARN)
        if role:
            return role
        boundary = naming.boundary_policy_name(settings.project)
        if found is None:
            what = (
                f"the account-wide stack {ci} does not exist in region {settings.region} of "
                f"this account; it holds the permissions boundary {boundary} that every role of "
                "the env stacks needs, and the role CloudFormation deploys them with."
            )
        else:
            what = (
                f"the account-wide stack {ci} has no {naming.Outputs.EXECUTION_ROLE_ARN} "
                "output: it was deployed before CloudFormation got its own execution role."
            )
        message = (
            f"{what} Run `invoke bootstrap --env {settings.env}` (with admin rights), then "
            "run this command again."
        )
        if not dry_run:
            raise BadInput(message)
        self.console.print(Text(f"warning: {message}", style="yellow"))
        return None

    def render(self) -> dict[str, str]:
        """Stack key -> template body, for every stack this environment deploys."""
        from infra.stacks import synth

        return synth.render(self.settings)
