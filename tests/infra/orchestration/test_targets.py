"""infra/orchestration/targets.py: what `deploy --env local` checks before any stack is
touched: a flag that would change nothing (--image-tag), and the pod's port."""

from __future__ import annotations

import io
import socket

import pytest
from rich.console import Console

from infra.core.errors import BadInput
from infra.local import stand_ins
from infra.orchestration import deploy
from infra.orchestration.frame import Seams
from infra.settings import params


class _NoAws:
    """In place of the AWS gateway: any call means the checks came too late."""

    counter = None

    def __init__(self, settings):
        pass

    def identity(self):
        raise AssertionError("AWS was about to be called")


def _no_engine(*args, **kwargs):
    raise AssertionError("a stack was about to be touched")


@pytest.fixture
def local_deploy(monkeypatch, tmp_path):
    """deploy.run for --env local with the stand-ins taken as up and no AWS at all."""
    monkeypatch.setattr(stand_ins, "require_up", lambda settings, **_: "postgresql://x@y/gif")
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(key, "testing")  # use_emulator_credentials leaves them alone
    console = Console(file=io.StringIO(), width=200)
    seams = Seams(aws_factory=_NoAws, engine_factory=_no_engine, local_dir=tmp_path)

    def run(**flags):
        return deploy.run("local", console=console, seams=seams, yes=True, **flags)

    return run


@pytest.mark.parametrize("tag", ["v2", "bad tag!", ""])
def test_image_tag_is_refused_for_local_whatever_its_value(local_deploy, tag):
    with pytest.raises(BadInput) as refused:
        local_deploy(image_tag=tag)

    assert refused.value.message == (
        "--image-tag does not apply to --env local: the local pod runs the app from this "
        f"checkout, not an image. Drop --image-tag (got {tag!r})."
    )


def test_a_taken_app_port_stops_the_deploy_before_any_stack(local_deploy, monkeypatch):
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        local = params.load("local")
        app = local.app.model_copy(update={"port": other.getsockname()[1]})
        monkeypatch.setattr(params, "load", lambda env: local.model_copy(update={"app": app}))

        with pytest.raises(BadInput, match=r"is taken by another program.*app\.port"):
            local_deploy()


def test_only_stacks_without_the_app_do_not_need_its_port(local_deploy, monkeypatch):
    """`--only network` runs no app step, so a taken app port is no reason to stop."""
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        local = params.load("local")
        app = local.app.model_copy(update={"port": other.getsockname()[1]})
        monkeypatch.setattr(params, "load", lambda env: local.model_copy(update={"app": app}))

        with pytest.raises(AssertionError, match="AWS was about to be called"):
            local_deploy(only="network")


# --- the runner stack on EKS (ci.runner) ----------------------------------------------------

RUNNER_CI = {
    "github_repository": "acme/gifstack",
    "github_connection_arn": (
        "arn:aws:codeconnections:eu-west-1:210987654321:connection/"
        "0123abcd-4567-89ef-0123-456789abcdef"
    ),
}


def _eks(env: str, **ci):
    from infra.orchestration.targets import EksTarget

    settings = params.load(env)
    settings = settings.model_copy(update={"ci": settings.ci.model_copy(update=ci)})
    return EksTarget(settings, Console(file=io.StringIO()))


def test_a_deploy_with_the_runner_refuses_an_unset_connection_before_any_stack():
    unset = {"github_repository": "", "github_connection_arn": ""}  # as params/prod.yaml ships
    with pytest.raises(BadInput) as caught:
        _eks("prod", **unset).prepare_deploy(["network", "cluster", "runner"], "abc")
    assert "params/prod.yaml: ci.github_repository and ci.github_connection_arn not set" in (
        caught.value.message
    )


def test_a_deploy_with_the_runner_set_up_skips_nothing():
    assert _eks("prod", **RUNNER_CI).prepare_deploy(["network", "runner"], "abc") == {}


def test_the_runner_is_skipped_with_a_reason_when_off_and_unasked_when_not_selected():
    from infra.orchestration.targets import RUNNER_OFF

    assert _eks("dev", runner=False).prepare_deploy(["network", "runner"], None) == {
        "runner": RUNNER_OFF
    }
    unset = {"github_repository": "", "github_connection_arn": ""}
    assert _eks("prod", **unset).prepare_deploy(["network", "database"], "abc") == {}
