"""infra/orchestration/lock.py: one deploy at a time per environment, held in S3, proven with
two processes against moto's S3 over HTTP (moto honours PutObject If-None-Match and
DeleteObject If-Match, as S3 does)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta

import pytest

from infra.aws.template_bucket import TemplateBucket
from infra.core.errors import BadInput
from infra.core.paths import ROOT
from infra.orchestration import lock
from infra.orchestration.lock import DeployLock
from tests.support.moto_server import ACCOUNT_ID, REGION, MotoServer

HOLDER = textwrap.dedent(
    """
    import sys, time, boto3
    from infra.aws.template_bucket import TemplateBucket
    from infra.orchestration.lock import DeployLock
    s3 = boto3.Session(aws_access_key_id="t", aws_secret_access_key="t",
                       region_name="{region}").client("s3", endpoint_url="{url}")
    bucket = TemplateBucket(s3, "{account}", "{region}")
    deploy_lock = DeployLock(bucket, s3, project="gif", env="dev", who="arn:aws:iam::1:user/ci")
    with deploy_lock.held():
        print("held", flush=True)
        time.sleep(float(sys.argv[1]))
    print("released", flush=True)
    """
)


def _holder(moto: MotoServer, seconds: float) -> subprocess.Popen:
    code = HOLDER.format(url=moto.url, region=REGION, account=ACCOUNT_ID)
    process = subprocess.Popen(
        [sys.executable, "-c", code, str(seconds)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env={"GITHUB_RUN_ID": "4242", "GITHUB_REPOSITORY": "acme/gifstack", "PATH": ""},
    )
    assert process.stdout.readline().strip() == "held"
    return process


def _lock(moto: MotoServer, said: list[str] | None = None, **kwargs) -> DeployLock:
    s3 = moto.client("s3")
    return DeployLock(
        TemplateBucket(s3, ACCOUNT_ID, REGION),
        s3,
        project="gif",
        env="dev",
        who="arn:aws:iam::1:user/alice",
        say=(said if said is not None else []).append,
        **kwargs,
    )


def test_a_second_deploy_stops_at_once_saying_who_holds_the_lock_since_when_and_from_where(
    moto: MotoServer,
):
    holder = _holder(moto, 30)
    try:
        with pytest.raises(BadInput) as refused:
            _lock(moto).acquire()
    finally:
        holder.kill()
        holder.wait()

    message = refused.value.message
    assert "env dev is being deployed: deploy by arn:aws:iam::1:user/ci since " in message
    assert "from https://github.com/acme/gifstack/actions/runs/4242" in message
    assert "--wait-for-lock SECONDS" in message


def test_a_second_deploy_waits_for_the_lock_and_takes_it_when_the_first_releases_it(
    moto: MotoServer, monkeypatch
):
    monkeypatch.setattr(lock, "POLL_S", 0.2)
    said: list[str] = []
    holder = _holder(moto, 1.5)
    second = _lock(moto, said)
    try:
        second.acquire(wait_s=60)
        assert holder.stdout.readline().strip() == "released"
    finally:
        holder.kill()
        holder.wait()
    second.release()

    assert said and said[0].startswith("env dev is locked (deploy by arn:aws:iam::1:user/ci")
    listed = moto.client("s3").list_objects_v2(Bucket=second._bucket.name, Prefix="locks/")
    assert "Contents" not in listed  # released


def _dead_run_lock(moto: MotoServer, expired: bool) -> None:
    s3 = moto.client("s3")
    bucket = TemplateBucket(s3, ACCOUNT_ID, REGION)
    bucket.ensure()
    since = datetime.now(UTC) - timedelta(hours=5 if expired else 0)
    body = {
        "who": "arn:aws:iam::1:user/bob",
        "since": since.isoformat(),
        "expires": (since + lock.EXPIRES_AFTER).isoformat(),
        "where": "bob@laptop (pid 7)",
        "command": "deploy",
    }
    s3.put_object(Bucket=bucket.name, Key=lock.key_for("gif", "dev"), Body=json.dumps(body))


def test_an_expired_lock_is_broken_only_with_break_lock(moto: MotoServer):
    _dead_run_lock(moto, expired=True)
    with pytest.raises(BadInput) as refused:
        _lock(moto).acquire()
    assert "expired at" in refused.value.message and "--break-lock" in refused.value.message

    said: list[str] = []
    taken = _lock(moto, said)
    taken.acquire(break_lock=True)

    assert said[0].startswith("breaking the expired lock of env dev (deploy by arn:aws:iam::1:")
    taken.release()


def test_break_lock_does_not_break_a_lock_that_has_not_expired(moto: MotoServer):
    _dead_run_lock(moto, expired=False)
    with pytest.raises(BadInput) as refused:
        _lock(moto).acquire(break_lock=True)
    assert "--break-lock breaks only an expired lock" in refused.value.message


def test_ctrl_c_releases_the_lock(moto: MotoServer):
    first = _lock(moto)
    with pytest.raises(KeyboardInterrupt), first.held():
        raise KeyboardInterrupt

    _lock(moto).acquire()  # free again


def test_deploy_destroy_and_recover_all_take_the_environment_s_lock():
    """A destroy or a recover alongside a deploy is as harmful as two deploys."""
    import inspect

    from infra.orchestration import deploy, destroy, recover

    for command in (deploy, destroy, recover):
        assert "deploy_lock(identity" in inspect.getsource(command.run), command.__name__
